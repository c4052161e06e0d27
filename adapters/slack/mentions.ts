// `@sshcheck db-3`: slash commands cannot be used in threads, so in an incident thread the bot
// is mentioned instead and answers in that thread (its "parent" is a reply there). Outside a
// thread it behaves like the slash command. Help and usage errors go to the requester only.
import type { App } from '@slack/bolt';
import { answeredElsewhere, deliveryIds, envelopeIdOf, isRepeat } from './deliveries.js';
import type { ListenerDeps } from './listeners.js';
import { parseRequest } from './listeners.js';
import { renderUsage, renderUsageError } from './render.js';
import type { SlackMessage } from './render.js';
import { isUserId, requesterMention } from './requester.js';
import { channelKey } from './surface.js';
import { runSlackCheck } from './commands.js';
import { errorMessage } from '../../src/errors.js';

/** The mention text without the bot's own mention(s). */
export function stripBotMention(text: string, botUserId: string | undefined): string {
  const own = botUserId !== undefined && /^[UW][A-Z0-9]+$/.test(botUserId) ? new RegExp(`<@${botUserId}(?:\\|[^>]*)?>`, 'g') : undefined;
  return own ? text.replace(own, ' ') : text.replace(/^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>/, ' ');
}

export function registerMentions(app: App, deps: ListenerDeps): void {
  app.event('app_mention', async ({ event, body, context }) => {
    const origin = { via: 'mention', channel: event.channel, user: event.user ?? '', thread: event.thread_ts ?? '' };
    // Events are acknowledged by Bolt before this runs (Socket Mode and HTTP alike).
    const ids = deliveryIds({ event: body.event_id, envelope: envelopeIdOf(context) });
    if (isRepeat(deps.recent, ids)) {
      deps.logger.info('repeated delivery ignored', { ...origin, retryNum: context.retryNum });
      return;
    }
    if (await answeredElsewhere(deps.claim, ids)) return deps.logger.info('request answered by another replica', origin);
    const user = event.user;
    if (!isUserId(user)) {
      deps.logger.info('mention without a user ignored', origin);
      return;
    }
    const thread = event.thread_ts;
    const answer = (message: SlackMessage): Promise<void> =>
      deps.pacer
        .schedule(channelKey(event.channel), async () => {
          await deps.client.chat.postEphemeral({ channel: event.channel, user, ...message, ...(thread !== undefined ? { thread_ts: thread } : {}) });
        })
        .catch((err: unknown) => deps.logger.error('answering a mention failed', { ...origin, error: errorMessage(err) }));
    const text = stripBotMention(event.text, context.botUserId);
    const parsed = parseRequest(text, deps.bastions());
    // Not a command but a pasted or attached ssh log: explained instead of a usage error.
    if ((parsed.kind === 'error' || text.trim() === '') && deps.logs?.fromMention(event, text)) return;
    if (parsed.kind === 'error') return await answer(renderUsageError(parsed.message));
    if (parsed.kind === 'help') return await answer(renderUsage());
    // Who, what, how often, when (src/chat/admission.ts), then the thread: the same path as the
    // slash command's, so the parent carries the same Re-run button. A refusal, a history
    // answer or the queue notice go to the requester only.
    const team = typeof context.teamId === 'string' ? context.teamId : typeof body.team_id === 'string' ? body.team_id : undefined;
    const started = await runSlackCheck(deps, parsed, { team, channel: event.channel, user, requester: requesterMention(user), origin, answer, threadTs: thread, quiet: true });
    // Logs pasted later into this thread are explained too.
    if (started && thread !== undefined) deps.logs?.rememberThread(event.channel, thread);
  });
}
