// What the bot knows of the agents on the broker: which agents of which bastion are up, and
// which targets each bastion declares it covers (the allow entries of its engine config's
// target policy). Routing: `via` wins, then the static rules of the bot's config, then the
// declared coverage (most specific first), then the config's default. Pure: declarations
// in, routes out; the clock is injected.
import { createHash } from 'node:crypto';
import { SshcheckError } from '../errors.js';
import type { Target } from '../target.js';
import { formatTarget } from '../target.js';
import { parseVia } from '../chat/grammar.js';
import type { Route } from '../chat/routing.js';
import { matchRule } from '../chat/routing.js';
import type { RouteRule } from '../chat/routing-config.js';
import { parseEntry } from '../policy/entries.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import type { Declaration } from './protocol.js';
import { ANNOUNCE_MS, NAME_RE } from './protocol.js';

/** What an agent's engine config says it covers: its operator's allow entries, not the built-in private ranges. */
export function coverageOf(policy: TargetPolicy | undefined): { cidrs: string[]; suffixes: string[] } {
  const cidrs: string[] = [];
  const suffixes: string[] = [];
  for (const entry of policy?.entries ?? []) {
    if (entry.origin !== 'config' || entry.action !== 'allow') continue;
    if (entry.kind === 'cidr') cidrs.push(entry.block.text);
    else suffixes.push(entry.suffix);
  }
  return { cidrs, suffixes };
}

/**
 * The agent a check of `key` goes to first, among a bastion's live agents: the highest
 * hash of (agent, key), rendezvous style. Every bot replica that knows the same agents
 * picks the same one, so two replicas asking for one target meet in that agent's single
 * flight; an agent joining or leaving moves only its own share of targets. Pure.
 */
export function preferredAgent(agents: readonly string[], key: string): string | undefined {
  let best: { agent: string; score: string } | undefined;
  for (const agent of agents) {
    const score = createHash('sha256').update(`${agent}\n${key}`).digest('hex');
    if (!best || score > best.score) best = { agent, score };
  }
  return best?.agent;
}

interface Known {
  declaration: Declaration;
  seenAt: number;
}

export interface StaticRoutes {
  /** Bastions the bot's config names (they may be chosen by `via` before any agent declared itself). */
  bastions: readonly string[];
  rules: readonly RouteRule[];
  default?: string;
}

export class AgentDirectory {
  /** bastion → agent → what it declared last. */
  private readonly known = new Map<string, Map<string, Known>>();

  constructor(
    private readonly now: () => number = () => Date.now(),
    /** An agent not heard for this long is forgotten (it re-declares every ANNOUNCE_MS). */
    private readonly ttlMs: number = 3 * ANNOUNCE_MS,
  ) {}

  update(declaration: Declaration): void {
    const agents = this.known.get(declaration.bastion) ?? new Map<string, Known>();
    if (declaration.up) agents.set(declaration.agent, { declaration, seenAt: this.now() });
    else agents.delete(declaration.agent);
    if (agents.size > 0) this.known.set(declaration.bastion, agents);
    else this.known.delete(declaration.bastion);
  }

  /** The live agents of a bastion, newest declaration first. */
  agents(bastion: string): string[] {
    const cutoff = this.now() - this.ttlMs;
    return [...(this.known.get(bastion)?.values() ?? [])]
      .filter((k) => k.seenAt >= cutoff)
      .sort((a, b) => b.seenAt - a.seenAt)
      .map((k) => k.declaration.agent);
  }

  /** Bastions with at least one live agent, sorted. */
  bastions(): string[] {
    return [...this.known.keys()].filter((b) => this.agents(b).length > 0).sort();
  }

  /** The declared coverage as routing rules, in bastion order (for stable ties). */
  declaredRules(): RouteRule[] {
    const rules: RouteRule[] = [];
    const cutoff = this.now() - this.ttlMs;
    for (const bastion of [...this.known.keys()].sort()) {
      const seen = new Set<string>();
      for (const { declaration, seenAt } of this.known.get(bastion)?.values() ?? []) {
        if (seenAt < cutoff) continue;
        for (const text of [...declaration.cidrs, ...declaration.suffixes]) {
          if (seen.has(text)) continue;
          seen.add(text);
          // Declarations come from the network: anything that does not parse is ignored.
          const entry = parseEntry(text, 'allow', 'declared');
          if ('error' in entry) continue;
          if (entry.kind === 'cidr') rules.push({ kind: 'cidr', cidr: entry.block, bastion });
          else rules.push({ kind: 'suffix', suffix: entry.suffix, bastion });
        }
      }
    }
    return rules;
  }

  /** The bastion for a target; throws E_USAGE for an unknown `via` and an Error when nothing routes it. */
  route(config: StaticRoutes, target: Pick<Target, 'host' | 'kind' | 'port'>, via?: string): Route {
    const names = [...new Set([...config.bastions, ...this.bastions()])].sort();
    // Any well-formed name: a bastion whose agents are down gets the broker's own answer
    // ("no agent connected"), which says more than "unknown bastion".
    if (via !== undefined) {
      const bastion = parseVia(via);
      // One subject token: "eu-1.eua" would otherwise address one agent of eu-1.
      if (!NAME_RE.test(bastion)) throw new SshcheckError('E_USAGE', `"${bastion}" is not a bastion name: lower-case letters, digits, "_" and "-"`);
      return { bastion, reason: 'via' };
    }
    const byConfig = matchRule(config.rules, target);
    if (byConfig) return byConfig;
    const declared = matchRule(this.declaredRules(), target);
    if (declared) return { bastion: declared.bastion, reason: `declared ${declared.reason}` };
    if (config.default !== undefined) return { bastion: config.default, reason: 'default' };
    const known = names.length > 0 ? `the bastions are ${names.join(', ')}` : 'no agent has declared itself on the broker yet';
    throw new SshcheckError('E_USAGE', `no bastion covers ${formatTarget(target)}: add "via <bastion>" (${known}), a rule or default: to the bot's config, or the target's network to an agent's policy`);
  }
}
