// What a chat thread shows, independent of any platform's markup: the parent message's
// state and the step replies. Adapters render these to Block Kit or embeds.
import type { Diagnosis, ProgressEvent, Report, StepId, StepReport, StepStatus } from '../engine/report.js';
import { STEP_IDS, STEP_TITLES, stepNumber } from '../engine/report.js';
import { targetLabel } from '../target.js';
import type { Target } from '../target.js';

export type ParentPhase = 'running' | 'diagnosed' | 'finished' | 'failed';

export interface ParentView {
  target: string;
  vantage: string;
  /** How the platform names the requester (already in its markup, e.g. a user mention). */
  requester: string;
  phase: ParentPhase;
  diagnosis?: Diagnosis;
  /** Every step's status so far, in checklist order. */
  steps: Array<{ id: StepId; n: number; title: string; status: StepStatus | 'running' }>;
  elapsedMs: number;
  /** Set when the result was reused from a run that finished this long ago. */
  reusedAgeMs?: number;
  /** Why it was reused, when the engine says (a spent connection budget: Report.reused). */
  reusedReason?: string;
  /** What went wrong when the engine itself failed (phase "failed"). */
  error?: string;
  /** What the engine said along the way that is not a failure (a bastion's agent lost, the check resent). */
  notice?: string;
}

export const STATUS_EMOJI: Readonly<Record<StepStatus | 'running', string>> = {
  pass: '✅',
  warn: '⚠️',
  fail: '❌',
  skip: '⏭️',
  running: '⏳',
};

export function initialParent(target: Target, vantage: string, requester: string): ParentView {
  return {
    target: targetLabel(target),
    vantage,
    requester,
    phase: 'running',
    steps: STEP_IDS.map((id) => ({ id, n: stepNumber(id), title: STEP_TITLES[id], status: 'running' })),
    elapsedMs: 0,
  };
}

/** The parent after one more progress event. Pure. */
export function nextParent(view: ParentView, event: ProgressEvent): ParentView {
  switch (event.type) {
    case 'run-started':
      return { ...view, vantage: event.vantage.name, elapsedMs: 0 };
    case 'step-updated':
      return { ...view, steps: view.steps.map((s) => (s.id === event.step.id ? { ...s, status: event.step.status } : s)), elapsedMs: event.elapsedMs };
    case 'diagnosis':
      return { ...view, phase: view.phase === 'finished' ? 'finished' : 'diagnosed', diagnosis: event.diagnosis, elapsedMs: event.elapsedMs };
    case 'run-finished':
      return finishedParent(view, event.report);
  }
}

export function finishedParent(view: ParentView, report: Report): ParentView {
  return {
    ...view,
    ...(report.reused ? { reusedAgeMs: report.reused.ageMs, reusedReason: report.reused.reason } : {}),
    phase: 'finished',
    diagnosis: report.diagnosis,
    steps: report.steps.map((s) => ({ id: s.id, n: s.n, title: s.title, status: s.status })),
    elapsedMs: report.durationMs,
  };
}

/** "✅✅❌⏭️…": the ten statuses in one line. */
export function statusLine(view: Pick<ParentView, 'steps'>): string {
  return view.steps.map((s) => STATUS_EMOJI[s.status]).join('');
}

export type { StepReport };
