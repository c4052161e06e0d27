// A fleet check: the engine once per host, at most `concurrency` at a time, each host with the
// same per-run connection budget as a single check. Runs are light (RunOptions.light: the
// child processes start only for hosts whose handshake shows trouble) and stop their slow
// extras at the diagnosis (extrasMs 0). Memory is bounded by the host cap: one report per host.
import type { Cause, Report } from '../engine/report.js';
import type { RunOptions } from '../engine/run.js';
import { run } from '../engine/run.js';
import type { Target } from '../target.js';
import { formatTarget } from '../target.js';

export const FLEET_SCHEMA = 'sshcheck/fleet@1';
export const DEFAULT_CONCURRENCY = 32;
export const MAX_CONCURRENCY = 256;

export interface FleetFailure {
  target: string;
  error: string;
}

export interface FleetSummary {
  hosts: number;
  healthy: number;
  /** Hosts whose check found a problem (neither healthy nor undecided), failures not included. */
  problems: number;
  /** Hosts without a verdict: their run stopped before it settled, or never started because the fleet was stopped. */
  undecided: number;
  /** Hosts the engine failed on (no report). */
  failed: number;
  /** Hosts per cause, most frequent first (healthy included). */
  byCause: Array<{ cause: Cause; hosts: number }>;
  durationMs: number;
  concurrency: number;
}

export interface FleetResult {
  schema: typeof FLEET_SCHEMA;
  vantage: { name: string };
  startedAt: string;
  summary: FleetSummary;
  /** One report per host, in the order the hosts were given. */
  reports: Report[];
  failures: FleetFailure[];
  /** Hosts never checked because the fleet run was stopped first (counted in summary.undecided). */
  notStarted: string[];
}

export interface FleetOptions {
  concurrency?: number;
  vantage: string;
  /** Per host: its run's budget. */
  budgetMs?: number;
  config?: RunOptions['config'];
  signal?: AbortSignal;
  /** Each host's report as soon as it is done (index = position in `targets`). */
  onReport?: (report: Report, index: number) => void;
  onFailure?: (failure: FleetFailure, index: number) => void;
  /** The engine (tests pass a fake; default: run). */
  engine?: (target: Target, options: RunOptions) => Promise<Report>;
  /** Extra run options for every host (thresholds, resolv.conf for tests). */
  runOptions?: Omit<RunOptions, 'vantage' | 'budgetMs' | 'config' | 'signal' | 'onEvent'>;
}

export function hostLabel(target: Target): string {
  return formatTarget(target);
}

export function summarize(reports: readonly Report[], failed: number, durationMs: number, concurrency: number, notStarted = 0): FleetSummary {
  const counts = new Map<Cause, number>();
  for (const r of reports) counts.set(r.diagnosis.cause, (counts.get(r.diagnosis.cause) ?? 0) + 1);
  if (notStarted > 0) counts.set('undecided', (counts.get('undecided') ?? 0) + notStarted);
  const byCause = [...counts.entries()].map(([cause, hosts]) => ({ cause, hosts })).sort((a, b) => b.hosts - a.hosts || a.cause.localeCompare(b.cause));
  const healthy = counts.get('healthy') ?? 0;
  const undecided = counts.get('undecided') ?? 0;
  return { hosts: reports.length + failed + notStarted, healthy, problems: reports.length + notStarted - healthy - undecided, undecided, failed, byCause, durationMs: Math.round(durationMs), concurrency };
}

export async function runFleet(targets: readonly Target[], options: FleetOptions): Promise<FleetResult> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const concurrency = Math.max(1, Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, MAX_CONCURRENCY, targets.length));
  const engine = options.engine ?? run;
  const reports: Array<Report | undefined> = new Array<Report | undefined>(targets.length);
  const failures: FleetFailure[] = [];
  const failedIndexes: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (options.signal?.aborted) return;
      const index = next++;
      const target = targets[index];
      if (target === undefined) return;
      try {
        const report = await engine(target, {
          ...options.runOptions,
          vantage: options.vantage,
          extrasMs: 0,
          light: true,
          ...(options.budgetMs !== undefined ? { budgetMs: options.budgetMs } : {}),
          ...(options.config ? { config: options.config } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        reports[index] = report;
        options.onReport?.(report, index);
      } catch (err) {
        const failure = { target: hostLabel(target), error: err instanceof Error ? err.message : String(err) };
        failures.push(failure);
        failedIndexes.push(index);
        options.onFailure?.(failure, index);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  const done = reports.filter((r): r is Report => r !== undefined);
  const failedAt = new Set(failedIndexes);
  const notStarted = targets.flatMap((t, i) => (reports[i] === undefined && !failedAt.has(i) ? [hostLabel(t)] : []));
  return {
    schema: FLEET_SCHEMA,
    vantage: { name: options.vantage },
    startedAt,
    summary: summarize(done, failures.length, performance.now() - started, concurrency, notStarted.length),
    reports: done,
    failures,
    notStarted,
  };
}

/** One compact line for a host that is not healthy: target, address, cause, summary. */
export function compactLine(report: Report, maxSummary = 160): { host: string; cause: Cause; summary: string } {
  const t = report.target;
  const address = t.addresses[0];
  const host = `${formatTarget({ host: t.host, port: t.port, kind: t.host.includes(':') ? 'ipv6' : 'name' })}${address !== undefined && address !== t.host ? ` [${address}]` : ''}`;
  const s = report.diagnosis.summary;
  return { host, cause: report.diagnosis.cause, summary: s.length > maxSummary ? `${s.slice(0, maxSummary - 1)}…` : s };
}
