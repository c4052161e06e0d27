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
import { isDirectConversation, requesterMention } from './requester.js';
import { SlackSurface } from './surface.js';

export const COMMAND = '/sshcheck';

export function registerSlashCommand(app: App, deps: ListenerDeps): void {
  app.command(COMMAND, async ({ command, ack, respond, context }) => {
    const origin = { via: 'slash-command', channel: command.channel_id, user: command.user_id };
    if (isRepeat(deps.recent, deliveryIds({ trigger: command.trigger_id, envelope: envelopeIdOf(context) }))) {
      await ack();
      deps.logger.info('repeated delivery ignored', { ...origin, retryNum: context.retryNum });
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
    try {
      await ack({ response_type: 'ephemeral', text: renderAck(targetLabel(parsed.target), parsed.via ?? deps.vantage) });
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
