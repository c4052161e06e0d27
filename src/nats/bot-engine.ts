// The bot's side of the broker: connect (waiting for it if it is not up yet), follow the
// agents' declarations, and hand the chat layer a NatsEngine. Used by `sshcheck bot` when
// SSHCHECK_NATS_URL is set; without it the bot runs the engine in its own process.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log.js';
import type { CheckOptions, CheckResult, EngineClient } from '../chat/engine-client.js';
import type { Route } from '../chat/routing.js';
import type { RoutingConfig } from '../chat/routing-config.js';
import { SharedRuns } from '../chat/shared-runs.js';
import type { Target } from '../target.js';
import { openBroker } from './connect.js';
import { NatsEngine } from './engine.js';
import type { NatsSettings } from './options.js';

/** What RoutedNatsEngine needs of the NATS client (a NatsEngine). */
export interface RoutableEngine extends EngineClient {
  readonly bastions: readonly string[];
  route(target: Target, via?: string): Route;
}

/**
 * Single flight and short reuse per bastion, as the bot has for in-process runs: the same
 * target asked of two bastions is two checks; asked twice of one, it is one. Exposes the
 * bastions, so the chat layer accepts `via` (and checks its name before posting).
 */
export class RoutedNatsEngine implements EngineClient {
  private readonly shared = new Map<string, SharedRuns>();

  constructor(
    private readonly inner: RoutableEngine,
    private readonly reuseMs: number,
  ) {}

  get bastions(): readonly string[] {
    return this.inner.bastions;
  }

  check(target: Target, options: CheckOptions = {}): Promise<CheckResult> {
    const { bastion } = this.inner.route(target, options.via);
    let shared = this.shared.get(bastion);
    if (!shared) {
      const inner = this.inner;
      shared = new SharedRuns({ check: (t, o) => inner.check(t, { ...o, via: bastion }) }, { reuseMs: this.reuseMs > 0 ? this.reuseMs : -1 });
      this.shared.set(bastion, shared);
    }
    const { via: _via, ...rest } = options;
    return shared.check(target, rest);
  }
}

export interface BotBroker {
  nc: NatsConnection;
  engine: NatsEngine;
  close(): Promise<void>;
}

/** Resolves undefined when `stop` comes first (the broker never answered before shutdown). */
export async function connectBotBroker(settings: NatsSettings, routing: RoutingConfig | undefined, logger: Logger, stop: Promise<void>): Promise<BotBroker | undefined> {
  logger.info('connecting to the broker', { broker: settings.url });
  const opened = openBroker(settings, { wait: true, logger });
  const first = await Promise.race([opened, stop.then(() => undefined)]);
  if (!first) {
    void opened.then((nc) => nc.close(), () => undefined);
    return undefined;
  }
  const nc = first;
  const engine = new NatsEngine(nc, {
    url: settings.url,
    // Static rules of the bot's config win over what agents declare.
    routes: { bastions: routing?.bastions.map((b) => b.name) ?? [], rules: routing?.rules ?? [], ...(routing?.default !== undefined ? { default: routing.default } : {}) },
  });
  engine.onLost = (text) => logger.warn('agent lost during a check', { detail: text });
  await engine.watchAgents(500);
  logger.info('routing checks through the broker', { broker: settings.url, bastions: engine.bastions });
  return {
    nc,
    engine,
    close: async () => {
      engine.close();
      await nc.drain().catch(() => undefined);
    },
  };
}
