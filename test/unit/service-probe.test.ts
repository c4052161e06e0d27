// GET /probe on `sshcheck serve`: the same bearer token, policy, limits, audit row and single
// flight as POST /v1/checks, answered as Prometheus text once the run has a report; bad
// input 400, a policy refusal 403, a full service 429, an engine failure 500.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget } from '../../src/target.js';
import { createLogger } from '../../src/log.js';
import { checkAddresses, defaultPolicy, PolicyError } from '../../src/policy/target-policy.js';
import { serviceAdmission } from '../../src/service/audit.js';
import type { Runner } from '../../src/service/runs.js';
import type { Service } from '../../src/service/server.js';
import { Store } from '../../src/store/store.js';
import { parsePrometheusText, sampleValue } from '../lab/prom-text.js';
import { auth, postCheck, scriptedEvents, scriptedRunner, startLoopbackService } from './service-support.js';

async function withService(runner: Runner, body: (url: string, store: Store, service: Service) => Promise<void>, maxRuns = 4): Promise<void> {
  const store = Store.open(':memory:');
  const holder: { service?: Service } = {};
  const writer = {
    addAudit: (entry: Parameters<Store['addAudit']>[0]) => Promise.resolve(store.addAudit(entry)),
    updateAudit: (id: number, patch: Parameters<Store['updateAudit']>[1]) => Promise.resolve(store.updateAudit(id, patch)),
  };
  const admit = serviceAdmission({ store: writer, policy: defaultPolicy(), vantage: 'test-bastion', logger: createLogger({ level: 'error', write: () => undefined }), registry: () => (holder.service as Service).registry });
  const started = await startLoopbackService(runner, { admit, version: '9.8.7', registry: { maxRuns } });
  holder.service = started.service;
  try {
    await body(started.url, store, started.service);
  } finally {
    await started.close();
    store.close();
  }
}

