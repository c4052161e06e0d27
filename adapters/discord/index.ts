// Placeholder until the Discord adapter lands (issue 4).
import type { AdapterContext, ChatAdapter } from '../../src/chat/adapter.js';
import type { DiscordConfig } from '../../src/chat/bot-config.js';

export function createDiscordAdapter(_config: DiscordConfig, _ctx: AdapterContext): ChatAdapter {
  throw new Error('the Discord adapter is not built yet');
}

export function registerCommands(_config: DiscordConfig, _options: { guildId?: string }): Promise<string> {
  return Promise.reject(new Error('the Discord adapter is not built yet'));
}
