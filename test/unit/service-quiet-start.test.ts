// A new run's probes wait for a burst to drain (src/service/quiet-start.ts): held while
// requests keep arriving, released once none arrived for quietMs or at maxHoldMs, whichever
// is first; the request's own answer is not held. Every clock here is the test's own (a
// value it advances), so nothing depends on how fast this machine runs.
import { mock, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { heldUntilQuiet, QuietStart } from '../../src/service/quiet-start.js';
import type { Runner } from '../../src/service/runs.js';
import { waitFor } from '../support/nats-server.js';
import { auth, postCheck, scriptedRunner, startLoopbackService } from './service-support.js';

const QUIET_MS = 25;
const MAX_HOLD_MS = 300;

/** A QuietStart on a clock the test moves, with node:test's mocked setTimeout (reset after the test). */
function fakeClock(t: TestContext): { quiet: QuietStart; advance: (ms: number) => Promise<void> } {
  let now = 0;
  mock.timers.enable({ apis: ['setTimeout'] });
  t.after(() => mock.timers.reset());
  const quiet = new QuietStart({ quietMs: QUIET_MS, maxHoldMs: MAX_HOLD_MS, now: () => now });
  return {
    quiet,
    advance: async (ms) => {
      now += ms;
      mock.timers.tick(ms);
      // Let the released promises' continuations run.
      await new Promise<void>((r) => setImmediate(r));
    },
  };
}

/** A run waiting on `quiet`: whether it was released yet. */
function heldRun(quiet: QuietStart, signal?: AbortSignal): () => boolean {
  let released = false;
  void quiet.wait(signal).then(() => (released = true));
  return () => released;
}

test('a run is held while requests keep arriving, and released at the bound, not before', async (t) => {
  const { quiet, advance } = fakeClock(t);
  quiet.arrival();
  const released = heldRun(quiet);
  for (let at = 0; at < MAX_HOLD_MS - 20; at += 20) {
    await advance(20);
    quiet.arrival();
    assert.equal(released(), false, `released at ${at + 20} ms while a request arrived every 20 ms`);
  }
  await advance(20);
  assert.equal(released(), true, 'released at the bound although requests still arrive');
  assert.equal(quiet.held, 0);
});

test('a run is released once no request arrived for quietMs', async (t) => {
  const { quiet, advance } = fakeClock(t);
  quiet.arrival();
  const released = heldRun(quiet);
  await advance(10);
  quiet.arrival();
  await advance(QUIET_MS - 1);
  assert.equal(released(), false, 'released before the burst was quiet for quietMs');
  await advance(1);
  assert.equal(released(), true, 'still held after quietMs without a request');
});

test('no hold when no request arrived lately; a stopped run is released at once', async (t) => {
  const { quiet, advance } = fakeClock(t);
  await quiet.wait();
  await advance(1);
  quiet.arrival();
  const controller = new AbortController();
  const released = heldRun(quiet, controller.signal);
  await advance(1);
  assert.equal(released(), false);
  controller.abort();
  await advance(0);
  assert.equal(released(), true, 'an aborted run waits for nothing (the engine reports it stopped)');
  assert.equal(quiet.held, 0);
});

test('the held runner starts only after the release', async (t) => {
  const { quiet, advance } = fakeClock(t);
  const order: string[] = [];
  const { runner } = scriptedRunner();
  const inner: Runner = (target, o) => (order.push('probes start'), runner(target, o));
  quiet.arrival();
  const run = heldUntilQuiet(inner, quiet)({ input: 'db-3', host: 'db-3', kind: 'name', port: 22, user: 'root' }, { onEvent: () => undefined, signal: new AbortController().signal });
  await advance(QUIET_MS - 1);
  order.push('quiet');
  await advance(1);
  await run;
  assert.deepEqual(order, ['quiet', 'probes start']);
});

test('through the service: the 202 goes at once, the probes wait for the requests to stop; /healthz does not hold them', async () => {
  let now = 0;
  const engine = scriptedRunner();
  const svc = await startLoopbackService(engine.runner, { quietStart: { quietMs: QUIET_MS, maxHoldMs: MAX_HOLD_MS, now: () => now } });
  try {
    const first = await postCheck(svc.url, { target: 'db-3' });
    assert.equal(first.status, 202, 'the admitted request is answered while its probes are held');
    const self = String((first.body.links as { self: string }).self);
    // Requests keep arriving (a lookup each 20 ms of the service's clock): still held.
    for (let i = 0; i < 5; i++) {
      now += 20;
      assert.equal((await fetch(`${svc.url}${self}`, { headers: auth() })).status, 200);
      assert.equal(engine.runs(), 0, `the probes started while requests kept arriving (request ${i + 1})`);
    }
    // A liveness poll is not a request of the burst: quietMs after the last lookup, the run starts.
    now += QUIET_MS - 5;
    assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);
    now += 5;
    await waitFor('the held run to start once the requests stopped', () => engine.runs() === 1, 10_000);
    // Past the bound a run starts although requests keep arriving.
    const second = await postCheck(svc.url, { target: 'db-4' });
    assert.equal(second.status, 202);
    for (let i = 0; i < MAX_HOLD_MS / 20 - 1; i++) {
      now += 20;
      // db-3's finished result, reused (200): a request like any other, and it arrives.
      assert.equal((await postCheck(svc.url, { target: 'db-3' })).status, 200);
      assert.equal(engine.runs(), 1, `the second run started before its bound (request ${i + 1})`);
    }
    now += 20;
    await postCheck(svc.url, { target: 'db-3' });
    await waitFor('the held run to start at its bound', () => engine.runs() === 2, 10_000);
  } finally {
    await svc.close();
  }
});
