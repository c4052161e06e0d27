// What `ssh host` itself resolves: getaddrinfo with /etc/hosts, search domains and
// nsswitch, through `getent ahosts`. A child process rather than dns.lookup(): a getaddrinfo
// call in Node's threadpool cannot be cancelled and holds a thread (and the process) for the
// resolver's full timeout, 10 s and more; a child can be killed at the deadline.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { boundedSpawn } from './spawn.js';
import type { ProbeContext } from './context.js';
import { remainingMs } from './context.js';
import type { SystemResolveObs } from '../observations.js';

/** getent ahosts prints three lines (STREAM, DGRAM, RAW) per address; 64 KiB is plenty. */
const MAX_OUTPUT_BYTES = 64 * 1024;
/** getent's exit status when getaddrinfo failed (not found, and also "try again"). */
const GETENT_NOT_FOUND = 2;

export interface GetentAhosts {
  /** In getaddrinfo's order (the order ssh tries them), each once. */
  addresses: string[];
  canonical?: string;
}

/**
 * `getent ahosts` output: `ADDRESS  SOCKTYPE [CANONNAME]` per line; the canonical name is on
 * the first line only. Lines that do not start with a valid address are ignored.
 */
export function parseGetentAhosts(text: string): GetentAhosts {
  const result: GetentAhosts = { addresses: [] };
  let first = true;
  for (const line of text.split('\n')) {
    const [address, socktype, canonical] = line.trim().split(/\s+/);
    if (address === undefined || isIP(address) === 0 || socktype === undefined) continue;
    if (first && canonical !== undefined && /^[\x21-\x7e]{1,253}$/.test(canonical)) result.canonical = canonical;
    first = false;
    if (!result.addresses.includes(address)) result.addresses.push(address);
  }
  return result;
}

export interface ProbeSystemResolveOptions {
  name: string;
}

export async function probeSystemResolve(opts: ProbeSystemResolveOptions, ctx: ProbeContext): Promise<SystemResolveObs> {
  const startedMs = ctx.now();
  const base: SystemResolveObs = { state: 'running', startedMs, name: opts.name, addresses: [] };
  const done = (extra: Partial<SystemResolveObs>): SystemResolveObs => ({ ...base, ...extra, state: 'done', endedMs: ctx.now() });

  // The engine validates targets; this only keeps control characters away from argv.
  if (!/^[\x21-\x7e]{1,253}$/.test(opts.name)) return done({ error: { kind: 'failed', detail: 'not a valid host name' } });
  const run = await boundedSpawn({ command: 'getent', args: ['ahosts', '--', opts.name], ctx, maxBytes: MAX_OUTPUT_BYTES });
  if (run.spawnError === 'ENOENT') return lookupFallback(opts.name, ctx, done);
  if (run.spawnError !== undefined) return done({ unavailable: `cannot run getent: ${run.spawnError}` });
  if (run.aborted) return done({ aborted: true });

  const elapsed = Math.round(run.endedMs - run.startedMs);
  if (run.timedOut) {
    return done({ error: { kind: 'timeout', detail: `getaddrinfo gave no answer in ${elapsed} ms (getent killed)` } });
  }
  if (run.exitCode === 0) {
    const parsed = parseGetentAhosts(run.stdout);
    if (parsed.addresses.length === 0) return done({ error: { kind: 'failed', detail: 'getent printed no address' } });
    return done(parsed);
  }
  if (run.exitCode === GETENT_NOT_FOUND) {
    // getent maps every getaddrinfo failure to 2: a missing name and an unreachable resolver
    // look alike here. The time it took and the direct DNS queries tell them apart.
    return done({ error: { kind: 'not-found', detail: `getaddrinfo found no address (getent exit 2 after ${elapsed} ms)` } });
  }
  const stderr = run.stderr.trim().split('\n')[0] ?? '';
  return done({ error: { kind: 'failed', detail: `getent exited with ${String(run.exitCode ?? run.signal)}${stderr ? `: ${stderr.slice(0, 200)}` : ''}` } });
}

/**
 * Only when getent is missing: dns.lookup() with a race timer. The lookup itself cannot be
 * cancelled; on timeout it keeps a threadpool thread until glibc gives up.
 */
async function lookupFallback(
  name: string,
  ctx: ProbeContext,
  done: (extra: Partial<SystemResolveObs>) => SystemResolveObs,
): Promise<SystemResolveObs> {
  const budget = remainingMs(ctx);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<'timeout' | 'aborted'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), budget);
    onAbort = () => resolve('aborted');
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
  const attempt = lookup(name, { all: true, verbatim: true }).then(
    (list) => ({ list }),
    (err: NodeJS.ErrnoException) => ({ err }),
  );
  try {
    const winner = await Promise.race([attempt, stop]);
    if (winner === 'aborted') return done({ aborted: true });
    if (winner === 'timeout') return done({ error: { kind: 'timeout', detail: `getaddrinfo gave no answer in ${Math.round(budget)} ms` } });
    if ('err' in winner) {
      const code = winner.err.code ?? '';
      const kind = code === 'ENOTFOUND' ? 'not-found' : code === 'EAI_AGAIN' ? 'try-again' : 'failed';
      return done({ error: { kind, detail: `getaddrinfo: ${code || winner.err.message}` } });
    }
    const addresses: string[] = [];
    for (const entry of winner.list) if (isIP(entry.address) !== 0 && !addresses.includes(entry.address)) addresses.push(entry.address);
    return done({ addresses });
  } finally {
    clearTimeout(timer);
    if (onAbort) ctx.signal.removeEventListener('abort', onAbort);
  }
}
