// The remote engine client against services on loopback: the real service with a scripted
// engine, and a hand-written one that breaks its event stream on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RemoteEngine, RemoteEngineError } from '../../src/chat/remote-engine.js';
import { RoutedEngine } from '../../src/chat/routing.js';
import { loadRoutingConfig } from '../../src/chat/routing-config.js';
import { runCheckFlow } from '../../src/chat/check-flow.js';
import type { ChatSurface } from '../../src/chat/check-flow.js';
import type { ParentView } from '../../src/chat/views.js';
import { Pacer } from '../../src/chat/pacer.js';
import { InProcessEngine } from '../../src/chat/engine-client.js';
import { SharedRuns } from '../../src/chat/shared-runs.js';
import { createLogger } from '../../src/log.js';
import { parseTarget } from '../../src/target.js';
import type { ProgressEvent } from '../../src/engine/report.js';
import { encodeSse } from '../../src/service/sse.js';
import { scriptedEvents, scriptedRunner, startLoopbackService, TOKEN_A } from './service-support.js';

const quiet = createLogger({ write: () => undefined });
const CHECK_ID = '11111111-2222-4333-8444-555555555555';

/** A service whose event stream is cut after `cutAfter` events on the first `breaks` connections. */
async function flakyService(options: { cutAfter: number; breaks: number }): Promise<{ url: string; lastEventIds: Array<string | undefined>; close(): Promise<void> }> {
  const events = scriptedEvents(parseTarget('db-3'), 'flaky', 'r-1');
  const lastEventIds: Array<string | undefined> = [];
  const server = createServer((req, res) => {
    if (req.method === 'POST') {
      res.writeHead(202, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ id: CHECK_ID, outcome: 'started', state: 'running' }));
      return;
    }
    const last = req.headers['last-event-id'] as string | undefined;
    lastEventIds.push(last);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const from = Number(last ?? '0');
    const cut = lastEventIds.length <= options.breaks;
    events.forEach((e, i) => {
      if (i < from || (cut && i >= from + options.cutAfter)) return;
      res.write(encodeSse({ id: i + 1, event: e.type, data: JSON.stringify(e) }));
    });
    // Half an event, then the connection drops: the client must ask for it again.
    if (cut) res.write('id: 999\nevent: step-updated\ndata: {"type":');
    setTimeout(() => (cut ? res.socket?.destroy() : res.end()), 20);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, lastEventIds, close: () => new Promise((r) => server.close(() => r())) };
}

test('a stream cut twice mid-event is resumed with Last-Event-ID: no event lost or repeated', async () => {
  const svc = await flakyService({ cutAfter: 4, breaks: 2 });
  try {
    const seen: ProgressEvent[] = [];
    const remote = new RemoteEngine({ name: 'eu-1', url: svc.url, token: TOKEN_A, resumeDelayMs: 10 });
    const result = await remote.check(parseTarget('db-3'), { onEvent: (e) => seen.push(e) });
    assert.deepEqual(svc.lastEventIds, [undefined, '4', '8']);
    const shape = (e: ProgressEvent): string => (e.type === 'step-updated' ? `${e.type}:${e.step.id}` : e.type);
    assert.deepEqual(seen.map(shape), scriptedEvents(parseTarget('db-3'), 'flaky', 'r-1').map(shape));
    assert.equal(result.report.vantage.name, 'flaky');
  } finally {
    await svc.close();
  }
});

test('a stream that keeps breaking without progress gives up after the bounded retries, naming the bastion', async () => {
  const svc = await flakyService({ cutAfter: 0, breaks: 100 });
  try {
    const remote = new RemoteEngine({ name: 'eu-1', url: svc.url, token: TOKEN_A, resumeDelayMs: 5, maxResumes: 3 });
    await assert.rejects(remote.check(parseTarget('db-3')), (err: unknown) => {
      assert.ok(err instanceof RemoteEngineError && err.kind === 'stream-lost', String(err));
      assert.match(err.message, new RegExp(`^bastion eu-1 \\(${svc.url}\\): the event stream of the check of db-3 broke before any event and could not be resumed \\(3 attempts to resume failed\\)`));
      return true;
    });
    assert.equal(svc.lastEventIds.length, 4, 'the first connection and three resumes');
  } finally {
    await svc.close();
  }
});

