// A burst of distinct checks while the audit log is slow: the service is full as soon as
// its slots are taken by admissions still writing their rows, so every request beyond
// maxRuns is refused (429) at once, before the store is asked anything for it, not after
// a store round trip of its own (which under a burst of 300 took seconds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admission } from '../../src/service/server.js';
import type { ServiceRun } from '../../src/service/runs.js';
import { postCheck, scriptedRunner, startLoopbackService } from './service-support.js';

test('requests beyond maxRuns are refused while the admitted ones still wait for their audit rows', async () => {
  const maxRuns = 3;
  const burst = 10;
  const pendingRows: Array<() => void> = [];
  const denied: string[] = [];
  const followed: ServiceRun[] = [];
  // An audit log that answers only when the test says so.
  const admit = (): Admission => ({
    record: () => new Promise((resolve) => pendingRows.push(() => resolve({ ok: true }))),
    follow: (run) => void followed.push(run),
    deny: (reason) => void denied.push(reason),
  });
  const { runner, runs } = scriptedRunner();
  const svc = await startLoopbackService(runner, { admit, registry: { maxRuns } });
  try {
    const answers = Array.from({ length: burst }, (_, i) => postCheck(svc.url, { target: '127.0.0.1', port: 20_000 + i }));
    // The refusals arrive while no row has been written yet.
    assert.equal(await waitFor(() => denied.length === burst - maxRuns), true, 'every request beyond maxRuns was refused before any audit row was written');
    assert.equal(pendingRows.length, maxRuns, 'only the admitted requests asked for an audit row');
    assert.equal(runs(), 0, 'nothing started before its row was written');
    for (const write of pendingRows) write();
    const statuses = (await Promise.all(answers)).map((a) => a.status).sort();
    assert.deepEqual(statuses, [...Array<number>(maxRuns).fill(202), ...Array<number>(burst - maxRuns).fill(429)].sort());
    assert.equal(followed.length, maxRuns);
    assert.ok(denied.every((reason) => /checks are running/.test(reason)), denied.join('; '));
  } finally {
    await svc.close();
  }
});

test('a slot held by an admission is given back when its row cannot be written: the next request runs', async () => {
  let ok = false;
  const admit = (): Admission => ({
    record: () => Promise.resolve(ok ? { ok: true } : { ok: false, reason: 'the audit log is locked by another process' }),
    follow: () => undefined,
    deny: () => undefined,
  });
  const { runner } = scriptedRunner();
  const svc = await startLoopbackService(runner, { admit, registry: { maxRuns: 1 } });
  try {
    assert.equal((await postCheck(svc.url, { target: '127.0.0.1', port: 20_001 })).status, 503);
    assert.equal(svc.service.registry.wouldRefuse({ input: '127.0.0.1', host: '127.0.0.1', kind: 'ipv4', port: 20_002, user: 'root' }), undefined, 'the refused request holds no slot');
    ok = true;
    assert.equal((await postCheck(svc.url, { target: '127.0.0.1', port: 20_002 })).status, 202);
  } finally {
    await svc.close();
  }
});

/** Resolves true once `condition` holds (checked every 5 ms, at most 10 s). */
async function waitFor(condition: () => boolean): Promise<boolean> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return false;
}
