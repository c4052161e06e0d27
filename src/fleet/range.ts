// Target patterns for fleet checks: `db-[1-40]`, `db-[01-12]` (zero-padded), `10.0.0.[1-50]`,
// `ops@web-[1-3]:2222`. A range is a bracketed pair of decimal numbers; IPv6 literals keep
// their own brackets (`[2001:db8::1]`), which never hold a lone `n-m`. Every expanded name
// still goes through parseTarget, so a range can only produce targets that one could type.
// Pure and bounded: a pattern expands to at most MAX_EXPANSION targets.
// A target may also be a comma list (`db-1,db-2`, as chat accepts) or a CIDR block
// (`10.0.3.0/28`, `ops@10.0.3.0/28:2222`, `[2001:db8::/124]:22`): its host addresses.
import { SshcheckError } from '../errors.js';
import { printable } from '../target.js';
import { DEFAULT_MAX_HOSTS } from './limits.js';
import type { CidrBlock } from '../policy/ip.js';
import { formatIp, parseCidrBlock } from '../policy/ip.js';

/** The most targets one pattern (or one fleet command) may name unless the caller gives its own cap. */
export const MAX_EXPANSION = DEFAULT_MAX_HOSTS;

/**
 * A cap error: what was too big, the way out, and (`limit`) where the cap is set, so that the
 * message names the option to raise it (the CLI's --max-hosts; chat has its own fixed cap).
 */
function tooMany(what: string, way: string, limit: string | undefined): SshcheckError {
  return new SshcheckError('E_USAGE', `${what}: ${way}${limit !== undefined ? ` (${limit})` : ''}`);
}

/** The shortest prefix length whose block holds at most `max` host addresses. */
function shortestPrefix(family: 4 | 6, max: number): number {
  const bits = family === 4 ? 32 : 128;
  for (let hostBits = 1; hostBits < bits; hostBits++) {
    const size = 2 ** hostBits;
    const hosts = hostBits >= 2 ? size - (family === 4 ? 2 : 1) : size;
    if (hosts > max) return bits - hostBits + 1;
  }
  return 1;
}

const RANGE = /\[(\d{1,5})-(\d{1,5})\]/g;

/** True when the text holds a numeric range such as `[1-40]`. */
export function hasRange(text: string): boolean {
  return /\[\d{1,5}-\d{1,5}\]/.test(text);
}

/**
 * Expands every `[a-b]` in the pattern (ranges multiply: `r[1-2]-[1-3]` is six names). A start
 * written with a leading zero pads every number to its width (`[01-10]` → 01 … 10).
 */
export function expandPattern(pattern: string, max: number = MAX_EXPANSION, limit?: string): string[] {
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
    if (count > max) throw tooMany(`"${printable(pattern, 80)}" names more than ${max} hosts`, 'split it into smaller ranges', limit);
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

// [user@]address/prefix[:port] for IPv4; [user@][address/prefix][:port] or a bare
// address/prefix for IPv6. The address part is judged by the policy's own CIDR parser.
const CIDR_TARGET = /^(?:([^@/]*@))?(?:\[([0-9A-Fa-f:.]+\/[0-9]{1,3})\](:[^:]*)?|([0-9.]+\/[0-9]{1,3})(:[^:]*)?|([0-9A-Fa-f:.]+\/[0-9]{1,3}))$/;

/** True when the text is written as a CIDR target (`10.0.3.0/28`); whether it parses is expandCidr's job. */
export function isCidrTarget(text: string): boolean {
  return CIDR_TARGET.test(text);
}

/** True when one command-line word names several targets: a range, a comma list or a CIDR block. */
export function namesSeveral(text: string): boolean {
  return hasRange(text) || text.includes(',') || isCidrTarget(text);
}

/**
 * The host addresses of a block. IPv4: a /31 is two hosts and a /32 one (RFC 3021); wider
 * blocks leave out their network and broadcast addresses, as nothing answers ssh there.
 * IPv6 has no broadcast: a /127 is two hosts (RFC 6164) and a /128 one; wider blocks leave out
 * the subnet-router anycast address (all host bits zero, RFC 4291 2.6.1). Only blocks with at
 * most `max` host addresses are expanded (for IPv6, a /118 or longer): wider ones are refused
 * before any address is listed.
 */
export function cidrHosts(block: CidrBlock, max: number = MAX_EXPANSION, limit?: string): string[] {
  const bits = block.family === 4 ? 32 : 128;
  const hostBits = bits - block.prefix;
  const size = 1n << BigInt(hostBits);
  let first = block.network;
  let last = block.network + size - 1n;
  if (hostBits >= 2) {
    first += 1n;
    if (block.family === 4) last -= 1n;
  }
  const count = last - first + 1n;
  if (count > BigInt(max)) {
    throw tooMany(`${block.text} holds ${count} host addresses; a check covers at most ${max}`, `give a longer prefix (/${shortestPrefix(block.family, max)} or longer)`, limit);
  }
  const out: string[] = [];
  for (let n = first; n <= last; n++) out.push(formatIp(block.family, n));
  return out;
}

/** The targets a CIDR target names (`ops@10.0.3.0/30:2222` → `ops@10.0.3.1:2222`, `ops@10.0.3.2:2222`). */
export function expandCidr(text: string, max: number = MAX_EXPANSION, limit?: string): string[] {
  const m = CIDR_TARGET.exec(text);
  if (!m) return [text];
  const user = m[1] ?? '';
  const cidr = m[2] ?? m[4] ?? m[6] ?? '';
  const port = m[3] ?? m[5] ?? '';
  const block = parseCidrBlock(cidr, { requirePrefix: true });
  if ('error' in block) throw new SshcheckError('E_USAGE', `"${printable(cidr, 60)}" ${block.error}`);
  // IPv6 addresses go back in brackets so that a port after them stays unambiguous.
  return cidrHosts(block, max, limit).map((a) => `${user}${block.family === 6 ? `[${a}]` : a}${port}`);
}

/**
 * Every target one word names: the parts of a comma list, each a range, a CIDR block or one
 * target. Bounded by `max` per word (fleetTargets caps the whole command as well).
 */
export function expandTargetWord(word: string, max: number = MAX_EXPANSION, limit?: string): string[] {
  const parts = word.split(',');
  if (parts.length > 1 && parts.some((p) => p.trim() === '')) {
    throw new SshcheckError('E_USAGE', `empty entry in the list "${printable(word, 80)}": write host,host with no spaces or empty items`);
  }
  const out: string[] = [];
  for (const part of parts) {
    const names = isCidrTarget(part) ? expandCidr(part, max, limit) : expandPattern(part, max, limit);
    for (const n of names) {
      out.push(n);
      if (out.length > max) throw tooMany(`"${printable(word, 80)}" names more than ${max} hosts`, 'check fewer at a time', limit);
    }
  }
  return out;
}

/** Group names as the engine config and the command line write them. */
export const GROUP_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
