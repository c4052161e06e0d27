// Builders for observation snapshots, so checklist tests read as scenarios.
import type { DnsObs, HandshakeObs, Observations, PingObs, TcpObs, VerboseObs } from '../../src/engine/observations.js';
import type { AssessInput } from '../../src/engine/checklist/assessment.js';
import { DEFAULT_THRESHOLDS } from '../../src/engine/checklist/thresholds.js';
import { parseTarget } from '../../src/target.js';

export const ADDRESS = '10.0.0.5';

export function handshake(over: Partial<HandshakeObs> = {}): HandshakeObs {
  return { state: 'running', startedMs: 0, address: ADDRESS, port: 22, tcp: {}, at: {}, preBanner: { lines: 0, bytes: 0, sample: [] }, bytesIn: 0, bytesOut: 0, ...over };
}

/** A handshake that got all the way to the auth methods. */
export function completeHandshake(connectAt = 1, bannerAt = 2): HandshakeObs {
  return handshake({
    state: 'done',
    endedMs: bannerAt + 10,
    tcp: { outcome: 'connected', atMs: connectAt, localAddress: '10.0.0.2' },
    at: { banner: bannerAt, kexinit: bannerAt + 1, 'kex-reply': bannerAt + 4, newkeys: bannerAt + 5, service: bannerAt + 6, 'auth-methods': bannerAt + 7 },
    banner: { line: 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10', protoVersion: '2.0', software: 'OpenSSH_9.2p1' },
    authMethods: ['publickey', 'password'],
    end: { kind: 'complete', phase: 'complete', atMs: bannerAt + 8, detail: 'done' },
  });
}

export function pingReply(rtt = 0.2): PingObs {
  return { state: 'done', startedMs: 0, endedMs: 450, address: ADDRESS, transmitted: 3, received: 3, rttsMs: [rtt, rtt, rtt], errors: [] };
}

export function pingSilent(state: 'running' | 'done' = 'running'): PingObs {
  return { state, startedMs: 0, address: ADDRESS, transmitted: 3, received: 0, rttsMs: [], errors: [] };
}

export function control(outcome: TcpObs['outcome'], atMs = 1): TcpObs {
  return { state: outcome ? 'done' : 'running', startedMs: 0, address: ADDRESS, port: 1, ...(outcome ? { outcome, atMs } : {}) };
}

export function verboseDone(last: VerboseObs['parsed']['last'], stop?: VerboseObs['parsed']['stop']): VerboseObs {
  return { state: 'done', startedMs: 0, endedMs: 200, command: ['ssh'], lines: [], parsed: { phases: [], ...(last ? { last } : {}), ...(stop ? { stop } : {}) }, exitCode: 255 };
}

export function input(obs: Partial<Observations>, now: number, opts: { final?: boolean; target?: string } = {}): AssessInput {
  return {
    target: parseTarget(opts.target ?? ADDRESS),
    // No diagnostics login unless a test gives one: the engine records that at the start.
    obs: { ptr: [], handshakes: [], inside: { state: 'none', reason: 'no diagnostics login is configured' }, ...obs },
    now,
    final: opts.final ?? false,
    thresholds: { ...DEFAULT_THRESHOLDS },
  };
}

/** The direct DNS queries for a name: one resolver, `lab.test` searched, done unless `over` says otherwise. */
export function dnsObs(over: Partial<DnsObs> = {}): DnsObs {
  return { state: 'done', startedMs: 0, endedMs: 5, resolvers: ['10.0.0.53'], search: ['lab.test'], ndots: 1, candidates: [], queries: [], ...over };
}
