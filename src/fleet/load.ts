// How much load the bastion sustains during a fleet check, and what that means for the
// fleet's concurrency and for its verdicts. Pure: samples in, decisions out (load-monitor.ts
// takes the samples). A fleet that runs more checks than the bastion can serve delays its
// own timers and starves the ssh children and, in a lab, the targets themselves: a check
// then measures the bastion, not the host. So the fleet grows only while the bastion is calm,
// halves when it is saturated, and never reports a verdict that rests on how long something
// took when the bastion was saturated while it was being timed.
import type { Cause, Report } from '../engine/report.js';

/** One sampling window of the bastion's load. */
export interface LoadSample {
  /** End of the window (performance.now() milliseconds). */
  atMs: number;
  /** Length of the window. */
  windowMs: number;
  /** Event-loop delay in the window (perf_hooks.monitorEventLoopDelay): the 99th percentile and the worst. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** This process's CPU time in the window, in cores (1 = one core busy all the time). */
  cpuCores: number;
  /** Runnable tasks on the machine per CPU (procs_running / CPUs), when the OS tells. */
  runQueuePerCpu?: number;
}

export type LoadLevel = 'calm' | 'busy' | 'saturated';

/**
 * Where the levels begin. Saturation is what can move a timing verdict: the engine's shortest
 * timing thresholds keep 200 ms or more of margin (a silent drop is called after 1.2 s, one
 * SYN retransmission after 1 s), so a timer 150 ms late, or a run queue so long that a task
 * that needs a few milliseconds of CPU waits a large part of a second for them, leaves no
 * margin. Calm is room to grow: timers on time, CPU to spare.
 */
export interface LoadLimits {
  lagSaturatedMs: number;
  runQueueSaturated: number;
  lagCalmMs: number;
  runQueueCalm: number;
  /** This process using this much of a core is not calm: more checks would only queue. */
  cpuCalmCores: number;
}

export const DEFAULT_LOAD_LIMITS: Readonly<LoadLimits> = {
  lagSaturatedMs: 150,
  runQueueSaturated: 12,
  lagCalmMs: 40,
  runQueueCalm: 4,
  cpuCalmCores: 0.8,
};

export function loadLevel(sample: LoadSample, limits: LoadLimits = DEFAULT_LOAD_LIMITS): LoadLevel {
  const rq = sample.runQueuePerCpu;
  if (sample.lagMaxMs >= limits.lagSaturatedMs || (rq !== undefined && rq >= limits.runQueueSaturated)) return 'saturated';
  if (sample.lagP99Ms < limits.lagCalmMs && (rq === undefined || rq < limits.runQueueCalm) && sample.cpuCores < limits.cpuCalmCores) return 'calm';
  return 'busy';
}

/** The fleet's concurrency: between min and max, changed at most once per cooldown. */
export interface ConcurrencyState {
  limit: number;
  min: number;
  max: number;
  /** When the limit last changed (performance.now() ms); -Infinity before the first change. */
  changedAtMs: number;
}

/** Checks in flight take this long to feel a change: judging sooner would change it twice for one cause. */
export const COOLDOWN_MS = 500;
/** The first limit: enough to fill a LAN quickly, little enough that a weak bastion is not swamped before its first sample. */
export const START_LIMIT = 8;

export function initialConcurrency(max: number, min = 1): ConcurrencyState {
  const hi = Math.max(1, Math.floor(max));
  const lo = Math.max(1, Math.min(Math.floor(min), hi));
  return { limit: Math.max(lo, Math.min(START_LIMIT, hi)), min: lo, max: hi, changedAtMs: -Infinity };
}

/**
 * Additive increase, multiplicative decrease (as TCP's congestion control): a calm bastion
 * gets a quarter more checks (at least one), a saturated one half as many; a busy one keeps
 * what it has. Pure.
 */
export function nextConcurrency(state: ConcurrencyState, level: LoadLevel, nowMs: number): ConcurrencyState {
  if (level === 'busy' || nowMs - state.changedAtMs < COOLDOWN_MS) return state;
  const limit = level === 'saturated' ? Math.max(state.min, Math.floor(state.limit / 2)) : Math.min(state.max, state.limit + Math.max(1, Math.floor(state.limit / 4)));
  return limit === state.limit ? state : { ...state, limit, changedAtMs: nowMs };
}

