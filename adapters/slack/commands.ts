// `/sshcheck <target> [port] [user]`: acknowledged before anything that does I/O (Slack gives
// three seconds, and the gate may look up user groups or wait on the store). Help and usage
// errors, known from the text alone, are the ack itself; what the gate decides follows
// through respond(), to the requester only: a refusal, the history, or "Checking…" with the
// queue notice. Then the check posts to the channel.
import type { App, RespondFn } from '@slack/bolt';
import { gateCommand } from '../../src/chat/admission.js';
import type { ChatCommand } from '../../src/chat/grammar.js';
import { encodeRerun } from '../../src/chat/rerun.js';
import { targetLabel } from '../../src/chat/views.js';
import { answeredElsewhere, deliveryIds, isRepeat } from './deliveries.js';
import { errorText } from './errors.js';
import type { ListenerDeps, ParsedRequest } from './listeners.js';
import { envelopeIdOf, parseSlashRequest } from './listeners.js';
import { renderAck, renderUsage, renderUsageError } from './render.js';
import type { SlackMessage } from './render.js';
import { isDirectConversation, requesterMention } from './requester.js';
import { SlackSurface } from './surface.js';
import { renderDecision, slackActor } from './gate.js';
import { startSlackFleet } from './fleet.js';

export const COMMAND = '/sshcheck';

/** A message only the requester sees, through the command's response_url. */
export function privately(respond: RespondFn, logger: ListenerDeps['logger'], origin: Record<string, string>): (message: SlackMessage) => Promise<void> {
  return (message) =>
    respond({ response_type: 'ephemeral', replace_original: false, ...message }).then(
      () => undefined,
      (err: unknown) => logger.error('answering through the response_url failed', { ...origin, error: errorText(err) }),
    );
}

/** What the ack carries: help and usage errors (nothing is probed), else nothing. Pure. */
export function immediateAnswer(parsed: ParsedRequest): ({ response_type: 'ephemeral' } & SlackMessage) | undefined {
  if (parsed.kind === 'error') return { response_type: 'ephemeral', ...renderUsageError(parsed.message) };
  if (parsed.kind === 'help') return { response_type: 'ephemeral', ...renderUsage() };
  return undefined;
}

export function registerSlashCommand(app: App, deps: ListenerDeps): void {
  app.command(COMMAND, async ({ command, ack, respond, context }) => {
    // Pure (no I/O), so the ack goes out at once: help and usage errors are the ack itself.
    const parsed = parseSlashRequest(command.text, deps.bastions());
    await ack(immediateAnswer(parsed));
    const origin = { via: 'slash-command', channel: command.channel_id, user: command.user_id };
    if (parsed.kind === 'error' || parsed.kind === 'help') return;
    const ids = deliveryIds({ trigger: command.trigger_id, envelope: envelopeIdOf(context) });
    if (isRepeat(deps.recent, ids)) {
      deps.logger.info('repeated delivery ignored', { ...origin, retryNum: context.retryNum });
      return;
    }
    if (await answeredElsewhere(deps.claim, ids)) return deps.logger.info('request answered by another replica', origin);
    const answer = privately(respond, deps.logger, origin);
    const who = { team: command.team_id, channel: command.channel_id, user: command.user_id };
    const requester = requesterMention(command.user_id, command.user_name);
    // Several hosts (`db-[1-40]`, `db-1,db-2`): a fleet check (adapters/slack/fleet.ts).
    if (parsed.kind === 'fleet') {
      startSlackFleet(deps, parsed, { ...who, requester, answer, respond });
      return;
    }
    await runSlackCheck(deps, parsed, { ...who, channelName: command.channel_name, requester, origin, answer, respond });
  });
}

export interface SlackCheckAsker {
  team?: string | undefined;
  channel: string;
  channelName?: string | undefined;
  user: string;
  /** The requester as Slack shows them: a user mention the adapter built. */
  requester: string;
  origin: Record<string, string>;
  /** Private answers to the requester (refusal, history, "Checking…"). */
  answer: (message: SlackMessage) => Promise<void>;
  respond: RespondFn;
}

/**
 * One check asked for after Slack was acknowledged (a slash command, a Re-run click): the gate
 * as the asker (who, what, how often, when), the private answer, then the thread in the channel.
 */
export async function runSlackCheck(deps: ListenerDeps, parsed: Extract<ChatCommand, { kind: 'check' | 'history' }>, asker: SlackCheckAsker): Promise<void> {
  const { answer } = asker;
  const decision = await gateCommand(deps.gate, parsed, slackActor(asker, deps.userGroups));
  if (decision.kind !== 'run') return answer(renderDecision(decision));
  if (parsed.kind !== 'check') {
    decision.ticket.cancel('not a check');
    return;
  }
  void answer(renderAck(targetLabel(parsed.target), parsed.via ?? deps.vantage, decision.notice));
  deps.runner.start({
    target: parsed.target,
    ...(parsed.via !== undefined ? { via: parsed.via } : {}),
    ...(parsed.from !== undefined ? { from: parsed.from } : {}),
    requester: asker.requester,
    origin: asker.origin,
    ticket: decision.ticket,
    surface: () =>
      new SlackSurface({
        client: deps.client,
        channel: asker.channel,
        respond: asker.respond,
        requesterId: asker.user,
        directMessage: isDirectConversation(asker.channel, asker.channelName),
        botName: deps.botName() ?? 'sshcheck',
        pacer: deps.pacer,
        logger: deps.logger,
        rerun: encodeRerun(parsed),
      }),
  });
}
