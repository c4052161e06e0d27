// A new run's probes wait for a burst of requests to drain. On a small bastion the probes
// (ssh -vvv, ping… forked by the engine process) and the HTTP thread share the same cores:
// during a burst of 300 requests on two cores, four runs' engine and probes took 170-340 ms
// of CPU, the HTTP thread waited 90-190 ms for a core, and the burst's last answers left
// 100-250 ms later than without the runs (bench/service-burst.ts, perf sched). The admitted
// request's answer (202) is not held, only its probes, and not at a lower priority: a
// probe's timings under load are evidence (auth delays, load), so they run as they would at
// any other time, a moment later. The engine measures a run from when its probes start, so
// the hold is in no timing of the report.
import type { Runner } from './runs.js';

export interface QuietStartOptions {
  /** The burst has drained when no request arrived for this long. */
  quietMs: number;
  /** A run is never held longer than this, however steady the requests. */
  maxHoldMs: number;
  /** A monotonic clock in ms (tests). */
  now?: () => number;
}

/**
 * 25 ms: a burst's requests are handled back to back, a turn of the loop at a time, so a
 * burst leaves no gap that long. 500 ms: a burst of 300 took 140-250 ms to answer on two
 * cores, idle to loaded, and up to 490 ms when something else slowed it (a profiler): the
 * slower the burst, the more the probes would cost it. Small against a check's budget (15 s).
 */
export const DEFAULT_QUIET_START: QuietStartOptions = { quietMs: 25, maxHoldMs: 500 };

interface Waiter {
  until: number;
  release: () => void;
}

export class QuietStart {
  private last = -Infinity;
  private readonly waiters = new Set<Waiter>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: QuietStartOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** A request arrived. Called for each request of a burst: only a clock read, no timer. */
  arrival(): void {
    this.last = this.now();
  }

  /** How many runs are held now. */
  get held(): number {
    return this.waiters.size;
  }

  /**
   * Resolves once no request arrived for quietMs, or maxHoldMs after this call, whichever
   * comes first; at once when it is already quiet, or when `signal` is aborted (a stopped
   * run ends through the engine, which says that it was stopped).
   */
  wait(signal?: AbortSignal): Promise<void> {
    const now = this.now();
    if (signal?.aborted || now - this.last >= this.options.quietMs) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = (): void => waiter.release();
      const waiter: Waiter = {
        until: now + this.options.maxHoldMs,
        release: () => {
          if (!this.waiters.delete(waiter)) return;
          signal?.removeEventListener('abort', onAbort);
          // The last one out stops the timer: a stopping service does not wait for it.
          if (this.waiters.size === 0 && this.timer !== undefined) {
            clearTimeout(this.timer);
            this.timer = undefined;
          }
          resolve();
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.arm();
    });
  }

  /** One timer for all held runs, set for the earliest moment one may be released; arrivals do not touch it, it re-arms when it fires early. */
  private arm(): void {
    if (this.timer !== undefined || this.waiters.size === 0) return;
    let next = this.last + this.options.quietMs;
    for (const w of this.waiters) next = Math.min(next, w.until);
    this.timer = setTimeout(() => this.check(), Math.max(1, Math.ceil(next - this.now())));
  }

  private check(): void {
    this.timer = undefined;
    const now = this.now();
    const quiet = now - this.last >= this.options.quietMs;
    for (const w of [...this.waiters]) if (quiet || now >= w.until) w.release();
    this.arm();
  }
}

/** The runner, its start held by `quiet` (see QuietStart.wait). */
export function heldUntilQuiet(runner: Runner, quiet: QuietStart): Runner {
  return async (target, options) => {
    await quiet.wait(options.signal);
    return runner(target, options);
  };
}
