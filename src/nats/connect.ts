// Opening the broker connection, and saying what its state changes mean in the log.
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { Logger } from '../log.js';
import type { NatsSettings } from './options.js';
import { errorMessage } from '../errors.js';

export class BrokerUnreachableError extends Error {
  constructor(url: string, reason: string) {
    super(`the broker at ${url} is unreachable: ${reason}`);
    this.name = 'BrokerUnreachableError';
  }
}

/**
 * Connects; `wait` keeps trying until the broker answers (services started before it),
 * otherwise the first failure is an error naming the URL (a one-off CLI check).
 */
export async function openBroker(settings: NatsSettings, options: { wait: boolean; logger?: Logger; timeoutMs?: number }): Promise<NatsConnection> {
  let nc: NatsConnection;
  try {
    nc = await connect({ ...settings.options, waitOnFirstConnect: options.wait, timeout: options.timeoutMs ?? 5_000 });
  } catch (err) {
    throw new BrokerUnreachableError(settings.url, errorMessage(err));
  }
  const logger = options.logger;
  if (logger) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') logger.warn('broker connection lost; reconnecting', { broker: settings.url });
        else if (s.type === 'reconnect') logger.info('broker connection restored', { broker: settings.url });
        else if (s.type === 'error') logger.error('broker error', { broker: settings.url, error: s.error.message });
      }
    })();
  }
  return nc;
}
