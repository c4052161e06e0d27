// The CLI's exit status: a pure function of the report (and of how a fleet ended). A run that
// stopped before its verdict never exits 0 or 1: those two always mean "a verdict was reached".
import type { Report } from '../engine/report.js';

export const EXIT = {
  /** Nothing wrong from this vantage (diagnosis.cause "healthy"). */
  healthy: 0,
  /** A problem was found. */
  problem: 1,
  /** Bad input or usage: nothing was probed. */
  usage: 2,
  /** sshcheck itself failed (the report, when there is one, is "undecided", stoppedBy "engine-error"). */
  engine: 3,
  /** No verdict: the budget was spent or the run was cancelled before the evidence settled. */
  undecided: 4,
  /** Interrupted by SIGINT (128 + 2), as shells report it. */
  sigint: 130,
  /** Stopped by SIGTERM (128 + 15). */
  sigterm: 143,
} as const;

/** The exit status for a signal that stopped a run (130 for SIGINT, 143 for SIGTERM, else 4). */
export function exitForSignal(signal: string | undefined): number {
  return signal === 'SIGINT' ? EXIT.sigint : signal === 'SIGTERM' ? EXIT.sigterm : EXIT.undecided;
}

export function exitForReport(report: Pick<Report, 'diagnosis'>): number {
  const d = report.diagnosis;
  if (d.cause === 'healthy') return EXIT.healthy;
  if (d.cause !== 'undecided') return EXIT.problem;
  if (d.stoppedBy === 'signal') return exitForSignal(d.stopDetail);
  if (d.stoppedBy === 'engine-error') return EXIT.engine;
  return EXIT.undecided;
}
