// Reads the known_hosts file the engine config names: at most MAX_KNOWN_HOSTS_BYTES, never
// throwing (a missing or unreadable file is an observation with the reason).
import { open } from 'node:fs/promises';
import type { KnownHostsObs } from '../observations.js';
import { MAX_KNOWN_HOSTS_BYTES, lookupName, parseKnownHosts, patternsMatch } from './parse-known-hosts.js';
import { errorMessage } from '../../errors.js';

export async function readKnownHosts(path: string): Promise<KnownHostsObs> {
  try {
    const file = await open(path, 'r');
    try {
      const buf = Buffer.alloc(MAX_KNOWN_HOSTS_BYTES);
      const { bytesRead } = await file.read(buf, 0, buf.length, 0);
      return { path, entries: parseKnownHosts(buf.subarray(0, bytesRead).toString('utf8')) };
    } finally {
      await file.close();
    }
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
    return { path, entries: [], error: code || errorMessage(err) };
  }
}

/**
 * The HostKeyAlias the diagnostics login gives ssh, or why it should not try at all. ssh looks
 * a HostKeyAlias up as it is, never as `[alias]:port`, while `ssh-keyscan -p 2222 db-3` writes
 * `[db-3]:2222`: so the alias is `[host]:port` when the file lists the host that way (off port
 * 22), else `host` (what `ssh-keyscan db-3` writes). A file that is missing, unreadable or has
 * neither form would only end in ssh's "Host key verification failed", which reads like a
 * changed key; the reason is given instead, without connecting. Pure.
 */
export function loginHostKeyAlias(file: KnownHostsObs, host: string, port: number): { alias: string } | { problem: string } {
  const name = host.toLowerCase();
  const bracketed = lookupName(name, port);
  const keyscan = `ssh-keyscan${port === 22 ? '' : ` -p ${port}`} ${name} >> ${file.path}`;
  if (file.error !== undefined) {
    const what = file.error === 'ENOENT' ? 'is missing' : file.error === 'EACCES' ? 'cannot be read by this user (EACCES)' : `cannot be read (${file.error})`;
    return { problem: `the known_hosts file ${file.path} ${what}: record the target's host key there (\`${keyscan}\`, after checking its fingerprint on the console)` };
  }
  const listed = (lookup: string): boolean => file.entries.some((e) => e.marker !== 'revoked' && patternsMatch(e.patterns, lookup));
  if (bracketed !== name && listed(bracketed)) return { alias: bracketed };
  if (listed(name)) return { alias: name };
  const forms = bracketed !== name ? `${name} or ${bracketed}` : name;
  return { problem: `${file.path} has no key for ${forms}: add it (\`${keyscan}\`, after checking its fingerprint on the console)` };
}
