// Slack's message limits, and text fitted into them. Everything here is pure. Report text is
// clipped as plain text first and marked up afterwards (safe-text), so a cut can never land
// inside an entity (&lt;) or leave a code span open; markup can make text longer (entities,
// backticks), so each fit re-measures the marked-up result and shrinks until it fits.
import { clip, codeBlock, safeText } from '../../src/chat/safe-text.js';

export const SLACK_LIMITS = {
  /** Blocks per message. */
  blocks: 50,
  /** Characters in a section block's text. */
  sectionText: 3000,
  /** Elements in a context block. */
  contextElements: 10,
  /** Characters in a message's top-level `text` (Slack truncates beyond it). */
  messageText: 40_000,
} as const;

/** Untrusted text as inline Slack mrkdwn of at most `max` characters. */
export function fitInline(raw: string, max: number): string {
  if (max <= 0) return '';
  let budget = Math.min(raw.length, max);
  for (let round = 0; round < 20; round++) {
    const out = safeText(clip(raw, budget), 'slack');
    if (out.length <= max) return out;
    if (budget <= 1) break;
    // Shrink in proportion to the overshoot; markup grows roughly linearly with the text.
    budget = Math.max(1, Math.min(budget - 1, Math.floor((budget * max) / out.length) - 1));
  }
  return '…';
}

/**
 * Lines (the ssh -vvv phase list) as a Slack code block of at most `max` characters: each line
 * clipped to `lineMax`, and the lines that do not fit replaced by a count.
 */
export function fitCodeBlock(lines: readonly string[], max: number, lineMax = 300): string {
  // codeBlock() escapes each line on its own, so a line's cost is what it adds to the block.
  const cost = (line: string): number => codeBlock([line], 'slack').length - 8 + 1;
  const marker = (n: number): string => `… ${n} more line${n === 1 ? '' : 's'} not shown`;
  const kept: string[] = [];
  let size = codeBlock([], 'slack').length;
  // Lines are clipped one at a time, as they are kept: a phase list can be very long.
  for (let i = 0; i < lines.length; i++) {
    const line = clip(lines[i] ?? '', lineMax);
    const rest = lines.length - i - 1;
    const reserve = rest > 0 ? cost(marker(rest)) : 0;
    if (size + cost(line) + reserve > max) {
      const out = codeBlock([...kept, marker(lines.length - kept.length)], 'slack');
      return out.length <= max ? out : codeBlock([marker(lines.length)], 'slack');
    }
    kept.push(line);
    size += cost(line);
  }
  return codeBlock(kept, 'slack');
}

/** Joins pieces of mrkdwn into as few texts of at most `max` characters as it can. */
export function packTexts(pieces: readonly string[], max: number, separator = '\n'): string[] {
  const out: string[] = [];
  let current = '';
  for (const piece of pieces) {
    // Callers fit every piece; cutting marked-up text could open a code span, so an oversized
    // piece (a bug) is dropped rather than cut.
    const p = piece.length > max ? '…' : piece;
    if (current === '') current = p;
    else if (current.length + separator.length + p.length <= max) current += separator + p;
    else {
      out.push(current);
      current = p;
    }
  }
  if (current !== '') out.push(current);
  return out;
}

/**
 * The message's `text` (notifications, screen readers) within its limit. It is built from
 * fitted lines, so a cut falls between lines, never inside markup.
 */
export function fitMessageText(lines: readonly string[]): string {
  let out = '';
  for (const line of lines) {
    const next = out === '' ? line : `${out}\n${line}`;
    if (next.length > SLACK_LIMITS.messageText) break;
    out = next;
  }
  return out;
}
