// The platform-neutral thread logic: plan, pacer, single flight, dedupe, and the check flow
// over a recording surface. The engine here replays a scripted event sequence: the adapters'
// end-to-end tests run the real engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThreadPlan } from '../../src/chat/thread-plan.js';
import { initialParent, statusLine } from '../../src/chat/views.js';
import type { ParentView } from '../../src/chat/views.js';
import { Pacer } from '../../src/chat/pacer.js';
import { SharedRuns } from '../../src/chat/shared-runs.js';
import type { CheckOptions, CheckResult, EngineClient } from '../../src/chat/engine-client.js';
import { RecentIds } from '../../src/chat/dedupe.js';
import { runCheckFlow, SurfaceError } from '../../src/chat/check-flow.js';
import type { ChatSurface } from '../../src/chat/check-flow.js';
import { createLogger } from '../../src/log.js';
import { parseTarget } from '../../src/target.js';
import type { ProgressEvent, Report, StepId, StepReport } from '../../src/engine/report.js';
import { STEP_IDS, STEP_TITLES, stepNumber } from '../../src/engine/report.js';

const target = parseTarget('10.0.0.5');
const tr = { input: '10.0.0.5', host: '10.0.0.5', port: 22, user: 'sshcheck', addresses: ['10.0.0.5'] };
const step = (id: StepId, summary = `${id} ok`): StepReport => ({ id, n: stepNumber(id), title: STEP_TITLES[id], status: id === 'sshd' ? 'fail' : 'pass', summary, evidence: [], durationMs: 1, manual: [] });
const diagnosis = { cause: 'port-closed' as const, step: 'sshd' as const, confidence: 'high' as const, summary: 'nothing listens', next: [], alternatives: [] };
const report = (steps = STEP_IDS.map((id) => step(id))): Report => ({ schema: 'sshcheck/report@1', id: 'r', target: tr, vantage: { name: 'b' }, startedAt: 'x', durationMs: 40, diagnosedMs: 20, steps, diagnosis });

/** Steps settle out of checklist order, as they do in real runs (DNS first). */
function script(): ProgressEvent[] {
  const order: StepId[] = ['dns', 'sshd', 'connectivity', 'firewall', 'tcp-wrappers', 'vpn-proxy', 'auth', 'load', 'bans', 'verbose'];
  const events: ProgressEvent[] = [{ type: 'run-started', id: 'r', target: tr, vantage: { name: 'b' }, startedAt: 'x', elapsedMs: 0 }];
  order.forEach((id, i) => events.push({ type: 'step-updated', step: step(id), elapsedMs: i + 1 }));
  events.push({ type: 'diagnosis', diagnosis, elapsedMs: 20 });
  events.push({ type: 'run-finished', report: report(), elapsedMs: 40 });
  return events;
}

test('the plan posts the parent first and replies in checklist order as steps settle', () => {
  const plan = new ThreadPlan(initialParent(target, 'b', 'alice'));
  const ops = script().flatMap((e) => plan.push(e));
  const replies = ops.filter((o) => o.op === 'reply').map((o) => (o.op === 'reply' ? o.step.id : ''));
  assert.equal(ops[0]?.op, 'parent');
  assert.deepEqual(replies, [...STEP_IDS]);
  // dns settled first but is posted fifth; connectivity waits for nothing and goes first.
  const parents = ops.filter((o) => o.op === 'parent').map((o) => (o.op === 'parent' ? o.view.phase : ''));
  assert.deepEqual(parents, ['running', 'diagnosed', 'finished']);
  const last = ops[ops.length - 1];
  assert.ok(last?.op === 'parent' && statusLine(last.view) === '✅✅✅❌✅✅✅✅✅✅');
});

test('the plan edits a reply whose content changed after it was posted', () => {
  const plan = new ThreadPlan(initialParent(target, 'b', 'alice'));
  const events = script();
  const finished = events[events.length - 1];
  for (const e of events.slice(0, -1)) plan.push(e);
  assert.ok(finished?.type === 'run-finished');
  const steps = finished.report.steps.map((s) => (s.id === 'connectivity' ? { ...s, summary: 'ping finished' } : s));
  const ops = plan.push({ ...finished, report: report(steps) });
  assert.deepEqual(ops.filter((o) => o.op === 'reply-update').map((o) => (o.op === 'reply-update' ? o.step.id : '')), ['connectivity']);
});

