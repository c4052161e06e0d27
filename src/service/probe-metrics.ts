// GET /probe's answer: one report as Prometheus text (0.0.4), the way blackbox_exporter
// answers its /probe, but with the cause as a label. Pure: report in, exposition text out.
// Cardinality stays bounded: every label value comes from a fixed code list (causes, steps,
// statuses, confidences); nothing the target or the user typed becomes a label, and the
// target label is the one Prometheus adds by relabelling.
import { CAUSES, STEP_IDS } from '../engine/report.js';
import type { Report } from '../engine/report.js';
import { escapeLabel } from './metrics.js';

export const PROBE_STEP_STATUSES = ['pass', 'warn', 'fail', 'skip'] as const;
export const PROBE_CONFIDENCES = ['high', 'medium', 'low'] as const;
/** The step label of a diagnosis that names no step (healthy, undecided). */
export const NO_STEP = 'none';
/** What a label says when a report (made elsewhere, or newer) carries a code this build does not know. */
export const UNKNOWN_CODE = 'unknown';

export interface ProbeBuild {
  /** sshcheck's version. */
  version: string;
  /** Node.js's version (process.versions.node). */
  node: string;
}

/** The value if it is one of the known codes, else UNKNOWN_CODE: a label never carries free text. */
function code(value: string | null | undefined, known: readonly string[]): string {
  return value !== null && value !== undefined && known.includes(value) ? value : UNKNOWN_CODE;
}

function seconds(ms: number): string {
  return String(Math.round(ms) / 1000);
}

/**
 * The exposition for one finished run. `ageMs` is how old a reused result is (0 when the
 * run was made for this scrape); a result the engine reused under its connection budget
 * adds its own age.
 */
export function renderProbe(report: Report, build: ProbeBuild, ageMs = 0): string {
  const { diagnosis } = report;
  const cause = code(diagnosis.cause, CAUSES);
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, samples: string[]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples);
  };
  family('sshcheck_probe_success', 'gauge', 'Whether ssh to the target works: 1 only when the diagnosis is healthy (an undecided run is 0).', [`sshcheck_probe_success ${cause === 'healthy' ? 1 : 0}`]);
  family('sshcheck_probe_duration_seconds', 'gauge', 'How long the probe run took, start to report.', [`sshcheck_probe_duration_seconds ${seconds(report.durationMs)}`]);
  family('sshcheck_probe_diagnosis_seconds', 'gauge', 'Time from the start of the run to its diagnosis.', [`sshcheck_probe_diagnosis_seconds ${seconds(report.diagnosedMs)}`]);
  const step = diagnosis.step === null ? NO_STEP : code(diagnosis.step, STEP_IDS);
  const labels = `cause="${escapeLabel(cause)}",step="${escapeLabel(step)}",confidence="${escapeLabel(code(diagnosis.confidence, PROBE_CONFIDENCES))}"`;
  family('sshcheck_probe_diagnosis', 'gauge', 'The diagnosis: always 1, its labels carry the cause code, the checklist step that names it and the confidence.', [`sshcheck_probe_diagnosis{${labels}} 1`]);
  family(
    'sshcheck_probe_step_status',
    'gauge',
    'Each checklist step\'s status (pass, warn, fail, skip): always 1, one series per step.',
    report.steps.map((s) => `sshcheck_probe_step_status{step="${escapeLabel(code(s.id, STEP_IDS))}",status="${escapeLabel(code(s.status, PROBE_STEP_STATUSES))}"} 1`),
  );
  const age = ageMs + (report.reused?.ageMs ?? 0);
  family('sshcheck_probe_result_age_seconds', 'gauge', 'How old the result is: 0 when it was made for this scrape, more when a recent result was reused (single flight, connection budget).', [`sshcheck_probe_result_age_seconds ${seconds(age)}`]);
  family('sshcheck_build_info', 'gauge', 'The sshcheck build that answered: always 1.', [`sshcheck_build_info{version="${escapeLabel(build.version)}",node="${escapeLabel(build.node)}"} 1`]);
  return `${lines.join('\n')}\n`;
}
