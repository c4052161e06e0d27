// The discord.js client as sshcheck uses it: one outbound gateway connection with the Guilds
// intent only (interactions arrive on every connection; no message content, members or
// presences are needed), no mentions by default, and an optional REST base URL (proxies,
// tests). Gateway trouble is logged and left to discord.js, which reconnects and resumes.
import { Client, Events, GatewayIntentBits, RESTEvents } from 'discord.js';
import type { Logger } from '../../src/log.js';
import type { DiscordConfig } from '../../src/chat/bot-config.js';
import { describeError } from './errors.js';
import { noMentions } from './responder.js';

export function restOptions(config: Pick<DiscordConfig, 'apiUrl'>): { api?: string } {
  // discord.js appends /v10/<route> to this base, as it does to https://discord.com/api.
  return config.apiUrl !== undefined ? { api: config.apiUrl.replace(/\/+$/, '') } : {};
}

export function createClient(config: DiscordConfig): Client {
  return new Client({
    intents: [GatewayIntentBits.Guilds],
    allowedMentions: noMentions(),
    rest: restOptions(config),
  });
}

/**
 * Logs the gateway's life without ever passing on discord.js's debug text or a URL.
 * `stopping` says the adapter is closing the gateway itself (SIGTERM): discord.js reports that
 * close as a lost connection, which it is not.
 */
export function logClientEvents(client: Client, logger: Logger, stopping: () => boolean = () => false): void {
  client.on(Events.ShardReady, (shard) => logger.info('discord gateway ready', { shard }));
  client.on(Events.ShardResume, (shard, replayedEvents) => logger.info('discord gateway resumed', { shard, replayedEvents }));
  client.on(Events.ShardReconnecting, (shard) => {
    if (!stopping()) logger.warn('discord gateway connection lost; reconnecting', { shard });
  });
  client.on(Events.ShardDisconnect, (event, shard) => {
    if (stopping()) logger.info('discord gateway closed (shutting down)', { shard });
    else logger.error('discord gateway closed and will not reconnect', { shard, code: event.code });
  });
  client.on(Events.ShardError, (err, shard) => logger.warn('discord gateway connection error', { shard, error: describeError(err) }));
  client.on(Events.Invalidated, () => logger.error('discord session invalidated'));
  client.on(Events.Warn, (message) => logger.warn('discord.js warning', { message }));
  // Without a listener an 'error' event would throw and end the process.
  client.on(Events.Error, (err) => logger.error('discord.js error', { error: describeError(err) }));
  client.rest.on(RESTEvents.RateLimited, (info) =>
    // The route has the token replaced by ":token"; the URL and major parameter do not.
    logger.info('discord rate limit: waiting', { route: info.route, method: info.method, waitMs: info.timeToReset, global: info.global, scope: info.scope }),
  );
}
