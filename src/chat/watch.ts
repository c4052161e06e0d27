// Watching a host until it changes (issue 16), the part every front end shares: when the next
// check is due, what a new report means for the watch (a change of the diagnosis, the same
// state, or no new evidence), when a watch stops by itself, which new watch the caps refuse,
// and the words of the messages. Pure: state and clock in, state and text out; the runner
// (watch-runner.ts) and the CLI (src/cli/watch.ts) do the I/O.
import type { Cause, Report } from '../engine/report.js';

export interface WatchLimits {
  /** When the command names no interval. */
  defaultEveryMs: number;
  /** The shortest interval accepted: a shorter one is refused, never silently raised. */
  minEveryMs: number;
  /** When the command names no duration. */
  defaultForMs: number;
  /** The longest duration accepted. */
  maxForMs: number;
  /** Watches running at once in one channel (chat). */
  perChannel: number;
  /** Watches running at once through one bastion (chat). */
  perBastion: number;
}

export const WATCH_LIMITS: Readonly<WatchLimits> = {
  defaultEveryMs: 60_000,
  minEveryMs: 30_000,
  defaultForMs: 3_600_000,
  maxForMs: 8 * 3_600_000,
  perChannel: 5,
  perBastion: 20,
};

/** A cause with the evidence behind it, as the watch keeps it. */
export interface WatchedState {
  cause: Cause;
  /** Since when the target has been in this state: the first report that showed it. */
  sinceMs: number;
  /** The newest report that showed it. */
  reportId: string;
  summary: string;
}

export interface WatchProgress {
  startedMs: number;
  endsMs: number;
  everyMs: number;
  /** The settled state, once a check has decided one. */
  current?: WatchedState;
  /** When the last check ended (the next is due `everyMs` later). */
  lastCheckMs?: number;
  /** What the last check said when it did not change the state: reused, undecided, skipped. */
  lastNote?: string;
  checks: number;
  changes: number;
}

export interface WatchChange {
  from?: WatchedState;
  to: WatchedState;
  atMs: number;
}

export type Observation =
  /** The first settled state of the watch: the parent shows it, nothing is posted. */
  | { kind: 'first'; progress: WatchProgress }
  /** The diagnosis changed: one message in the thread. */
  | { kind: 'change'; progress: WatchProgress; change: WatchChange }
  /** The same cause again, or nothing new (an undecided run, a result already seen). */
  | { kind: 'same'; progress: WatchProgress };

export function startProgress(nowMs: number, everyMs: number, forMs: number): WatchProgress {
  return { startedMs: nowMs, endsMs: nowMs + forMs, everyMs, checks: 0, changes: 0 };
}

/** When the next check is due: at once for the first, then `everyMs` after the last one ended. */
export function nextDueMs(progress: WatchProgress, nowMs: number): number {
  if (progress.lastCheckMs === undefined) return nowMs;
  return Math.max(nowMs, progress.lastCheckMs + progress.everyMs);
}

/** True once the watch has run its duration: it stops by itself. */
export function expired(progress: WatchProgress, nowMs: number): boolean {
  return nowMs >= progress.endsMs;
}

/** A report's age, in words, when the engine gave an earlier result instead of connecting. */
function reusedNote(report: Report): string | undefined {
  return report.reused ? `the last check reused a result ${spanText(report.reused.ageMs)} old instead of connecting (${report.reused.reason})` : undefined;
}

/**
 * What a finished check means for the watch. An undecided run is no evidence (it stopped before
 * its verdict); a reused result already seen adds nothing; a reused result of another run counts
 * as evidence from when that run started. The first settled cause starts the state.
 */
