// Placeholder until the Slack adapter lands (issue 3).
import type { AdapterContext, ChatAdapter } from '../../src/chat/adapter.js';
import type { SlackConfig } from '../../src/chat/bot-config.js';

export function createSlackAdapter(_config: SlackConfig, _ctx: AdapterContext): ChatAdapter {
  throw new Error('the Slack adapter is not built yet');
}
