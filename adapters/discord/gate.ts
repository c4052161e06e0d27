// The gate on Discord: one call per /sshcheck interaction, before anything is posted or
// probed. A refusal and a history answer are ephemeral replies; a queued check defers its
// reply and tells the requester its place privately. Roles come with the interaction
// (the member's role ids), so no extra request or intent is needed.
import type { ChatInputCommandInteraction } from 'discord.js';
import type { Gate, GateActor, Ticket } from '../../src/chat/gate.js';
import { codeBlock, clip } from '../../src/chat/safe-text.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import type { RunRow } from '../../src/store/store.js';
import { renderHistory } from '../../src/store/history-view.js';
import type { ParsedCommand } from './command.js';
import { EMBED_LIMITS, inlineWithin } from './render.js';

export type DiscordGated = { kind: 'answer'; content: string } | { kind: 'run'; ticket?: Ticket; notice?: string };

/** The member's role ids (the guild's @everyone role included), or none outside a server. */
export function rolesOf(interaction: Pick<ChatInputCommandInteraction, 'member'>): string[] {
  const member = interaction.member;
  if (!member) return [];
  return Array.isArray(member.roles) ? [...member.roles] : [...member.roles.cache.keys()];
}

/** The requester as the gate sees them: roles come with the interaction. */
export function discordActor(interaction: Pick<ChatInputCommandInteraction, 'user' | 'channelId' | 'guildId' | 'member'>): GateActor {
  return {
    platform: 'discord',
    user: interaction.user.id,
    channel: interaction.channelId,
    ...(interaction.guildId !== null ? { workspace: interaction.guildId } : {}),
    groups: () => Promise.resolve(rolesOf(interaction)),
  };
}

export function renderRefusal(message: string): string {
  return `${STATUS_EMOJI.warn} ${inlineWithin(message, 1800)}`;
}

/** Title and summary as safe text, the runs in a code block; within a message's 2000 characters. */
export function renderHistoryContent(host: string, runs: readonly RunRow[], now: number, available: boolean): string {
  if (!available) return `${STATUS_EMOJI.skip} This bot keeps no history: it runs without a store.`;
  const view = renderHistory(host, runs, { now, timeZone: 'utc' });
  const head = [inlineWithin(view.title, 200), ...view.summary.slice(0, 8).map((l) => `• ${inlineWithin(l, 300)}`)].join('\n');
  let lines = view.lines.map((l) => clip(l, 150));
  let content = lines.length > 0 ? `${head}\n${codeBlock(lines, 'discord')}` : head;
  while (content.length > EMBED_LIMITS.content && lines.length > 0) {
    lines = lines.slice(0, -1);
    content = lines.length > 0 ? `${head}\n${codeBlock(lines, 'discord')}` : head;
  }
  return clip(content, EMBED_LIMITS.content);
}

/** Asks the gate about one parsed command. Without a gate a check just runs. */
export async function gateDiscordCommand(gate: Gate | undefined, interaction: ChatInputCommandInteraction, command: Exclude<ParsedCommand, { kind: 'help' }>): Promise<DiscordGated> {
  if (!gate) return command.kind === 'history' ? { kind: 'answer', content: renderHistoryContent(command.target.host, [], Date.now(), false) } : { kind: 'run' };
  const decision = await gate.admit({
    action: command.kind,
    target: command.target,
    ...(command.via !== undefined ? { via: command.via } : {}),
    ...(command.from !== undefined ? { from: command.from } : {}),
    actor: discordActor(interaction),
  });
  switch (decision.kind) {
    case 'denied':
      return { kind: 'answer', content: renderRefusal(decision.message) };
    case 'history':
      return { kind: 'answer', content: renderHistoryContent(command.target.host, decision.runs, Date.now(), decision.available) };
    case 'admitted':
      return { kind: 'run', ticket: decision.ticket, ...(decision.ticket.queueMessage !== undefined ? { notice: decision.ticket.queueMessage } : {}) };
  }
}
