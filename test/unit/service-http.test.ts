// The engine service over HTTP on loopback, with a scripted engine: authentication,
// validation, single flight, reuse, the concurrency bound, SSE from the start and resumed,
// failures, metrics, and `sshcheck serve` itself on a Unix socket with a token reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProgressEvent } from '../../src/engine/report.js';
import { runServe } from '../../src/service/serve.js';
import { parsePrometheusText, sampleValue } from '../lab/prom-text.js';
import { auth, postCheck, readEvents, scriptedRunner, startLoopbackService, TOKEN_A, TOKEN_B } from './service-support.js';

test('no token, a wrong token: 401 and nothing runs; either of two valid tokens works', async () => {
  const engine = scriptedRunner();
  const svc = await startLoopbackService(engine.runner);
  try {
    const none = await postCheck(svc.url, { target: 'db-3' }, {});
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="sshcheck"');
    assert.match(String((none.body.error as { message: string }).message), /Authorization: Bearer/);
    const wrong = await postCheck(svc.url, { target: 'db-3' }, auth('not-a-valid-token-at-all'));
    assert.equal(wrong.status, 401);
    const get = await fetch(`${svc.url}/v1/checks/00000000-0000-4000-8000-000000000000`, { headers: auth('wrong-token-0123456789') });
    assert.equal(get.status, 401, 'a lookup is refused before it is made');
    assert.equal(engine.runs(), 0);
    assert.equal((await postCheck(svc.url, { target: 'db-3' }, auth(TOKEN_A))).status, 202);
    assert.equal((await postCheck(svc.url, { target: 'db-4' }, auth(TOKEN_B))).status, 202);
    const families = parsePrometheusText(await (await fetch(`${svc.url}/metrics`)).text());
    assert.equal(sampleValue(families, 'sshcheck_requests_rejected_total', { reason: 'unauthorized' }), 3);
  } finally {
    await svc.close();
  }
});

test('bad bodies: 400 naming the field, 413 past the size cap, 415 for non-JSON', async () => {
  const engine = scriptedRunner();
  const svc = await startLoopbackService(engine.runner);
  try {
    const port = await postCheck(svc.url, { target: 'db-3', port: 0 });
    assert.equal(port.status, 400);
    assert.deepEqual(port.body, { error: { code: 'invalid', field: 'port', message: 'port: invalid port 0: use a number from 1 to 65535' } });
    const target = await postCheck(svc.url, { target: '-oProxyCommand=sh' });
    assert.equal(target.status, 400);
    assert.equal((target.body.error as { field: string }).field, 'target');
    const big = await postCheck(svc.url, JSON.stringify({ target: 'db-3', pad: 'x'.repeat(10_000) }));
    assert.equal(big.status, 413);
    const form = await fetch(`${svc.url}/v1/checks`, { method: 'POST', headers: { ...auth(), 'Content-Type': 'text/plain' }, body: 'db-3' });
    assert.equal(form.status, 415);
    assert.equal(engine.runs(), 0);
  } finally {
    await svc.close();
  }
});

