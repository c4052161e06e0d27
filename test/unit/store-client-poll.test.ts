// StoreClient.poll(): a reply someone waits for is taken while this thread is still busy
// (serve in the middle of a burst's batch of requests), not only when the loop's turn
// reaches it. The busy thread is simulated by not yielding to the event loop; nothing is
// timed: without poll() the reply cannot arrive however long the thread stays busy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreClient } from '../../src/store/client.js';

const row = { source: 'service', action: 'check', target: 'sshcheck@db-3:22', host: 'db-3', port: 22, verdict: 'running' } as const;

/** Keeps this thread busy (no event loop) for `ms`, sleeping in small steps so the store's thread gets a CPU. */
function busy(ms: number, each: () => boolean): boolean {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (each()) return true;
    Atomics.wait(cell, 0, 0, 2);
  }
  return false;
}

test('poll() takes a waited-for reply while the loop is busy; background calls are not waited for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-poll-'));
  const store = await StoreClient.open(join(dir, 'sshcheck.db'), { prompt: true });
  try {
    const refused = store.addAudit({ ...row, verdict: 'denied', denial: 'queue-full' }, { background: true });
    assert.equal(store.awaitedCalls, 0, 'a background row is not waited for');
    let id: number | undefined;
    const admitted = store.addAudit(row).then((n) => (id = n));
    assert.equal(store.awaitedCalls, 1);
    // The waited-for call goes at the end of this task (with the row before it), not at the end of the loop's turn.
    await Promise.resolve();
    const sent = store.messagesSent;
    assert.ok(sent > 0);

    // Busy, without poll(): the reply cannot be delivered, whatever the store thread did meanwhile.
    assert.equal(
      busy(300, () => store.awaitedCalls === 0),
      false,
    );
    // Busy, with poll(): taken as soon as it is there.
    assert.equal(
      busy(20_000, () => {
        store.poll();
        return store.awaitedCalls === 0;
      }),
      true,
      'the reply was taken by poll() while the loop was still busy',
    );
    assert.equal(id, undefined, 'its continuation runs when this task ends, as any promise');
    await admitted;
    assert.equal(typeof id, 'number');
    assert.ok((id ?? 0) > (await refused), 'written after the row sent before it');
    store.poll();
    assert.equal(store.awaitedCalls, 0);
    assert.equal(await store.close(), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
