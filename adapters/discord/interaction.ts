// One INTERACTION_CREATE for /sshcheck: validate the typed options (a bad target gets an
// ephemeral answer and nothing is probed), then run the shared check flow with a Discord
// surface. Everything else that arrives as an interaction is ignored.
import { MessageFlags } from 'discord.js';
import type { ChatInputCommandInteraction, Interaction } from 'discord.js';
import type { Logger } from '../../src/log.js';
import { runCheckFlow } from '../../src/chat/check-flow.js';
import type { RecentIds } from '../../src/chat/dedupe.js';
import type { EngineClient } from '../../src/chat/engine-client.js';
import type { Pacer } from '../../src/chat/pacer.js';
import { targetLabel } from '../../src/chat/views.js';
import { isSshcheckError } from '../../src/engine/errors.js';
import { COMMAND_NAME, parseCommandOptions } from './command.js';
import type { ParsedCommand } from './command.js';
import { errorFields } from './errors.js';
import { DISCORD_USAGE, renderUsageError } from './render.js';
import { noMentions } from './responder.js';
import { DiscordSurface } from './surface.js';
import { whyNoThread } from './thread-policy.js';
import type { Gate } from '../../src/chat/gate.js';
import { gateDiscordCommand } from './gate.js';
import { isFleetText } from '../../src/chat/fleet-grammar.js';
import { handleDiscordFleet } from './fleet.js';

export interface InteractionDeps {
  engine: EngineClient;
  logger: Logger;
  vantage: string;
  pacer: Pacer;
  seen: RecentIds;
  /** When the reply is deferred if the parent is not posted by then (Discord allows 3 s). */
  deferAfterMs: number;
  /** Permissions, policy pre-check, limits, queue and audit (src/chat/gate.ts). */
  gate?: Gate;
}

async function answerPrivately(interaction: ChatInputCommandInteraction, content: string, logger: Logger): Promise<void> {
  try {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: noMentions() });
  } catch (err) {
    logger.warn('discord ephemeral answer failed', { interaction: interaction.id, ...errorFields(err, [interaction.token]) });
  }
}

function parse(interaction: ChatInputCommandInteraction, bastions: readonly string[] | undefined): ParsedCommand {
  const port = interaction.options.getInteger('port');
  const user = interaction.options.getString('user');
  const via = interaction.options.getString('via');
  const from = interaction.options.getString('from');
  const history = interaction.options.getBoolean('history');
  return parseCommandOptions(
    {
      target: interaction.options.getString('target', true),
      ...(port !== null ? { port } : {}),
      ...(user !== null ? { user } : {}),
      ...(via !== null ? { via } : {}),
      ...(from !== null ? { from } : {}),
      ...(history !== null ? { history } : {}),
    },
    bastions,
  );
}

export async function handleInteraction(interaction: Interaction, deps: InteractionDeps): Promise<void> {
  if (!interaction.isChatInputCommand() || interaction.commandName !== COMMAND_NAME) return;
  const { logger } = deps;
  // A gateway resume may deliver an event again; one interaction is one check.
  if (!deps.seen.first(interaction.id)) {
    logger.debug('discord interaction delivered twice; ignored', { interaction: interaction.id });
    return;
  }
  // Several hosts in `target` (db-[1-40], db-1,db-2): a fleet check (fleet.ts).
  if (isFleetText(interaction.options.getString('target') ?? '')) {
    await handleDiscordFleet(interaction, deps);
    return;
  }
  let command: ParsedCommand;
  try {
    command = parse(interaction, deps.engine.bastions);
  } catch (err) {
    const message = isSshcheckError(err) ? err.message : 'the command arrived without a usable target';
    logger.info('discord check refused', { interaction: interaction.id, user: interaction.user.id, reason: message });
    await answerPrivately(interaction, renderUsageError(message), logger);
    return;
  }
  if (command.kind === 'help') {
    await answerPrivately(interaction, DISCORD_USAGE, logger);
    return;
  }
  // Who, what, how often, when: a refusal or a history answer is an ephemeral reply.
  const gated = await gateDiscordCommand(deps.gate, interaction, command);
  if (gated.kind === 'answer') {
    await answerPrivately(interaction, gated.content, logger);
    return;
  }
  if (command.kind !== 'check') return;

  const channel = interaction.channel;
  const noThread = whyNoThread({
    inGuild: interaction.inGuild(),
    channelType: channel?.type,
    channelKnown: interaction.guild !== null && channel !== null,
    appPermissions: interaction.appPermissions?.bitfield,
  });
  const label = targetLabel(command.target);
  const surface = new DiscordSurface({ interaction, logger, threadName: `sshcheck ${label}`, ...(noThread !== undefined ? { noThread } : {}) });
  surface.armDeferral(deps.deferAfterMs);
  if (gated.notice !== undefined) {
    surface.notePrivately(gated.notice).catch((err: unknown) => logger.warn('discord queue notice failed', { interaction: interaction.id, ...errorFields(err, [interaction.token]) }));
  }
  logger.info('discord check requested', { interaction: interaction.id, user: interaction.user.id, guild: interaction.guildId, channel: interaction.channelId, target: label, ...(noThread ? { noThread } : {}) });
  try {
    const report = await runCheckFlow({
      surface,
      engine: gated.ticket ? gated.ticket.wrap(deps.engine) : deps.engine,
      pacer: deps.pacer,
      logger,
      target: command.target,
      vantage: deps.vantage,
      requester: `<@${interaction.user.id}>`,
      ...(command.via !== undefined ? { via: command.via } : {}),
      ...(command.from !== undefined ? { from: command.from } : {}),
    });
    logger.info('discord check done', { interaction: interaction.id, target: label, cause: report?.diagnosis.cause, answerExpired: surface.expired });
  } finally {
    gated.ticket?.cancel('the check flow ended before the check ran');
    surface.dispose();
  }
}
