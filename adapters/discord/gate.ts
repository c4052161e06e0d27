// The gate on Discord: who the requester is (discordActor) and how its answers look. The gate
// is asked after the interaction was deferred (src/chat/admission.ts); a refusal and a
// history answer replace the deferral with an ephemeral message, a queued check tells the
// requester its place privately. Roles come with the interaction (the member's role ids), so
// no extra request or intent is needed.
import type { ChatInputCommandInteraction } from 'discord.js';
import type { CommandDecision } from '../../src/chat/admission.js';
import type { GateActor } from '../../src/chat/gate.js';
import { codeBlock, clip } from '../../src/chat/safe-text.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import type { RunRow } from '../../src/store/store.js';
import { renderHistory } from '../../src/store/history-view.js';
import { EMBED_LIMITS, inlineWithin } from './render.js';

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

/** What the requester alone sees when the gate does not run a check: a refusal, or the history. */
export function renderDecision(decision: Exclude<CommandDecision, { kind: 'run' }>, now = Date.now()): string {
  return decision.kind === 'refused' ? renderRefusal(decision.message) : renderHistoryContent(decision.host, decision.runs, now, decision.available);
}

/** The requester's place in the queue, privately. */
export function renderNotice(notice: string): string {
  return inlineWithin(notice, 500);
}
