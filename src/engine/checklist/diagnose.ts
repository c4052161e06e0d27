// The diagnosis: a pure function of the steps. The most likely cause is the strongest
// finding, ties broken by where the connection meets it first (CAUSAL_ORDER). It is
// settled once nothing still running could change it.
import type { Alternative, Diagnosis, PendingStep, StepId, StopReason } from '../report.js';
import { stepNumber } from '../report.js';
import type { Target } from '../../target.js';
import type { Finding, StepAssessment } from './assessment.js';
import { confidenceRank } from './assessment.js';
import { CAUSAL_ORDER, nextSteps } from './causes.js';
import { duration, endpoint, listing } from './format.js';

export interface DiagnosisState {
  diagnosis: Diagnosis;
  settled: boolean;
}

interface Ranked extends Finding {
  step: StepId;
}

function ranked(steps: readonly StepAssessment[]): Ranked[] {
  const all = steps.flatMap((s) => s.findings.map((f) => ({ ...f, step: s.id })));
  return all.sort((a, b) => confidenceRank(b.confidence) - confidenceRank(a.confidence) || CAUSAL_ORDER.indexOf(a.step) - CAUSAL_ORDER.indexOf(b.step));
}

function alternatives(findings: readonly Ranked[], exclude: string | undefined): Alternative[] {
  const seen = new Set<string>(exclude ? [exclude] : []);
  const out: Alternative[] = [];
  for (const f of findings) {
    if (seen.has(f.cause)) continue;
    seen.add(f.cause);
    out.push({ cause: f.cause, step: f.step, confidence: f.confidence });
  }
  return out.slice(0, 5);
}

export function diagnose(steps: readonly StepAssessment[], target: Target, vantage: string, final: boolean): DiagnosisState {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const allSettled = steps.every((s) => s.settled);
  const findings = ranked(steps);
  const here = findings.filter((f) => !f.requesterSide);
  const failing = steps.some((s) => s.status === 'fail');
  const top = here[0];
  const primary = top && (top.confidence !== 'low' || failing) ? top : undefined;

  if (primary) {
    const upstream = CAUSAL_ORDER.slice(0, CAUSAL_ORDER.indexOf(primary.step) + 1);
    const upstreamSettled = upstream.every((id) => byId.get(id)?.settled === true);
    // Downstream steps still running can only matter if they might find something stronger.
    const outranked = steps.some((s) => !s.settled && confidenceRank(s.ceiling) > confidenceRank(primary.confidence));
    const settled = final || (upstreamSettled && !outranked);
    return {
      settled,
      diagnosis: {
        cause: primary.cause,
        step: primary.step,
        confidence: primary.confidence,
        summary: primary.summary,
        next: nextSteps(primary.cause, target),
        alternatives: alternatives(here, primary.cause),
      },
    };
  }

  const warned = steps.some((s) => s.status === 'warn');
  return {
    settled: final || allSettled,
    diagnosis: {
      cause: 'healthy',
      step: null,
      confidence: warned ? 'medium' : 'high',
      summary: `SSH to ${endpoint(target.host, target.port)} works from ${vantage}: it gets through the handshake to authentication. If someone still cannot connect, the problem is on their side.`,
      next: nextSteps('healthy', target),
      alternatives: alternatives(findings, undefined),
    },
  };
}

/** Why a run stopped early, as the engine knows it. */
export interface RunStop {
  by: StopReason;
  /** The signal's name (SIGINT), or the engine's error message. */
  detail?: string;
  /** The run's budget, for "the budget of 1.0 s was spent". */
  budgetMs?: number;
}

function stopWords(stop: RunStop): string {
  switch (stop.by) {
    case 'signal':
      return `it was interrupted${stop.detail !== undefined ? ` (${stop.detail})` : ''}`;
    case 'budget':
      return `its time budget${stop.budgetMs !== undefined ? ` of ${duration(stop.budgetMs)}` : ''} was spent`;
    case 'abort':
      return `it was cancelled${stop.detail !== undefined ? ` (${stop.detail})` : ''}`;
    case 'engine-error':
      return `the engine failed${stop.detail !== undefined ? `: ${stop.detail}` : ''}`;
    case 'withheld':
      return `its verdict was withheld${stop.detail !== undefined ? ` (${stop.detail})` : ''}`;
  }
}

/**
 * The outcome of a run that ended before its diagnosis settled: no verdict, the steps that
 * were still pending with what each waited for, and why it stopped. Findings of steps that
 * had settled stay as alternatives; none of them is promoted to a cause, and "healthy" is
 * never implied. `steps` must come from a non-final assessment (a final one forces verdicts
 * that were not observed).
 */
export function undecided(steps: readonly StepAssessment[], target: Target, stop: RunStop, atMs: number): Diagnosis {
  const pending: PendingStep[] = steps.filter((s) => !s.settled).map((s) => ({ step: s.id, waitingFor: s.summary }));
  const numbers = pending.map((p) => String(stepNumber(p.step)));
  const what = pending.length > 0 ? `; still pending: ${numbers.length === 1 ? 'step' : 'steps'} ${listing(numbers)}` : '';
  const diagnosis: Diagnosis = {
    cause: 'undecided',
    step: null,
    confidence: 'low',
    summary: `Stopped before a verdict: the run ended after ${duration(atMs)} because ${stopWords(stop)}, before the evidence settled${what}. No cause is named, and this is not "healthy".`,
    next: nextSteps('undecided', target),
    alternatives: alternatives(ranked(steps).filter((f) => !f.requesterSide), undefined),
    stoppedBy: stop.by,
    pending,
  };
  if (stop.detail !== undefined) diagnosis.stopDetail = stop.detail;
  return diagnosis;
}
