// The chat watch runner over a real SQLite store and the real gate, with a scripted engine
// (the lab test runs the real one): changes are posted once each, the parent follows the
// state, the end comes by itself, unwatch and Stop end it, the caps and the gate refuse
// before anything is posted, and a new runner over the same file resumes a watch or says in
// its thread that it stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckResult, EngineClient } from '../../src/chat/engine-client.js';
import { Gate } from '../../src/chat/gate.js';
import type { GateActor } from '../../src/chat/gate.js';
import { WATCH_LIMITS } from '../../src/chat/watch.js';
import type { WatchView } from '../../src/chat/watch.js';
import { parseWatchCommand } from '../../src/chat/watch-grammar.js';
import type { WatchCommand } from '../../src/chat/watch-grammar.js';
import type { WatchPlace, WatchPoster } from '../../src/chat/watch-runner.js';
import { WatchRunner } from '../../src/chat/watch-runner.js';
import { Store } from '../../src/store/store.js';
import { watchStoreOf } from '../../src/store/watch-store.js';
import { createLogger } from '../../src/log.js';
import { ALLOW_ALL_POLICY, OPEN_LIMITS, openGate } from '../support/open-gate.js';
import { fakeReport } from './store-support.js';

const LIMITS = { ...WATCH_LIMITS, minEveryMs: 10, maxForMs: 60_000 };
const logger = createLogger({ name: 'test', level: 'error' });

class RecordingPoster implements WatchPoster {
  readonly parents: Array<{ ref: string; view: WatchView }> = [];
  readonly thread: Array<{ ref: string | null; text: string }> = [];
  private n = 0;
  postParent(_place: Pick<WatchPlace, 'workspace' | 'channel'>, view: WatchView): Promise<{ parentRef: string }> {
    const ref = `m${++this.n}`;
    this.parents.push({ ref, view });
    return Promise.resolve({ parentRef: ref });
  }
  updateParent(place: WatchPlace, view: WatchView): Promise<void> {
    this.parents.push({ ref: place.parentRef ?? '?', view });
    return Promise.resolve();
  }
  postInThread(place: WatchPlace, text: string): Promise<void> {
    this.thread.push({ ref: place.parentRef, text });
    return Promise.resolve();
  }
  actor(who: { workspace: string | null; channel: string; user: string }): GateActor {
    return { platform: 'slack', channel: who.channel, user: who.user };
  }
  last(): WatchView | undefined {
    return this.parents.at(-1)?.view;
  }
}

/** Answers with the cause `script` names for the n-th check (the last one from then on). */
function scripted(script: (n: number) => string): EngineClient & { calls: number } {
  const engine = {
    calls: 0,
    check(): Promise<CheckResult> {
      engine.calls += 1;
      return Promise.resolve({ report: fakeReport({ id: `r${engine.calls}-${Math.random()}`, cause: script(engine.calls), at: Date.now() }) });
    },
  };
  return engine;
}

