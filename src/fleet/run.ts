// A fleet check: the engine once per host, at most `concurrency` at a time, each host with the
// same per-run connection budget as a single check. Runs are light (RunOptions.light: the
// child processes start only for hosts whose handshake shows trouble) and stop their slow
// extras at the diagnosis (extrasMs 0). Memory is bounded by the host cap: one report per host.
// How many run at once follows the bastion's load (load.ts): a fleet that outruns its bastion
// measures itself. A verdict that rests on timing, made while the bastion was saturated, gets
// one second look at lower concurrency; saturated again, it is withheld (undecided, and why).
// A second look is one more run: a light run opens at most two connections to the host, so two
// runs stay within the connection budget a single target allows (ledger.ts: 4 per 10 minutes).
import { setMaxListeners } from 'node:events';
import type { Cause, Report } from '../engine/report.js';
import type { RunOptions } from '../engine/run.js';
import { run } from '../engine/run.js';
import type { Target } from '../target.js';
import { formatTarget } from '../target.js';
import type { ConcurrencyState, LoadDuring, LoadLevel, LoadLimits } from './load.js';
import { DEFAULT_LOAD_LIMITS, TIMING_CAUSES, covered, initialConcurrency, judgeFinding, loadDuring, loadLevel, nextConcurrency, saturationWords } from './load.js';
import type { LoadSource } from './load-monitor.js';
import { SAMPLE_MS, startLoadMonitor } from './load-monitor.js';
import { errorMessage } from '../errors.js';

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
  /** The most hosts checked at once that the fleet was allowed (it adapts below this to the bastion's load). */
  concurrency: number;
  /** How the fleet adapted to the bastion's load (absent when it ran without a load source). */
  load?: FleetLoad;
}

export interface FleetLoad {
  /** The most checks that were in flight at once. */
  peakConcurrency: number;
  /** The limit the fleet ended with. */
  finalConcurrency: number;
  /** Load samples taken, and how many found the bastion saturated. */
  samples: number;
  saturatedSamples: number;
  /** The worst event-loop delay seen. */
  lagMaxMs: number;
  /** Hosts checked a second time: their timing verdict was made while the bastion was saturated. */
  rechecked: number;
  /** Hosts whose verdict was withheld (undecided): saturated on the second look too. */
  withheld: number;
}

/** A host checked again because its first verdict rested on timing measured on a saturated bastion. */
export interface FleetRecheck {
  target: string;
  first: Cause;
  why: string;
  final: Cause;
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
  /** Second looks, in the order they finished (absent when the fleet ran without a load source). */
  rechecks?: FleetRecheck[];
}

export interface FleetOptions {
  /** The most hosts at once (default DEFAULT_CONCURRENCY): the fleet starts lower and adapts to the bastion's load. */
  concurrency?: number;
  /**
   * Where the bastion's load is read (default: this process's event loop and CPU, the machine's
   * run queue). false: no adaptation, `concurrency` at once from the start, every verdict kept.
   */
  load?: LoadSource | false;
  loadLimits?: LoadLimits;
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
  /**
   * false: reports go to onReport only and result.reports stays empty (the summary still
   * counts them): a caller that writes each report out as it comes needs not hold 10 000.
   */
  keepReports?: boolean;
  /** Extra run options for every host (thresholds, resolv.conf for tests). */
  runOptions?: Omit<RunOptions, 'vantage' | 'budgetMs' | 'config' | 'signal' | 'onEvent'>;
}

export function hostLabel(target: Target): string {
  return formatTarget(target);
}

export function summarize(reports: ReadonlyArray<{ diagnosis: { cause: Cause } }>, failed: number, durationMs: number, concurrency: number, notStarted = 0): FleetSummary {
  const counts = new Map<Cause, number>();
  for (const r of reports) counts.set(r.diagnosis.cause, (counts.get(r.diagnosis.cause) ?? 0) + 1);
  if (notStarted > 0) counts.set('undecided', (counts.get('undecided') ?? 0) + notStarted);
  const byCause = [...counts.entries()].map(([cause, hosts]) => ({ cause, hosts })).sort((a, b) => b.hosts - a.hosts || a.cause.localeCompare(b.cause));
  const healthy = counts.get('healthy') ?? 0;
  const undecided = counts.get('undecided') ?? 0;
  return { hosts: reports.length + failed + notStarted, healthy, problems: reports.length + notStarted - healthy - undecided, undecided, failed, byCause, durationMs: Math.round(durationMs), concurrency };
}

