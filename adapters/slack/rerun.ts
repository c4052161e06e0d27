// The Re-run button on a check's parent message: a block_actions click, acknowledged on the
// listener's first line (Slack gives three seconds; the gate may look up user groups or wait
// on the store). The button's value is untrusted (anyone able to craft a click chooses it), so
// it is decoded with the chat grammar (src/chat/rerun.ts); then the check runs exactly as a
// typed /sshcheck would, as the person who clicked: the same gate, limits and thread.
import type { App, BlockButtonAction } from '@slack/bolt';
import { decodeRerun, RERUN_ACTION } from '../../src/chat/rerun.js';
import { runSlackCheck, privately } from './commands.js';
import { answeredElsewhere, deliveryIds, isRepeat } from './deliveries.js';
import { renderRefusal } from './gate.js';
import type { ListenerDeps } from './listeners.js';
import { envelopeIdOf } from './listeners.js';
import { requesterMention } from './requester.js';

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
      deps.logger.warn('re-run refused: its button value is not a check sshcheck made', origin);
      return answer(renderRefusal(decoded.kind === 'refused' ? decoded.message : 'This Re-run button is not in a conversation, so nothing was checked.'));
    }
    const parsed = { kind: 'check' as const, target: decoded.target, ...(decoded.via !== undefined ? { via: decoded.via } : {}), ...(decoded.from !== undefined ? { from: decoded.from } : {}) };
    await runSlackCheck(deps, parsed, {
      team: body.team?.id,
      channel,
      channelName: body.channel?.name,
      user: body.user.id,
      requester: requesterMention(body.user.id, body.user.name ?? body.user.username),
      origin,
      answer,
      respond,
    });
  });
}
