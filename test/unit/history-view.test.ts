// The history view: "worked at 10:02, broken since 10:05" per bastion, then the runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { age, clockTime, renderHistory, summarize } from '../../src/store/history-view.js';
import type { RunRow } from '../../src/store/store.js';

const T = (hm: string, day = '2026-11-24'): number => Date.parse(`${day}T${hm}:00Z`);
const NOW = T('10:09');

function row(hm: string, cause: string, over: Partial<RunRow> = {}): RunRow {
  const atMs = T(hm);
  return { reportId: `r-${hm}`, at: new Date(atMs).toISOString(), atMs, host: 'db-3', port: 22, user: 'sshcheck', vantage: 'bastion-eu-1', addresses: ['10.0.0.5'], cause, confidence: cause === 'healthy' ? 'high' : 'high', step: null, summary: '', durationMs: 1234, source: 'slack', ...over };
}

test('times: the clock today, the date on other days, the year in other years; ages in words', () => {
  assert.equal(clockTime(T('10:02'), NOW), '10:02');
  assert.equal(clockTime(T('23:59', '2026-11-23'), NOW), 'Nov 23 23:59');
  assert.equal(clockTime(T('08:00', '2025-01-05'), NOW), '2025-01-05 08:00');
  assert.equal(age(NOW - 20_000, NOW), 'just now');
  assert.equal(age(NOW - 7 * 60_000, NOW), '7 min ago');
  assert.equal(age(NOW - 5 * 3_600_000, NOW), '5 h ago');
  assert.equal(age(NOW - 3 * 86_400_000, NOW), '3 days ago');
});

test('worked, then broken: "worked at 10:02, broken since 10:05"', () => {
  const runs = [row('10:08', 'port-filtered'), row('10:05', 'port-filtered'), row('10:02', 'healthy'), row('09:40', 'healthy')];
  assert.equal(summarize(runs, NOW, 'utc'), 'worked at 10:02, broken since 10:05 (4 min ago): port-filtered, 2 runs');
});

test('broken with a changing cause, and broken in every run kept', () => {
  assert.equal(summarize([row('10:08', 'banned'), row('10:05', 'port-filtered'), row('10:01', 'healthy')], NOW, 'utc'), 'worked at 10:01, broken since 10:05 (4 min ago): now banned, at first port-filtered, 2 runs');
  assert.equal(summarize([row('10:05', 'no-response')], NOW, 'utc'), 'broken since 10:05 (4 min ago): no-response, 1 run; no healthy run in the history');
});

test('works now: since when, and when it was last broken', () => {
  assert.equal(summarize([row('10:08', 'healthy'), row('10:06', 'healthy'), row('10:03', 'port-closed')], NOW, 'utc'), 'works since 10:06 (3 min ago), 2 runs; was broken at 10:03 (port-closed)');
  assert.equal(summarize([row('10:08', 'healthy')], NOW, 'utc'), 'works (checked 10:08 (1 min ago))');
});

test('the whole view: per bastion, newest first, a limit, times in UTC or local time', () => {
  const runs = [row('10:02', 'healthy'), row('10:08', 'port-filtered'), row('10:05', 'port-filtered'), row('10:07', 'healthy', { vantage: 'bastion-us-1', reportId: 'us', port: 2222, addresses: [] })];
  const view = renderHistory('db-3', runs, { now: NOW, limit: 3 });
  assert.equal(view.title, 'db-3: 4 runs (times in UTC, the newest 3 of 4)');
  assert.deepEqual(view.summary, ['sshcheck@db-3:22 from bastion-eu-1: worked at 10:02, broken since 10:05 (4 min ago): port-filtered, 2 runs', 'sshcheck@db-3:2222 from bastion-us-1: works (checked 10:07 (2 min ago))']);
  assert.deepEqual(view.lines, [
    '       10:08  bastion-eu-1  sshcheck@db-3:22  port-filtered (high)  1.2 s  10.0.0.5',
    '       10:07  bastion-us-1  sshcheck@db-3:2222  healthy  1.2 s',
    '       10:05  bastion-eu-1  sshcheck@db-3:22  port-filtered (high)  1.2 s  10.0.0.5',
  ]);
  assert.match(renderHistory('db-3', runs, { now: NOW, timeZone: 'local' }).title, /times in local time/);
  assert.deepEqual(renderHistory('db-9', [], { now: NOW }), { title: 'db-9: no runs recorded', summary: ["nothing has checked db-9 within the store's retention period"], lines: [] });
});

test('a run that stopped before its verdict says neither "works" nor "broken", and is listed as undecided', () => {
  assert.equal(summarize([row('10:08', 'undecided', { confidence: 'low' }), row('10:05', 'port-filtered'), row('10:01', 'healthy')], NOW, 'utc'), 'worked at 10:01, broken since 10:05 (4 min ago): port-filtered, 1 run');
  assert.equal(summarize([row('10:08', 'undecided', { confidence: 'low' }), row('10:06', 'healthy')], NOW, 'utc'), 'works (checked 10:06 (3 min ago))');
  assert.equal(summarize([row('10:08', 'undecided', { confidence: 'low' })], NOW, 'utc'), 'no verdict yet: the run stopped before a verdict');
  const view = renderHistory('db-3', [row('10:08', 'undecided', { confidence: 'low' })], { now: NOW });
  assert.deepEqual(view.lines, ['       10:08  bastion-eu-1  sshcheck@db-3:22  undecided (stopped before a verdict)  1.2 s  10.0.0.5']);
  assert.ok(!view.summary.some((l) => /works|broken/.test(l)), view.summary.join('\n'));
});

test('one host, two ports, one bastion: two series, never one "works since" (port 22 closed, 2222 working)', () => {
  const runs = [row('10:01', 'port-closed', { host: '127.0.0.1', reportId: 'a' }), row('10:02', 'healthy', { host: '127.0.0.1', port: 2222, reportId: 'b' }), row('10:03', 'port-closed', { host: '127.0.0.1', reportId: 'c' }), row('10:04', 'healthy', { host: '127.0.0.1', port: 2222, reportId: 'd' }), row('10:05', 'healthy', { host: '127.0.0.1', port: 22, user: 'ops', reportId: 'e' }), row('10:06', 'healthy', { host: '::1', port: 22, reportId: 'f' })];
  const view = renderHistory('127.0.0.1', runs.slice(0, 5), { now: NOW });
  assert.deepEqual(view.summary, [
    'ops@127.0.0.1:22 from bastion-eu-1: works (checked 10:05 (4 min ago))',
    'sshcheck@127.0.0.1:2222 from bastion-eu-1: works since 10:02 (7 min ago), 2 runs',
    'sshcheck@127.0.0.1:22 from bastion-eu-1: broken since 10:01 (8 min ago): port-closed, 2 runs; no healthy run in the history',
  ]);
  assert.equal(renderHistory('::1', runs.slice(5), { now: NOW }).summary[0], 'sshcheck@[::1]:22 from bastion-eu-1: works (checked 10:06 (3 min ago))');
});
