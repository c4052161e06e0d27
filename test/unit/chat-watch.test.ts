import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSshcheckError } from '../../src/errors.js';
import type { Report } from '../../src/engine/report.js';
import { changeText, expired, nextDueMs, observe, skipped, spanText, startProgress, stateText, stopText, utcClock, WATCH_LIMITS, watchRefusal } from '../../src/chat/watch.js';
import type { WatchProgress } from '../../src/chat/watch.js';
import { parseSpan, parseWatchCommand, watchSpans } from '../../src/chat/watch-grammar.js';
import { fakeReport } from './store-support.js';

const T0 = Date.parse('2026-12-02T10:00:00Z');
const MIN = 60_000;

function report(id: string, cause: string, at: number, extra: Partial<Report> = {}): Report {
  return { ...fakeReport({ id, cause, at }), ...extra };
}

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isSshcheckError(err) && err.code === 'E_USAGE' && pattern.test(err.message));
}

test('watch grammar: target, every, for, via and from in any order; defaults from the limits', () => {
  const w = parseWatchCommand('watch db-3 every 30s for 2h', {});
  assert.deepEqual(w && w.kind === 'watch' ? [w.target.host, w.target.port, w.everyMs, w.forMs] : w, ['db-3', 22, 30_000, 2 * 3_600_000]);
  const v = parseWatchCommand('WATCH ops@db-3:2222 for 1h30m via b1 every 5m from 203.0.113.7', { bastions: ['b1'] });
  assert.ok(v && v.kind === 'watch');
  assert.deepEqual([v.target.user, v.target.port, v.via, v.from, v.everyMs, v.forMs], ['ops', 2222, 'b1', '203.0.113.7', 5 * MIN, 90 * MIN]);
  const d = parseWatchCommand('watch 10.0.0.5 2200 ops');
  assert.ok(d && d.kind === 'watch');
  assert.deepEqual([d.target.port, d.target.user, d.everyMs, d.forMs], [2200, 'ops', WATCH_LIMITS.defaultEveryMs, WATCH_LIMITS.defaultForMs]);
  assert.equal(parseWatchCommand('db-3'), undefined, 'not a watch command');
  assert.equal(parseWatchCommand('history db-3'), undefined);
  assert.deepEqual(parseWatchCommand('unwatch db-3'), { kind: 'unwatch', host: 'db-3', port: 22 });
  assert.deepEqual(parseWatchCommand('unwatch db-3 2222'), { kind: 'unwatch', host: 'db-3', port: 2222 });
  assert.deepEqual(parseWatchCommand('unwatch ops@db-3:2200'), { kind: 'unwatch', host: 'db-3', port: 2200 });
});

test('watch grammar: what is refused says why and nothing is watched', () => {
  usage(() => parseWatchCommand('watch'), /needs a host.*write watch\./);
  usage(() => parseWatchCommand('unwatch'), /needs a host/);
  usage(() => parseWatchCommand('watch db-3 every 10s'), /at most once every 30 s/);
  usage(() => parseWatchCommand('watch db-3 for 9h'), /8 h at the longest/);
  usage(() => parseWatchCommand('watch db-3 every 5m for 2m'), /would check only once/);
  usage(() => parseWatchCommand('watch db-3 every 30'), /"every" takes a time like 30s/);
  usage(() => parseWatchCommand('watch db-3 every 1x'), /not one/);
  usage(() => parseWatchCommand('watch db-3 every 30s every 1m'), /given twice/);
  usage(() => parseWatchCommand('watch db-3 every'), /needs a time/);
  usage(() => parseWatchCommand('watch db-3 via nowhere', { bastions: ['b1'] }), /unknown bastion/);
  usage(() => parseWatchCommand('watch help'), /takes a host to check/);
  usage(() => parseWatchCommand('unwatch db-3 22 more'), /takes a host and maybe a port/);
  assert.throws(() => parseWatchCommand('watch -oProxyCommand=x'));
  assert.equal(parseSpan('1h', 'for'), 3_600_000);
  assert.equal(parseSpan('90s', 'every'), 90_000);
  assert.equal(parseSpan('2min', 'every'), 120_000);
  assert.deepEqual(watchSpans(undefined, undefined, { ...WATCH_LIMITS, defaultEveryMs: 2 * 3_600_000 }).forMs, 2 * 3_600_000, 'the default duration is never shorter than the interval');
});

test('schedule: the first check at once, then every interval after the last one ended; the end by the duration', () => {
  const p = startProgress(T0, 30_000, 2 * MIN);
  assert.equal(nextDueMs(p, T0), T0);
  const after = observe(p, report('r1', 'healthy', T0), T0 + 1500).progress;
  assert.equal(nextDueMs(after, T0 + 1500), T0 + 31_500);
  assert.equal(nextDueMs(after, T0 + 60_000), T0 + 60_000, 'a late timer runs at once, never in the past');
  assert.equal(expired(after, T0 + 2 * MIN - 1), false);
  assert.equal(expired(after, T0 + 2 * MIN), true);
});

