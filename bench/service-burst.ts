// `sshcheck serve` under a burst: 300 distinct check requests at once (127.0.0.1 on 300
// ports, loopback only) against a real `sshcheck serve` child with its own store, while a
// liveness poller in a process of its own (healthz-poller.ts) asks /healthz every 50 ms.
// The burst's connections are opened first, then every request is written at once on its
// own connection, and each answer (202 started, 429 busy: admission) is timed from its
// write to its status line: raw sockets, so the client's own cost stays out of the figures
// (fetch() cost this client ~0.8 s per 300 requests against a server that does nothing).
// After the burst, the service's own event-loop delay is read from /metrics (builds that
// export it). Bounded: one burst, then the service and the poller are stopped by their pids.
// `--root <dir>` runs another checkout's build (the before figures). `--target 127.0.0.2`
// (refused by the bench's policy: 403, nothing runs) measures the HTTP path alone.
// `--floor` puts a node:http server that answers every POST 429 at once in the service's
// place: what this machine and this client cost with no service work at all.
// `--cpu-prof <dir>` writes the service process's CPU profile there (node --cpu-prof): its
// samples are wall time, so a thread waiting for a CPU shows as the code it was stopped in.
// `--perf-map` starts it with --perf-basic-prof, for `perf record -k CLOCK_MONOTONIC`
// (on-CPU samples, JavaScript functions named; the JSON gives the window and the pids).
// By default the burst is the service's first after its start, its code not yet compiled by
// V8's optimising tiers (the do-nothing floor spends twice the CPU cold as warm); `--warm`
// times a second burst, on other ports, after the first one's runs ended: a service that has
// served before.
// The service logs at warn (no line per request) unless `--log-level info` (serve's default:
// one line per request on its stderr, a pipe here as under systemd). Builds that export it
// also give the service's own view: sshcheck_admission_seconds, arrival to answer.
// `--unauthorized` sends a token the service does not know: every request 401, before its
// body is read (node:http and the token check alone, in the service's process).
// Usage: node dist/bench/service-burst.js [--requests 300] [--root <dir>] [--json <file>] [--target <ip>] [--floor] [--warm] [--cpu-prof <dir>] [--perf-map] [--log-level info] [--unauthorized]
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closedPort } from '../test/support/serve-child.js';
import { parsePrometheusText } from '../test/lab/prom-text.js';
import { getOnce, pollOnce } from './healthz-poller.js';
import { isMain, quantile, secs, worst } from './stats.js';

const TOKEN = 'bench-burst-token-0123456789abcdef';
/** Linux's USER_HZ: /proc's CPU times are in these ticks. */
const CLOCK_TICKS = 100;
const HERE = fileURLToPath(new URL('.', import.meta.url));

export interface BurstResult {
  requests: number;
  statuses: Record<string, number>;
  admission: { p50: number; p99: number; worst: number };
  busy: { count: number; p50: number; p99: number; worst: number };
  /** The admitted requests' answers (202), as the client saw them: a handful per burst, so p99 is about the worst. */
  started: { count: number; p50: number; p99: number; worst: number };
  healthz: { count: number; errors: number; p50: number; p99: number; worst: number };
  /**
   * The service's own admission time for this burst's POSTs (ms), from its /metrics histogram
   * sshcheck_admission_seconds (arrival to answer, builds that export it): counted, and p50/p99
   * interpolated within buckets as Prometheus's histogram_quantile() does.
   */
  serviceAdmission?: { count: number; p50: number; p99: number; byStatus: Record<string, { count: number; p50: number; p99: number }> };
  /** The service's own event-loop delay from /metrics (ms), when its build exports it. */
  loopDelay?: { p50: number; p99: number; worst: number };
  /**
   * CPU time (ms) the service's process spent from the burst's first write to its last
   * answer: all its threads, and its main thread alone (from schedstat, to the ns), and how
   * long its main thread waited, runnable, for a CPU the machine gave to others meanwhile;
   * engineMs: its child processes' (the engine process and the probes it reaped meanwhile,
   * in 10 ms ticks). Less at the mercy of the shared machine than the latencies, and
   * comparable with the floor's.
   */
  cpu?: { processMs: number; mainMs: number; mainWaitMs: number; engineMs?: number };
  wallMs: number;
  /**
   * The burst's first connection to its last answer on the monotonic clock (µs), which a CPU
   * profile's timestamps and `perf record -k CLOCK_MONOTONIC` also use: their burst is this window.
   */
  windowUs: [number, number];
  /** The pids of the service, its engine process, this client and the /healthz poller: to find them in a perf or ftrace record. */
  pids: { service?: number; engine?: number; client: number; poller?: number };
  /** The 1-minute load average before and after: how busy the shared machine was. */
  load: [number, number];
}