test('a check: 202 with its id, every event over SSE with ids 1..n, then the report', async () => {
  const engine = scriptedRunner({ gapMs: 5 });
  const svc = await startLoopbackService(engine.runner);
  try {
    const started = await postCheck(svc.url, { target: 'ops@db-3:2222' });
    assert.equal(started.status, 202);
    assert.equal(started.body.outcome, 'started');
    const id = String(started.body.id);
    assert.equal(started.headers.get('location'), `/v1/checks/${id}`);
    const running = (await (await fetch(`${svc.url}/v1/checks/${id}`, { headers: auth() })).json()) as { state: string };
    assert.equal(running.state, 'running');
    const { messages } = await readEvents(`${svc.url}/v1/checks/${id}/events`);
    assert.deepEqual(messages.map((m) => m.id), Array.from({ length: 13 }, (_, i) => String(i + 1)));
    const events = messages.map((m) => JSON.parse(m.data) as ProgressEvent);
    assert.deepEqual(messages.map((m) => m.event), events.map((e) => e.type));
    assert.equal(events[12]?.type, 'run-finished');
    const done = (await (await fetch(`${svc.url}/v1/checks/${id}`, { headers: auth() })).json()) as { state: string; report: { target: { port: number; user: string } }; ageMs: number };
    assert.equal(done.state, 'finished');
    assert.equal(done.report.target.port, 2222);
    assert.equal(done.report.target.user, 'ops');
    assert.ok(done.ageMs >= 0);
    // A late subscriber gets everything from the start; Last-Event-ID resumes after it.
    assert.equal((await readEvents(`${svc.url}/v1/checks/${id}/events`)).messages.length, 13);
    const resumed = await readEvents(`${svc.url}/v1/checks/${id}/events`, { ...auth(), 'Last-Event-ID': '10' });
    assert.deepEqual(resumed.messages.map((m) => m.id), ['11', '12', '13']);
    assert.equal((await readEvents(`${svc.url}/v1/checks/${id}/events`, { ...auth(), 'Last-Event-ID': 'x' })).status, 400);
    assert.equal((await fetch(`${svc.url}/v1/checks/00000000-0000-4000-8000-000000000000`, { headers: auth() })).status, 404);
  } finally {
    await svc.close();
  }
});

test('single flight: ten concurrent requests for one target are one run and ten answers', async () => {
  const engine = scriptedRunner({ gapMs: 10 });
  const svc = await startLoopbackService(engine.runner);
  try {
    const answers = await Promise.all(Array.from({ length: 10 }, () => postCheck(svc.url, { target: 'db-3' })));
    const ids = new Set(answers.map((a) => a.body.id));
    assert.equal(ids.size, 1);
    assert.deepEqual(answers.map((a) => a.body.outcome).sort(), ['joined', 'joined', 'joined', 'joined', 'joined', 'joined', 'joined', 'joined', 'joined', 'started']);
    const streams = await Promise.all(answers.map((a) => readEvents(`${svc.url}/v1/checks/${String(a.body.id)}/events`)));
    for (const s of streams) assert.equal(s.messages.length, 13);
    assert.equal(engine.runs(), 1);
    const families = parsePrometheusText(await (await fetch(`${svc.url}/metrics`)).text());
    assert.equal(sampleValue(families, 'sshcheck_runs_total', { cause: 'port-closed' }), 1);
    assert.equal(sampleValue(families, 'sshcheck_checks_total', { outcome: 'joined' }), 9);
    // Within the reuse window the finished result is reused, with its age.
    const again = await postCheck(svc.url, { target: 'db-3' });
    assert.equal(again.status, 200);
    assert.equal(again.body.outcome, 'reused');
    assert.equal(again.body.state, 'finished');
    assert.ok(typeof again.body.ageMs === 'number' && again.body.ageMs >= 0 && again.body.ageMs < 5000);
    assert.equal(engine.runs(), 1);
  } finally {
    await svc.close();
  }
});

test('full: a new target gets 429 with Retry-After, joining a running one still works', async () => {
  const engine = scriptedRunner({ gapMs: 30 });
  const svc = await startLoopbackService(engine.runner, { registry: { maxRuns: 1 } });
  try {
    assert.equal((await postCheck(svc.url, { target: 'db-3' })).status, 202);
    const busy = await postCheck(svc.url, { target: 'db-4' });
    assert.equal(busy.status, 429);
    assert.equal(busy.headers.get('retry-after'), '2');
    assert.match(String((busy.body.error as { message: string }).message), /1 checks are running, the most this service runs at once: try again in 2 s/);
    assert.equal((await postCheck(svc.url, { target: 'db-3' })).body.outcome, 'joined');
    const families = parsePrometheusText(await (await fetch(`${svc.url}/metrics`)).text());
    assert.equal(sampleValue(families, 'sshcheck_requests_rejected_total', { reason: 'busy' }), 1);
    assert.equal(sampleValue(families, 'sshcheck_runs_in_flight'), 1);
  } finally {
    await svc.close();
  }
});

