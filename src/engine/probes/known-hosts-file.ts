// Reads the known_hosts file the engine config names: at most MAX_KNOWN_HOSTS_BYTES, never
// throwing (a missing or unreadable file is an observation with the reason).
import { open } from 'node:fs/promises';
import type { KnownHostsObs } from '../observations.js';
import { MAX_KNOWN_HOSTS_BYTES, parseKnownHosts } from './parse-known-hosts.js';

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
    return { path, entries: [], error: code || (err instanceof Error ? err.message : String(err)) };
  }
}