/** The load while one check ran: its worst sampling window. */
export interface LoadDuring {
  samples: number;
  lagMaxMs: number;
  /** This process's timers ran late enough to move a verdict (lagMaxMs at or above the saturation limit). */
  timersLate: boolean;
  runQueuePerCpu?: number;
  cpuCores: number;
  level: LoadLevel;
}

const RANK: Readonly<Record<LoadLevel, number>> = { calm: 0, busy: 1, saturated: 2 };

/**
 * The load during [fromMs, toMs]: every window that overlaps it. `samples` 0 means no window
 * covers it yet (judge it after the next sample).
 */
export function loadDuring(samples: readonly LoadSample[], fromMs: number, toMs: number, limits: LoadLimits = DEFAULT_LOAD_LIMITS): LoadDuring {
  let count = 0;
  let lagMaxMs = 0;
  let cpuCores = 0;
  let rq: number | undefined;
  let level: LoadLevel = 'calm';
  for (const s of samples) {
    if (s.atMs <= fromMs || s.atMs - s.windowMs >= toMs) continue;
    count += 1;
    lagMaxMs = Math.max(lagMaxMs, s.lagMaxMs);
    cpuCores = Math.max(cpuCores, s.cpuCores);
    if (s.runQueuePerCpu !== undefined) rq = Math.max(rq ?? 0, s.runQueuePerCpu);
    const l = loadLevel(s, limits);
    if (RANK[l] > RANK[level]) level = l;
  }
  return { samples: count, lagMaxMs, timersLate: lagMaxMs >= limits.lagSaturatedMs, cpuCores, level, ...(rq !== undefined ? { runQueuePerCpu: rq } : {}) };
}

/** True when some window covers the instant `toMs` (a check that ended then can be judged). */
export function covered(samples: readonly LoadSample[], toMs: number): boolean {
  const last = samples.at(-1);
  return last !== undefined && last.atMs >= toMs;
}

/**
 * Causes that rest on how long something took (or on nothing arriving in time): a slow
 * bastion alone can produce them. The others rest on what arrived (a reset, an ICMP error,
 * an answer, a banner that is not SSH, a key) and stand however slowly it was seen.
 */
export const TIMING_CAUSES: ReadonlySet<Cause> = new Set<Cause>(['port-filtered', 'no-response', 'banner-timeout', 'kex-stall', 'auth-slow', 'server-overloaded', 'dns-timeout', 'undecided']);

/**
 * Timing causes whose other side is the target's kernel (a SYN answered or not, an echo
 * reply): a long run queue does not delay them, only this process's own late timers can
 * move them. The rest wait on processes (sshd, a resolver, ssh), which a saturated machine
 * delays as well: in the lab, where the targets share the bastion's CPUs, that is the load.
 */
const KERNEL_TIMED: ReadonlySet<Cause> = new Set<Cause>(['port-filtered', 'no-response']);

export type FindingJudgement = 'keep' | 'recheck' | 'withhold';

/**
 * What to do with a finished check: keep it; check the host again (the verdict rests on
 * timing and the bastion was saturated while it was timed); or, when that was already the
 * second look, withhold the verdict (the host is reported undecided, with the reason).
 * An undecided run stopped by the fleet itself (a signal, an abort) is kept as it is.
 */
export function judgeFinding(report: Pick<Report, 'diagnosis'>, load: LoadDuring, attempt: number): FindingJudgement {
  const d = report.diagnosis;
  if (!TIMING_CAUSES.has(d.cause)) return 'keep';
  if (d.cause === 'undecided' && d.stoppedBy !== 'budget') return 'keep';
  const doubtful = KERNEL_TIMED.has(d.cause) ? load.timersLate : load.level === 'saturated';
  if (!doubtful) return 'keep';
  return attempt === 0 ? 'recheck' : 'withhold';
}

/** The reason a withheld verdict gives, in words (load figures rounded). */
export function saturationWords(load: LoadDuring): string {
  const parts = [`event-loop delay up to ${Math.round(load.lagMaxMs)} ms`];
  if (load.runQueuePerCpu !== undefined) parts.push(`${load.runQueuePerCpu.toFixed(1)} runnable tasks per CPU`);
  return `the bastion was saturated while it was timed (${parts.join(', ')})`;
}
