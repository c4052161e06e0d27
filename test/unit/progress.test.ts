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
  assert.ok(out.endsWith(`\u001b[12F${Array.from({ length: 12 }, () => '\u001b[2K').join('\u001b[1E')}\u001b[11F`), 'the block is erased line by line before the report');
  assert.doesNotMatch(out, /\u001b\[0?J/, 'never an erase-display (tmux keeps a copy of a screen erased from its corner)');
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

/** What a terminal of `rows` rows shows after `out`: a tiny VT interpreter for the sequences the renderer uses. */
function screen(out: string, rows: number): { visible: string[]; scrollback: string[] } {
  const lines: string[] = [''];
  let cursor = 0;
  let top = 0; // index of the first line on screen
  const re = /\u001b\[(\d*)([A-Za-z])|\n|[^\u001b\n]+/g;
  for (const m of out.matchAll(re)) {
    if (m[0] === '\n') {
      cursor++;
      if (cursor >= lines.length) lines.push('');
      if (cursor - top >= rows) top = cursor - rows + 1;
    } else if (m[2] === 'F') {
      // Cursor up to the start of a line, never above the screen's top row.
      cursor = Math.max(top, cursor - Number(m[1] || 1));
    } else if (m[2] === 'E') {
      // Cursor down to the start of a line, never below the last line written.
      cursor = Math.min(lines.length - 1, cursor + Number(m[1] || 1));
    } else if (m[2] === 'G') {
      // column 1: lines are written whole, nothing to do
    } else if (m[2] === 'K') {
      lines[cursor] = '';
    } else if (m[2] === 'J') {
      lines.length = cursor + 1;
      lines[cursor] = '';
    } else if (m[2] === 'm') {
      // colour: no columns
    } else {
      lines[cursor] = (lines[cursor] ?? '') + m[0];
    }
  }
  return { visible: lines.slice(top), scrollback: lines.slice(0, top) };
}

test('a pane too short for the checklist gets line mode: no copy of the block smears into the scrollback', () => {
  for (const rows of [5, 8, 13, 14, 15, 24]) {
    let out = '';
    const live = liveProgress({ write: (t) => (out += t), columns: 80, rows }, { color: false }, { tickMs: 0 });
    for (const e of events) {
      live.onEvent(e);
      live.tick();
    }
    live.close();
    const all = [...screen(out, rows).scrollback, ...screen(out, rows).visible].join('\n');
    const headers = all.split('\n').filter((l) => /checking sshcheck@db-3:22/.test(l)).length;
    assert.ok(headers <= 1, `rows=${rows}: the header appears ${headers} times`);
    if (rows < 14) {
      assert.match(out, /\[ *10 ms\] step 4 sshd: fail/, `rows=${rows}: line mode`);
    } else {
      assert.doesNotMatch(out, /\] step 4 sshd/, `rows=${rows}: live mode`);
      assert.equal(all.trim(), '', `rows=${rows}: the block is erased before the report`);
    }
  }
});

test('a pane that shrinks during the run switches to line mode without leaving copies', () => {
  let out = '';
  const sink = { write: (t: string) => (out += t), columns: 80, rows: 30 };
  const live = liveProgress(sink, { color: false }, { tickMs: 0 });
  live.onEvent(events[0]!);
  live.onEvent(events[1]!);
  sink.rows = 8;
  for (const e of events.slice(2)) live.onEvent(e);
  live.close();
  const s = screen(out, 8);
  assert.equal([...s.scrollback, ...s.visible].filter((l) => l.includes('checking sshcheck@db-3')).length, 1);
  assert.match(out, /diagnosis: port-closed/);
});

test('the spinner shows the elapsed time and the steps still running; it stops at the end', () => {
  let out = '';
  let clock = 0;
  const live = liveProgress({ write: (t) => (out += t), columns: 100, rows: 40 }, { color: false }, { tickMs: 0, now: () => clock });
  assert.match(out, /sshcheck: starting…/, 'something is on screen before the first event');
  assert.match(out, /⠋ 0(\.0+)? ms/);
  live.onEvent(events[0]!);
  for (const e of events.slice(1, 11)) live.onEvent(e);
  clock = 1500;
  live.tick();
  assert.match(out, /⠙ 1\.5 s: waiting for 1, 2, 3, 4, 5, 6, 7, 8, 9, 10/);
  live.onEvent(events[11]!);
  clock = 1700;
  live.tick();
  assert.match(out.slice(out.lastIndexOf('⠹')), /waiting for 1, 2, 3, 5, 6/);
  live.onEvent(events.at(-1)!);
  const before = out.length;
  live.tick();
  assert.equal(out.length, before, 'no redraw after the run finished');
  live.close();
});

test('line mode prints a step only when it changes (19 lines for 10 steps before)', () => {
  let out = '';
  const plain = plainProgress({ write: (t) => (out += t) });
  const step = steps[3]!;
  plain.onEvent(events[0]!);
  for (let i = 0; i < 3; i++) plain.onEvent({ type: 'step-updated', step: { ...step, status: 'warn', summary: 'slow banner' }, elapsedMs: 10 + i });
  plain.onEvent({ type: 'step-updated', step: { ...step, status: 'fail', summary: 'no banner' }, elapsedMs: 20 });
  plain.onEvent({ type: 'diagnosis', diagnosis, elapsedMs: 21 });
  plain.onEvent({ type: 'diagnosis', diagnosis, elapsedMs: 22 });
  const lines = out.trim().split('\n');
  assert.equal(lines.filter((l) => l.includes('step 4 sshd')).length, 2);
  assert.equal(lines.filter((l) => l.includes('diagnosis:')).length, 1);
});

test('the text report ends with the verdict on one line', () => {
  const lines = renderReport(report, { color: false }).trimEnd().split('\n');
  assert.equal(lines.at(-1), 'Verdict: port-closed (sshd, high confidence): nothing listens');
});
