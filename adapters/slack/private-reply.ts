// Answers only the person who typed the command (an ephemeral message through response_url),
// shared by the slash command, the Re-run button and watch.
import type { RespondFn } from '@slack/bolt';
import type { ListenerDeps } from './listeners.js';
import type { SlackMessage } from './render.js';
import { errorMessage } from '../../src/errors.js';

export function privately(respond: RespondFn, logger: ListenerDeps['logger'], origin: Record<string, string>): (message: SlackMessage) => Promise<void> {
  return (message) =>
    respond({ response_type: 'ephemeral', replace_original: false, ...message }).then(
      () => undefined,
      (err: unknown) => logger.error('answering through the response_url failed', { ...origin, error: errorMessage(err) }),
    );
}
