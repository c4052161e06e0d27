// CIDR blocks for routing IP-literal targets to bastions. Pure. IPv4 and IPv6; a block
// with host bits set ("10.0.0.5/16") is refused with the block that was probably meant,
// since silently widening it would route hosts nobody intended.
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  family: 4 | 6;
  /** The network address as a number (128 bits for IPv6). */
  network: bigint;
  prefix: number;
  text: string;
}

function ipv4ToBigInt(address: string): bigint {
  return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function ipv6ToBigInt(address: string): bigint {
  let text = address.toLowerCase();
  // An embedded IPv4 tail (::ffff:10.0.0.5) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const n = ipv4ToBigInt(v4[1]);
    text = `${text.slice(0, -v4[1].length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : Array<string>(8 - headParts.length - tailParts.length).fill('0');
  return [...headParts, ...fill, ...tailParts].reduce((acc, part) => (acc << 16n) | BigInt(parseInt(part, 16)), 0n);
}

function bigIntToIpv4(n: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 0xffn)).join('.');
}

function bigIntToIpv6(n: bigint): string {
  const parts = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((s) => ((n >> s) & 0xffffn).toString(16));
  // Shortest form is not needed for a hint; collapse the first run of zeros for readability.
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Parses "10.0.0.0/8" or "2001:db8::/32"; an error message (without the value) otherwise. */
export function parseCidr(text: string): Cidr | { error: string } {
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(text.trim());
  if (!m) return { error: 'is not a CIDR: write address/prefix, e.g. 10.0.0.0/16 or 2001:db8::/32' };
  const address = m[1] ?? '';
  const prefix = Number(m[2]);
  let family: 4 | 6;
  let value: bigint;
  if (isIPv4(address)) {
    family = 4;
    value = ipv4ToBigInt(address);
  } else if (isIPv6(address)) {
    family = 6;
    value = ipv6ToBigInt(address);
  } else {
    return { error: 'is not a CIDR: the address part is not an IPv4 or IPv6 address' };
  }
  const bits = family === 4 ? 32 : 128;
  if (prefix > bits) return { error: `is not a CIDR: the prefix length must be 0-${bits} for IPv${family}` };
  const hostBits = BigInt(bits - prefix);
  const network = (value >> hostBits) << hostBits;
  if (network !== value) {
    const meant = `${family === 4 ? bigIntToIpv4(network) : bigIntToIpv6(network)}/${prefix}`;
    return { error: `has host bits set: did you mean ${meant}?` };
  }
  return { family, network, prefix, text: text.trim() };
}

/** Whether an IP literal lies in the block. */
export function cidrContains(cidr: Cidr, address: string): boolean {
  const family = isIPv4(address) ? 4 : isIPv6(address) ? 6 : 0;
  if (family !== cidr.family) return false;
  const value = family === 4 ? ipv4ToBigInt(address) : ipv6ToBigInt(address);
  const hostBits = BigInt((family === 4 ? 32 : 128) - cidr.prefix);
  return value >> hostBits === cidr.network >> hostBits;
}
