// Path traces as pure functions of the tools' output: `traceroute -n` text and `mtr --json`.
// The interesting part is where the TCP probes to the SSH port stop being answered, and any
// annotation a router put on its answer (!H host unreachable, !X administratively
// prohibited, !F-<mtu> fragmentation needed, ...).
import { isIP } from 'node:net';
import type { PathHop } from '../observations.js';

const MAX_TTL = 255;

/** Whether two textual IP addresses are the same address (IPv6 has many spellings). */
export function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  if (isIP(a) !== 6 || isIP(b) !== 6) return false;
  try {
    return new URL(`http://[${a}]/`).hostname === new URL(`http://[${b}]/`).hostname;
  } catch {
    return false;
  }
}

function hopFromTokens(ttl: number, tokens: readonly string[]): PathHop {
  const hop: PathHop = { ttl, address: null, rttMs: null };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    const paren = /^\((.+)\)$/.exec(token);
    const candidate = paren?.[1] ?? token;
    if (isIP(candidate) !== 0) {
      // Several probes per hop may name several routers; the first one that answered stands for the hop.
      hop.address ??= candidate;
      continue;
    }
    if (/^\d+(\.\d+)?$/.test(token) && tokens[i + 1] === 'ms') {
      hop.rttMs ??= Number(token);
      i++;
      continue;
    }
    if (token.startsWith('!') && hop.annotation === undefined && /^![\x21-\x7e]{0,15}$/.test(token)) hop.annotation = token;
  }
  return hop;
}

/**
 * `traceroute -n -q 1` text: a header line, then ` 1  10.77.1.1  0.395 ms`, ` 2  *`,
 * ` 1  10.77.1.1  3070.034 ms !H`. Several probes per hop are tolerated; the first answer wins.
 */
export function parseTraceroute(text: string): PathHop[] {
  const hops: PathHop[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const ttl = Number(m[1]);
    if (ttl < 1 || ttl > MAX_TTL || hops.some((h) => h.ttl === ttl)) continue;
    hops.push(hopFromTokens(ttl, (m[2] ?? '').trim().split(/\s+/)));
  }
  return hops;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `mtr --json` report: `report.hubs[]` with `count` (the TTL; a string in older mtr),
 * `host` ("???" when nothing answered), `Loss%` and `Last` (ms). Anything that is not that
 * shape yields no hops.
 */
export function parseMtrJson(text: string): PathHop[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return [];
  }
  const report = isRecord(data) ? data.report : undefined;
  const hubs = isRecord(report) ? report.hubs : undefined;
  if (!Array.isArray(hubs)) return [];
  const hops: PathHop[] = [];
  for (const hub of hubs) {
    if (!isRecord(hub)) continue;
    const ttl = Number(hub.count);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL || hops.some((h) => h.ttl === ttl)) continue;
    const host = typeof hub.host === 'string' && isIP(hub.host) !== 0 ? hub.host : null;
    const loss = Number(hub['Loss%']);
    const last = Number(hub.Last);
    const answered = host !== null && Number.isFinite(loss) && loss < 100 && Number.isFinite(last);
    hops.push({ ttl, address: host, rttMs: answered ? last : null });
  }
  return hops.sort((a, b) => a.ttl - b.ttl);
}

/** The destination itself answered: some hop is the target address. */
export function reachedDestination(hops: readonly PathHop[], address: string): boolean {
  return hops.some((h) => h.address !== null && sameAddress(h.address, address));
}