/** A stand-in service for --floor: reads each body, answers 429 at once; /healthz 200. */
const FLOOR_SERVER = `
const { createServer } = require('node:http');
const s = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const ok = req.url === '/healthz';
    const body = ok ? '{"status":"ok"}\\n' : '{"error":{"code":"busy","message":"full"}}\\n';
    res.writeHead(ok ? 200 : 429, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Retry-After': '2' });
    res.end(body);
  });
});
s.listen(Number(process.argv[1]), '127.0.0.1');
setTimeout(() => process.exit(0), 300000).unref();
process.once('SIGTERM', () => process.exit(0));
`;

/** One request per connection, written at once on connections opened beforehand: status and ms from the write to the status line. */
async function fire(port: number, bodies: readonly string[], token = TOKEN): Promise<{ statuses: string[]; ms: number[]; wallMs: number }> {
  const sockets = await Promise.all(
    bodies.map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(port, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        }),
    ),
  );
  const started = performance.now();
  const answers = await Promise.all(
    sockets.map(
      (socket, i) =>
        new Promise<{ status: string; ms: number }>((resolve) => {
          const body = bodies[i] ?? '';
          const sent = performance.now();
          let head = '';
          const done = (status: string): void => {
            clearTimeout(timer);
            socket.destroy();
            resolve({ status, ms: performance.now() - sent });
          };
          const timer = setTimeout(() => done('timeout'), 120_000);
          socket.on('data', (chunk: Buffer) => {
            head += chunk.toString('latin1');
            const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
            if (m?.[1]) done(m[1]);
          });
          socket.once('error', () => done('error'));
          socket.once('close', () => done('closed'));
          socket.write(`POST /v1/checks HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        }),
    ),
  );
  return { statuses: answers.map((a) => a.status), ms: answers.map((a) => a.ms), wallMs: performance.now() - started };
}

type Buckets = Array<[number, number]>;

/** sshcheck_admission_seconds's cumulative buckets (upper bound in s, count) by status, and summed over them ('all'); undefined when the build does not export it. */
async function admissionBuckets(url: string): Promise<Map<string, Buckets> | undefined> {
  const text = (await getOnce(new URL('/metrics', url), 10_000))?.body ?? '';
  const family = parsePrometheusText(text).get('sshcheck_admission_seconds');
  if (!family) return undefined;
  const byStatus = new Map<string, Buckets>();
  const all = new Map<number, number>();
  for (const s of family.samples) {
    if (s.name !== 'sshcheck_admission_seconds_bucket') continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    const status = s.labels.status ?? '';
    byStatus.set(status, [...(byStatus.get(status) ?? []), [le, s.value]]);
    all.set(le, (all.get(le) ?? 0) + s.value);
  }
  byStatus.set('all', [...all.entries()].sort(([a], [b]) => a - b));
  return byStatus;
}

/** This burst's share of the service's admission histogram: count, p50 and p99 (ms), of all answers and by status. */
function admissionOf(before: Map<string, Buckets>, after: Map<string, Buckets>): NonNullable<BurstResult['serviceAdmission']> {
  const of = (key: string): { count: number; p50: number; p99: number } => {
    const a = after.get(key) ?? [];
    const b = before.get(key) ?? [];
    return { count: (a.at(-1)?.[1] ?? 0) - (b.at(-1)?.[1] ?? 0), p50: bucketQuantile(b, a, 0.5), p99: bucketQuantile(b, a, 0.99) };
  };
  const byStatus: Record<string, { count: number; p50: number; p99: number }> = {};
  for (const key of after.keys()) if (key !== 'all' && of(key).count > 0) byStatus[key] = of(key);
  return { ...of('all'), byStatus };
}

/** The q-quantile (ms) of what was observed between two readings of a cumulative histogram, interpolated linearly within its bucket (histogram_quantile). */
export function bucketQuantile(before: ReadonlyArray<[number, number]>, after: ReadonlyArray<[number, number]>, q: number): number {
  const counts = after.map(([le, n], i) => [le, n - (before[i]?.[1] ?? 0)] as const);
  const total = counts.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, n] of counts) {
    if (n >= rank) {
      // Above the highest finite bound there is nothing to interpolate: say that bound.
      if (!Number.isFinite(le)) return lower * 1000;
      return (lower + ((le - lower) * (rank - below)) / Math.max(1, n - below)) * 1000;
    }
    lower = le;
    below = n;
  }
  return NaN;
}

/** The service's event-loop delay summary from its /metrics (ms), when exported. */
async function loopDelayOf(url: string): Promise<BurstResult['loopDelay']> {
  const text = (await getOnce(new URL('/metrics', url), 10_000))?.body ?? '';
  const q = (quantileLabel: string): number | undefined => {
    const m = new RegExp(`^sshcheck_event_loop_delay_seconds\\{quantile="${quantileLabel}"\\} (\\S+)$`, 'm').exec(text);
    return m?.[1] !== undefined ? Number(m[1]) * 1000 : undefined;
  };
  const [p50, p99, max] = [q('0.5'), q('0.99'), q('1')];
  return p50 !== undefined && p99 !== undefined && max !== undefined ? { p50, p99, worst: max } : undefined;
}

/** utime + stime (+ cutime + cstime: children that ended and were waited for) of /proc/<pid>/stat, in ms (Linux). */
function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** A thread's time on a CPU and time runnable but waiting for one, in ms (/proc/<pid>/task/<tid>/schedstat, ns). */
function schedOf(pid: number, tid: number): { runMs: number; waitMs: number } {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { runMs: (run ?? NaN) / 1e6, waitMs: (wait ?? NaN) / 1e6 };
  } catch {
    return { runMs: NaN, waitMs: NaN };
  }
}

/** A process's child processes' pids (Linux), [] once it is gone. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU use of the service (see BurstResult.cpu) so far: its threads, its main thread, its child processes. */
function cpuSnapshot(pid: number | undefined): { processMs: number; mainMs: number; mainWaitMs: number; engineMs: number } {
  if (pid === undefined) return { processMs: NaN, mainMs: NaN, mainWaitMs: NaN, engineMs: NaN };
  let processMs = 0;
  let engineMs = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) processMs += schedOf(pid, Number(tid)).runMs;
    for (const c of childrenOf(pid)) engineMs += cpuMsOf(c) || 0;
  } catch {
    return { processMs: NaN, mainMs: NaN, mainWaitMs: NaN, engineMs: NaN };
  }
  const main = schedOf(pid, pid);
  return { processMs, mainMs: main.runMs, mainWaitMs: main.waitMs, engineMs };
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

export async function burst(options: { requests: number; root: string; target?: string; floor?: boolean; cpuProf?: string; perfMap?: boolean; warm?: boolean; logLevel?: string; unauthorized?: boolean }): Promise<BurstResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-burst-'));
  const port = await closedPort();
  writeFileSync(join(dir, 'engine.yml'), 'policy:\n  allow: [127.0.0.1]\n');
  const cli = join(options.root, 'bin', 'sshcheck.js');
  const profile = [...(options.cpuProf !== undefined ? ['--cpu-prof', '--cpu-prof-interval', '200', '--cpu-prof-dir', options.cpuProf] : []), ...(options.perfMap ? ['--perf-basic-prof'] : [])];
  const env = { PATH: process.env.PATH ?? '', HOME: dir, SSHCHECK_DB: join(dir, 'sshcheck.db'), SSHCHECK_SERVICE_TOKENS: TOKEN, SSHCHECK_ENGINE_CONFIG: join(dir, 'engine.yml') };
  const child = options.floor
    ? spawn(process.execPath, [...profile, '-e', FLOOR_SERVER, String(port)], { stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(process.execPath, [...profile, cli, 'serve', '--listen', `127.0.0.1:${port}`, '--vantage', 'bench', '--log-level', options.logLevel ?? 'warn', '--budget', '5'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const url = `http://127.0.0.1:${port}`;
  // Its log, read as it comes (a pipe nobody reads would block it once full), for a failed start.
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString('utf8')).slice(-4000)));
  let poller: ChildProcess | undefined;
  try {
    // Up when /healthz answers (at most 15 s).
    for (let i = 0; !Number.isFinite(await pollOnce(new URL('/healthz', url), 1000)); i++) {
      if (i > 150 || child.exitCode !== null) throw new Error(`the service did not come up in 15 s (exit ${child.exitCode ?? '-'}): ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    if (options.warm) {
      // The same burst on other ports, before the poller starts, then time for its runs to
      // end (--budget 5). The loop delay from /metrics covers both bursts.
      await fire(port, Array.from({ length: options.requests }, (_, i) => JSON.stringify({ target: options.target ?? '127.0.0.1', port: 30_000 + i })));
      await new Promise((r) => setTimeout(r, 7000));
    }
    const load0 = loadavg()[0] ?? NaN;
    poller = spawn(process.execPath, [join(HERE, 'healthz-poller.js'), '--url', url, '--max-seconds', '180'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let polled = '';
    poller.stdout?.on('data', (chunk: Buffer) => (polled += chunk.toString('utf8')));
    const pollerExit = exitOf(poller);
    // Let the poller take a few samples before the burst.
    await new Promise((r) => setTimeout(r, 500));
    const bodies = Array.from({ length: options.requests }, (_, i) => JSON.stringify({ target: options.target ?? '127.0.0.1', port: 20_000 + i }));
    const buckets0 = options.floor ? undefined : await admissionBuckets(url);
    const cpu0 = cpuSnapshot(child.pid);
    const from = process.hrtime.bigint();
    // --unauthorized: a token the service does not know (401 before the body is read).
    const answers = await fire(port, bodies, options.unauthorized ? `${TOKEN}-not-this-one` : TOKEN);
    const to = process.hrtime.bigint();
    const cpu1 = cpuSnapshot(child.pid);
    // serve's only child process is its engine (the probes are the engine's children).
    const enginePid = options.floor || child.pid === undefined ? undefined : childrenOf(child.pid)[0];
    // Read at once: nothing but the poller's GETs reach the service meanwhile, and they are not POSTs.
    const buckets1 = buckets0 ? await admissionBuckets(url) : undefined;
    const serviceAdmission = buckets0 && buckets1 ? admissionOf(buckets0, buckets1) : undefined;
    const cpu = { processMs: cpu1.processMs - cpu0.processMs, mainMs: cpu1.mainMs - cpu0.mainMs, mainWaitMs: cpu1.mainWaitMs - cpu0.mainWaitMs, ...(options.floor ? {} : { engineMs: cpu1.engineMs - cpu0.engineMs }) };
    // Keep polling while the admitted runs finish.
    await new Promise((r) => setTimeout(r, 5000));
    poller.kill('SIGTERM');
    await pollerExit;
    const health = (JSON.parse(polled || '[]') as Array<number | null>).map((ms) => ms ?? Infinity);
    const loopDelay = options.floor ? undefined : await loopDelayOf(url);
    const statuses: Record<string, number> = {};
    for (const s of answers.statuses) statuses[s] = (statuses[s] ?? 0) + 1;
    const busy = answers.ms.filter((_, i) => answers.statuses[i] === '429');
    const started = answers.ms.filter((_, i) => answers.statuses[i] === '202');
    const healthOk = health.filter((ms) => Number.isFinite(ms));
    return {
      requests: options.requests,
      statuses,
      admission: { p50: quantile(answers.ms, 0.5), p99: quantile(answers.ms, 0.99), worst: worst(answers.ms) },
      busy: { count: busy.length, p50: quantile(busy, 0.5), p99: quantile(busy, 0.99), worst: worst(busy) },
      started: { count: started.length, p50: quantile(started, 0.5), p99: quantile(started, 0.99), worst: worst(started) },
      // A failed poll counts as the worst wait: it is what a liveness probe would have seen.
      healthz: { count: health.length, errors: health.length - healthOk.length, p50: quantile(health, 0.5), p99: quantile(health, 0.99), worst: worst(health) },
      ...(serviceAdmission ? { serviceAdmission } : {}),
      ...(loopDelay ? { loopDelay } : {}),
      ...(Number.isFinite(cpu.processMs) ? { cpu } : {}),
      wallMs: answers.wallMs,
      windowUs: [Number(from / 1000n), Number(to / 1000n)],
      pids: { ...(child.pid !== undefined ? { service: child.pid } : {}), ...(enginePid !== undefined ? { engine: enginePid } : {}), client: process.pid, ...(poller.pid !== undefined ? { poller: poller.pid } : {}) },
      load: [load0, loadavg()[0] ?? NaN],
    };
  } finally {
    if (poller && poller.exitCode === null) poller.kill('SIGTERM');
    const exited = exitOf(child);
    if (child.exitCode === null) process.kill(child.pid ?? -1, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export function burstLine(label: string, r: BurstResult): string {
  const loop = r.loopDelay ? `${secs(r.loopDelay.p99)} / ${secs(r.loopDelay.worst)}` : '-';
  const fine = (ms: number): string => (ms < 10 ? `${ms.toFixed(2)} ms` : secs(ms));
  const service = r.serviceAdmission
    ? `${fine(r.serviceAdmission.p50)} / ${fine(r.serviceAdmission.p99)} (${Object.entries(r.serviceAdmission.byStatus)
        .map(([status, s]) => `${s.count}× ${status}: ${fine(s.p50)} / ${fine(s.p99)}`)
        .join(', ')})`
    : '-';
  const cpu = r.cpu ? `${Math.round(r.cpu.processMs)} ms (main ${Math.round(r.cpu.mainMs)}, waited ${Math.round(r.cpu.mainWaitMs)})${r.cpu.engineMs !== undefined ? ` + engine ${Math.round(r.cpu.engineMs)} ms` : ''}` : '-';
  return `| ${label} | ${Object.entries(r.statuses).map(([s, n]) => `${n}× ${s}`).join(', ')} | ${secs(r.admission.p50)} / ${secs(r.admission.p99)} / ${secs(r.admission.worst)} | ${secs(r.busy.p50)} / ${secs(r.busy.p99)} / ${secs(r.busy.worst)} | ${r.started.count > 0 ? `${secs(r.started.p50)} / ${secs(r.started.worst)}` : '-'} | ${secs(r.healthz.p50)} / ${secs(r.healthz.p99)} / ${secs(r.healthz.worst)} (${r.healthz.count} polls${r.healthz.errors > 0 ? `, ${r.healthz.errors} failed` : ''}) | ${service} | ${loop} | ${cpu} | ${r.load.map((l) => l.toFixed(1)).join(' → ')} |`;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { requests: { type: 'string' }, root: { type: 'string' }, json: { type: 'string' }, label: { type: 'string' }, target: { type: 'string' }, floor: { type: 'boolean' }, 'cpu-prof': { type: 'string' }, 'perf-map': { type: 'boolean' }, warm: { type: 'boolean' }, 'log-level': { type: 'string' }, unauthorized: { type: 'boolean' } } });
  const requests = Math.min(1000, Math.max(1, Number(values.requests ?? '300')));
  const root = values.root ?? fileURLToPath(new URL('../../', import.meta.url));
  const result = await burst({ requests, root, ...(values.target !== undefined ? { target: values.target } : {}), ...(values.floor ? { floor: true } : {}), ...(values['cpu-prof'] !== undefined ? { cpuProf: values['cpu-prof'] } : {}), ...(values['perf-map'] ? { perfMap: true } : {}), ...(values.warm ? { warm: true } : {}), ...(values['log-level'] !== undefined ? { logLevel: values['log-level'] } : {}), ...(values.unauthorized ? { unauthorized: true } : {}) });
  process.stdout.write(`${burstLine(values.label ?? (values.floor ? 'floor' : root), result)}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, node: process.version, root, floor: values.floor ?? false, warm: values.warm ?? false, ...result }, null, 2)}\n`);
}
