// What the service itself adds to admission: sshcheck_admission_seconds, from a POST
// /v1/checks's arrival to its answer, by status. It counts every answered POST (202, 429,
// 401, 400...), nothing else, and not a request whose client left before its answer. No
// timing is asserted (the machine is shared): bench/service-burst.ts reads the figures.
// Also the serve log's writer: the lines of one turn in one write, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { ADMISSION_BUCKETS_S, ADMISSION_STATUSES, ServiceMetrics } from '../../src/service/metrics.js';
import type { Admission } from '../../src/service/server.js';
import { turnWriter } from '../../src/service/log-lines.js';
import { parsePrometheusText, sampleValue } from '../lab/prom-text.js';
import type { PromFamily } from '../lab/prom-text.js';
import { auth, postCheck, scriptedRunner, startLoopbackService } from './service-support.js';

const NAME = 'sshcheck_admission_seconds';

function count(families: Map<string, PromFamily>, status: number): number | undefined {
  return sampleValue(families, `${NAME}_count`, { status: String(status) });
}

test('the admission histogram: a series per status, the admission answers from the start, cumulative buckets', () => {
  const m = new ServiceMetrics();
  const empty = parsePrometheusText(m.render());
  assert.equal(empty.get(NAME)?.type, 'histogram');
  for (const status of ADMISSION_STATUSES) assert.equal(count(empty, status), 0, `status ${status} is exported before its first answer`);
  assert.equal(count(empty, 401), undefined, 'other statuses appear when they happen');

  for (let i = 0; i < 3; i++) m.answered(429, 0.0003);
  m.answered(429, 0.04);
  m.answered(202, 0.2);
  m.answered(401, 7);
  const families = parsePrometheusText(m.render());
  const bucket = (status: number, le: string): number | undefined => sampleValue(families, `${NAME}_bucket`, { status: String(status), le });
  assert.equal(bucket(429, '0.00025'), 0);
  assert.equal(bucket(429, '0.0005'), 3);
  assert.equal(bucket(429, '0.025'), 3);
  assert.equal(bucket(429, '0.05'), 4);
  assert.equal(bucket(429, '+Inf'), 4);
  assert.equal(count(families, 429), 4);
  assert.ok(Math.abs((sampleValue(families, `${NAME}_sum`, { status: '429' }) ?? 0) - 0.0409) < 1e-9);
  assert.equal(bucket(202, '0.1'), 0);
  assert.equal(bucket(202, '0.25'), 1);
  // Beyond the last finite bound (5 s) only +Inf holds it.
  assert.equal(bucket(401, String(ADMISSION_BUCKETS_S[ADMISSION_BUCKETS_S.length - 1])), 0);
  assert.equal(bucket(401, '+Inf'), 1);
  assert.equal(count(families, 200), 0);
  // The goal (100 ms) is a bucket bound, so "within the goal" is read off one bucket.
  assert.ok(ADMISSION_BUCKETS_S.includes(0.1));
});

function answered(families: Map<string, PromFamily>): number {
  return (families.get(NAME)?.samples ?? []).filter((s) => s.name === `${NAME}_count`).reduce((sum, s) => sum + s.value, 0);
}

async function metricsOf(url: string): Promise<Map<string, PromFamily>> {
  return parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
}

test('every answered POST /v1/checks is counted once under its status; GETs and /healthz are not', async () => {
  const engine = scriptedRunner({ gapMs: 50 });
  const svc = await startLoopbackService(engine.runner, { registry: { maxRuns: 1 } });
  try {
    const started = await postCheck(svc.url, { target: 'db-3' });
    assert.equal(started.status, 202);
    assert.equal((await postCheck(svc.url, { target: 'db-4' })).status, 429);
    assert.equal((await postCheck(svc.url, { target: 'db-5' })).status, 429);
    assert.equal((await postCheck(svc.url, { target: 'db-3' })).body.outcome, 'joined');
    assert.equal((await postCheck(svc.url, { target: 'db-3' }, {})).status, 401);
    assert.equal((await postCheck(svc.url, { target: 'db-3', color: 'blue' })).status, 400);
    assert.equal((await fetch(`${svc.url}/healthz`)).status, 200);
    // Once the run has finished, its result is reused: 200.
    for (let state = ''; state !== 'finished'; await new Promise((r) => setTimeout(r, 20))) {
      const res = await fetch(`${svc.url}/v1/checks/${String(started.body.id)}`, { headers: auth() });
      state = String(((await res.json()) as { state: string }).state);
    }
    const reused = await postCheck(svc.url, { target: 'db-3' });
    assert.equal(reused.status, 200);
    assert.equal(reused.body.outcome, 'reused');
    const families = await metricsOf(svc.url);
    assert.equal(count(families, 202), 2, 'started, joined');
    assert.equal(count(families, 429), 2);
    assert.equal(count(families, 200), 1);
    assert.equal(count(families, 401), 1);
    assert.equal(count(families, 400), 1);
    assert.equal(answered(families), 7, 'seven POSTs, nothing else');
    assert.ok((sampleValue(families, `${NAME}_sum`, { status: '429' }) ?? 0) > 0, 'an answer takes some time');
  } finally {
    await svc.close();
  }
});

test('a client that leaves while its audit row is written is not counted as answered', async () => {
  let hold: (() => void) | undefined;
  // The audit row answers only when the test says so.
  const admit = (): Admission => ({
    record: () =>
      new Promise((resolve) => {
        hold = () => resolve({ ok: true });
      }),
    follow: () => undefined,
    deny: () => undefined,
  });
  const svc = await startLoopbackService(scriptedRunner().runner, { admit });
  try {
    const left = await new Promise<string>((resolve) => {
      const req = request(`${svc.url}/v1/checks`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...auth() } }, () => resolve('answered'));
      req.on('error', () => resolve('left'));
      req.end(JSON.stringify({ target: 'db-6' }));
      const wait = setInterval(() => {
        if (hold) {
          clearInterval(wait);
          req.destroy();
        }
      }, 5);
    });
    assert.equal(left, 'left');
    // Its row is written after the client left: the service answers into a closed connection.
    await new Promise((r) => setTimeout(r, 50));
    hold?.();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(answered(await metricsOf(svc.url)), 0, 'the request whose client left is not an answered one');
    hold = undefined;
    // The next one, answered, is.
    const next = postCheck(svc.url, { target: 'db-7' });
    while (!hold) await new Promise((r) => setTimeout(r, 5));
    (hold as () => void)();
    assert.equal((await next).status, 202);
    assert.equal(count(await metricsOf(svc.url), 202), 1);
  } finally {
    await svc.close();
  }
});

test('the serve log writer: the lines of one turn go out as one write, in order; flush writes at once', async () => {
  const writes: string[] = [];
  const w = turnWriter((text) => writes.push(text));
  w.write('a\n');
  w.write('b\n');
  w.write('c\n');
  assert.deepEqual(writes, [], 'nothing is written before the end of the turn');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, ['a\nb\nc\n']);
  w.write('d\n');
  w.flush();
  assert.deepEqual(writes, ['a\nb\nc\n', 'd\n'], 'flush (stop, exit) writes what waits at once');
  await new Promise((r) => setImmediate(r));
  w.flush();
  assert.deepEqual(writes, ['a\nb\nc\n', 'd\n'], 'nothing twice, no empty write');
});
