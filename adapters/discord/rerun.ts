// The Re-run button under a finished check's or fleet's parent: a component interaction (type 3)
// whose custom_id carries the command. The custom_id is untrusted (anyone able to craft a click chooses
// it), so it is decoded with the chat grammar (src/chat/rerun.ts); a forged one is answered
// privately as the acknowledgement itself (pure, no I/O). Anything else is deferred first
// (type 5: the "thinking…" message becomes the new parent), then goes through the same gate,
// as the person who clicked, and runs like a typed /sshcheck (one host or several) in a new thread.
import type { ButtonInteraction, Interaction } from 'discord.js';
import { gateCommand } from '../../src/chat/admission.js';
import { decodeRerunCustomId, RERUN_ACTION } from '../../src/chat/rerun.js';
import { errorFields } from './errors.js';
import { handleDiscordFleet } from './fleet.js';
import { discordActor, renderDecision, renderNotice } from './gate.js';
import type { InteractionDeps } from './deps.js';
import { responderFor, runDiscordCheck } from './interaction.js';

export function isRerunClick(interaction: Interaction): interaction is ButtonInteraction {
  return interaction.isButton() && interaction.customId.startsWith(`${RERUN_ACTION}:`);
}

export async function handleRerunClick(interaction: ButtonInteraction, deps: InteractionDeps): Promise<void> {
  const { logger } = deps;
  if (!deps.seen.first(interaction.id)) {
    logger.debug('discord interaction delivered twice; ignored', { interaction: interaction.id });
    return;
  }
  const responder = responderFor(interaction, logger);
  const bastions = deps.engine.bastions;
  const decoded = decodeRerunCustomId(interaction.customId, bastions !== undefined ? { bastions } : {});
  if (decoded.kind === 'refused') {
    logger.warn('discord re-run refused: its custom_id is not a command sshcheck made', { interaction: interaction.id, user: interaction.user.id });
    await responder.answerPrivately(decoded.message);
    return;
  }
  // The gate, DNS, the store and the engine may each take longer than Discord's 3 s.
  await responder.defer();
  if (decoded.kind === 'fleet') {
    await handleDiscordFleet(interaction, responder, decoded.fleet, deps);
    return;
  }
  const command = { kind: 'check' as const, target: decoded.target, ...(decoded.via !== undefined ? { via: decoded.via } : {}), ...(decoded.from !== undefined ? { from: decoded.from } : {}) };
  const decision = await gateCommand(deps.gate, command, discordActor(interaction));
  if (decision.kind !== 'run') {
    await responder.answerPrivately(renderDecision(decision));
    return;
  }
  if (decision.notice !== undefined) {
    responder.followUpPrivately(renderNotice(decision.notice)).catch((err: unknown) => logger.warn('discord queue notice failed', { interaction: interaction.id, ...errorFields(err, [interaction.token]) }));
  }
  const { kind: _kind, ...check } = command;
  await runDiscordCheck(interaction, responder, check, decision.ticket, deps);
}