test('an engine failure ends the stream with an error event and shows in the state', async () => {
  const engine = scriptedRunner({ fail: true });
  const svc = await startLoopbackService(engine.runner);
  try {
    const id = String((await postCheck(svc.url, { target: 'db-3' })).body.id);
    const { messages } = await readEvents(`${svc.url}/v1/checks/${id}/events`);
    assert.equal(messages.length, 6);
    assert.deepEqual(messages[5], { id: '5', event: 'error', data: '{"message":"the engine failed: scripted engine failure"}' });
    const state = (await (await fetch(`${svc.url}/v1/checks/${id}`, { headers: auth() })).json()) as { state: string; error: string };
    assert.deepEqual([state.state, state.error], ['failed', 'scripted engine failure']);
    const families = parsePrometheusText(await (await fetch(`${svc.url}/metrics`)).text());
    assert.equal(sampleValue(families, 'sshcheck_runs_total', { cause: 'engine-error' }), 1);
  } finally {
    await svc.close();
  }
});

function unixGet(socketPath: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, headers, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('sshcheck serve on a Unix socket (mode 0660), tokens re-read on reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-serve-'));
  const socket = join(dir, 'engine.sock');
  const tokens = join(dir, 'tokens');
  writeFileSync(tokens, `${TOKEN_A}\n${TOKEN_B}\n`);
  let stop = (): void => undefined;
  let reload = (): void => undefined;
  let stderr = '';
  const listening = new Promise<void>((resolve) => {
    const done = runServe(['--listen', `unix:${socket}`, '--vantage', 'unit', '--log-level', 'error'], { SSHCHECK_SERVICE_TOKENS_FILE: tokens, SSHCHECK_DB: join(dir, 'sshcheck.db') }, {
      stderr: (t) => (stderr += t),
      stopSignal: new Promise<void>((r) => (stop = r)),
      onReload: (h) => (reload = h),
      runner: scriptedRunner().runner,
      onListening: () => resolve(),
    });
    void done.then((code) => assert.equal(code, 0, stderr));
  });
  try {
    await listening;
    assert.equal(statSync(socket).mode & 0o777, 0o660);
    const health = await unixGet(socket, '/healthz');
    assert.equal(health.status, 200);
    assert.equal((JSON.parse(health.body) as { vantage: string }).vantage, 'unit');
    assert.equal((await unixGet(socket, '/v1/checks/00000000-0000-4000-8000-000000000000', auth(TOKEN_A))).status, 404);
    writeFileSync(tokens, `# ${TOKEN_A.slice(0, 4)}… rotated out\n${TOKEN_B}\n`);
    reload();
    assert.equal((await unixGet(socket, '/v1/checks/00000000-0000-4000-8000-000000000000', auth(TOKEN_A))).status, 401);
    assert.equal((await unixGet(socket, '/v1/checks/00000000-0000-4000-8000-000000000000', auth(TOKEN_B))).status, 404);
    // A broken file keeps the tokens that were valid.
    writeFileSync(tokens, 'short\n');
    reload();
    assert.equal((await unixGet(socket, '/v1/checks/00000000-0000-4000-8000-000000000000', auth(TOKEN_B))).status, 404);
  } finally {
    stop();
    await new Promise((r) => setTimeout(r, 50));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sshcheck serve refuses to start without tokens, with a bad --listen, or with a host', async () => {
  const io = (): { stderr: (t: string) => void; stopSignal: Promise<void>; out: () => string } => {
    let out = '';
    return { stderr: (t) => (out += t), stopSignal: Promise.resolve(), out: () => out };
  };
  const a = io();
  assert.equal(await runServe([], {}, a), 2);
  assert.match(a.out(), /no service token is configured: set SSHCHECK_SERVICE_TOKENS_FILE/);
  const b = io();
  assert.equal(await runServe(['--listen', 'example.com:80'], { SSHCHECK_SERVICE_TOKENS: TOKEN_A }, b), 2);
  assert.match(b.out(), /give an IP address/);
  const c = io();
  assert.equal(await runServe(['db-3'], { SSHCHECK_SERVICE_TOKENS: TOKEN_A }, c), 2);
  assert.match(c.out(), /takes no host/);
});
