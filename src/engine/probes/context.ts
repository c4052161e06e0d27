// What every probe receives from the run. Probes do bounded I/O only: they must finish by
// `deadlineMs` on the run's clock and stop at once (destroying sockets, killing children)
// when `signal` aborts.

export interface ProbeContext {
  /** Milliseconds since the run started (monotonic). */
  now(): number;
  /** Aborted when the run no longer needs the probe (diagnosis settled, budget spent). */
  signal: AbortSignal;
  /** Run-relative time by which the probe must have finished. */
  deadlineMs: number;
}

/** Receives a fresh snapshot each time a long probe learns something. */
export type Updater<T> = (snapshot: T) => void;

/** Milliseconds left before the probe's deadline, never negative. */
export function remainingMs(ctx: ProbeContext): number {
  return Math.max(0, ctx.deadlineMs - ctx.now());
}

/** A clock for tests and for code that runs outside an engine run. */
export function startClock(): () => number {
  const origin = performance.now();
  return () => performance.now() - origin;
}
