// The engine's outbox (src/engine/outbox.ts): what waits, what goes, and in what order, on a
// clock the test turns by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalescingOutbox } from '../../src/engine/outbox.js';
import type { OutboxClock } from '../../src/engine/outbox.js';

function handClock(): OutboxClock & { microtasks: Array<() => void>; timers: Array<{ fn: () => void; ms: number; cancelled: boolean }>; runMicrotasks: () => void; fireTimers: () => void } {
  const microtasks: Array<() => void> = [];
  const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  return {
    microtasks,
    timers,
    soon: (fn) => void microtasks.push(fn),
    later: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return () => void (t.cancelled = true);
    },
    runMicrotasks: () => microtasks.splice(0).forEach((fn) => fn()),
    fireTimers: () => timers.splice(0).forEach((t) => !t.cancelled && t.fn()),
  };
}

const urgent = (m: string): boolean => m.startsWith('!');

/** An outbox on a hand-turned clock, what it sent, batch by batch, and its post(). */
function outbox(): { clock: ReturnType<typeof handClock>; sent: string[][]; post: (message: string) => void } {
  const clock = handClock();
  const sent: string[][] = [];
  return { clock, sent, post: coalescingOutbox<string>((b) => sent.push([...b]), { urgent, delayMs: 20, clock }) };
}

test('messages that are not urgent wait for the delay, and go together', () => {
  const { clock, sent, post } = outbox();
  post('step 1');
  post('step 2');
  clock.runMicrotasks();
  assert.deepEqual(sent, [], 'nothing goes at the end of the turn');
  assert.equal(clock.timers.length, 1, 'one timer for the batch');
  assert.equal(clock.timers[0]?.ms, 20);
  clock.fireTimers();
  assert.deepEqual(sent, [['step 1', 'step 2']]);
});

test('an urgent message goes once the current code is done, with everything queued before it, in order', () => {
  const { clock, sent, post } = outbox();
  post('step 1');
  post('!verdict');
  post('step 2');
  assert.deepEqual(sent, [], 'not before the current code is done');
  clock.runMicrotasks();
  assert.deepEqual(sent, [['step 1', '!verdict', 'step 2']]);
  // The waiting timer was cancelled: it sends nothing more, and nothing twice.
  clock.fireTimers();
  assert.deepEqual(sent, [['step 1', '!verdict', 'step 2']]);
});

test('two urgent messages in one turn make one batch; a later one makes another; never an empty batch', () => {
  const { clock, sent, post } = outbox();
  post('!start');
  post('!verdict');
  assert.equal(clock.microtasks.length, 1, 'one flush queued for the turn');
  clock.runMicrotasks();
  post('step');
  clock.fireTimers();
  post('!end');
  clock.runMicrotasks();
  clock.runMicrotasks();
  assert.deepEqual(sent, [['!start', '!verdict'], ['step'], ['!end']]);
});
