// Target patterns for fleet checks: `db-[1-40]`, `db-[01-12]` (zero-padded), `10.0.0.[1-50]`,
// `ops@web-[1-3]:2222`. A range is a bracketed pair of decimal numbers; IPv6 literals keep
// their own brackets (`[2001:db8::1]`), which never hold a lone `n-m`. Every expanded name
// still goes through parseTarget, so a range can only produce targets that one could type.
// Pure and bounded: a pattern expands to at most MAX_EXPANSION targets.
import { SshcheckError } from '../engine/errors.js';
import { printable } from '../engine/target.js';

/** The most targets one pattern (or one fleet command) may name. */
export const MAX_EXPANSION = 1024;

const RANGE = /\[(\d{1,5})-(\d{1,5})\]/g;

/** True when the text holds a numeric range such as `[1-40]`. */
export function hasRange(text: string): boolean {
  return /\[\d{1,5}-\d{1,5}\]/.test(text);
}

/**
 * Expands every `[a-b]` in the pattern (ranges multiply: `r[1-2]-[1-3]` is six names). A start
 * written with a leading zero pads every number to its width (`[01-10]` → 01 … 10).
 */
export function expandPattern(pattern: string, max: number = MAX_EXPANSION): string[] {
  const ranges: Array<{ from: number; to: number; width: number }> = [];
  const parts = pattern.split(RANGE);
  // split with two capture groups: [text, from, to, text, from, to, …, text]
  const texts: string[] = [];
  for (let i = 0; i < parts.length; i += 3) {
    texts.push(parts[i] ?? '');
    if (i + 2 < parts.length) {
      const a = parts[i + 1] ?? '';
      const b = parts[i + 2] ?? '';
      const from = Number(a);
      const to = Number(b);
      if (from > to) throw new SshcheckError('E_USAGE', `range [${a}-${b}] in "${printable(pattern, 80)}" runs backwards: write [${b}-${a}]`);
      ranges.push({ from, to, width: a.length > 1 && a.startsWith('0') ? a.length : 0 });
    }
  }
  if (ranges.length === 0) return [pattern];
  let count = 1;
  for (const r of ranges) {
    count *= r.to - r.from + 1;
    if (count > max) throw new SshcheckError('E_USAGE', `"${printable(pattern, 80)}" names more than ${max} hosts: split it into smaller ranges`);
  }
  let out = [texts[0] ?? ''];
  ranges.forEach((r, i) => {
    const next: string[] = [];
    for (const prefix of out) {
      for (let n = r.from; n <= r.to; n++) next.push(`${prefix}${String(n).padStart(r.width, '0')}${texts[i + 1] ?? ''}`);
    }
    out = next;
  });
  return out;
}

/** Group names as the engine config and the command line write them. */
export const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