async function probe(url: string, query: string, headers: Record<string, string> = auth()): Promise<{ status: number; type: string; text: string; retryAfter: string | null }> {
  const res = await fetch(`${url}/probe${query}`, { headers, signal: AbortSignal.timeout(5000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), retryAfter: res.headers.get('retry-after') };
}

const errorOf = (text: string): { code: string; message: string; field?: string } => (JSON.parse(text) as { error: { code: string; message: string; field?: string } }).error;

test('a probe: 200, Prometheus text 0.0.4 that parses, the cause as a label, an audit row like POST\'s', async () => {
  const scripted = scriptedRunner({ gapMs: 2 });
  await withService(scripted.runner, async (url, store) => {
    const res = await probe(url, '?target=10.0.0.5&port=2222');
    assert.equal(res.status, 200, res.text);
    assert.match(res.type, /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(res.text);
    assert.equal(sampleValue(families, 'sshcheck_probe_success'), 0);
    assert.equal(sampleValue(families, 'sshcheck_probe_duration_seconds'), 0.03);
    assert.equal(sampleValue(families, 'sshcheck_probe_diagnosis', { cause: 'port-closed', step: 'sshd', confidence: 'high' }), 1);
    assert.equal(families.get('sshcheck_probe_step_status')?.samples.length, 10);
    assert.equal(sampleValue(families, 'sshcheck_probe_step_status', { step: 'sshd', status: 'fail' }), 1);
    assert.equal(sampleValue(families, 'sshcheck_build_info', { version: '9.8.7', node: process.versions.node }), 1);
    assert.doesNotMatch(res.text, /10\.0\.0\.5|2222/, 'no address or port in any label');
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(store.audit().map((r) => [r.source, r.host, r.port, r.verdict, r.cause]), [['service', '10.0.0.5', 2222, 'problem', 'port-closed']]);
  });
});

test('single flight: a probe and a POST for the same target share one run', async () => {
  const scripted = scriptedRunner({ gapMs: 5 });
  await withService(scripted.runner, async (url) => {
    const posted = await postCheck(url, { target: '10.0.0.5' });
    assert.equal(posted.body.outcome, 'started');
    const res = await probe(url, '?target=10.0.0.5');
    assert.equal(res.status, 200);
    assert.equal(scripted.runs(), 1);
    // Within the reuse window a second scrape gets the same result and says how old it is.
    const again = await probe(url, '?target=10.0.0.5');
    assert.equal(scripted.runs(), 1);
    assert.ok((sampleValue(parsePrometheusText(again.text), 'sshcheck_probe_result_age_seconds') ?? -1) >= 0);
  });
});

test('the same bearer token as /v1: none is 401, a wrong one is 401, and nothing runs', async () => {
  const scripted = scriptedRunner();
  await withService(scripted.runner, async (url) => {
    const none = await probe(url, '?target=10.0.0.5', {});
    assert.equal(none.status, 401);
    assert.equal(errorOf(none.text).code, 'unauthorized');
    assert.equal((await probe(url, '?target=10.0.0.5', { Authorization: 'Bearer nope' })).status, 401);
    assert.equal(scripted.runs(), 0);
  });
});

test('bad or missing input: 400 with a message that names the parameter, nothing runs, no audit row', async () => {
  const scripted = scriptedRunner();
  await withService(scripted.runner, async (url, store) => {
    const cases: Array<[string, string, RegExp]> = [
      ['', 'target', /target: required: ask GET \/probe\?target=db-3/],
      ['?target=', 'target', /target: required/],
      ['?target=10.0.0.5&port=99999', 'port', /^port: /],
      ['?target=10.0.0.5&port=ssh', 'port', /^port: /],
      ['?target=a&target=b', 'target', /given more than once/],
      ['?target=10.0.0.5&module=ssh_banner', 'module', /unknown parameter; the parameters are target and port/],
      ['?target=-oProxyCommand%3Dx', 'target', /^target: /],
    ];
    for (const [query, field, message] of cases) {
      const res = await probe(url, query);
      assert.equal(res.status, 400, query);
      const error = errorOf(res.text);
      assert.deepEqual([error.code, error.field], ['invalid', field], query);
      assert.match(error.message, message, query);
    }
    assert.equal(scripted.runs(), 0);
    assert.equal(store.audit().length, 0);
    const post = await fetch(`${url}/probe?target=10.0.0.5`, { method: 'POST', headers: auth(), signal: AbortSignal.timeout(5000) });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET');
  });
});

test('a target the policy refuses: 403 before anything runs, with an audit row; an address refused inside the engine: 403 too', async () => {
  const scripted = scriptedRunner();
  await withService(scripted.runner, async (url, store) => {
    const res = await probe(url, '?target=169.254.169.254');
    assert.equal(res.status, 403);
    assert.equal(errorOf(res.text).code, 'policy');
    assert.match(errorOf(res.text).message, /cloud instance metadata/);
    assert.equal(scripted.runs(), 0);
    assert.deepEqual(store.audit().map((r) => [r.verdict, r.denial]), [['denied', 'policy']]);
  });
  const target = parseTarget('db-3.lab.test');
  const denial = checkAddresses(defaultPolicy(), target, ['127.0.0.1']);
  assert.ok(denial);
  await withService(() => Promise.reject(new PolicyError(denial)), async (url) => {
    const res = await probe(url, '?target=db-3.lab.test');
    assert.equal(res.status, 403);
    assert.match(errorOf(res.text).message, /The target policy refuses db-3\.lab\.test, which resolves to 127\.0\.0\.1:/);
  });
});

test('a full service: 429 with Retry-After, as POST does', async () => {
  const scripted = scriptedRunner({ gapMs: 20 });
  await withService(
    scripted.runner,
    async (url, _store, service) => {
      const posted = await postCheck(url, { target: '10.0.0.5' });
      assert.equal(posted.status, 202);
      const res = await probe(url, '?target=10.0.0.6');
      assert.equal(res.status, 429);
      assert.equal(errorOf(res.text).code, 'busy');
      assert.equal(res.retryAfter, '2');
      assert.match(service.metrics.render(), /sshcheck_requests_rejected_total\{reason="busy"\} 1/);
    },
    1,
  );
});

test('an engine failure: 500 with the engine\'s message, not a made-up verdict', async () => {
  const scripted = scriptedRunner({ fail: true });
  await withService(scripted.runner, async (url) => {
    const res = await probe(url, '?target=10.0.0.5');
    assert.equal(res.status, 500);
    assert.deepEqual([errorOf(res.text).code, errorOf(res.text).message], ['engine', 'the engine failed: scripted engine failure']);
  });
});

test('an undecided run: 200 with success 0 and the diagnosis series saying undecided, not an HTTP error', async () => {
  const undecided: Runner = (target) => {
    const last = scriptedEvents(target, 'test-bastion', '00000000-0000-4000-8000-000000000009').at(-1);
    if (last?.type !== 'run-finished') throw new Error('script without report');
    const report = { ...last.report, outcome: 'undecided' as const, diagnosis: { ...last.report.diagnosis, cause: 'undecided' as const, step: null, confidence: 'low' as const, stoppedBy: 'budget' as const } };
    return Promise.resolve(report);
  };
  await withService(undecided, async (url) => {
    const res = await probe(url, '?target=10.0.0.5');
    assert.equal(res.status, 200, res.text);
    const families = parsePrometheusText(res.text);
    assert.equal(sampleValue(families, 'sshcheck_probe_success'), 0);
    assert.deepEqual(families.get('sshcheck_probe_diagnosis')?.samples.map((s) => s.labels), [{ cause: 'undecided', step: 'none', confidence: 'low' }]);
  });
});