test('change detection: the first state, the same cause, a change, a recovery; undecided and old evidence change nothing', () => {
  let p: WatchProgress = startProgress(T0, 30_000, 3_600_000);
  const first = observe(p, report('r1', 'healthy', T0), T0 + 1000);
  assert.equal(first.kind, 'first');
  p = first.progress;
  const same = observe(p, report('r2', 'healthy', T0 + 30_000), T0 + 31_000);
  assert.equal(same.kind, 'same');
  assert.equal(same.progress.current?.sinceMs, T0, 'healthy since the first report');
  p = same.progress;
  const undecided = observe(p, { ...report('r3', 'undecided', T0 + 60_000), diagnosis: { ...report('r3', 'undecided', 0).diagnosis, stoppedBy: 'budget' } }, T0 + 61_000);
  assert.equal(undecided.kind, 'same');
  assert.equal(undecided.progress.current?.cause, 'healthy');
  assert.match(undecided.progress.lastNote ?? '', /before its verdict \(budget\)/);
  p = undecided.progress;
  const down = observe(p, report('r4', 'port-filtered', T0 + 5 * MIN), T0 + 5 * MIN + 1200);
  assert.equal(down.kind, 'change');
  assert.ok(down.kind === 'change');
  assert.equal(down.change.from?.cause, 'healthy');
  assert.equal(changeText(down.change, utcClock), 'now `port-filtered` (since 10:05 UTC; was `healthy` for 5 min)');
  p = down.progress;
  // The engine gave the same result again (spent connection budget): no new evidence.
  const reusedSame = observe(p, report('r4', 'port-filtered', T0 + 5 * MIN, { reused: { ageMs: 30_000, reason: 'the connection budget is spent' } }), T0 + 6 * MIN);
  assert.equal(reusedSame.kind, 'same');
  assert.match(reusedSame.progress.lastNote ?? '', /reused a result 30 s old instead of connecting \(the connection budget is spent\)/);
  // A result older than the state cannot overturn it.
  assert.equal(observe(p, report('r0', 'healthy', T0 + MIN), T0 + 7 * MIN).kind, 'same');
  const up = observe(p, report('r5', 'healthy', T0 + 14 * MIN), T0 + 14 * MIN + 900);
  assert.ok(up.kind === 'change');
  assert.equal(changeText(up.change, utcClock), 'recovered at 10:14 UTC after 9 min `port-filtered`');
  assert.equal(up.progress.changes, 2);
  assert.equal(up.progress.checks, 5, 'the reused and the old results were not taken into this branch');
  assert.equal(stateText(up.progress, T0 + 20 * MIN, utcClock), '`healthy` since 10:14 UTC (6 min)');
  const banned = observe(up.progress, report('r6', 'banned', T0 + 20 * MIN), T0 + 20 * MIN);
  assert.ok(banned.kind === 'change');
  assert.equal(changeText(banned.change, utcClock), 'now `banned` (since 10:20 UTC; was `healthy` for 6 min)');
});

test('a skipped check is noted and moves the schedule; stop messages say why, how long, and the last state', () => {
  const p = observe(startProgress(T0, 30_000, 2 * 3_600_000), report('r1', 'port-closed', T0), T0 + 500).progress;
  const s = skipped(p, T0 + 40_000, 'you have started 5 checks in a short time');
  assert.equal(nextDueMs(s, T0 + 40_000), T0 + 70_000);
  assert.match(s.lastNote ?? '', /skipped: you have started 5 checks/);
  assert.equal(stopText({ kind: 'expired' }, p, T0 + 2 * 3_600_000, utcClock), 'Watch ended at 12:00 UTC: it ran its 2 h after 1 check and 0 changes; last state `port-closed` since 10:00 UTC (2 h).');
  assert.match(stopText({ kind: 'stopped', by: '<@U1>' }, p, T0 + MIN, utcClock), /^Watch stopped at 10:01 UTC by <@U1> after 1 check/);
  assert.match(stopText({ kind: 'lost', why: 'the bot was down past its end (11:00 UTC)' }, p, T0, utcClock), /^Watch stopped: the bot was down past its end/);
  assert.match(stopText({ kind: 'refused', message: 'you may not run checks here' }, p, T0, utcClock), /a re-check was refused \(you may not run checks here\)/);
  assert.equal(spanText(59_400), '59 s');
  assert.equal(spanText(125 * MIN), '2 h 5 min');
});

test('caps: one watch per target and channel, a channel cap and a bastion cap', () => {
  const limits = { ...WATCH_LIMITS, perChannel: 2, perBastion: 3 };
  const a = { channel: 'C1', bastion: 'b1', key: 'sshcheck@db-1:22' };
  const b = { channel: 'C1', bastion: 'b1', key: 'sshcheck@db-2:22' };
  const c = { channel: 'C2', bastion: 'b1', key: 'sshcheck@db-3:22' };
  assert.equal(watchRefusal([], a, limits), undefined);
  assert.match(watchRefusal([a], a, limits) ?? '', /already watched in this channel/);
  assert.match(watchRefusal([a, b], { ...c, channel: 'C1' }, limits) ?? '', /this channel already has 2 watches/);
  assert.match(watchRefusal([a, b, c], { channel: 'C3', bastion: 'b1', key: 'x' }, limits) ?? '', /3 watches already run through b1/);
  assert.equal(watchRefusal([a, b, c], { channel: 'C3', bastion: 'b2', key: 'x' }, limits), undefined);
});
