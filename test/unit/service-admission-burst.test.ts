// A burst of distinct checks while the audit log is slow: the service is full as soon as
// its slots are taken by admissions still writing their rows, so every request beyond
// maxRuns is refused (429) at once, before the store is asked anything for it, not after
// a store round trip of its own (which under a burst of 300 took seconds). Through the real
// audit log, every refusal still has its row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/log.js';
import { defaultPolicy } from '../../src/policy/target-policy.js';
import { serviceAdmission } from '../../src/service/audit.js';
import type { Admission, Service } from '../../src/service/server.js';
import { StoreClient } from '../../src/store/client.js';
import { Store } from '../../src/store/store.js';
import { BusyError, DEFAULT_REGISTRY_OPTIONS, RunRegistry } from '../../src/service/runs.js';
import { ServiceMetrics } from '../../src/service/metrics.js';
import type { Target } from '../../src/target.js';
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

test('a burst through the real audit log (the store thread): every 429 has its row, refused for a full service, and the admitted ones theirs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-burst-audit-'));
  const store = await StoreClient.open(join(dir, 'sshcheck.db'));
  const holder: { service?: Service } = {};
  const admit = serviceAdmission({ store, policy: defaultPolicy(), vantage: 'test-bastion', logger: createLogger({ level: 'error', write: () => undefined }), registry: () => (holder.service as Service).registry });
  const { runner } = scriptedRunner({ gapMs: 20 });
  const svc = await startLoopbackService(runner, { admit, registry: { maxRuns: 2 } });
  holder.service = svc.service;
  const burst = 12;
  try {
    const answers = await Promise.all(Array.from({ length: burst }, (_, i) => postCheck(svc.url, { target: '10.0.0.5', port: 21_000 + i })));
    const byPort = new Map(answers.map((a, i) => [21_000 + i, a.status]));
    assert.deepEqual([...byPort.values()].sort(), [...Array<number>(2).fill(202), ...Array<number>(burst - 2).fill(429)]);
    // The admitted runs end; their outcomes and the refusals' rows (sent in the background)
    // are all written once the store is closed, as at the service's exit.
    const admitted = answers.filter((a) => a.status === 202).map((a) => svc.service.registry.get(String(a.body.id)));
    await Promise.all(admitted.map((run) => run?.done ?? Promise.reject(new Error('an admitted check is not in the registry'))));
    assert.equal(await store.close(), 0);
    const reader = Store.open(join(dir, 'sshcheck.db'), { readonly: true });
    const rows = reader.audit({ limit: 100 });
    reader.close();
    assert.equal(rows.length, burst, 'one row per request');
    for (const r of rows) {
      if (byPort.get(r.port ?? 0) === 429) assert.deepEqual([r.verdict, r.denial], ['denied', 'queue-full'], `the row of the 429 for port ${r.port}`);
      else assert.equal(r.verdict, 'problem', `the row of the 202 for port ${r.port} has its outcome`);
    }
  } finally {
    await svc.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full registry refuses with the count of slots taken now: one refusal per count, a new one when it changes', async () => {
  const { runner } = scriptedRunner({ gapMs: 50 });
  const registry = new RunRegistry(runner, { ...DEFAULT_REGISTRY_OPTIONS, maxRuns: 2 }, new ServiceMetrics(), createLogger({ level: 'error', write: () => undefined }));
  const target = (port: number): Target => ({ input: '10.0.0.5', host: '10.0.0.5', kind: 'ipv4', port, user: 'root' });
  const slots = [registry.reserve(target(1)), registry.reserve(target(2))];
  const first = registry.wouldRefuse(target(3));
  assert.ok(first instanceof BusyError);
  assert.match(first.message, /^2 checks are running/);
  assert.equal(registry.wouldRefuse(target(4)), first, 'the same refusal while nothing changed');
  assert.equal(registry.wouldRefuse(target(1)), undefined, 'a request for a key being admitted is not refused');
  // A run started beside the two reservations: three slots are taken now.
  registry.start(target(9));
  const next = registry.wouldRefuse(target(3));
  assert.ok(next instanceof BusyError && next !== first);
  assert.match(next.message, /^3 checks are running/);
  for (const slot of slots) if ('release' in slot) slot.release();
  await registry.stopAll();
});
