// The bot's side of the broker: connect (waiting for it if it is not up yet), follow the
// agents' declarations, and hand the chat layer a NatsEngine. Used by `sshcheck bot` when
// SSHCHECK_NATS_URL is set; without it the bot runs the engine in its own process.
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log.js';
import type { RoutingConfig } from '../chat/routing-config.js';
import { openBroker } from './connect.js';
import { NatsEngine } from './engine.js';
import type { NatsSettings } from './options.js';

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