/** A second look at hosts whose timing verdict the bastion's saturation put in doubt: this many at most at once. */
export const RECHECK_CONCURRENCY = 4;
/** How long second looks wait for the bastion to leave saturation before they start anyway (their verdict is then withheld if it is still saturated). */
export const RECHECK_PATIENCE_MS = 10_000;

interface Finished {
  index: number;
  report: Report;
  startMs: number;
  endMs: number;
  attempt: number;
}

const WITHHELD = 'verdict withheld';

/** The host's report with its verdict withheld: undecided, the doubted cause kept as a low-confidence alternative. */
export function withheldReport(report: Report, load: LoadDuring): Report {
  const d = report.diagnosis;
  const why = saturationWords(load);
  const alternatives = d.cause === 'undecided' || d.cause === 'healthy' ? d.alternatives : [...(d.step !== null ? [{ cause: d.cause, step: d.step, confidence: 'low' as const }] : []), ...d.alternatives.filter((a) => a.cause !== d.cause)];
  return {
    ...report,
    outcome: 'undecided',
    diagnosis: {
      cause: 'undecided',
      step: null,
      confidence: 'low',
      summary: `No verdict: "${d.cause}" rests on how long something took, and ${why}, on the first look and on a second one at lower concurrency. The delay may be the bastion's own, so no cause is named, and this is not "healthy".`,
      next: [`check ${report.target.host} again when the bastion is less busy (\`sshcheck ${report.target.host}\`), or the fleet with a lower --concurrency`, ...d.next.slice(0, 2)],
      alternatives,
      stoppedBy: 'withheld',
      stopDetail: `${WITHHELD}: ${why}`,
      pending: [],
    },
  };
}

