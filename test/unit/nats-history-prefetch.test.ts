// The agent's early history read (src/nats/history-prefetch.ts): the run core's question is
// answered by the read started at admission, once; anything else asks the store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HistoryPrefetch } from '../../src/nats/history-prefetch.js';
import type { RunRow } from '../../src/store/store.js';

function recorder(): { asked: Array<[string, number, string, number]>; read: (host: string, port: number, vantage: string, sinceMs: number) => Promise<RunRow | undefined> } {
  const asked: Array<[string, number, string, number]> = [];
  return {
    asked,
    read: (host, port, vantage, sinceMs) => {
      asked.push([host, port, vantage, sinceMs]);
      return Promise.resolve(undefined);
    },
  };
}

test('the run core gets the early read for its target once; a second run asks the store', async () => {
  let now = 1_000_000;
  const r = recorder();
  const p = new HistoryPrefetch(r.read, 'eu-1', 60, () => now);
  p.start({ host: 'db-3', port: 22 });
  assert.equal(r.asked.length, 1);
  assert.deepEqual(r.asked[0], ['db-3', 22, 'eu-1', now - 60 * 60_000]);
  now += 5;
  await p.lastHealthy('db-3', 22, 'eu-1', now - 60 * 60_000);
  assert.equal(r.asked.length, 1, 'answered by the early read');
  await p.lastHealthy('db-3', 22, 'eu-1', now - 60 * 60_000);
  assert.equal(r.asked.length, 2, 'the early read is used once');
});

test('another target, another vantage, or an early read too old: the store is asked', async () => {
  let now = 1_000_000;
  const r = recorder();
  const p = new HistoryPrefetch(r.read, 'eu-1', 60, () => now);
  p.start({ host: 'db-3', port: 22 });
  await p.lastHealthy('db-3', 2222, 'eu-1', now - 60 * 60_000);
  await p.lastHealthy('db-3', 22, 'us-1', now - 60 * 60_000);
  assert.equal(r.asked.length, 3);
  now += 10_000;
  await p.lastHealthy('db-3', 22, 'eu-1', now - 60 * 60_000);
  assert.equal(r.asked.length, 4, 'a read started 10 s ago (its run refused) is not used');
});

test('a failed early read reaches the run core as the same failure, and is never unhandled', async () => {
  const p = new HistoryPrefetch(() => Promise.reject(new Error('store locked')), 'eu-1', 60);
  p.start({ host: 'db-3', port: 22 });
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(p.lastHealthy('db-3', 22, 'eu-1', Date.now() - 60 * 60_000), /store locked/);
});