/** "watch db-3 every 20ms for 1s": the grammar's command with spans in milliseconds (the chat grammar takes seconds). */
function watchOf(text: string): Extract<WatchCommand, { kind: 'watch' }> {
  const m = /^(.*) every (\d+)ms for (\d+)(ms|s)$/.exec(text);
  assert.ok(m);
  const c = parseWatchCommand(m[1] ?? '', { limits: LIMITS });
  assert.ok(c && c.kind === 'watch');
  return { ...c, everyMs: Number(m[2]), forMs: Number(m[3]) * (m[4] === 's' ? 1000 : 1) };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function tempStore(): { path: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-watch-'));
  return { dir, path: join(dir, 'store.db') };
}

test('a fault that appears and clears: exactly two change messages; the parent follows; the end comes by itself', async () => {
  const { dir, path } = tempStore();
  const store = Store.open(path);
  const poster = new RecordingPoster();
  const engine = scripted((n) => (n <= 2 ? 'healthy' : n <= 4 ? 'port-filtered' : 'healthy'));
  // The real gate with the store: every re-check gets its audit row, as a typed check does.
  const runner = new WatchRunner({ store: watchStoreOf(store), gate: new Gate({ policy: ALLOW_ALL_POLICY, limits: OPEN_LIMITS, store }), engine, vantage: 'b1', logger, limits: LIMITS });
  runner.register('slack', poster);
  try {
    const started = await runner.start({ platform: 'slack', workspace: 'T1', channel: 'C1', user: 'U1', requester: '<@U1>', command: watchOf('watch db-3 every 20ms for 1s') });
    assert.equal(started.kind, 'started');
    assert.equal(poster.parents[0]?.view.progress.current, undefined, 'the parent is posted before the first verdict');
    await until('the watch to end', () => runner.active === 0);
    const changes = poster.thread.filter((m) => !m.text.startsWith('Watch '));
    assert.deepEqual(changes.map((m) => m.text.replace(/\d\d:\d\d UTC/g, 'HH:MM UTC').replace(/\d+ s/g, 'N s')), ['now `port-filtered` (since HH:MM UTC; was `healthy` for N s)', 'recovered at HH:MM UTC after N s `port-filtered`']);
    assert.ok(changes.every((m) => m.ref === 'm1'), 'in the thread of the parent');
    assert.match(poster.thread.at(-1)?.text ?? '', /^Watch ended at \d\d:\d\d UTC: it ran its 1 s after \d+ checks and 2 changes; last state `healthy` since/);
    assert.equal(poster.last()?.stopped, poster.thread.at(-1)?.text, 'the parent shows the end');
    assert.ok(engine.calls >= 5);
    const rows = store.activeWatches();
    assert.equal(rows.length, 0, 'no active row left');
    assert.ok(store.audit().filter((a) => a.action === 'check').length >= 5, 'every check has its audit row');
  } finally {
    await runner.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unwatch and the Stop button end a watch; the caps and the gate refuse before anything is posted', async () => {
  const { dir, path } = tempStore();
  const store = Store.open(path);
  const poster = new RecordingPoster();
  const engine = scripted(() => 'port-closed');
  const runner = new WatchRunner({ store: watchStoreOf(store), gate: openGate(), engine, vantage: 'b1', logger, limits: { ...LIMITS, perChannel: 2 } });
  runner.register('slack', poster);
  try {
    const req = (text: string, channel = 'C1'): Parameters<WatchRunner['start']>[0] => ({ platform: 'slack', workspace: 'T1', channel, user: 'U1', requester: '<@U1>', command: watchOf(text) });
    const a = await runner.start(req('watch db-3 every 50ms for 30s'));
    assert.equal(a.kind, 'started');
    const again = await runner.start(req('watch db-3 every 50ms for 30s'));
    assert.deepEqual(again.kind === 'refused' ? /already watched in this channel/.test(again.message) : again, true);
    const b = await runner.start(req('watch db-4 every 50ms for 30s'));
    assert.equal(b.kind, 'started');
    const c = await runner.start(req('watch db-5 every 50ms for 30s'));
    assert.ok(c.kind === 'refused' && /^This channel already has 2 watches/.test(c.message));
    const posted = poster.parents.filter((p) => poster.parents.indexOf(p) === poster.parents.findIndex((q) => q.ref === p.ref)).length;
    assert.equal(posted, 2, 'refused watches post nothing');
    await until('a first verdict', () => poster.parents.some((p) => p.view.progress.current !== undefined));
    assert.equal(await runner.unwatch('slack', 'C1', 'db-3', 22, '<@U2>'), 1);
    assert.match(poster.thread.find((m) => m.ref === 'm1')?.text ?? '', /^Watch stopped at .* by <@U2> after \d+ checks? and 0 changes; last state `port-closed`/);
    assert.equal(b.kind === 'started' && (await runner.stopById('slack', 'C2', b.id, '<@U3>')), false, 'a Stop from another channel stops nothing');
    assert.equal(b.kind === 'started' && (await runner.stopById('slack', 'C1', b.id, '<@U3>')), true);
    assert.equal(runner.active, 0);
    assert.equal(store.activeWatches().length, 0);
    const calls = engine.calls;
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(engine.calls, calls, 'no check after the stop');

    // The gate refuses the requester: nothing posted, nothing stored.
    const closedGate = new Gate({ policy: ALLOW_ALL_POLICY, limits: OPEN_LIMITS, permissions: { slack: { channels: ['C9'] } } });
    const refusing = new WatchRunner({ store: watchStoreOf(store), gate: closedGate, engine, vantage: 'b1', logger, limits: LIMITS });
    refusing.register('slack', poster);
    const before = poster.parents.length;
    const denied = await refusing.start(req('watch db-6 every 50ms for 30s'));
    assert.equal(denied.kind, 'refused');
    assert.equal(poster.parents.length, before);
    await refusing.close();
  } finally {
    await runner.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a restart: a new runner over the same file resumes a running watch, and says in the thread when one ended while it was down', async () => {
  const { dir, path } = tempStore();
  const engine = scripted(() => 'healthy');
  const first = Store.open(path);
  const poster1 = new RecordingPoster();
  const runner1 = new WatchRunner({ store: watchStoreOf(first), gate: openGate(), engine, vantage: 'b1', logger, limits: LIMITS });
  runner1.register('slack', poster1);
  const keep = await runner1.start({ platform: 'slack', workspace: 'T1', channel: 'C1', user: 'U1', requester: '<@U1>', command: watchOf('watch db-3 every 30ms for 30s') });
  const lapse = await runner1.start({ platform: 'slack', workspace: 'T1', channel: 'C1', user: 'U1', requester: '<@U1>', command: watchOf('watch db-4 every 30ms for 300ms') });
  assert.ok(keep.kind === 'started' && lapse.kind === 'started');
  await until('first verdicts', () => poster1.parents.filter((p) => p.view.progress.current !== undefined).length >= 2);
  // The bot stops: the watches stay in the store as they are.
  await runner1.close();
  first.close();
  await new Promise((r) => setTimeout(r, 350));

  const second = Store.open(path);
  const poster2 = new RecordingPoster();
  const runner2 = new WatchRunner({ store: watchStoreOf(second), gate: openGate(), engine, vantage: 'b1', logger, limits: LIMITS });
  runner2.register('slack', poster2);
  try {
    const calls = engine.calls;
    assert.deepEqual(await runner2.resume('slack'), { resumed: 1, stopped: 1 });
    assert.equal(runner2.active, 1);
    const lost = poster2.thread.find((m) => m.ref === 'm2');
    assert.match(lost?.text ?? '', /^Watch stopped: the bot restarted and could not take it up again \(the bot was down when its \d\d:\d\d UTC end came\) after \d+ checks? and 0 changes; last state `healthy`/);
    await until('the resumed watch to check again', () => engine.calls > calls + 1);
    const resumedParent = poster2.parents.filter((p) => p.ref === 'm1').at(-1)?.view;
    assert.equal(resumedParent?.id, keep.id, 'the resumed watch updates its own parent');
    assert.ok((resumedParent?.progress.checks ?? 0) > (poster1.parents.filter((p) => p.ref === 'm1').at(-1)?.view.progress.checks ?? 0), 'its count goes on');
    assert.deepEqual(second.activeWatches().map((r) => r.id), [keep.id]);
  } finally {
    await runner2.close();
    second.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
