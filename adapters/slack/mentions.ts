// `@sshcheck db-3`: slash commands cannot be used in threads, so in an incident thread the bot
// is mentioned instead and answers in that thread (its "parent" is a reply there). Outside a
// thread it behaves like the slash command. Help and usage errors go to the requester only.
import type { App } from '@slack/bolt';
import { answeredElsewhere, deliveryIds, isRepeat } from './deliveries.js';
import { errorText } from './errors.js';
import type { ListenerDeps } from './listeners.js';
import { envelopeIdOf, parseRequest } from './listeners.js';
import { renderUsage, renderUsageError } from './render.js';
import type { SlackMessage } from './render.js';
import { isDirectConversation, isUserId, requesterMention } from './requester.js';
import { SlackSurface, channelKey } from './surface.js';
import { gateCommand } from '../../src/chat/admission.js';
import { renderDecision, slackActor } from './gate.js';
import { fitInline } from './limits.js';

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
        .catch((err: unknown) => deps.logger.error('answering a mention failed', { ...origin, error: errorText(err) }));
    const text = stripBotMention(event.text, context.botUserId);
    const parsed = parseRequest(text, deps.bastions());
    // Not a command but a pasted or attached ssh log: explained instead of a usage error.
    if ((parsed.kind === 'error' || text.trim() === '') && deps.logs?.fromMention(event, text)) return;
    if (parsed.kind === 'error') return await answer(renderUsageError(parsed.message));
    if (parsed.kind === 'help') return await answer(renderUsage());
    // Who, what, how often, when: a refusal, a history answer or the queue notice go to the requester only.
    const team = typeof context.teamId === 'string' ? context.teamId : typeof body.team_id === 'string' ? body.team_id : undefined;
    const decision = await gateCommand(deps.gate, parsed, slackActor({ channel: event.channel, user, ...(team !== undefined ? { team } : {}) }, deps.userGroups));
    if (decision.kind !== 'run') return await answer(renderDecision(decision));
    if (parsed.kind !== 'check') {
      decision.ticket.cancel('not a check');
      return;
    }
    if (decision.notice !== undefined) {
      const notice = fitInline(decision.notice, 500);
      void answer({ text: notice, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: notice } }] });
    }
    deps.runner.start({
      target: parsed.target,
      ...(parsed.via !== undefined ? { via: parsed.via } : {}),
      ...(parsed.from !== undefined ? { from: parsed.from } : {}),
      requester: requesterMention(user),
      origin,
      ticket: decision.ticket,
      surface: () =>
        new SlackSurface({
          client: deps.client,
          channel: event.channel,
          ...(thread !== undefined ? { threadTs: thread } : {}),
          requesterId: user,
          directMessage: isDirectConversation(event.channel),
          botName: deps.botName() ?? 'sshcheck',
          pacer: deps.pacer,
          logger: deps.logger,
        }),
    });
    // Logs pasted later into this thread are explained too.
    if (thread !== undefined) deps.logs?.rememberThread(event.channel, thread);
  });
}