test('the pacer keeps a channel to its rate, lets priority through first and coalesces edits', async () => {
  const pacer = new Pacer({ burst: 2, perSecond: 20 });
  const log: string[] = [];
  const at: number[] = [];
  const job = (name: string) => (): Promise<void> => {
    log.push(name);
    at.push(performance.now());
    return Promise.resolve();
  };
  const all = [
    pacer.schedule('c1', job('reply1')),
    pacer.schedule('c1', job('reply2')),
    pacer.schedule('c1', job('reply3')),
    pacer.schedule('c1', job('edit-old'), { key: 'parent', priority: 0 }),
    pacer.schedule('c1', job('edit-new'), { key: 'parent', priority: 0 }),
  ];
  await Promise.all(all);
  assert.deepEqual(log, ['reply1', 'edit-new', 'reply2', 'reply3']);
  // Burst of two, then one every 50 ms at 20/s.
  const gaps = at.slice(2).map((t, i) => t - (at[i + 1] ?? t));
  for (const g of gaps) assert.ok(g >= 40, `gap ${g.toFixed(1)} ms`);
});

test('the pacer holds the pace where the platform counts it, however late requests arrive', async () => {
  const pace = { burst: 3, perSecond: 25 };
  const pacer = new Pacer(pace);
  const arrivals: number[] = [];
  // Each request arrives somewhere between being sent and being answered 15 ms later, the
  // first ones latest (as under the load of a burst of commands), the later ones at once.
  const request = (i: number) => async (): Promise<void> => {
    const sent = performance.now();
    const lag = i < 3 ? 14 : 0;
    await new Promise((r) => setTimeout(r, lag));
    arrivals.push(performance.now());
    await new Promise((r) => setTimeout(r, 15 - lag));
    assert.ok(performance.now() >= sent);
  };
  await Promise.all(Array.from({ length: 12 }, (_, i) => pacer.schedule('c1', request(i))));
  // Any k > burst consecutive arrivals span at least (k - burst) / perSecond.
  for (let i = 0; i < arrivals.length; i++) {
    for (let j = i + pace.burst; j < arrivals.length; j++) {
      const span = (arrivals[j] ?? 0) - (arrivals[i] ?? 0);
      const needed = ((j - i + 1 - pace.burst) / pace.perSecond) * 1000;
      assert.ok(span >= needed - 1, `arrivals ${i}..${j} span ${span.toFixed(1)} ms, the pace needs ${needed} ms`);
    }
  }
});

test('single flight: concurrent checks of one target share one run; a recent result is reused with its age', async () => {
  let runs = 0;
  const inner: EngineClient = {
    async check(_t, options: CheckOptions = {}): Promise<CheckResult> {
      runs += 1;
      for (const e of script()) {
        options.onEvent?.(e);
        await new Promise((r) => setTimeout(r, 1));
      }
      return { report: report() };
    },
  };
  let now = 1000;
  const shared = new SharedRuns(inner, { reuseMs: 5000, now: () => now });
  const seen: number[] = [];
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) => {
      let n = 0;
      return shared.check(target, { onEvent: () => (n += 1) }).then((r) => {
        seen[i] = n;
        return r;
      });
    }),
  );
  assert.equal(runs, 1);
  assert.ok(seen.every((n) => n === script().length), 'late joiners get every event from the start');
  assert.ok(results.every((r) => r.reusedAgeMs === undefined));
  now += 3000;
  let announced: number | undefined;
  const reused = await shared.check(target, { onReused: (age) => (announced = age) });
  assert.equal(runs, 1);
  assert.equal(reused.reusedAgeMs, 3000);
  assert.equal(announced, 3000);
  now += 3000;
  await shared.check(target);
  assert.equal(runs, 2, 'an older result is not reused');
  assert.deepEqual(shared.counts, { runs: 2, joined: 19, reused: 1 });
});

test('retry dedupe: an id counts once within its TTL', () => {
  let now = 0;
  const ids = new RecentIds(1000, 3, () => now);
  assert.equal(ids.first('a'), true);
  assert.equal(ids.first('a'), false);
  now = 1500;
  assert.equal(ids.first('a'), true, 'expired ids count again');
  for (const id of ['b', 'c', 'd', 'e']) ids.first(id);
  assert.equal(ids.first('e'), false);
});