export function observe(progress: WatchProgress, report: Report, nowMs: number, sharedAgeMs?: number): Observation {
  const base: WatchProgress = { ...progress, lastCheckMs: nowMs, checks: progress.checks + 1 };
  delete base.lastNote;
  const note = reusedNote(report) ?? (sharedAgeMs !== undefined ? `the last check reused the result of the same check ${spanText(sharedAgeMs)} old (asked again within seconds)` : undefined);
  if (note !== undefined) base.lastNote = note;
  const cause = report.diagnosis.cause;
  if (cause === 'undecided') {
    return { kind: 'same', progress: { ...base, lastNote: `the last check ended before its verdict (${report.diagnosis.stoppedBy ?? 'stopped'}): no new evidence` } };
  }
  const seenAt = Date.parse(report.startedAt);
  const atMs = Number.isFinite(seenAt) ? Math.min(seenAt, nowMs) : nowMs;
  const current = progress.current;
  // The same report again (a spent connection budget, a result shared within seconds): nothing new.
  if (current !== undefined && report.id === current.reportId) return { kind: 'same', progress: base };
  const state: WatchedState = { cause, sinceMs: atMs, reportId: report.id, summary: report.diagnosis.summary };
  if (current === undefined) return { kind: 'first', progress: { ...base, current: state } };
  // An older result than the one the state rests on cannot overturn it.
  if (atMs < current.sinceMs) return { kind: 'same', progress: base };
  if (current.cause === cause) return { kind: 'same', progress: { ...base, current: { ...current, reportId: report.id, summary: report.diagnosis.summary } } };
  const change: WatchChange = { from: current, to: state, atMs };
  return { kind: 'change', progress: { ...base, current: state, changes: progress.changes + 1 }, change };
}

/** A check that could not run this time (the gate refused it for now): noted, the watch goes on. */
export function skipped(progress: WatchProgress, nowMs: number, why: string): WatchProgress {
  return { ...progress, lastCheckMs: nowMs, lastNote: `a check was skipped: ${why}` };
}

/** "45 s", "9 min", "2 h 5 min": spans of a watch, rounded as a person says them. */
export function spanText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  const rest = min % 60;
  return rest === 0 ? `${h} h` : `${h} h ${rest} min`;
}

/** How the front end shows a clock time: "10:14 UTC" in chat, local time on a terminal. */
export type ClockText = (ms: number) => string;

export const utcClock: ClockText = (ms) => `${new Date(ms).toISOString().slice(11, 16)} UTC`;

/** Cause codes are ours (report.ts), safe to show as code on every platform. */
export function causeText(cause: string): string {
  return `\`${cause}\``;
}

/** How a cause code is marked: as code in chat (causeText), bare on a terminal. */
export type CauseMark = (cause: string) => string;

/**
 * The thread message for a change: "recovered at 10:14 UTC after 9 min `port-filtered`",
 * "now `banned` (since 10:05 UTC; was `healthy` for 12 min)".
 */
export function changeText(change: WatchChange, clock: ClockText, mark: CauseMark = causeText): string {
  const { from, to } = change;
  const lasted = from !== undefined ? spanText(change.atMs - from.sinceMs) : undefined;
  if (to.cause === 'healthy') return from !== undefined ? `recovered at ${clock(change.atMs)} after ${lasted} ${mark(from.cause)}` : `healthy at ${clock(change.atMs)}`;
  const was = from !== undefined ? `; was ${mark(from.cause)} for ${lasted}` : '';
  return `now ${mark(to.cause)} (since ${clock(change.atMs)}${was})`;
}

/** "`port-filtered` since 10:05 UTC (9 min)": the parent's current state. */
export function stateText(progress: WatchProgress, nowMs: number, clock: ClockText, mark: CauseMark = causeText): string {
  const current = progress.current;
  if (current === undefined) return 'no verdict yet';
  return `${mark(current.cause)} since ${clock(current.sinceMs)} (${spanText(nowMs - current.sinceMs)})`;
}

