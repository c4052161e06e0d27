// `sshcheck serve`, the bastion's local HTTP API for scripts and Prometheus, in the lab
// (shared/design/lab.md): eu-1 in the lab's bastion namespace (10.77.1.2), us-1 in a second
// bastion segment (10.77.3.2), an HTTP client (the driver) in a client segment (10.77.4.2),
// targets behind the lab router (10.77.2.0/24). Proves single flight, token rotation,
// 401/400/429, a resumed event stream and /metrics. (The bot reaches bastions through NATS:
// test/lab/nats.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDR, CLI, Lab, labUnavailable } from './lab.js';
import { LabSegments } from './segments.js';
import type { LabProcess, Segment } from './segments.js';
import { DriverClient } from './driver-client.js';
import { parsePrometheusText, sampleValue } from './prom-text.js';
import type { PromFamily } from './prom-text.js';

const unavailable = labUnavailable();
if (unavailable) console.log(`# service lab skipped: ${unavailable}`);

const DRIVER = fileURLToPath(new URL('./bot-driver.js', import.meta.url));
const TOKEN_OLD = `old-${randomUUID()}`;
const TOKEN_A = `a-${randomUUID()}`;
const TOKEN_B = `b-${randomUUID()}`;
const TOKEN_C = `c-${randomUUID()}`;
/** Port 22 on a second target address is closed (sshd listens on ADDR.target only): a fast port-closed. */
const CLOSED_TARGET = '10.77.2.130';
/** SYNs to this port are dropped: port-filtered after 1.2 s, long enough to overlap requests. */
const SLOW_PORT = 2201;

interface HttpReply {
  ok: boolean;
  status: number;
  retryAfter: string | null;
  wwwAuthenticate: string | null;
  contentType: string | null;
  body: string;
}

