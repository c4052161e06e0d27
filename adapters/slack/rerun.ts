// The Re-run button on a check's or a fleet's parent message: a block_actions click,
// acknowledged on the listener's first line (Slack gives three seconds; the gate may look up
// user groups or wait on the store). The button's value is untrusted (anyone able to craft a
// click chooses it), so it is decoded with the chat grammars (src/chat/rerun.ts); then the
// command runs exactly as a typed one would, as the person who clicked: the same gate, limits
// and thread. A parent that is itself a reply in a thread (an @mention there) is re-run in that thread.
import type { App, BlockButtonAction } from '@slack/bolt';
import { decodeRerun, RERUN_ACTION } from '../../src/chat/rerun.js';
import { runSlackCheck } from './commands.js';
import { privately } from './private-reply.js';
import { answeredElsewhere, deliveryIds, envelopeIdOf, isRepeat } from './deliveries.js';
import { startSlackFleet } from './fleet.js';
import { renderRefusal } from './gate.js';
import type { ListenerDeps } from './listeners.js';
import { requesterMention } from './requester.js';

/**
 * The thread the clicked message is a reply in, if it is one. A channel message with replies
 * carries its own ts as thread_ts: that is the start of a thread, not a reply in one.
 */
export function clickedInThread(body: Pick<BlockButtonAction, 'container' | 'message'>): string | undefined {
  const container: Record<string, unknown> = body.container;
  const fromMessage: unknown = body.message?.['thread_ts'];
  const thread = typeof container['thread_ts'] === 'string' ? container['thread_ts'] : typeof fromMessage === 'string' ? fromMessage : undefined;
  const ts = typeof container['message_ts'] === 'string' ? container['message_ts'] : body.message?.ts;
  return thread !== undefined && thread !== ts ? thread : undefined;
}

export function registerRerunButton(app: App, deps: ListenerDeps): void {
  app.action<BlockButtonAction>({ type: 'block_actions', action_id: RERUN_ACTION }, async ({ ack, body, action, respond, context }) => {
    await ack();
    const channel = body.channel?.id;
    const origin = { via: 're-run button', channel: channel ?? '', user: body.user.id };
    const ids = deliveryIds({ trigger: body.trigger_id, envelope: envelopeIdOf(context) });
    if (isRepeat(deps.recent, ids)) {
      deps.logger.info('repeated delivery ignored', origin);
      return;
    }
    if (await answeredElsewhere(deps.claim, ids)) return deps.logger.info('request answered by another replica', origin);
    const answer = privately(respond, deps.logger, origin);
    const decoded = decodeRerun(action.value, { bastions: deps.bastions() });
    if (decoded.kind === 'refused' || channel === undefined) {
      deps.logger.warn('re-run refused: its button value is not a command sshcheck made', origin);
      return answer(renderRefusal(decoded.kind === 'refused' ? decoded.message : 'This Re-run button is not in a conversation, so nothing was checked.'));
    }
    const asker = { team: body.team?.id, channel, user: body.user.id, requester: requesterMention(body.user.id, body.user.name ?? body.user.username), answer, respond };
    if (decoded.kind === 'fleet') {
      startSlackFleet(deps, decoded.fleet, asker);
      return;
    }
    const parsed = { kind: 'check' as const, target: decoded.target, ...(decoded.via !== undefined ? { via: decoded.via } : {}), ...(decoded.from !== undefined ? { from: decoded.from } : {}) };
    await runSlackCheck(deps, parsed, { ...asker, channelName: body.channel?.name, origin, threadTs: clickedInThread(body) });
  });
}
