// known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT") read the way ssh reads it, so that a
// run can say what ssh would: this key is the known one, a different one (the commonest
// reason ssh refuses after a rebuild), or unknown. Pure: text in, verdict out.
//
// Supported: plain and hashed (|1|salt|hash) host patterns, wildcards and negation,
// [host]:port, and the @cert-authority and @revoked markers.
import { createHash, createHmac } from 'node:crypto';
import type { KnownHostEntry } from '../observations.js';

export type { KnownHostEntry };

/** Longest known_hosts a run reads; a bigger file is read up to here. */
export const MAX_KNOWN_HOSTS_BYTES = 1024 * 1024;

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.slice(0, MAX_KNOWN_HOSTS_BYTES).split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0] === '@cert-authority' || fields[0] === '@revoked') marker = fields.shift() === '@revoked' ? 'revoked' : 'cert-authority';
    else if (fields[0]?.startsWith('@')) continue; // an unknown marker: ssh ignores the line
    const [patterns, keyType, key] = fields;
    if (!patterns || !keyType || !key || !/^[A-Za-z0-9+/]+=*$/.test(key)) continue;
    const blob = Buffer.from(key, 'base64');
    if (blob.length < 8) continue;
    const sha256 = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
    out.push({ ...(marker ? { marker } : {}), patterns, keyType, sha256, line: i + 1 });
  }
  return out;
}

/** The name ssh looks a host up under: `host`, or `[host]:port` off port 22. */
export function lookupName(host: string, port: number): string {
  return port === 22 ? host.toLowerCase() : `[${host.toLowerCase()}]:${port}`;
}

function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function hashedMatch(field: string, name: string): boolean {
  const [, kind, salt, hash] = field.split('|');
  if (kind !== '1' || !salt || !hash) return false;
  const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return mac === hash;
}

/** Whether an entry's host field names `name`: one negated pattern that matches vetoes it. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatch(patterns, name);
  let matched = false;
  for (const p of patterns.split(',')) {
    const negated = p.startsWith('!');
    const pattern = negated ? p.slice(1) : p;
    if (wildcard(pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export type KnownHostsVerdict =
  | { kind: 'known'; line: number }
  | { kind: 'ca-known'; line: number }
  | { kind: 'revoked'; line: number }
  | { kind: 'changed'; expected: Array<{ keyType: string; sha256: string; line: number }> }
  | { kind: 'unknown' };

/**
 * What ssh would conclude about `presented` (its fingerprint, the signing CA's for a
 * certificate) for `host` on `port`. A key that differs from every entry of the same type
 * is `changed`; entries only of other types leave it `unknown`, as in ssh, which then
 * reports the other types it knows.
 */
export function checkKnownHost(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  presented: { type: string; sha256: string; caSha256?: string },
): KnownHostsVerdict {
  const name = lookupName(host, port);
  const mine = entries.filter((e) => patternsMatch(e.patterns, name));
  const revoked = mine.find((e) => e.marker === 'revoked' && e.sha256 === presented.sha256);
  if (revoked) return { kind: 'revoked', line: revoked.line };
  if (presented.caSha256 !== undefined) {
    const ca = mine.find((e) => e.marker === 'cert-authority' && e.sha256 === presented.caSha256);
    if (ca) return { kind: 'ca-known', line: ca.line };
  }
  const plain = mine.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.sha256 === presented.sha256);
  if (same) return { kind: 'known', line: same.line };
  const baseType = presented.type.replace(/-cert-v01@openssh\.com$/, '').replace(/^rsa-sha2-(256|512)$/, 'ssh-rsa');
  const sameType = plain.filter((e) => e.keyType === baseType);
  if (sameType.length > 0) return { kind: 'changed', expected: sameType.map((e) => ({ keyType: e.keyType, sha256: e.sha256, line: e.line })) };
  return { kind: 'unknown' };
}