describe("lab: engine services' HTTP API on two bastions", { skip: unavailable ?? false }, () => {
  let lab: Lab;
  let segments: LabSegments;
  let b2: Segment;
  let bot: Segment;
  let dir: string;
  let eu: LabProcess;
  let driver: DriverClient;
  const euUrl = `http://${ADDR.bastion}:8722`;
  let usUrl = '';
  let euTokens = '';

  const startService = (ns: string, address: string, vantage: string, tokens: string, extra: string[] = []): Promise<LabProcess> =>
    segments.start(ns, process.execPath, [CLI, 'serve', '--listen', `${address}:8722`, '--vantage', vantage, ...extra], { ready: /"msg":"listening"/, env: { SSHCHECK_SERVICE_TOKENS_FILE: tokens } });
  const http = (method: 'GET' | 'POST', url: string, token?: string, body?: unknown): Promise<HttpReply> =>
    driver.send<HttpReply>({ op: 'http', method, url, ...(token !== undefined ? { token } : {}), ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const metrics = async (url: string): Promise<Map<string, PromFamily>> => {
    const reply = await http('GET', `${url}/metrics`);
    assert.equal(reply.status, 200);
    assert.match(reply.contentType ?? '', /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(reply.body);
  };
  const runsTotal = (families: Map<string, PromFamily>): number => (families.get('sshcheck_runs_total')?.samples ?? []).reduce((sum, s) => sum + s.value, 0);

  before(async () => {
    lab = await Lab.create();
    dir = mkdtempSync(join(tmpdir(), 'sshcheck-service-lab-'));
    try {
      const built = await LabSegments.add(lab, { b2: 3, bot: 4 });
      segments = built.segments;
      if (!built.added.b2 || !built.added.bot) throw new Error('the lab segments were not built');
      b2 = built.added.b2;
      bot = built.added.bot;
      usUrl = `http://${b2.address}:8722`;
      await lab.startSshd();
      await lab.exec(lab.target, 'ip', ['addr', 'add', `${CLOSED_TARGET}/24`, 'dev', 't0']);
      await lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', String(SLOW_PORT), '-j', 'DROP');
      // us-1 gets a resolver of its own (lab.md), though these checks name addresses only.
      lab.writeEtc(b2.ns, 'resolv.conf', `nameserver ${ADDR.routerBastionSide}\nsearch lab.test\n`);
      euTokens = join(dir, 'eu-tokens');
      writeFileSync(euTokens, `${TOKEN_A}\n${TOKEN_B}\n`);
      const usTokens = join(dir, 'us-tokens');
      writeFileSync(usTokens, `${TOKEN_A}\n`);
      eu = await startService(lab.bastion, ADDR.bastion, 'eu-1', euTokens);
      await startService(b2.ns, b2.address, 'us-1', usTokens, ['--max-runs', '1']);
      const proc = await segments.start(bot.ns, process.execPath, [DRIVER], { ready: /driver ready/ });
      driver = new DriverClient(proc);
    } catch (err) {
      await segments?.destroy();
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  });

  after(async () => {
    await segments?.destroy();
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('single flight: eight concurrent requests for one target are one run and eight answers', async () => {
    const before = await metrics(usUrl);
    const replies = await Promise.all(Array.from({ length: 8 }, () => http('POST', `${usUrl}/v1/checks`, TOKEN_A, { target: ADDR.target, port: SLOW_PORT })));
    assert.ok(replies.every((r) => r.status === 200 || r.status === 202), JSON.stringify(replies.map((r) => r.status)));
    const ids = new Set(replies.map((r) => (JSON.parse(r.body) as { id: string }).id));
    assert.equal(ids.size, 1, 'one check');
    const [id] = [...ids];
    let state: { state: string; report?: { vantage: { name: string }; diagnosis: { cause: string } } } = { state: 'running' };
    for (let i = 0; i < 100 && state.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      state = JSON.parse((await http('GET', `${usUrl}/v1/checks/${id ?? ''}`, TOKEN_A)).body) as typeof state;
    }
    assert.deepEqual([state.report?.vantage.name, state.report?.diagnosis.cause], ['us-1', 'port-filtered'], JSON.stringify(state).slice(0, 300));
    const afterwards = await metrics(usUrl);
    assert.equal(runsTotal(afterwards) - runsTotal(before), 1, 'one run on the service');
    assert.equal((sampleValue(afterwards, 'sshcheck_checks_total', { outcome: 'joined' }) ?? 0) - (sampleValue(before, 'sshcheck_checks_total', { outcome: 'joined' }) ?? 0), 7);
    // A moment later the same target is reused, with its age.
    const again = await http('POST', `${usUrl}/v1/checks`, TOKEN_A, { target: ADDR.target, port: SLOW_PORT });
    const body = JSON.parse(again.body) as { outcome: string; ageMs: number };
    assert.equal(again.status, 200);
    assert.equal(body.outcome, 'reused');
    assert.ok(body.ageMs >= 0 && body.ageMs <= 5000);
  });

  test('token rotation: two tokens valid at once, then the old one rejected after a reload', async () => {
    const nobody = `${euUrl}/v1/checks/${randomUUID()}`;
    assert.equal((await http('GET', nobody, TOKEN_A)).status, 404, 'token A is valid (nothing to find)');
    assert.equal((await http('GET', nobody, TOKEN_B)).status, 404, 'token B is valid too');
    assert.equal((await http('GET', nobody, TOKEN_OLD)).status, 401);
    writeFileSync(euTokens, `${TOKEN_B}\n${TOKEN_C}\n`);
    eu.child.kill('SIGHUP');
    let status = 0;
    for (let i = 0; i < 20 && status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await http('GET', nobody, TOKEN_A)).status;
    }
    assert.equal(status, 401, 'A was rotated out');
    assert.equal((await http('GET', nobody, TOKEN_C)).status, 404, 'C is valid now');
    assert.ok(!eu.stderr().includes(TOKEN_A) && !eu.stderr().includes(TOKEN_B) && !eu.stderr().includes(TOKEN_C), 'tokens never reach the log');
    const stillWorks = await http('POST', `${euUrl}/v1/checks`, TOKEN_B, { target: ADDR.target });
    assert.ok(stillWorks.status === 200 || stillWorks.status === 202, 'a client with token B is unaffected');
  });

  test('401 runs nothing; 400 names the field; 429 with Retry-After when full', async () => {
    const before = await metrics(usUrl);
    const none = await http('POST', `${usUrl}/v1/checks`, undefined, { target: ADDR.target });
    assert.equal(none.status, 401);
    assert.equal(none.wwwAuthenticate, 'Bearer realm="sshcheck"');
    assert.equal((await http('POST', `${usUrl}/v1/checks`, TOKEN_OLD, { target: ADDR.target })).status, 401);
    const badTarget = await http('POST', `${usUrl}/v1/checks`, TOKEN_A, { target: '-oProxyCommand=sh' });
    assert.equal(badTarget.status, 400);
    assert.equal((JSON.parse(badTarget.body) as { error: { field: string } }).error.field, 'target');
    const badPort = await http('POST', `${usUrl}/v1/checks`, TOKEN_A, { target: ADDR.target, port: 0 });
    assert.deepEqual(JSON.parse(badPort.body), { error: { code: 'invalid', field: 'port', message: 'port: invalid port 0: use a number from 1 to 65535' } });
    const mid = await metrics(usUrl);
    assert.equal(runsTotal(mid) + (sampleValue(mid, 'sshcheck_runs_in_flight') ?? 0), runsTotal(before), 'nothing ran');
    assert.equal((sampleValue(mid, 'sshcheck_requests_rejected_total', { reason: 'unauthorized' }) ?? 0) - (sampleValue(before, 'sshcheck_requests_rejected_total', { reason: 'unauthorized' }) ?? 0), 2);
    // us-1 runs one check at a time: a second target while the first runs is refused.
    const first = await http('POST', `${usUrl}/v1/checks`, TOKEN_A, { target: ADDR.target, port: SLOW_PORT, user: 'first' });
    assert.equal(first.status, 202);
    const full = await http('POST', `${usUrl}/v1/checks`, TOKEN_A, { target: ADDR.target, port: SLOW_PORT, user: 'second' });
    assert.equal(full.status, 429, full.body);
    assert.equal(full.retryAfter, '2');
    assert.match(full.body, /the most this service runs at once: try again in 2 s/);
    const joined = await http('POST', `${usUrl}/v1/checks`, TOKEN_A, { target: ADDR.target, port: SLOW_PORT, user: 'first' });
    assert.equal((JSON.parse(joined.body) as { outcome: string }).outcome, 'joined', 'joining the running one is not refused');
    const id = (JSON.parse(first.body) as { id: string }).id;
    for (let i = 0; i < 100; i++) {
      const state = JSON.parse((await http('GET', `${usUrl}/v1/checks/${id}`, TOKEN_A)).body) as { state: string };
      if (state.state !== 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test('an event stream dropped mid-run resumes with Last-Event-ID: nothing lost, nothing twice', async () => {
    const started = await http('POST', `${euUrl}/v1/checks`, TOKEN_B, { target: ADDR.target, port: SLOW_PORT, user: 'stream' });
    const { id } = JSON.parse(started.body) as { id: string };
    const r = await driver.send<{ ok: boolean; first: string[]; second: string[]; full: string[]; types: string[]; fullTypes: string[] }>({ op: 'sse-resume', url: `${euUrl}/v1/checks/${id}/events`, token: TOKEN_B, dropAfter: 5 });
    assert.ok(r.ok, r.error);
    assert.ok(r.first.length >= 5 && r.second.length > 0, `${r.first.length} then ${r.second.length}`);
    const joined = [...r.first, ...r.second];
    assert.deepEqual(joined, r.full, 'the two halves are the whole stream');
    assert.deepEqual(joined, joined.map((_, i) => String(i + 1)), 'ids 1..n, no gap, no repeat');
    assert.equal(r.types[r.types.length - 1], 'run-finished');
    assert.deepEqual(r.types, r.fullTypes);
  });

  test('/metrics of both services parse as Prometheus text and count what ran', async () => {
    // eu-1 ran a healthy check (token rotation) and the resumed stream's; us-1 the single-flight and the 429 test's.
    for (const [url, least, healthy] of [[euUrl, 2, 1], [usUrl, 2, 0]] as const) {
      const families = await metrics(url);
      for (const [name, type] of [['sshcheck_runs_total', 'counter'], ['sshcheck_run_duration_seconds', 'histogram'], ['sshcheck_runs_in_flight', 'gauge'], ['sshcheck_requests_rejected_total', 'counter']] as const) {
        assert.equal(families.get(name)?.type, type, `${url} ${name}`);
      }
      assert.ok(runsTotal(families) >= least, `${url}: ${runsTotal(families)} runs`);
      assert.equal(sampleValue(families, 'sshcheck_run_duration_seconds_count'), runsTotal(families));
      assert.ok((sampleValue(families, 'sshcheck_runs_total', { cause: 'healthy' }) ?? 0) >= healthy, `${url}: healthy runs`);
    }
  });
});
