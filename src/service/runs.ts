// The runs of one engine service: single flight per target (concurrent requests for the
// same target join one run), short reuse of a finished result (with its age), a bound on
// runs in flight, and every run's events kept from the start so that a late subscriber or
// a resumed stream gets all of them. Finished runs stay addressable for a while, bounded
// in count, then are forgotten.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { isSshcheckError, errorMessage } from '../errors.js';
import type { ProgressEvent, Report } from '../engine/report.js';
import type { Target } from '../target.js';
import type { ServiceMetrics } from './metrics.js';

export type Runner = (target: Target, options: { onEvent: (event: ProgressEvent) => void; signal: AbortSignal; from?: string }) => Promise<Report>;

export type RunState = 'running' | 'finished' | 'failed';

export interface RunListener {
  /** seq is the event's 1-based position in the run: its SSE id. */
  event(seq: number, event: ProgressEvent): void;
  end(run: ServiceRun): void;
}

export interface ServiceRun {
  readonly id: string;
  readonly key: string;
  readonly target: Target;
  /** The requester's address checked against the target's bans, when given. */
  readonly from?: string;
  state: RunState;
  readonly events: ProgressEvent[];
  /** Epoch milliseconds. */
  readonly startedAt: number;
  finishedAt?: number;
  report?: Report;
  error?: string;
  /** The error's code, when it had one (E_POLICY: the target policy refused an address). */
  errorCode?: string;
  readonly listeners: Set<RunListener>;
  readonly controller: AbortController;
  done: Promise<void>;
}

export interface RunRegistryOptions {
  /** Runs in flight at most; a request for a new run beyond it is refused (429). */
  maxRuns: number;
  /** A finished result this young is reused for the same target (0: never). */
  reuseMs: number;
  /** How long a finished run stays addressable (GET, events). */
  retainMs: number;
  /** At most this many finished runs are kept. */
  maxRetained: number;
  /** What Retry-After says when the service is full. */
  retryAfterS: number;
  now?: () => number;
}

export const DEFAULT_REGISTRY_OPTIONS: RunRegistryOptions = { maxRuns: 4, reuseMs: 5_000, retainMs: 10 * 60_000, maxRetained: 500, retryAfterS: 2 };

export class BusyError extends Error {
  constructor(
    readonly running: number,
    readonly retryAfterS: number,
  ) {
    super(`${running} checks are running, the most this service runs at once: try again in ${retryAfterS} s`);
    this.name = 'BusyError';
  }
}

export interface StartResult {
  run: ServiceRun;
  outcome: 'started' | 'joined' | 'reused';
  /** For a reused result: how long ago it finished. */
  ageMs?: number;
}

/** Same key as the chat layer's single flight: user, host, port (and the requester's address). */
export function runKey(target: Target, from?: string): string {
  return `${target.user}@${target.host}:${target.port}${from !== undefined ? ` from ${from}` : ''}`;
}

export class RunRegistry {
  private readonly runs = new Map<string, ServiceRun>();
  private readonly running = new Map<string, ServiceRun>();
  /** Keys admitted and waiting for their audit row, each holding a slot (reserve()). */
  private readonly reserved = new Map<string, number>();
  /** The newest finished run of each key, for reuse. */
  private readonly latest = new Map<string, ServiceRun>();
  private readonly now: () => number;
  private refusal: BusyError | undefined;

  constructor(
    private readonly runner: Runner,
    private readonly options: RunRegistryOptions,
    private readonly metrics: ServiceMetrics,
    private readonly logger: Logger,
  ) {
    this.now = options.now ?? (() => Date.now());
  }

  get inFlight(): number {
    return this.running.size;
  }

  get(id: string): ServiceRun | undefined {
    return this.runs.get(id);
  }

  /**
   * The BusyError start() would throw now (a new run while full), without starting anything.
   * Slots reserved by admissions still writing their audit row count as taken.
   */
  wouldRefuse(target: Target, from?: string): BusyError | undefined {
    const key = runKey(target, from);
    if (this.reusable(key) || this.running.has(key) || this.reserved.has(key)) return undefined;
    const taken = this.running.size + this.reserved.size;
    if (taken < this.options.maxRuns) return undefined;
    // One refusal per number of slots taken, given to every request refused meanwhile: it is
    // only read (its message, Retry-After), and capturing a new Error's stack for each 429 was
    // 4 % of the service's CPU in a burst of 300 (bench/service-burst.ts --cpu-prof).
    if (this.refusal?.running !== taken) this.refusal = new BusyError(taken, this.options.retryAfterS);
    return this.refusal;
  }

