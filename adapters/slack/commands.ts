// `/sshcheck <target> [port] [user]`: acknowledged before anything that does I/O (Slack gives
// three seconds, and the gate may look up user groups or wait on the store). Help and usage
// errors, known from the text alone, are the ack itself; what the gate decides follows
// through respond(), to the requester only: a refusal, the history, or "Checking…" with the
// queue notice. Then the check posts to the channel.
import type { App, RespondFn } from '@slack/bolt';
import { gateCommand } from '../../src/chat/admission.js';
import type { ChatCommand } from '../../src/chat/grammar.js';
import { encodeRerun } from '../../src/chat/rerun.js';
import { targetLabel } from '../../src/target.js';
import { answeredElsewhere, deliveryIds, envelopeIdOf, isRepeat } from './deliveries.js';
import type { ListenerDeps, ParsedRequest } from './listeners.js';
import { parseSlashRequest } from './listeners.js';
import { renderAck, renderNotice, renderUsage, renderUsageError } from './render.js';
import type { SlackMessage } from './render.js';
import { isDirectConversation, requesterMention } from './requester.js';
import { SlackSurface } from './surface.js';
import { renderDecision, slackActor } from './gate.js';
import { startSlackFleet } from './fleet.js';
import { handleSlackWatchCommand } from './watch.js';
import { privately } from './private-reply.js';

export const COMMAND = '/sshcheck';

/** What the ack carries: help and usage errors (nothing is probed), else nothing. Pure. */
export function immediateAnswer(parsed: ParsedRequest): ({ response_type: 'ephemeral' } & SlackMessage) | undefined {
  if (parsed.kind === 'error') return { response_type: 'ephemeral', ...renderUsageError(parsed.message) };
  if (parsed.kind === 'help') return { response_type: 'ephemeral', ...renderUsage() };
  return undefined;
}

export function registerSlashCommand(app: App, deps: ListenerDeps): void {
  app.command(COMMAND, async ({ command, ack, respond, context }) => {
    // `watch` and `unwatch` (watch.ts): acknowledged and answered there.
    const watchOrigin = { via: 'slash-command', channel: command.channel_id, user: command.user_id };
    const repeated = (): boolean => isRepeat(deps.recent, deliveryIds({ trigger: command.trigger_id, envelope: envelopeIdOf(context) }));
    if (await handleSlackWatchCommand(deps, command, ack, privately(respond, deps.logger, watchOrigin), repeated)) return;
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
  /** The response_url of a slash command or a click; an @mention has none. */
  respond?: RespondFn;
  /** Set when asked inside a thread (an @mention there, or a click on a parent in one): the check goes into that thread. */
  threadTs?: string | undefined;
  /**
   * An @mention: its parent appears right where the person wrote, so only the queue notice, if
   * any, is said privately (no "Checking…").
   */
  quiet?: boolean;
}

/**
 * One check asked for after Slack was acknowledged (a slash command, an @mention, a Re-run
 * click): the gate as the asker (who, what, how often, when), the private answer, then the
 * thread in the channel (or in the thread it was asked in). Its parent carries the Re-run button.
 * True when the check started.
 */
export async function runSlackCheck(deps: ListenerDeps, parsed: Extract<ChatCommand, { kind: 'check' | 'history' }>, asker: SlackCheckAsker): Promise<boolean> {
  const { answer } = asker;
  const decision = await gateCommand(deps.gate, parsed, slackActor(asker, deps.userGroups));
  if (decision.kind !== 'run') {
    await answer(renderDecision(decision));
    return false;
  }
  if (parsed.kind !== 'check') {
    decision.ticket.cancel('not a check');
    return false;
  }
  if (!asker.quiet) void answer(renderAck(targetLabel(parsed.target), parsed.via ?? deps.vantage, decision.notice));
  else if (decision.notice !== undefined) void answer(renderNotice(decision.notice));
  const { respond, threadTs } = asker;
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
        ...(respond !== undefined ? { respond } : {}),
        ...(threadTs !== undefined ? { threadTs } : {}),
        requesterId: asker.user,
        directMessage: isDirectConversation(asker.channel, asker.channelName),
        botName: deps.botName() ?? 'sshcheck',
        pacer: deps.pacer,
        logger: deps.logger,
        rerun: encodeRerun(parsed),
      }),
  });
  return true;
}