export type StopReason =
  /** Its duration ended. */
  | { kind: 'expired' }
  /** /sshcheck unwatch, or the Stop button: who. */
  | { kind: 'stopped'; by: string }
  /** The gate refused a re-check for good (permission or policy changed). */
  | { kind: 'refused'; message: string }
  /** The bot restarted and could not take the watch up again. */
  | { kind: 'lost'; why: string }
  /** The process is shutting down; the watch is resumed on the next start. */
  | { kind: 'shutdown' };

/** The thread message when a watch ends. */
export function stopText(reason: StopReason, progress: WatchProgress, nowMs: number, clock: ClockText, mark: CauseMark = causeText): string {
  const tally = `after ${progress.checks} ${progress.checks === 1 ? 'check' : 'checks'} and ${progress.changes} ${progress.changes === 1 ? 'change' : 'changes'}`;
  const last = progress.current !== undefined ? `; last state ${stateText(progress, nowMs, clock, mark)}` : '; no verdict yet';
  switch (reason.kind) {
    case 'expired':
      return `Watch ended at ${clock(nowMs)}: it ran its ${spanText(progress.endsMs - progress.startedMs)} ${tally}${last}.`;
    case 'stopped':
      return `Watch stopped at ${clock(nowMs)} by ${reason.by} ${tally}${last}.`;
    case 'refused':
      return `Watch stopped at ${clock(nowMs)}: a re-check was refused (${reason.message}) ${tally}${last}.`;
    case 'lost':
      return `Watch stopped: ${reason.why} ${tally}${last}.`;
    case 'shutdown':
      return `Watch paused at ${clock(nowMs)}: the bot is restarting; it resumes when the bot is back.`;
  }
}

/** A watch that is running, as the caps count it. */
export interface ActiveWatch {
  channel: string;
  bastion: string;
  /** user@host:port (and from) as targetKey() writes it. */
  key: string;
}

/** Refuses a new watch that would exceed a cap or repeat a running one; undefined admits it. */
export function watchRefusal(active: readonly ActiveWatch[], wanted: ActiveWatch, limits: WatchLimits): string | undefined {
  if (active.some((w) => w.channel === wanted.channel && w.key === wanted.key)) return `${wanted.key} is already watched in this channel: /sshcheck unwatch it first, or let it run.`;
  const inChannel = active.filter((w) => w.channel === wanted.channel).length;
  if (inChannel >= limits.perChannel) return `this channel already has ${inChannel} watches, the most sshcheck runs in one channel: stop one with /sshcheck unwatch <target>.`;
  const onBastion = active.filter((w) => w.bastion === wanted.bastion).length;
  if (onBastion >= limits.perBastion) return `${onBastion} watches already run through ${wanted.bastion}, the most it takes: try again when one ends.`;
  return undefined;
}

/** What a watch's parent message shows, platform-neutral; adapters mark it up. */
export interface WatchView {
  id: string;
  /** user@host:port as targetLabel() writes it. */
  target: string;
  bastion: string;
  /** The requester as the platform shows them (a mention the adapter built). */
  requester: string;
  progress: WatchProgress;
  /** Set once the watch has ended: the stop message. */
  stopped?: string;
}

/** The parent's lines: the current state and since when, the schedule, the last note. Pure. */
export function watchLines(view: WatchView, nowMs: number, clock: ClockText): { state: string; schedule: string; note?: string } {
  const p = view.progress;
  const tally = `${p.checks} ${p.checks === 1 ? 'check' : 'checks'}, ${p.changes} ${p.changes === 1 ? 'change' : 'changes'}`;
  const last = p.lastCheckMs !== undefined ? `; last check ${clock(p.lastCheckMs)}` : '';
  const schedule = view.stopped !== undefined ? `Checked every ${spanText(p.everyMs)}: ${tally}${last}` : `Every ${spanText(p.everyMs)} until ${clock(p.endsMs)}: ${tally}${last}`;
  return { state: `${view.stopped !== undefined ? 'Last state' : 'Now'}: ${stateText(p, nowMs, clock)}`, schedule, ...(p.lastNote !== undefined ? { note: p.lastNote } : {}) };
}
