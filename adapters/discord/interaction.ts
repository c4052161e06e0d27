// One INTERACTION_CREATE for /sshcheck. What needs no I/O is the acknowledgement itself (help
// and usage errors: an ephemeral reply, nothing probed); everything else is deferred first
// (Discord's 3 s), then the gate decides (src/chat/admission.ts) and the shared check flow
// runs with a Discord surface. Everything else that arrives as an interaction is ignored.
import type { ChatInputCommandInteraction, Interaction, RepliableInteraction } from 'discord.js';
import type { Logger } from '../../src/log.js';
import { gateCommand } from '../../src/chat/admission.js';
import { runCheckFlow } from '../../src/chat/check-flow.js';
import type { FleetCommand } from '../../src/chat/fleet-grammar.js';
import { parseFleetCommand } from '../../src/chat/fleet-grammar.js';
import type { Ticket } from '../../src/chat/gate.js';
import { rerunCustomId } from '../../src/chat/rerun.js';
import { targetLabel } from '../../src/target.js';
import { isSshcheckError } from '../../src/errors.js';
import type { Target } from '../../src/target.js';
import { COMMAND_NAME, parseCommandOptions } from './command.js';
import type { InteractionDeps } from './deps.js';
import type { ParsedCommand } from './command.js';
import { errorFields } from './errors.js';
import { discordActor, renderDecision, renderNotice } from './gate.js';
import { handleDiscordFleet } from './fleet.js';
import { DISCORD_USAGE, renderRerunRow, renderUsageError } from './render.js';
import { InteractionResponder } from './responder.js';
import { DiscordSurface } from './surface.js';
import { threadContextOf, whyNoThread } from './thread-policy.js';

type Request = ParsedCommand | FleetCommand | { kind: 'error'; message: string };

/** The typed options: several hosts in `target` (a fleet), one host, help, or a usage error. Pure. */
function parse(interaction: ChatInputCommandInteraction, bastions: readonly string[] | undefined): Request {
  const target = interaction.options.getString('target', true);
  const port = interaction.options.getInteger('port');
  const user = interaction.options.getString('user');
  const via = interaction.options.getString('via');
  const from = interaction.options.getString('from');
  const history = interaction.options.getBoolean('history');
  try {
    const fleet = parseFleetCommand(target, { ...(port !== null ? { port } : {}), ...(user !== null ? { user } : {}) });
    if (fleet) {
      if (via !== null || from !== null || history !== null) return { kind: 'error', message: 'via, from and history are for a single host, not for several' };
      return fleet;
    }
    return parseCommandOptions(
      {
        target,
        ...(port !== null ? { port } : {}),
        ...(user !== null ? { user } : {}),
        ...(via !== null ? { via } : {}),
        ...(from !== null ? { from } : {}),
        ...(history !== null ? { history } : {}),
      },
      bastions,
    );
  } catch (err) {
    return { kind: 'error', message: isSshcheckError(err) ? err.message : 'the command arrived without a usable target' };
  }
}

/** The interaction's answers; a dead token is logged once and ends the answers (the thread goes on). */
export function responderFor(interaction: RepliableInteraction, logger: Logger): InteractionResponder {
  return new InteractionResponder(interaction, (err) => {
    logger.warn('discord interaction token no longer valid; the reply is not edited any more (the thread goes on)', {
      interaction: interaction.id,
      guild: interaction.guildId,
      channel: interaction.channelId,
      ...errorFields(err, [interaction.token]),
    });
  });
}

export async function handleInteraction(interaction: Interaction, deps: InteractionDeps): Promise<void> {
  if (!interaction.isChatInputCommand() || interaction.commandName !== COMMAND_NAME) return;
  const { logger } = deps;
  // A gateway resume may deliver an event again; one interaction is one check.
  if (!deps.seen.first(interaction.id)) {
    logger.debug('discord interaction delivered twice; ignored', { interaction: interaction.id });
    return;
  }
  const responder = responderFor(interaction, logger);
  const request = parse(interaction, deps.engine.bastions);
  if (request.kind === 'error' || request.kind === 'help') {
    if (request.kind === 'error') logger.info('discord check refused', { interaction: interaction.id, user: interaction.user.id, reason: request.message });
    await responder.answerPrivately(request.kind === 'error' ? renderUsageError(request.message) : DISCORD_USAGE);
    return;
  }
  // The gate, DNS, the store and the engine may each take longer than Discord's 3 s.
  await responder.defer();
  if (request.kind === 'fleet') {
    await handleDiscordFleet(interaction, responder, request, deps);
    return;
  }
  const decision = await gateCommand(deps.gate, request, discordActor(interaction));
  if (decision.kind !== 'run') {
    await responder.answerPrivately(renderDecision(decision));
    return;
  }
  if (request.kind !== 'check') {
    decision.ticket.cancel('not a check');
    return;
  }
  if (decision.notice !== undefined) {
    responder.followUpPrivately(renderNotice(decision.notice)).catch((err: unknown) => logger.warn('discord queue notice failed', { interaction: interaction.id, ...errorFields(err, [interaction.token]) }));
  }
  await runDiscordCheck(interaction, responder, { target: request.target, ...(request.via !== undefined ? { via: request.via } : {}), ...(request.from !== undefined ? { from: request.from } : {}) }, decision.ticket, deps);
}

export interface CheckSpec {
  target: Target;
  via?: string;
  from?: string;
}

/** An admitted check: the shared flow with a Discord surface; the parent is the deferred reply. */
export async function runDiscordCheck(interaction: RepliableInteraction, responder: InteractionResponder, check: CheckSpec, ticket: Ticket, deps: InteractionDeps): Promise<void> {
  const { logger } = deps;
  const noThread = whyNoThread(threadContextOf(interaction));
  const label = targetLabel(check.target);
  const rerun = rerunCustomId(check);
  const surface = new DiscordSurface({
    interaction,
    responder,
    logger,
    threadName: `sshcheck ${label}`,
    ...(noThread !== undefined ? { noThread } : {}),
    components: (view) => renderRerunRow(view, rerun),
  });
  logger.info('discord check requested', { interaction: interaction.id, user: interaction.user.id, guild: interaction.guildId, channel: interaction.channelId, target: label, ...(noThread ? { noThread } : {}) });
  try {
    const report = await runCheckFlow({
      surface,
      engine: ticket.wrap(deps.engine),
      pacer: deps.pacer,
      logger,
      target: check.target,
      vantage: deps.vantage,
      requester: `<@${interaction.user.id}>`,
      ...(check.via !== undefined ? { via: check.via } : {}),
      ...(check.from !== undefined ? { from: check.from } : {}),
    });
    logger.info('discord check done', { interaction: interaction.id, target: label, cause: report?.diagnosis.cause, answerExpired: surface.expired });
  } finally {
    ticket.cancel('the check flow ended before the check ran');
  }
}
