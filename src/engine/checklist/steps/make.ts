import type { Confidence, Evidence, StepId, StepStatus } from '../../report.js';
import type { AssessInput, Finding, StepAssessment } from '../assessment.js';
import { manualChecks } from '../manual.js';

export interface StepFields {
  settled: boolean;
  status: StepStatus | 'running';
  summary: string;
  evidence?: ReadonlyArray<Evidence | undefined>;
  findings?: Finding[];
  /** See StepAssessment.ceiling; defaults to 'high' (could still name anything). */
  ceiling?: Confidence;
}

export function makeStep(input: AssessInput, id: StepId, fields: StepFields): StepAssessment {
  return {
    id,
    settled: fields.settled,
    status: fields.status,
    summary: fields.summary,
    evidence: (fields.evidence ?? []).filter((e): e is Evidence => e !== undefined),
    manual: manualChecks(id, input.target),
    findings: fields.findings ?? [],
    ceiling: fields.ceiling ?? 'high',
  };
}

/** A step that cannot say anything because the connection never got to its phase. */
export function notReached(input: AssessInput, id: StepId, why: string, settled: boolean, evidence: ReadonlyArray<Evidence | undefined> = [], ceiling: Confidence = 'high'): StepAssessment {
  // Commands to run by hand would check a phase the connection never reached: leave them out.
  return { ...makeStep(input, id, { settled, status: settled ? 'skip' : 'running', summary: settled ? `not reached: ${why}` : 'waiting for earlier phases', evidence, ceiling }), manual: [] };
}
