// /sshcheck-explain: `sshcheck explain` as a second application command. Reading what people
// paste into a thread would need the privileged Message Content intent, which this bot does
// not ask for (Guilds only); a command with the log as an attachment (`log`) or as text
// (`text`) needs none, and works inside threads. Its definition, and what an invocation asks
// for: pure, so the host and size rules are tested without Discord.
import { ApplicationIntegrationType, InteractionContextType, SlashCommandBuilder } from 'discord.js';
import type { RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import type { AllowedOrigin } from '../../src/chat/log-reply.js';
import { allowedDownloadUrl, describeOrigins, formatBytes, isTextAttachment, MAX_ATTACHMENT_BYTES, originOf, restoreLineBreaks, sizeProblem } from '../../src/chat/log-reply.js';

export const EXPLAIN_COMMAND_NAME = 'sshcheck-explain';
/** Discord's longest string option. */
export const TEXT_OPTION_MAX = 6000;

/** Discord's attachment hosts: the CDN and its media proxy. */
export const DISCORD_FILE_ORIGINS: readonly AllowedOrigin[] = [
  { protocol: 'https:', host: 'cdn.discordapp.com' },
  { protocol: 'https:', host: 'media.discordapp.net' },
];

/** Where attachments may be downloaded from: Discord's CDN hosts, and DISCORD_API_URL's host (a proxy, a test double). */
export function discordFileOrigins(apiUrl?: string): AllowedOrigin[] {
  const api = apiUrl !== undefined ? originOf(apiUrl) : undefined;
  const known = api !== undefined && DISCORD_FILE_ORIGINS.some((o) => o.protocol === api.protocol && o.host === api.host);
  return api && !known ? [...DISCORD_FILE_ORIGINS, api] : [...DISCORD_FILE_ORIGINS];
}

export function explainCommandDefinition(): RESTPostAPIChatInputApplicationCommandsJSONBody {
  return new SlashCommandBuilder()
    .setName(EXPLAIN_COMMAND_NAME)
    .setDescription('Explain where an ssh -v/-vvv log stops: the checklist step, the likely cause, what to do')
    .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
    .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
    .addAttachmentOption((o) => o.setName('log').setDescription(`The output of ssh -vvv user@host 2>&1, as a .log or .txt file (at most ${formatBytes(MAX_ATTACHMENT_BYTES)})`))
    .addStringOption((o) => o.setName('text').setDescription('Or the log pasted here (its line breaks are restored)').setMinLength(1).setMaxLength(TEXT_OPTION_MAX))
    .toJSON();
}

export interface ExplainOptions {
  attachment?: { name: string; size?: number; contentType?: string; url: string };
  text?: string;
}

export type ExplainRequest =
  | { kind: 'missing'; message: string }
  | { kind: 'text'; text: string }
  | { kind: 'file'; name: string; url: URL }
  | { kind: 'refused'; name: string; reason: string };

export const EXPLAIN_USAGE = [
  'Usage: `/sshcheck-explain log:<file>` or `/sshcheck-explain text:<the log>`',
  'Run `ssh -vvv user@host 2>&1 | tee ssh.log` where the connection fails and attach ssh.log (or paste it into text).',
].join('\n');

/**
 * What the invocation asks for. The attachment wins when both are given (a file keeps every
 * line). Neither is a usage error: Discord cannot require "one of two" options itself.
 */
export function explainRequest(options: ExplainOptions, allowed: readonly AllowedOrigin[]): ExplainRequest {
  const file = options.attachment;
  if (file) {
    if (!isTextAttachment({ name: file.name, ...(file.contentType !== undefined ? { mimetype: file.contentType } : {}) })) {
      return { kind: 'refused', name: file.name, reason: 'it is not a text file (attach the log as a .log or .txt file)' };
    }
    const tooBig = sizeProblem(file.size);
    if (tooBig !== undefined) return { kind: 'refused', name: file.name, reason: tooBig };
    const url = allowedDownloadUrl(file.url, allowed);
    if (!url) return { kind: 'refused', name: file.name, reason: `its address is not on Discord's file hosts (${describeOrigins(allowed)}), so it was not downloaded` };
    return { kind: 'file', name: file.name, url };
  }
  const text = options.text?.trim() ?? '';
  if (text === '') return { kind: 'missing', message: 'nothing to explain: attach the log with the `log` option or paste it into the `text` option' };
  return { kind: 'text', text: restoreLineBreaks(text) };
}
