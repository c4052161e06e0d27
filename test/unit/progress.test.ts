// The terminal renderers, driven by progress events as the engine emits them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveProgress, plainProgress } from '../../src/cli/progress.js';
import { renderReport, terminalSafe } from '../../src/cli/render-text.js';
import type { ProgressEvent, Report } from '../../src/engine/report.js';
import { STEP_IDS, STEP_TITLES, stepNumber } from '../../src/engine/report.js';

const target = { input: 'db-3', host: 'db-3', port: 22, user: 'sshcheck', addresses: ['10.0.0.5'] };
const diagnosis = { cause: 'port-closed' as const, step: 'sshd' as const, confidence: 'high' as const, summary: 'nothing listens', next: ['start sshd'], alternatives: [] };
const steps = STEP_IDS.map((id) => ({ id, n: stepNumber(id), title: STEP_TITLES[id], status: 'pass' as const, summary: `${id} fine`, evidence: [], durationMs: 1, manual: [] }));
const report: Report = { schema: 'sshcheck/report@1', id: 'r1', target, vantage: { name: 'b1' }, startedAt: '2026-11-24T00:00:00.000Z', durationMs: 30, diagnosedMs: 20, steps, diagnosis };

const events: ProgressEvent[] = [
  { type: 'run-started', id: 'r1', target, vantage: { name: 'b1' }, startedAt: report.startedAt, elapsedMs: 0 },
  ...STEP_IDS.map((id): ProgressEvent => ({ type: 'step-updated', step: { id, n: stepNumber(id), title: STEP_TITLES[id], status: 'running' }, elapsedMs: 0 })),
  { type: 'step-updated', step: { ...steps[3]!, status: 'fail', summary: 'banner \u001b[31mred\u0007' }, elapsedMs: 10 },
  { type: 'diagnosis', diagnosis, elapsedMs: 20 },
  { type: 'run-finished', report, elapsedMs: 30 },
];

test('the live checklist redraws its block in place and removes it at the end', () => {
  let out = '';
  const live = liveProgress({ write: (t) => (out += t), columns: 80 }, { color: false });
  for (const e of events) live.onEvent(e);
  live.close();
  // Header + 10 steps + verdict = 12 lines; each redraw moves back up over the previous block.
  assert.match(out, /\u001b\[12F/);
  assert.ok(out.endsWith('\u001b[12F\u001b[0J'), 'the block is erased before the report');
  assert.match(out, /=> port-closed after 20 ms: nothing listens/);
  assert.doesNotMatch(out, /\u0007|\u001b\[31m/, 'a server string cannot carry escape sequences into the terminal');
  for (const line of out.split('\n')) assert.ok(line.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '').length <= 80);
});

test('plain progress prints settled steps and the diagnosis with timestamps', () => {
  let out = '';
  const plain = plainProgress({ write: (t) => (out += t) });
  for (const e of events) plain.onEvent(e);
  assert.match(out, /\[ *10 ms\] step 4 sshd: fail/);
  assert.match(out, /\[ *20 ms\] diagnosis: port-closed/);
  assert.doesNotMatch(out, /running/);
});

test('the text report shows the diagnosis first and every step', () => {
  const text = renderReport(report, { color: false });
  const lines = text.split('\n');
  assert.match(lines[2] ?? '', /^Diagnosis: port-closed \(sshd, high confidence\)/);
  for (const id of STEP_IDS) assert.match(text, new RegExp(`${id} fine`));
  assert.equal(terminalSafe('a\u001b]0;x\u0007b\u202e'), 'a?]0;x?b?');
});
