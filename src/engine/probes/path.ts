// The path to the SSH port over TCP: which hop is the last to answer a SYN to that port.
// ICMP traceroutes say little here: firewalls treat ICMP and port 22 differently.
import { isIP } from 'node:net';
import type { BoundedSpawnResult } from './spawn.js';
import type { ProbeContext } from './context.js';
import { parseMtrJson, parseTraceroute, reachedDestination } from './parse-path.js';
import { boundedSpawn, spawnProblem } from './spawn.js';
import type { PathHop, PathObs } from '../observations.js';

const MAX_OUTPUT_BYTES = 64 * 1024;
const MAX_HOPS = 30;
const NO_PRIVILEGE_RE = /not have enough privileges|Operation not permitted|Permission denied/;

export interface ProbePathOptions {
  address: string;
  port: number;
  maxHops: number;
  waitS: number;
}

function bounded(opts: ProbePathOptions): { port: string; maxHops: string; waitS: number } {
  return {
    port: String(Math.min(65535, Math.max(1, Math.floor(opts.port)))),
    maxHops: String(Math.min(MAX_HOPS, Math.max(1, Math.floor(opts.maxHops)))),
    waitS: Math.min(10, Math.max(0.5, opts.waitS)),
  };
}

/**
 * traceroute's TCP method sends raw SYNs (needs CAP_NET_RAW): sshd never sees a connection.
 * One probe per hop (-q 1), 16 at a time (-N 16) so a silent path costs one wait, not one per hop.
 */
export function tracerouteArguments(opts: ProbePathOptions): string[] {
  const b = bounded(opts);
  return ['-T', '-p', b.port, '-n', '-q', '1', '-N', '16', '-w', String(b.waitS), '-m', b.maxHops, '--', opts.address];
}

/**
 * The fallback where traceroute is not installed. Unlike traceroute -T, mtr's TCP mode uses ordinary connect() calls with a
 * small TTL, so at the final hop it completes real TCP connections to sshd (which logs them as
 * connections closed before authentication: fail2ban may count them). -G: wait only waitS for
 * late answers instead of mtr's default 5 s.
 */
export function mtrArguments(opts: ProbePathOptions): string[] {
  const b = bounded(opts);
  return ['--tcp', '-P', b.port, '-n', '-c', '1', '--json', '-G', String(Math.ceil(b.waitS)), '-m', b.maxHops, '--', opts.address];
}

type Attempt = { hops: PathHop[] } | { fallback: string } | { failed: string };

/**
 * Without root or CAP_NET_RAW the path is not traced at all. mtr is no way round it: where
 * mtr-packet has its file capability it would run, but its TCP probes outlive mtr itself
 * (up to 10 s after an abort, holding the run open) and complete real connections to sshd.
 */
const NO_PRIVILEGE_ADVICE = 'tracing the path needs root or CAP_NET_RAW (docs/deploy.md)';

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

function judgeTraceroute(run: BoundedSpawnResult): Attempt {
  const problem = spawnProblem('traceroute', run);
  if (problem !== undefined) return run.spawnError === 'ENOENT' ? { fallback: problem } : { failed: problem };
  if (NO_PRIVILEGE_RE.test(run.stderr)) return { failed: `traceroute -T lacks privileges (${firstLine(run.stderr)}): ${NO_PRIVILEGE_ADVICE}` };
  const hops = parseTraceroute(run.stdout);
  if (hops.length === 0 && !run.aborted && !run.timedOut) return { failed: `traceroute: ${firstLine(run.stderr || run.stdout) || `exit ${String(run.exitCode)}`}` };
  return { hops };
}

function judgeMtr(run: BoundedSpawnResult): Attempt {
  const problem = spawnProblem('mtr', run);
  if (problem !== undefined) return { failed: problem };
  if (run.exitCode !== 0 && !run.aborted) return { failed: `mtr: ${firstLine(run.stderr || run.stdout) || `exit ${String(run.exitCode)}`}` };
  return { hops: parseMtrJson(run.stdout) };
}

export async function probePath(opts: ProbePathOptions, ctx: ProbeContext): Promise<PathObs> {
  const startedMs = ctx.now();
  const base: PathObs = { state: 'running', startedMs, tool: null, address: opts.address, port: opts.port, hops: [], reached: false };
  const done = (extra: Partial<PathObs>): PathObs => ({ ...base, ...extra, state: 'done', endedMs: ctx.now(), ...(ctx.signal.aborted ? { aborted: true } : {}) });
  if (isIP(opts.address) === 0) return done({ unavailable: 'not an IP address' });

  const withHops = (tool: 'traceroute' | 'mtr', hops: PathHop[]): PathObs => done({ tool, hops, reached: reachedDestination(hops, opts.address) });

  const trace = judgeTraceroute(
    await boundedSpawn({ command: 'traceroute', args: tracerouteArguments(opts), ctx, maxBytes: MAX_OUTPUT_BYTES }),
  );
  // Stopped before traceroute printed anything: no tool ran to speak of.
  if ('hops' in trace && trace.hops.length === 0 && ctx.signal.aborted) return done({});
  if ('hops' in trace) return withHops('traceroute', trace.hops);
  if ('failed' in trace) return done({ tool: 'traceroute', unavailable: trace.failed });
  if (ctx.signal.aborted) return done({});

  const mtr = judgeMtr(await boundedSpawn({ command: 'mtr', args: mtrArguments(opts), ctx, maxBytes: MAX_OUTPUT_BYTES }));
  if ('hops' in mtr) return withHops('mtr', mtr.hops);
  const why = 'failed' in mtr ? mtr.failed : mtr.fallback;
  return done({ unavailable: `${trace.fallback}; ${why}` });
}
