// The internal shape of a step while a run is going on. A step is a pure function of the
// observations and the run's clock; it says whether its verdict can still change (`settled`)
// and which causes it names (`findings`), strongest first.
import type { Target } from '../../target.js';
import type { Observations } from '../observations.js';
import type { Confidence, Evidence, ManualCheck, ProblemCause, StepId, StepStatus } from '../report.js';
import type { Thresholds } from './thresholds.js';

export interface Finding {
  cause: ProblemCause;
  confidence: Confidence;
  /** One sentence for the diagnosis, specific to what was observed. */
  summary: string;
  /**
   * About the requester's side, not about what failed here (a name only this bastion can
   * resolve): worth listing when SSH works from here, noise next to a failure here.
   */
  requesterSide?: boolean;
}

export interface StepAssessment {
  id: StepId;
  /** True once the status cannot change any more (evidence may still be added). */
  settled: boolean;
  status: StepStatus | 'running';
  summary: string;
  evidence: Evidence[];
  manual: ManualCheck[];
  findings: Finding[];
  /**
   * While running: the strongest finding this step could still produce. A settled
   * diagnosis only has to wait for steps that could outrank it.
   */
  ceiling: Confidence;
}

export interface AssessInput {
  target: Target;
  obs: Observations;
  /** Run-relative time of this assessment. */
  now: number;
  /** True at the end of the run: every step must decide with what it has. */
  final: boolean;
  thresholds: Thresholds;
  /** The requester's address (--from): checked against bans and host rules in the inside view. */
  from?: string;
  /** What the store knows about earlier runs of this target from this vantage. */
  history?: RunHistory;
}

/** Earlier runs, as far as a step needs them. Pure data: the run's caller queries the store. */
export interface RunHistory {
  /** The newest healthy run of this host and port from this vantage, within the configured window. */
  lastHealthy?: { at: string; ageMs: number };
}

export type StepFunction = (input: AssessInput) => StepAssessment;

export function confidenceRank(c: Finding['confidence']): number {
  return c === 'high' ? 3 : c === 'medium' ? 2 : 1;
}