test('unreachable, wrong token, busy: errors a person can act on', async () => {
  // A port that was just closed: connection refused, on loopback only.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const down = new RemoteEngine({ name: 'us-1', url: `http://127.0.0.1:${port}`, token: TOKEN_A });
  await assert.rejects(down.check(parseTarget('db-3')), new RegExp(`^RemoteEngineError: bastion us-1 \\(http://127\\.0\\.0\\.1:${port}\\) is unreachable: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}`));

  const engine = scriptedRunner({ gapMs: 30 });
  const svc = await startLoopbackService(engine.runner, { registry: { maxRuns: 1 } });
  try {
    const wrong = new RemoteEngine({ name: 'eu-1', url: svc.url, token: 'rotated-out-0123456789' });
    await assert.rejects(wrong.check(parseTarget('db-3')), /bastion eu-1 \(http:\/\/127\.0\.0\.1:\d+\) refused the bot's token \(401\)/);
    const right = new RemoteEngine({ name: 'eu-1', url: svc.url, token: TOKEN_A });
    const first = right.check(parseTarget('db-3'));
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(right.check(parseTarget('db-4')), /bastion eu-1 \(http:\/\/127\.0\.0\.1:\d+\) is busy: 1 checks are running, the most this service runs at once: try again in 2 s/);
    await first;
    assert.equal(engine.runs(), 1);
  } finally {
    await svc.close();
  }
});

class RecordingSurface implements ChatSurface {
  readonly channelKey = 'c1';
  readonly parents: ParentView[] = [];
  steps = 0;
  postParent(view: ParentView): Promise<void> {
    this.parents.push(view);
    return Promise.resolve();
  }
  updateParent(view: ParentView): Promise<void> {
    this.parents.push(view);
    return Promise.resolve();
  }
  postStep(): Promise<void> {
    this.steps += 1;
    return Promise.resolve();
  }
  updateStep(): Promise<void> {
    return Promise.resolve();
  }
  fallback(view: ParentView): Promise<void> {
    this.parents.push(view);
    return Promise.resolve();
  }
}

test('routed through a service: a reused result shows its age in the thread; via; an unknown via', async () => {
  const engine = scriptedRunner({ vantage: 'eu-1' });
  const svc = await startLoopbackService(engine.runner);
  try {
    const config = loadRoutingConfig(`bastions:\n  - name: eu-1\n    url: ${svc.url}\n    token_env: T\ndefault: eu-1\n`, 'test.yml', { env: { T: TOKEN_A }, readFile: () => '' });
    // No bot-side reuse: the second check is reused by the service, and says so.
    const routed = new RoutedEngine(config, { reuseMs: 0 });
    const flow = async (via?: string): Promise<RecordingSurface> => {
      const surface = new RecordingSurface();
      await runCheckFlow({ surface, engine: routed, pacer: new Pacer({ burst: 100, perSecond: 1000 }), logger: quiet, target: parseTarget('10.0.0.5'), vantage: 'eu-1', requester: 'alice', ...(via ? { via } : {}) });
      return surface;
    };
    const fresh = await flow();
    assert.equal(fresh.parents.at(-1)?.phase, 'finished');
    assert.equal(fresh.parents.at(-1)?.reusedAgeMs, undefined);
    await new Promise((r) => setTimeout(r, 30));
    const reused = await flow('eu-1');
    const last = reused.parents.at(-1);
    assert.equal(last?.phase, 'finished');
    assert.ok(last?.reusedAgeMs !== undefined && last.reusedAgeMs >= 30, `age ${String(last?.reusedAgeMs)}`);
    assert.equal(engine.runs(), 1);
    const unknown = await flow('ap-1');
    assert.equal(unknown.parents.at(-1)?.phase, 'failed');
    assert.equal(unknown.parents.at(-1)?.error, 'unknown bastion "ap-1": the configured bastions are eu-1');
  } finally {
    await svc.close();
  }
});

test('via with the in-process engine is a usage error in the thread', async () => {
  const surface = new RecordingSurface();
  const engine = new SharedRuns(new InProcessEngine({ vantage: 'here' }), { reuseMs: 0 });
  await runCheckFlow({ surface, engine, pacer: new Pacer({ burst: 10, perSecond: 100 }), logger: quiet, target: parseTarget('10.0.0.5'), vantage: 'here', requester: 'bob', via: 'eu-1' });
  assert.equal(surface.parents.at(-1)?.phase, 'failed');
  assert.match(surface.parents.at(-1)?.error ?? '', /this bot runs the probes itself and has no bastions configured: drop "via eu-1"/);
});

test('bot-side reuse: a second check within the window is answered by the bot, with its age', async () => {
  const engine = scriptedRunner({ vantage: 'eu-1' });
  const svc = await startLoopbackService(engine.runner);
  try {
    const config = loadRoutingConfig(`bastions:\n  - name: eu-1\n    url: ${svc.url}\n    token_env: T\ndefault: eu-1\n`, 'test.yml', { env: { T: TOKEN_A }, readFile: () => '' });
    const routed = new RoutedEngine(config, { reuseMs: 10_000 });
    const target = parseTarget('10.0.0.5');
    assert.equal((await routed.check(target)).reusedAgeMs, undefined);
    await new Promise((r) => setTimeout(r, 25));
    let told: number | undefined;
    const again = await routed.check(target, { onReused: (age) => (told = age) });
    assert.ok(again.reusedAgeMs !== undefined && again.reusedAgeMs >= 25 && told === again.reusedAgeMs);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    assert.match(metrics, /sshcheck_checks_total\{outcome="started"\} 1\n/);
    assert.match(metrics, /sshcheck_checks_total\{outcome="reused"\} 0\n/, 'the service was not asked again');
  } finally {
    await svc.close();
  }
});
