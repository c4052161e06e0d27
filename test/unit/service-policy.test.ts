// `sshcheck serve` under the target policy, with its audit rows: a typed target the policy
// refuses is a 403 (nothing started), an address refused inside the engine ends the event
// stream with E_POLICY (what a script reading the stream sees), and every request leaves an
// audit row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget } from '../../src/target.js';
import { createLogger } from '../../src/log.js';
import { checkAddresses, defaultPolicy, PolicyError } from '../../src/policy/target-policy.js';
import { serviceAdmission } from '../../src/service/audit.js';
import type { Runner } from '../../src/service/runs.js';
import type { Service } from '../../src/service/server.js';
import { Store } from '../../src/store/store.js';
import { postCheck, readEvents, scriptedRunner, startLoopbackService } from './service-support.js';

async function withService(runner: Runner, body: (url: string, store: Store, service: Service) => Promise<void>): Promise<void> {
  const store = Store.open(':memory:');
  // The admission follows runs in the registry of the service it is given to.
  const holder: { service?: Service } = {};
  // The service's store answers from its own thread (StoreClient); here the same calls, as promises.
  const writer = {
    addAudit: (entry: Parameters<Store['addAudit']>[0]) => Promise.resolve(store.addAudit(entry)),
    updateAudit: (id: number, patch: Parameters<Store['updateAudit']>[1]) => Promise.resolve(store.updateAudit(id, patch)),
  };
  const admit = serviceAdmission({ store: writer, policy: defaultPolicy(), vantage: 'test-bastion', logger: createLogger({ level: 'error', write: () => undefined }), registry: () => (holder.service as Service).registry });
  const started = await startLoopbackService(runner, { admit });
  holder.service = started.service;
  try {
    await body(started.url, store, started.service);
  } finally {
    await started.close();
    store.close();
  }
}

test('a typed target the policy refuses: 403 with code "policy", no run, an audit row', async () => {
  const scripted = scriptedRunner();
  await withService(scripted.runner, async (url, store, service) => {
    const res = await postCheck(url, { target: '169.254.169.254' });
    assert.equal(res.status, 403);
    assert.equal((res.body.error as { code: string }).code, 'policy');
    assert.match((res.body.error as { message: string }).message, /cloud instance metadata/);
    assert.equal(scripted.runs(), 0);
    assert.match(service.metrics.render(), /sshcheck_requests_rejected_total\{reason="policy"\} 1/);
    const loopback = await postCheck(url, { target: '127.0.0.1' });
    assert.equal(loopback.status, 403);
    assert.match((loopback.body.error as { message: string }).message, /^The target policy refuses the address 127\.0\.0\.1: loopback/);
    assert.deepEqual(store.audit().map((r) => [r.source, r.host, r.verdict, r.denial, r.bastion]), [
      ['service', '169.254.169.254', 'denied', 'policy', 'test-bastion'],
      ['service', '127.0.0.1', 'denied', 'policy', 'test-bastion'],
    ]);
  });
});

test('an address refused inside the engine: the stream ends with an E_POLICY error event, the row says denied', async () => {
  const target = parseTarget('db-3.lab.test');
  const denial = checkAddresses(defaultPolicy(), target, ['127.0.0.1']);
  assert.ok(denial);
  const refusing: Runner = () => Promise.reject(new PolicyError(denial));
  await withService(refusing, async (url, store, service) => {
    const started = await postCheck(url, { target: target.input });
    assert.equal(started.status, 202);
    const stream = await readEvents(`${url}/v1/checks/${String(started.body.id)}/events`);
    const last = stream.messages.at(-1);
    assert.equal(last?.event, 'error');
    const error = JSON.parse(last?.data ?? '{}') as { code?: string; message?: string };
    assert.equal(error.code, 'E_POLICY');
    assert.match(error.message ?? '', /^The target policy refuses db-3\.lab\.test, which resolves to 127\.0\.0\.1:/);
    await new Promise((r) => setTimeout(r, 50));
    assert.match(service.metrics.render(), /sshcheck_runs_total\{cause="policy-refused"\} 1/);
    const [row] = store.audit();
    assert.deepEqual([row?.verdict, row?.denial], ['denied', 'policy']);
    assert.match(row?.reason ?? '', /resolves to 127\.0\.0\.1/);
  });
});

test('an allowed check: the row is completed with the outcome when the run ends (joined requests too)', async () => {
  const scripted = scriptedRunner({ gapMs: 5 });
  await withService(scripted.runner, async (url, store) => {
    const [a, b] = await Promise.all([postCheck(url, { target: '10.0.0.5' }), postCheck(url, { target: '10.0.0.5' })]);
    assert.equal(a.body.id, b.body.id, 'one check, joined');
    const stream = await readEvents(`${url}/v1/checks/${String(a.body.id)}/events`);
    const finished = JSON.parse(stream.messages.at(-1)?.data ?? '{}') as { type?: string; report?: { id: string } };
    assert.equal(finished.type, 'run-finished');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(scripted.runs(), 1);
    assert.deepEqual(store.audit().map((r) => [r.verdict, r.cause, r.reportId]), [
      ['problem', 'port-closed', finished.report?.id],
      ['problem', 'port-closed', finished.report?.id],
    ]);
  });
});
