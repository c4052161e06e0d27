// One /sshcheck-explain invocation: the log pasted into `text` is explained in the reply at
// once; an attached file is downloaded (only from Discord's file hosts, bounded) after the
// reply is deferred, since a download may take longer than Discord's 3 s. The reply goes
// where the command was used (a thread included), with mentions disabled. A missing log or a
// refused file gets an answer only the requester sees, and nothing is fetched.
import { MessageFlags } from 'discord.js';
import type { ChatInputCommandInteraction, Interaction } from 'discord.js';
import type { RecentIds } from '../../src/chat/dedupe.js';
import type { AllowedOrigin } from '../../src/chat/log-reply.js';
import { downloadLog } from '../../src/chat/log-reply.js';
import { explainLog } from '../../src/explain/explain.js';
import type { Logger } from '../../src/log.js';
import { errorFields } from './errors.js';
import { EXPLAIN_COMMAND_NAME, explainRequest } from './explain-command.js';
import type { ExplainOptions } from './explain-command.js';
import { renderExplainUsage, renderLogExplanation, renderLogRefusal } from './log-render.js';
import { noMentions } from './responder.js';

export interface ExplainDeps {
  logger: Logger;
  seen: RecentIds;
  /** Where attachments may be downloaded from (discordFileOrigins). */
  allowed: readonly AllowedOrigin[];
}

export function isExplainCommand(interaction: Interaction): interaction is ChatInputCommandInteraction {
  return interaction.isChatInputCommand() && interaction.commandName === EXPLAIN_COMMAND_NAME;
}

function options(interaction: ChatInputCommandInteraction): ExplainOptions {
  const file = interaction.options.getAttachment('log');
  const text = interaction.options.getString('text');
  return {
    ...(file !== null ? { attachment: { name: file.name, url: file.url, size: file.size, ...(file.contentType !== null ? { contentType: file.contentType } : {}) } } : {}),
    ...(text !== null ? { text } : {}),
  };
}

export async function handleExplainInteraction(interaction: ChatInputCommandInteraction, deps: ExplainDeps): Promise<void> {
  const { logger } = deps;
  if (!deps.seen.first(interaction.id)) return;
  const fields = { interaction: interaction.id, user: interaction.user.id, guild: interaction.guildId, channel: interaction.channelId };
  const secrets = [interaction.token];
  const privately = async (content: string): Promise<void> => {
    await interaction.reply({ content, flags: MessageFlags.Ephemeral, allowedMentions: noMentions() }).catch((err: unknown) => {
      logger.warn('discord ephemeral answer failed', { ...fields, ...errorFields(err, secrets) });
    });
  };
  const request = explainRequest(options(interaction), deps.allowed);
  switch (request.kind) {
    case 'missing':
      logger.info('discord explain without a log', fields);
      return privately(renderExplainUsage(request.message));
    case 'refused':
      logger.info('discord explain attachment refused', { ...fields, reason: request.reason });
      return privately(renderLogRefusal(request.name, request.reason));
    case 'text': {
      const e = explainLog(request.text);
      logger.info('discord ssh log explained', { ...fields, source: 'text', step: e.step, cause: e.cause ?? '' });
      await interaction.reply({ embeds: [renderLogExplanation(e, { kind: 'paste' })], allowedMentions: noMentions() });
      return;
    }
    case 'file': {
      await interaction.deferReply();
      const got = await downloadLog(request.url.href, { allowed: deps.allowed });
      if (!got.ok) {
        logger.warn('discord explain attachment not read', { ...fields, reason: got.reason, detail: got.message });
        await interaction.editReply({ content: renderLogRefusal(request.name, got.message), allowedMentions: noMentions() });
        return;
      }
      const e = explainLog(got.text);
      logger.info('discord ssh log explained', { ...fields, source: 'file', bytes: got.bytes, step: e.step, cause: e.cause ?? '' });
      await interaction.editReply({ embeds: [renderLogExplanation(e, { kind: 'file', name: request.name })], allowedMentions: noMentions() });
      return;
    }
  }
}
