// The numbers behind a report's prose evidence, for scripts: round-trip times, connect and
// banner latency, the banner itself, the host key. Pure: observations in, plain numbers out.
// Part of the public report (docs/report.md, docs/schemas/report.schema.json): fields are
// added, never renamed or removed. Times are milliseconds, rounded to 0.01 ms.
import type { HandshakeObs, Observations } from './observations.js';

export interface RttStats {
  min: number;
  avg: number;
  max: number;
}

export interface PingMeasurement {
  address: string;
  transmitted: number;
  received: number;
  /** Each reply's round-trip time, in order of arrival. */
  rttsMs: number[];
  /** null when no reply arrived. */
  rttMs: RttStats | null;
}

export interface SshMeasurement {
  address: string;
  port: number;
  /** How the TCP connect ended (connected, refused, timeout, …); null while it had not ended. */
  tcp: string | null;
  /** From the start of the run to the TCP outcome. */
  connectMs: number | null;
  /** The server's identification line, as sent (sanitized, length capped by the probe). */
  banner: string | null;
  /** From the TCP connect to the identification line: the banner latency. */
  bannerMs: number | null;
  /** From the TCP connect to the server's key exchange reply. */
  kexMs: number | null;
  /** From NEWKEYS to the list of authentication methods: the authentication delay. */
  authMs: number | null;
  authMethods: string[] | null;
  /** The host key the server proved it holds, as `ssh-keygen -l` prints it (SHA256:…). */
  hostKey: { type: string; sha256: string } | null;
  /** How the handshake ended (complete, closed, reset, …); null while it had not ended. */
  end: string | null;
}

export interface PathMeasurement {
  tool: string | null;
  reached: boolean;
  hops: Array<{ ttl: number; address: string | null; rttMs: number | null }>;
}

export interface Measurements {
  ping: PingMeasurement | null;
  ssh: SshMeasurement[];
  controlPort: { address: string; port: number; outcome: string | null; ms: number | null } | null;
  path: PathMeasurement | null;
}

const ms = (value: number): number => Math.round(value * 100) / 100;
const since = (from: number | undefined, to: number | undefined): number | null => (from !== undefined && to !== undefined ? ms(to - from) : null);

function rttStats(rtts: readonly number[]): RttStats | null {
  if (rtts.length === 0) return null;
  return { min: ms(Math.min(...rtts)), avg: ms(rtts.reduce((a, b) => a + b, 0) / rtts.length), max: ms(Math.max(...rtts)) };
}

function ssh(h: HandshakeObs): SshMeasurement {
  const connected = h.tcp.outcome === 'connected' ? h.tcp.atMs : undefined;
  return {
    address: h.address,
    port: h.port,
    tcp: h.tcp.outcome ?? null,
    connectMs: since(h.startedMs, h.tcp.atMs),
    banner: h.banner?.line ?? null,
    bannerMs: since(connected, h.at.banner),
    kexMs: since(connected, h.at['kex-reply']),
    authMs: since(h.at.newkeys, h.at['auth-methods']),
    authMethods: h.authMethods ? [...h.authMethods] : null,
    hostKey: h.hostKey ? { type: h.hostKey.type, sha256: h.hostKey.sha256 } : null,
    end: h.end?.kind ?? null,
  };
}

export function measurements(obs: Observations): Measurements {
  const p = obs.ping;
  const c = obs.control;
  return {
    ping: p && p.unavailable === undefined ? { address: p.address, transmitted: p.transmitted, received: p.received, rttsMs: p.rttsMs.map(ms), rttMs: rttStats(p.rttsMs) } : null,
    ssh: obs.handshakes.map(ssh),
    controlPort: c && c.unavailable === undefined ? { address: c.address, port: c.port, outcome: c.outcome ?? null, ms: since(c.startedMs, c.atMs) } : null,
    path:
      obs.path && obs.path.unavailable === undefined
        ? { tool: obs.path.tool, reached: obs.path.reached, hops: obs.path.hops.map((h) => ({ ttl: h.ttl, address: h.address, rttMs: h.rttMs === null ? null : ms(h.rttMs) })) }
        : null,
  };
}