interface Call {
  op: string;
  detail: string;
}

function recordingSurface(failParent?: SurfaceError): ChatSurface & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    channelKey: 'C1',
    calls,
    postParent: (v: ParentView) => (failParent ? Promise.reject(failParent) : (calls.push({ op: 'postParent', detail: v.phase }), Promise.resolve())),
    updateParent: (v: ParentView) => (calls.push({ op: 'updateParent', detail: `${v.phase}${v.reusedAgeMs !== undefined ? `:${v.reusedAgeMs}` : ''}` }), Promise.resolve()),
    postStep: (s: StepReport) => (calls.push({ op: 'postStep', detail: s.id }), Promise.resolve()),
    updateStep: (s: StepReport) => (calls.push({ op: 'updateStep', detail: s.id }), Promise.resolve()),
    fallback: (v: ParentView, reason: string) => (calls.push({ op: 'fallback', detail: `${v.diagnosis?.cause ?? '-'}|${reason}` }), Promise.resolve()),
  };
}

const scripted: EngineClient = {
  check(_t, options: CheckOptions = {}) {
    for (const e of script()) options.onEvent?.(e);
    return Promise.resolve({ report: report() });
  },
};
const quiet = createLogger({ write: () => undefined });

test('the check flow: parent, ten replies in order, the parent updated with the diagnosis', async () => {
  const surface = recordingSurface();
  const result = await runCheckFlow({ surface, engine: scripted, pacer: new Pacer({ burst: 50, perSecond: 1000 }), logger: quiet, target, vantage: 'b', requester: 'alice' });
  assert.equal(result?.diagnosis.cause, 'port-closed');
  assert.equal(surface.calls[0]?.op, 'postParent');
  assert.deepEqual(surface.calls.filter((c) => c.op === 'postStep').map((c) => c.detail), [...STEP_IDS]);
  assert.ok(surface.calls.some((c) => c.op === 'updateParent' && c.detail === 'finished'));
  assert.ok(!surface.calls.some((c) => c.op === 'fallback'));
});

test('the check flow falls back to one message with the diagnosis when it cannot post', async () => {
  const surface = recordingSurface(new SurfaceError('cannot-post', 'not_in_channel: invite the bot', 'not_in_channel'));
  await runCheckFlow({ surface, engine: scripted, pacer: new Pacer({ burst: 50, perSecond: 1000 }), logger: quiet, target, vantage: 'b', requester: 'alice' });
  assert.deepEqual(surface.calls.map((c) => c.op), ['fallback']);
  assert.equal(surface.calls[0]?.detail, 'port-closed|not_in_channel: invite the bot');
});

test('the check flow says when the engine itself failed', async () => {
  const surface = recordingSurface();
  const broken: EngineClient = {
    check: (_t, options: CheckOptions = {}) => {
      options.onEvent?.(script()[0]!);
      return Promise.reject(new Error('bastion unreachable'));
    },
  };
  const logs: string[] = [];
  await runCheckFlow({ surface, engine: broken, pacer: new Pacer({ burst: 50, perSecond: 1000 }), logger: createLogger({ write: (l) => logs.push(l) }), target, vantage: 'b', requester: 'alice' });
  assert.ok(surface.calls.some((c) => c.op === 'updateParent' && c.detail === 'failed'));
  assert.ok(logs.some((l) => l.includes('bastion unreachable')));
});

test('single flight keeps checks for different requester addresses apart, and passes the address on', async () => {
  const seen: Array<string | undefined> = [];
  const inner: EngineClient = {
    check(_t, options: CheckOptions = {}) {
      seen.push(options.from);
      return Promise.resolve({ report: report() });
    },
  };
  const shared = new SharedRuns(inner, { reuseMs: 5000 });
  await Promise.all([shared.check(target, { from: '203.0.113.7' }), shared.check(target, { from: '203.0.113.8' }), shared.check(target, { from: '203.0.113.7' })]);
  assert.deepEqual(seen.sort(), ['203.0.113.7', '203.0.113.8']);
});
