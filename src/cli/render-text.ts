// The human form of a report, for stdout. Pure. Text that came from the network is
// stripped of control characters again here: a terminal must never receive a server's
// escape sequences.
import type { Diagnosis, Report, StepReport, StepStatus } from '../engine/report.js';
import { duration, endpoint } from '../engine/checklist/format.js';

export interface Style {
  color: boolean;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function terminalSafe(text: string): string {
  return text.replace(CONTROL, '?');
}

const LABEL: Record<StepStatus | 'running', string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP', running: '....' };
const COLOR: Record<StepStatus | 'running', string> = { pass: '32', warn: '33', fail: '31', skip: '90', running: '36' };

export function statusLabel(status: StepStatus | 'running', style: Style): string {
  const label = LABEL[status];
  return style.color ? `\u001b[${COLOR[status]}m${label}\u001b[0m` : label;
}

function bold(text: string, style: Style): string {
  return style.color ? `\u001b[1m${text}\u001b[0m` : text;
}

export function diagnosisLines(d: Diagnosis, style: Style): string[] {
  const where = d.step ? `${d.step}, ` : '';
  const out = [`${bold('Diagnosis:', style)} ${d.cause} (${where}${d.confidence} confidence)`, `  ${terminalSafe(d.summary)}`];
  if (d.next.length > 0) {
    out.push('  Next:');
    for (const n of d.next) out.push(`    - ${terminalSafe(n)}`);
  }
  if (d.alternatives.length > 0) {
    out.push(`  Also possible: ${d.alternatives.map((a) => `${a.cause} (${a.confidence})`).join(', ')}`);
  }
  return out;
}

function stepLines(step: StepReport, style: Style): string[] {
  const out = [`${String(step.n).padStart(2)} ${statusLabel(step.status, style)} ${step.title}: ${terminalSafe(step.summary)}`];
  for (const e of step.evidence) {
    out.push(`        ${terminalSafe(e.detail)}`);
    for (const line of e.lines ?? []) out.push(`          | ${terminalSafe(line)}`);
  }
  if (step.status !== 'pass') {
    for (const m of step.manual) out.push(`        by hand on the ${m.where}: ${terminalSafe(m.command)}  (${terminalSafe(m.why)})`);
  }
  return out;
}

export function renderReport(report: Report, style: Style): string {
  const t = report.target;
  const addresses = t.addresses.length > 0 ? ` [${t.addresses.join(', ')}]` : '';
  const lines = [
    report.diagnosis.cause === 'undecided'
      ? `sshcheck ${t.user}@${endpoint(t.host, t.port)}${addresses} from ${report.vantage.name}: stopped before a verdict after ${duration(report.durationMs)}`
      : `sshcheck ${t.user}@${endpoint(t.host, t.port)}${addresses} from ${report.vantage.name}: diagnosed in ${duration(report.diagnosedMs)}, finished in ${duration(report.durationMs)}`,
    ...(report.reused ? [`Not probed again, ${duration(report.reused.ageMs)} after this result: ${report.reused.reason}`] : []),
    '',
    ...diagnosisLines(report.diagnosis, style),
    '',
    ...report.steps.flatMap((s) => stepLines(s, style)),
    '',
    `Probed from ${report.vantage.name}, not from the requester's machine: what works here can still fail there.`,
    verdictLine(report.diagnosis, style),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * The verdict once more as the last line: a long report scrolls its first lines (the
 * diagnosis) off a pane, and the last line is what stays in view.
 */
export function verdictLine(d: Diagnosis, style: Style): string {
  const where = d.step ? `${d.step}, ` : '';
  return `${bold('Verdict:', style)} ${d.cause} (${where}${d.confidence} confidence): ${terminalSafe(d.summary)}`;
}

/** --brief: the whole result on one line, for a terminal or a log. */
export function briefLine(report: Report): string {
  const t = report.target;
  const d = report.diagnosis;
  return `${t.user}@${endpoint(t.host, t.port)} ${d.cause} (${d.confidence}): ${terminalSafe(d.summary)}\n`;
}
