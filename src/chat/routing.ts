// Which bastion probes a target, and the engine client that sends each check there. Pure
// selection: an explicit `via` wins; an IP literal goes by the most specific CIDR rule; a
// name by the longest matching domain suffix; anything else to the default. Each bastion's
// RemoteEngine is wrapped in SharedRuns, so the bot itself also sends one request per
// target at a time and reuses a fresh result (the service does the same for all its bots).
import { SshcheckError } from '../errors.js';
import type { Target } from '../target.js';
import { formatTarget } from '../target.js';
import { blockContainsAddress } from '../policy/ip.js';
import type { CheckOptions, CheckResult, EngineClient } from './engine-client.js';
import { parseVia } from './grammar.js';
import { RemoteEngine } from './remote-engine.js';
import type { RemoteEngineOptions } from './remote-engine.js';
import type { BastionConfig, RouteRule, RoutingConfig } from './routing-config.js';
import { SharedRuns } from './shared-runs.js';

export interface Route {
  bastion: string;
  /** Why this bastion: "via", "cidr 10.1.0.0/16", "suffix eu.example.com" or "default". */
  reason: string;
}

type RoutingRules = Pick<RoutingConfig, 'rules' | 'default'> & { bastions: ReadonlyArray<Pick<BastionConfig, 'name'>> };

/**
 * The bastion for a target. Throws SshcheckError (E_USAGE) for an unknown `via`, and an
 * Error that says what to do when nothing routes the target.
 */
export function selectBastion(config: RoutingRules, target: Pick<Target, 'host' | 'kind' | 'port'>, via?: string): Route {
  const names = config.bastions.map((b) => b.name);
  if (via !== undefined) return { bastion: parseVia(via, names), reason: 'via' };
  const matched = matchRule(config.rules, target);
  if (matched) return matched;
  if (config.default !== undefined) return { bastion: config.default, reason: 'default' };
  throw new Error(`no rule routes ${formatTarget(target)} to a bastion and no default is set: add "via <bastion>" (${names.join(', ')}) to the command, or a rule or default: to the bot's config`);
}

/** The most specific rule for a target (among equals, the first written), if any matches. */
export function matchRule(rules: readonly RouteRule[], target: Pick<Target, 'host' | 'kind'>): Route | undefined {
  let best: { route: Route; specificity: number } | undefined;
  for (const rule of rules) {
    let specificity = -1;
    if (rule.kind === 'cidr' && target.kind !== 'name' && blockContainsAddress(rule.cidr, target.host)) specificity = rule.cidr.prefix;
    if (rule.kind === 'suffix' && target.kind === 'name' && (target.host === rule.suffix || target.host.endsWith(`.${rule.suffix}`))) specificity = rule.suffix.length;
    // Most specific wins; among equals, the first written.
    if (specificity > (best?.specificity ?? -1)) best = { route: { bastion: rule.bastion, reason: rule.kind === 'cidr' ? `cidr ${rule.cidr.text}` : `suffix ${rule.suffix}` }, specificity };
  }
  return best?.route;
}

export interface RoutedEngineOptions {
  /** How long the bot reuses a finished result per bastion and target (default 10 s). */
  reuseMs?: number;
  /** Client settings for every bastion (tests shorten the timeouts). */
  client?: Partial<Omit<RemoteEngineOptions, 'name' | 'url' | 'token'>>;
}

interface Bastion {
  remote: RemoteEngine;
  shared: SharedRuns;
}

export class RoutedEngine implements EngineClient {
  readonly bastions: readonly string[];
  private readonly engines = new Map<string, Bastion>();

  constructor(
    private readonly config: RoutingConfig,
    options: RoutedEngineOptions = {},
  ) {
    for (const b of config.bastions) {
      const remote = new RemoteEngine({ ...options.client, name: b.name, url: b.url, token: b.token, ...(b.timeoutMs !== undefined ? { requestTimeoutMs: b.timeoutMs } : {}) });
      const reuseMs = options.reuseMs ?? config.reuseMs ?? 10_000;
      // SharedRuns reuses a result up to and including reuseMs old: 0 would still reuse one
      // from the same millisecond, so "no reuse" is passed as -1.
      this.engines.set(b.name, { remote, shared: new SharedRuns(remote, { reuseMs: reuseMs > 0 ? reuseMs : -1 }) });
    }
    this.bastions = config.bastions.map((b) => b.name);
  }

  route(target: Target, via?: string): Route {
    return selectBastion(this.config, target, via);
  }

  async check(target: Target, options: CheckOptions = {}): Promise<CheckResult> {
    const { bastion: name } = this.route(target, options.via);
    const bastion = this.engines.get(name);
    if (!bastion) throw new SshcheckError('E_USAGE', `unknown bastion "${name}": the configured bastions are ${this.bastions.join(', ')}`);
    // A result is reused when its run had finished before this check asked for it: either
    // the service said so or this bot saw it finish. Its age is the time since then, told
    // before the replayed events, as the thread expects.
    let reusedAgeMs: number | undefined;
    let first = true;
    // `from` goes to the bastion (it checks the target's bans against it) and into the reuse
    // key: a from-check is never answered with a plain check's result.
    const result = await bastion.shared.check(target, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.from !== undefined ? { from: options.from } : {}),
      onEvent: (event) => {
        if (first && event.type === 'run-started') {
          first = false;
          const at = bastion.remote.finishedAt(event.id);
          if (at !== undefined) {
            reusedAgeMs = Math.max(0, Date.now() - at);
            options.onReused?.(reusedAgeMs);
          }
        }
        options.onEvent?.(event);
      },
    });
    return reusedAgeMs !== undefined ? { report: result.report, reusedAgeMs } : { report: result.report };
  }
}
