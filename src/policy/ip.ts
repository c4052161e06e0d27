// IP addresses and CIDR blocks as numbers, for the target policy. Pure. An IPv4-mapped IPv6
// address (::ffff:10.0.0.5) is the IPv4 address it carries: a dual-stack socket connecting
// to it reaches 10.0.0.5, so the policy must judge it as 10.0.0.5. A zone id (fe80::1%eth0)
// is dropped: the zone does not change which address is reached.
import { isIPv4, isIPv6 } from 'node:net';

export interface IpValue {
  family: 4 | 6;
  value: bigint;
}

export interface CidrBlock {
  family: 4 | 6;
  /** The network address as a number. */
  network: bigint;
  prefix: number;
  /** As written, normalized ("10.0.0.0/8", "fe80::/10"). */
  text: string;
}

function v4(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6(address: string): bigint {
  let text = address.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail?.[1]) {
    const n = v4(tail[1]);
    text = `${text.slice(0, -tail[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** Parses an address (IPv4, IPv6, IPv6 with a zone); IPv4-mapped IPv6 becomes IPv4. */
export function parseIp(address: string): IpValue | undefined {
  const bare = address.replace(/%[^%]*$/, '');
  if (isIPv4(bare)) return { family: 4, value: v4(bare) };
  if (!isIPv6(bare)) return undefined;
  const value = v6(bare);
  if (value >> 32n === MAPPED_PREFIX >> 32n) return { family: 4, value: value & 0xffffffffn };
  return { family: 6, value };
}

/** The address as the policy judges it: IPv4-mapped IPv6 as IPv4, no zone. */
export function canonicalIp(address: string): string | undefined {
  const ip = parseIp(address);
  if (!ip) return undefined;
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  return address.replace(/%[^%]*$/, '').toLowerCase();
}

/**
 * Parses "10.0.0.0/8", "fe80::/10", or a plain address (a /32 or /128) unless `requirePrefix`.
 * An error (without the value) says what is wrong; host bits set is an error with the block
 * probably meant, since silently widening it would allow (or route) hosts nobody intended.
 * Used by the target policy and by the bot's routing of IP literals to bastions.
 */
export function parseCidrBlock(text: string, options: { requirePrefix?: boolean } = {}): CidrBlock | { error: string } {
  const trimmed = text.trim();
  const m = /^([^/\s]+)(?:\/([0-9]{1,3}))?$/.exec(trimmed);
  if (!m || (options.requirePrefix === true && m[2] === undefined)) return { error: 'is not a CIDR: write address/prefix, e.g. 10.0.0.0/16 or 2001:db8::/32' };
  const address = m[1] ?? '';
  let family: 4 | 6;
  let value: bigint;
  if (isIPv4(address)) {
    family = 4;
    value = v4(address);
  } else if (isIPv6(address)) {
    family = 6;
    value = v6(address);
  } else {
    return { error: 'is not a CIDR: the address part is not an IPv4 or IPv6 address' };
  }
  const bits = family === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? bits : Number(m[2]);
  if (prefix > bits) return { error: `is not a CIDR: the prefix length must be 0-${bits} for IPv${family}` };
  const hostBits = BigInt(bits - prefix);
  const network = (value >> hostBits) << hostBits;
  if (network !== value) return { error: `has host bits set: did you mean ${formatIp(family, network)}/${prefix}?` };
  return { family, network, prefix, text: m[2] === undefined ? `${address.toLowerCase()}/${prefix}` : trimmed.toLowerCase() };
}

/** An address from its number (IPv6 with its first run of zero groups as ::). */
export function formatIp(family: 4 | 6, n: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
  const parts = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((n >> s) & 0xffffn).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Whether an address (a string, judged as parseIp reads it) lies in the block. */
export function blockContainsAddress(block: CidrBlock, address: string): boolean {
  const ip = parseIp(address);
  return ip !== undefined && blockContains(block, ip);
}

export function blockContains(block: CidrBlock, ip: IpValue): boolean {
  if (block.family !== ip.family) return false;
  const hostBits = BigInt((block.family === 4 ? 32 : 128) - block.prefix);
  return ip.value >> hostBits === block.network >> hostBits;
}