  /**
   * Admits a request before its asynchronous steps (the audit row): refuses at once when
   * full (slots being admitted count), else holds a slot for its key until `release`, which
   * the caller calls just before start(). Without it every request of a burst passed the
   * check while the first ones waited for the store, and the rest were refused only after
   * their own store round trip (seconds, under a burst of 300).
   */
  reserve(target: Target, from?: string): { busy: BusyError } | { release: () => void } {
    const busy = this.wouldRefuse(target, from);
    if (busy) return { busy };
    const key = runKey(target, from);
    this.reserved.set(key, (this.reserved.get(key) ?? 0) + 1);
    let held = true;
    return {
      release: () => {
        if (!held) return;
        held = false;
        const left = (this.reserved.get(key) ?? 1) - 1;
        if (left > 0) this.reserved.set(key, left);
        else this.reserved.delete(key);
      },
    };
  }

  /** Starts a run for the target, joins the one in flight, or reuses a fresh result. Throws BusyError when full. */
  start(target: Target, from?: string): StartResult {
    this.prune();
    const key = runKey(target, from);
    const recent = this.reusable(key);
    if (recent?.finishedAt !== undefined) {
      this.metrics.checks.inc('reused');
      return { run: recent, outcome: 'reused', ageMs: this.now() - recent.finishedAt };
    }
    const inFlight = this.running.get(key);
    if (inFlight) {
      this.metrics.checks.inc('joined');
      return { run: inFlight, outcome: 'joined' };
    }
    if (this.running.size >= this.options.maxRuns) throw new BusyError(this.running.size, this.options.retryAfterS);
    const run: ServiceRun = { id: randomUUID(), key, target, ...(from !== undefined ? { from } : {}), state: 'running', events: [], startedAt: this.now(), listeners: new Set(), controller: new AbortController(), done: Promise.resolve() };
    this.runs.set(run.id, run);
    this.running.set(key, run);
    this.metrics.checks.inc('started');
    this.metrics.inFlight = this.running.size;
    this.logger.info('run started', { check: run.id, target: key });
    run.done = this.execute(run);
    return { run, outcome: 'started' };
  }

  /** The finished run of this key young enough to reuse, if any. */
  private reusable(key: string): ServiceRun | undefined {
    const recent = this.latest.get(key);
    return this.options.reuseMs > 0 && recent?.state === 'finished' && recent.finishedAt !== undefined && this.now() - recent.finishedAt <= this.options.reuseMs ? recent : undefined;
  }

  private async execute(run: ServiceRun): Promise<void> {
    try {
      const report = await this.runner(run.target, {
        ...(run.from !== undefined ? { from: run.from } : {}),
        signal: run.controller.signal,
        onEvent: (event) => {
          run.events.push(event);
          const seq = run.events.length;
          for (const l of run.listeners) l.event(seq, event);
        },
      });
      run.report = report;
      run.state = 'finished';
      this.metrics.runFinished(report.diagnosis.cause, report.durationMs, report.diagnosedMs);
      this.logger.info('run finished', { check: run.id, target: run.key, cause: report.diagnosis.cause, diagnosedMs: report.diagnosedMs, durationMs: report.durationMs });
    } catch (err) {
      run.state = 'failed';
      run.error = errorMessage(err);
      if (isSshcheckError(err)) run.errorCode = err.code;
      this.metrics.runFinished(run.errorCode === 'E_POLICY' ? 'policy-refused' : 'engine-error', this.now() - run.startedAt);
      this.logger.error('run failed', { check: run.id, target: run.key, error: run.error });
    } finally {
      run.finishedAt = this.now();
      this.running.delete(run.key);
      if (run.state === 'finished') this.latest.set(run.key, run);
      this.metrics.inFlight = this.running.size;
      for (const l of run.listeners) l.end(run);
      run.listeners.clear();
    }
  }

  /**
   * Replays the events after `after` and follows the run until it ends. Returns the
   * unsubscribe function. Replay and live events cannot interleave wrongly: both happen
   * on this thread, the replay synchronously before the listener is added.
   */
  subscribe(run: ServiceRun, after: number, listener: RunListener): () => void {
    for (let i = after; i < run.events.length; i++) listener.event(i + 1, run.events[i] as ProgressEvent);
    if (run.state !== 'running') {
      listener.end(run);
      return () => undefined;
    }
    run.listeners.add(listener);
    return () => run.listeners.delete(listener);
  }

  /** Stops every run (shutdown) and waits for them to end. */
  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    for (const run of all) run.controller.abort();
    await Promise.allSettled(all.map((r) => r.done));
  }

  private prune(): void {
    const cutoff = this.now() - this.options.retainMs;
    const finished = [...this.runs.values()].filter((r) => r.state !== 'running');
    const excess = finished.length - this.options.maxRetained;
    finished.forEach((run, i) => {
      // Map order is insertion order: the first ones are the oldest.
      if (i < excess || (run.finishedAt ?? 0) < cutoff) {
        this.runs.delete(run.id);
        if (this.latest.get(run.key) === run) this.latest.delete(run.key);
      }
    });
  }
}
