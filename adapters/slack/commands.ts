// `/sshcheck <target> [port] [user]`: acknowledged at once (Slack gives three seconds, and the
// person should know the bastion took it), privately; then the check runs and posts to the
// channel. Help and usage errors are the acknowledgement itself: nothing is probed.
import type { App } from '@slack/bolt';
import { targetLabel } from '../../src/chat/views.js';
import { deliveryIds, isRepeat } from './deliveries.js';
import { errorText } from './errors.js';
import type { ListenerDeps } from './listeners.js';
import { envelopeIdOf, parseRequest } from './listeners.js';
import { renderAck, renderUsage, renderUsageError } from './render.js';
import { fitInline } from './limits.js';
import { isDirectConversation, requesterMention } from './requester.js';
import { SlackSurface } from './surface.js';
import { gateSlackCommand } from './gate.js';
import { parseFleetRequest, startSlackFleet } from './fleet.js';

export const COMMAND = '/sshcheck';

export function registerSlashCommand(app: App, deps: ListenerDeps): void {
  app.command(COMMAND, async ({ command, ack, respond, context }) => {
    const origin = { via: 'slash-command', channel: command.channel_id, user: command.user_id };
    if (isRepeat(deps.recent, deliveryIds({ trigger: command.trigger_id, envelope: envelopeIdOf(context) }))) {
      await ack();
      deps.logger.info('repeated delivery ignored', { ...origin, retryNum: context.retryNum });
      return;
    }
    // Several hosts (`db-[1-40]`, `db-1,db-2`): a fleet check (adapters/slack/fleet.ts).
    const fleet = parseFleetRequest(command.text);
    if (fleet !== undefined) {
      if (fleet.kind === 'error') await ack({ response_type: 'ephemeral', ...renderUsageError(fleet.message) });
      else await startSlackFleet(deps, fleet, { team: command.team_id, channel: command.channel_id, user: command.user_id, requester: requesterMention(command.user_id, command.user_name), ack, respond });
      return;
    }
    const parsed = parseRequest(command.text, deps.bastions());
    if (parsed.kind === 'error') {
      await ack({ response_type: 'ephemeral', ...renderUsageError(parsed.message) });
      return;
    }
    if (parsed.kind === 'help') {
      await ack({ response_type: 'ephemeral', ...renderUsage() });
      return;
    }
    // Who, what, how often, when: a refusal or a history answer is the ack itself.
    const gated = await gateSlackCommand(deps, parsed, { team: command.team_id, channel: command.channel_id, user: command.user_id });
    if (gated.kind === 'answer') {
      await ack({ response_type: 'ephemeral', ...gated.message });
      return;
    }
    if (parsed.kind !== 'check') return;
    try {
      const notice = gated.notice !== undefined ? `\n${fitInline(gated.notice, 500)}` : '';
      await ack({ response_type: 'ephemeral', text: `${renderAck(targetLabel(parsed.target), parsed.via ?? deps.vantage)}${notice}` });
    } catch (err) {
      // The person may see "failed" in Slack, but the check still answers in the channel.
      deps.logger.error('acknowledging the slash command failed', { ...origin, error: errorText(err) });
    }
    deps.runner.start({
      target: parsed.target,
      ...(parsed.via !== undefined ? { via: parsed.via } : {}),
      ...(parsed.from !== undefined ? { from: parsed.from } : {}),
      requester: requesterMention(command.user_id, command.user_name),
      origin,
      ...(gated.ticket ? { ticket: gated.ticket } : {}),
      surface: () =>
        new SlackSurface({
          client: deps.client,
          channel: command.channel_id,
          respond,
          requesterId: command.user_id,
          directMessage: isDirectConversation(command.channel_id, command.channel_name),
          botName: deps.botName() ?? 'sshcheck',
          pacer: deps.pacer,
          logger: deps.logger,
        }),
    });
  });
}