export async function runFleet(targets: readonly Target[], options: FleetOptions): Promise<FleetResult> {
  // Every run in flight listens on the caller's signal: up to MAX_CONCURRENCY of them plus
  // the second looks, more than the default of 10 before Node warns of a leak on stderr.
  if (options.signal) setMaxListeners(MAX_CONCURRENCY + RECHECK_CONCURRENCY + 16, options.signal);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const most = Math.max(1, Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, MAX_CONCURRENCY, targets.length));
  const engine = options.engine ?? run;
  const monitor = options.load === false ? undefined : (options.load ?? startLoadMonitor());
  const ownMonitor = options.load === undefined ? monitor : undefined;
  const limits = options.loadLimits ?? DEFAULT_LOAD_LIMITS;
  // Without a load source the fleet runs at its ceiling, as it always did, and judges nothing.
  let pace: ConcurrencyState = monitor ? initialConcurrency(most) : { limit: most, min: most, max: most, changedAtMs: -Infinity };
  const keep = options.keepReports !== false;
  const reports: Array<Report | undefined> = new Array<Report | undefined>(targets.length);
  // What the summary needs of a report that is not kept.
  const causes: Array<Cause | undefined> = new Array<Cause | undefined>(targets.length);
  let withheldCount = 0;
  const failures: FleetFailure[] = [];
  const failedIndexes: number[] = [];
  const rechecks: FleetRecheck[] = [];
  const firstLook = new Map<number, { report: Report; load: LoadDuring }>();
  const waiting: Finished[] = [];
  const again: number[] = [];
  const attempts = new Uint8Array(targets.length);
  let next = 0;
  let inFlight = 0;
  let peak = 0;
  let saturatedSamples = 0;
  let recheckPhaseAt: number | undefined;
  let lastLevel: LoadLevel = 'calm';
  let retry: NodeJS.Timeout | undefined;

  const accept = (index: number, report: Report): void => {
    if (keep) reports[index] = report;
    causes[index] = report.diagnosis.cause;
    if (report.diagnosis.stopDetail?.startsWith(WITHHELD) === true) withheldCount += 1;
    const first = firstLook.get(index);
    if (first) rechecks.push({ target: hostLabel(targets[index] as Target), first: first.report.diagnosis.cause, why: saturationWords(first.load), final: report.diagnosis.cause });
    options.onReport?.(report, index);
  };
  const judge = (f: Finished, force: boolean): boolean => {
    if (!monitor) {
      accept(f.index, f.report);
      return true;
    }
    if (!force && !covered(monitor.samples(), f.endMs)) return false;
    const load = loadDuring(monitor.samples(), f.startMs, f.endMs, limits);
    const verdict = judgeFinding(f.report, load, f.attempt);
    // A fleet being stopped takes no second looks: what would have been one is withheld.
    if (verdict === 'keep') accept(f.index, f.report);
    else if (verdict === 'recheck' && options.signal?.aborted !== true) {
      firstLook.set(f.index, { report: f.report, load });
      again.push(f.index);
    } else accept(f.index, withheldReport(f.report, load));
    return true;
  };
  const judgeWaiting = (force: boolean): void => {
    for (let i = 0; i < waiting.length; ) {
      if (judge(waiting[i] as Finished, force)) waiting.splice(i, 1);
      else i += 1;
    }
  };

  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const runOne = async (index: number): Promise<void> => {
    const target = targets[index] as Target;
    const attempt = attempts[index] ?? 0;
    attempts[index] = attempt + 1;
    const startMs = performance.now();
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
      const f: Finished = { index, report, startMs, endMs: performance.now(), attempt };
      // A verdict that rests on evidence needs no load figures; a timing one waits for the window that covers its end.
      if (!monitor || !TIMING_CAUSES.has(report.diagnosis.cause) || !judge(f, false)) {
        if (monitor && TIMING_CAUSES.has(report.diagnosis.cause)) waiting.push(f);
        else accept(index, report);
      }
    } catch (err) {
      const failure = { target: hostLabel(target), error: errorMessage(err) };
      failures.push(failure);
      failedIndexes.push(index);
      options.onFailure?.(failure, index);
    } finally {
      inFlight -= 1;
      pump();
    }
  };
  const start = (index: number): void => {
    inFlight += 1;
    peak = Math.max(peak, inFlight);
    void runOne(index);
  };
  function pump(): void {
    const stopped = options.signal?.aborted === true;
    while (!stopped) {
      if (next < targets.length) {
        if (inFlight >= pace.limit) break;
        start(next++);
        continue;
      }
      if (again.length === 0) break;
      // Second looks go at lower concurrency, and only once the bastion has left saturation (or patience ran out).
      recheckPhaseAt ??= performance.now();
      const patient = performance.now() - recheckPhaseAt < RECHECK_PATIENCE_MS;
      if (inFlight >= Math.max(1, Math.min(RECHECK_CONCURRENCY, Math.floor(pace.limit / 2))) || (lastLevel === 'saturated' && patient)) break;
      start(again.shift() as number);
    }
    if (inFlight > 0) return;
    if (waiting.length > 0) {
      // Nothing else runs: sample now rather than wait for the timer, then judge what waits.
      monitor?.sampleNow();
      judgeWaiting(true);
      if (again.length > 0 && !stopped) {
        pump();
        return;
      }
    }
    if ((next >= targets.length || stopped) && (again.length === 0 || stopped) && waiting.length === 0) finish();
    // Second looks wait for calm with nothing in flight: the load timer does not hold the process open, this one does.
    else if (again.length > 0 && !stopped) retry ??= setTimeout(() => {
      retry = undefined;
      pump();
    }, SAMPLE_MS);
  }
  const unsubscribe = monitor?.onSample((sample) => {
    lastLevel = loadLevel(sample, limits);
    if (lastLevel === 'saturated') saturatedSamples += 1;
    // Grow only a limit that is in use: an idle tail is no sign that more would fit.
    pace = nextConcurrency(pace, lastLevel === 'calm' && inFlight < pace.limit ? 'busy' : lastLevel, sample.atMs);
    judgeWaiting(false);
    pump();
  });
  const onAbort = (): void => pump();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    pump();
    await done;
  } finally {
    unsubscribe?.();
    ownMonitor?.stop();
    if (retry) clearTimeout(retry);
    options.signal?.removeEventListener('abort', onAbort);
  }
  // A stopped fleet takes no second looks: the verdicts that waited for one are withheld.
  for (const index of again.splice(0)) {
    const first = firstLook.get(index);
    if (first && causes[index] === undefined) accept(index, withheldReport(first.report, first.load));
  }
  const doneReports = reports.filter((r): r is Report => r !== undefined);
  const failedAt = new Set(failedIndexes);
  const notStarted = targets.flatMap((t, i) => (causes[i] === undefined && !failedAt.has(i) ? [hostLabel(t)] : []));
  const samples = monitor?.samples() ?? [];
  const summary = summarize(causes.flatMap((cause) => (cause !== undefined ? [{ diagnosis: { cause } }] : [])), failures.length, performance.now() - started, most, notStarted.length);
  return {
    schema: FLEET_SCHEMA,
    vantage: { name: options.vantage },
    startedAt,
    summary: {
      ...summary,
      ...(monitor
        ? { load: { peakConcurrency: peak, finalConcurrency: pace.limit, samples: samples.length, saturatedSamples, lagMaxMs: Math.round(Math.max(0, ...samples.map((s) => s.lagMaxMs))), rechecked: rechecks.length, withheld: withheldCount } }
        : {}),
    },
    reports: doneReports,
    failures,
    notStarted,
    ...(monitor ? { rechecks } : {}),
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
