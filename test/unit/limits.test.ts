// Limits with a fake clock: token buckets (refill, retry times), per-person and global rate
// limits, and the concurrency cap with its FIFO queue (positions, joins, refusals, shutdown).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckQueue, RateLimiter, TokenBucket, retryText } from '../../src/chat/limits.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('token bucket: a burst, then one token per 60/perMinute seconds; retry times say when', () => {
  const c = clock();
  const b = new TokenBucket({ burst: 3, perMinute: 2 }, c.now);
  for (let i = 0; i < 3; i++) assert.deepEqual(b.take(), { ok: true });
  assert.deepEqual(b.take(), { ok: false, retryAfterMs: 30_000 });
  c.advance(10_000);
  assert.deepEqual(b.take(), { ok: false, retryAfterMs: 20_000 });
  c.advance(20_000);
  assert.deepEqual(b.take(), { ok: true });
  assert.equal(b.full, false);
  c.advance(10 * 60_000);
  assert.equal(b.tokens, 3, 'never more than the burst');
  assert.equal(b.full, true);
  b.take();
  b.refund();
  assert.equal(b.tokens, 3);
});

test('rate limiter: per person first, then everyone; a refused check costs nothing', () => {
  const c = clock();
  const rate = new RateLimiter({ perUser: { burst: 2, perMinute: 1 }, global: { burst: 3, perMinute: 6 } }, c.now);
  assert.deepEqual(rate.take('alice'), { ok: true });
  assert.deepEqual(rate.take('alice'), { ok: true });
  assert.deepEqual(rate.take('alice'), { ok: false, scope: 'user', retryAfterMs: 60_000 });
  assert.deepEqual(rate.take('bob'), { ok: true });
  // Everyone's bucket (3) is empty now; carol's own is full.
  assert.deepEqual(rate.take('carol'), { ok: false, scope: 'global', retryAfterMs: 10_000 });
  c.advance(10_000);
  assert.deepEqual(rate.take('carol'), { ok: true });
  // alice was refused twice without losing anything: after 60 s she has exactly one again.
  c.advance(50_000);
  assert.deepEqual(rate.take('alice'), { ok: true });
  rate.refund('alice');
  assert.deepEqual(rate.take('alice'), { ok: true });
});

test('queue: a slot while under the cap, then FIFO places; a release promotes the next', async () => {
  const q = new CheckQueue({ concurrent: 2, queue: 2, runEstimateMs: 20_000 });
  const a = q.acquire('a');
  const b = q.acquire('b');
  const c = q.acquire('c');
  const d = q.acquire('d');
  assert.ok(a.kind === 'slot' && b.kind === 'slot' && c.kind === 'slot' && d.kind === 'slot');
  assert.deepEqual([a.position, b.position, c.position, d.position], [0, 0, 1, 2]);
  assert.equal(q.running, 2);
  assert.equal(q.waiting, 2);
  const full = q.acquire('e');
  assert.deepEqual(full, { kind: 'full', running: 2, waiting: 2, retryAfterMs: 40_000 });
  let cStarted = false;
  void c.slot.ready.then(() => (cStarted = true));
  a.slot.release();
  a.slot.release(); // idempotent: frees one slot, not two
  await Promise.resolve();
  assert.ok(cStarted);
  assert.equal(c.slot.position(), 0);
  assert.equal(d.slot.position(), 1, 'd moved up');
  assert.equal(q.running, 2);
  assert.equal(q.waiting, 1);
});

test('queue: a request for a target already running or waiting joins it instead of taking a place', () => {
  const q = new CheckQueue({ concurrent: 1, queue: 1, runEstimateMs: 20_000 });
  const first = q.acquire('db-3');
  const joinRunning = q.acquire('db-3');
  assert.ok(first.kind === 'slot' && joinRunning.kind === 'slot');
  assert.equal(joinRunning.joined, true);
  assert.equal(joinRunning.position, 0);
  const waiting = q.acquire('db-4');
  const joinWaiting = q.acquire('db-4');
  assert.ok(waiting.kind === 'slot' && joinWaiting.kind === 'slot');
  assert.deepEqual([waiting.position, joinWaiting.position, joinWaiting.joined], [1, 1, true]);
  assert.equal(q.waiting, 1, 'one place for both');
  // The running entry ends only when both holders released it.
  first.slot.release();
  assert.equal(waiting.slot.position(), 1);
  joinRunning.slot.release();
  assert.equal(waiting.slot.position(), 0);
});

test('queue: a waiting check that is cancelled leaves the queue; close() fails the waiting ones', async () => {
  const q = new CheckQueue({ concurrent: 1, queue: 5, runEstimateMs: 20_000 });
  const running = q.acquire('a');
  const w1 = q.acquire('b');
  const w2 = q.acquire('c');
  assert.ok(running.kind === 'slot' && w1.kind === 'slot' && w2.kind === 'slot');
  w1.slot.release();
  assert.equal(w2.slot.position(), 1);
  q.close('stopping');
  await assert.rejects(w2.slot.ready, /stopping/);
  assert.equal(q.acquire('d').kind, 'full');
  running.slot.release();
  assert.equal(q.running, 0);
});

test('retry times read as seconds, then minutes, never 0', () => {
  assert.equal(retryText(0), '1 s');
  assert.equal(retryText(1), '1 s');
  assert.equal(retryText(24_100), '25 s');
  assert.equal(retryText(89_000), '89 s');
  assert.equal(retryText(120_000), '2 min');
  assert.equal(retryText(121_000), '3 min');
});
