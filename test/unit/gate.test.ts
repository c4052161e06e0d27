// The gate both adapters call once per request: permissions → the policy pre-check → rate
// limits → the queue, one audit row per request, completed with the check's outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckResult, EngineClient } from '../../src/chat/engine-client.js';
import { Gate } from '../../src/chat/gate.js';
import type { GateRequest } from '../../src/chat/gate.js';
import { DEFAULT_LIMITS } from '../../src/chat/limits.js';
import type { LimitsConfig } from '../../src/chat/limits.js';
import { NatsEngineError } from '../../src/nats/engine.js';
import { parseTarget } from '../../src/target.js';
import type { Target } from '../../src/target.js';
import { checkAddresses, defaultPolicy, PolicyError } from '../../src/policy/target-policy.js';
import { Store } from '../../src/store/store.js';
import { fakeReport } from './store-support.js';

function setup(over: { limits?: Partial<LimitsConfig>; permissions?: ConstructorParameters<typeof Gate>[0]['permissions'] } = {}): { gate: Gate; store: Store; advance: (ms: number) => void } {
  let now = Date.parse('2026-11-24T10:00:00Z');
  const store = Store.open(':memory:', { now: () => now });
  const gate = new Gate({ policy: defaultPolicy(), store, limits: { ...DEFAULT_LIMITS, ...over.limits }, now: () => now, ...(over.permissions ? { permissions: over.permissions } : {}) });
  return { gate, store, advance: (ms) => (now += ms) };
}

function request(target: string, over: Partial<GateRequest['actor']> = {}, action: GateRequest['action'] = 'check'): GateRequest {
  return { action, target: parseTarget(target), actor: { platform: 'slack', workspace: 'T0TEAM', channel: 'C0OPS', user: 'U0ALICE', ...over } };
}

/** An engine whose checks end when the test says. */
function heldEngine(): { engine: EngineClient; calls: Target[]; finish: (i: number, result: CheckResult | Error) => void } {
  const calls: Target[] = [];
  const pending: Array<{ resolve: (r: CheckResult) => void; reject: (e: Error) => void }> = [];
  return {
    calls,
    engine: {
      check: (target) => {
        calls.push(target);
        return new Promise<CheckResult>((resolve, reject) => pending.push({ resolve, reject }));
      },
    },
    finish: (i, result) => (result instanceof Error ? pending[i]?.reject(result) : pending[i]?.resolve(result)),
  };
}

test('an allowed check runs at once; its audit row goes from running to the outcome; the run is kept for history', async () => {
  const { gate, store } = setup();
  const decision = await gate.admit(request('db-3'));
  assert.equal(decision.kind, 'admitted');
  assert.ok(decision.kind === 'admitted');
  assert.equal(decision.ticket.position, 0);
  assert.equal(decision.ticket.queueMessage, undefined);
  assert.equal(store.audit()[0]?.verdict, 'running');
  const held = heldEngine();
  const running = decision.ticket.wrap(held.engine).check(parseTarget('db-3'));
  await new Promise((r) => setImmediate(r));
  held.finish(0, { report: fakeReport({ id: 'rep-1', cause: 'port-filtered', addresses: ['10.0.0.5'] }) });
  await running;
  const [row] = store.audit();
  assert.equal(row?.verdict, 'problem');
  assert.equal(row?.cause, 'port-filtered');
  assert.deepEqual(row?.addresses, ['10.0.0.5']);
  assert.equal(row?.bastion, 'bastion-eu-1');
  assert.equal(row?.reportId, 'rep-1');
  assert.deepEqual([row?.source, row?.workspace, row?.channel, row?.user, row?.target], ['slack', 'T0TEAM', 'C0OPS', 'U0ALICE', 'sshcheck@db-3:22']);
  assert.equal(store.runsFor('db-3')[0]?.reportId, 'rep-1');
  assert.equal(gate.running, 0, 'the slot is free again');
  // Cancelling after the run changes nothing.
  decision.ticket.cancel();
  assert.equal(store.audit()[0]?.verdict, 'problem');
});

test('refused by permission: the message, a denied row, nothing else', async () => {
  const { gate, store } = setup({ permissions: { slack: { channels: ['C0INCIDENT'] } } });
  const decision = await gate.admit(request('db-3'));
  assert.ok(decision.kind === 'denied');
  assert.equal(decision.reason, 'permission');
  assert.match(decision.message, /^sshcheck may not be used in this channel \(C0OPS\): use it in an allowed channel, or ask the bot's admin to add this one to permissions\.slack\.channels \(nothing was checked\)$/);
  const [row] = store.audit();
  assert.deepEqual([row?.verdict, row?.denial], ['denied', 'permission']);
  assert.equal(gate.running, 0);
});

test('user groups are asked only when needed, and a lookup that fails or hangs refuses', async () => {
  const { gate } = setup({ permissions: { slack: { users: ['U0ALICE'], groups: ['S0ONCALL'] } } });
  let asked = 0;
  const groups = (ids: string[]) => () => {
    asked += 1;
    return Promise.resolve(ids);
  };
  assert.equal((await gate.admit(request('db-3', { groups: groups([]) }))).kind, 'admitted');
  assert.equal(asked, 0, 'alice is listed: no lookup');
  assert.equal((await gate.admit(request('db-4', { user: 'U0BOB', groups: groups(['S0ONCALL']) }))).kind, 'admitted');
  assert.equal(asked, 1);
  const failing = await gate.admit(request('db-5', { user: 'U0BOB', groups: () => Promise.reject(new Error('missing_scope')) }));
  assert.ok(failing.kind === 'denied');
  assert.match(failing.message, /Your user groups could not be looked up \(missing_scope\)/);
  const slowGate = new Gate({ policy: defaultPolicy(), permissions: { slack: { groups: ['S0ONCALL'] } }, groupsTimeoutMs: 50 });
  const slow = await slowGate.admit(request('db-6', { groups: () => new Promise(() => undefined) }));
  assert.ok(slow.kind === 'denied');
  assert.match(slow.message, /no answer in 0\.05 s/);
});

test('refused by the policy pre-check: a literal metadata address never reaches the engine', async () => {
  const { gate, store } = setup();
  const decision = await gate.admit(request('169.254.169.254'));
  assert.ok(decision.kind === 'denied');
  assert.equal(decision.reason, 'policy');
  assert.match(decision.message, /cloud instance metadata/);
  const [row] = store.audit();
  assert.deepEqual([row?.verdict, row?.denial, row?.addresses], ['denied', 'policy', ['169.254.169.254']]);
});

test('a policy refusal by the engine (a resolved address) completes the row as denied, with the addresses', async () => {
  const { gate, store } = setup();
  const decision = await gate.admit(request('db-3.lab.test'));
  assert.ok(decision.kind === 'admitted');
  const denial = checkAddresses(defaultPolicy(), parseTarget('db-3.lab.test'), ['10.0.0.5', '127.0.0.1']);
  assert.ok(denial);
  const engine: EngineClient = { check: () => Promise.reject(new PolicyError(denial)) };
  await assert.rejects(decision.ticket.wrap(engine).check(parseTarget('db-3.lab.test')), /resolves to 127\.0\.0\.1/);
  const [row] = store.audit();
  assert.deepEqual([row?.verdict, row?.denial, row?.addresses], ['denied', 'policy', ['10.0.0.5', '127.0.0.1']]);
  // The same from a bastion's agent, through the broker.
  const remote = await gate.admit(request('db-4.lab.test'));
  assert.ok(remote.kind === 'admitted');
  await assert.rejects(remote.ticket.wrap({ check: () => Promise.reject(new NatsEngineError('policy', 'bastion eu-1 (through the broker at nats://127.0.0.1:4222): db-4 resolves to 127.0.0.1 …')) }).check(parseTarget('db-4.lab.test')));
  assert.deepEqual([store.audit()[1]?.verdict, store.audit()[1]?.denial], ['denied', 'policy']);
  // Any other failure is "failed".
  const other = await gate.admit(request('db-5'));
  assert.ok(other.kind === 'admitted');
  await assert.rejects(other.ticket.wrap({ check: () => Promise.reject(new Error('boom')) }).check(parseTarget('db-5')));
  assert.deepEqual([store.audit()[2]?.verdict, store.audit()[2]?.reason], ['failed', 'boom']);
});

test('rate limits: per person with the retry time; refused requests are recorded and cost nothing', async () => {
  const { gate, store, advance } = setup({ limits: { perUser: { burst: 2, perMinute: 2 }, global: { burst: 100, perMinute: 100 } } });
  for (const t of ['db-1', 'db-2']) {
    const d = await gate.admit(request(t));
    assert.ok(d.kind === 'admitted');
    d.ticket.cancel();
  }
  const limited = await gate.admit(request('db-3'));
  assert.ok(limited.kind === 'denied');
  assert.equal(limited.reason, 'rate-limit');
  assert.equal(limited.retryAfterMs, 30_000);
  assert.equal(limited.message, 'You have started 2 checks in a short time, the most sshcheck runs for one person (then 2 a minute): try again in 30 s. Nothing was checked.');
  assert.equal((await gate.admit(request('db-3', { user: 'U0BOB' }))).kind, 'admitted', 'another person is not limited');
  advance(30_000);
  assert.equal((await gate.admit(request('db-3'))).kind, 'admitted');
  assert.deepEqual(store.audit().map((r) => r.verdict), ['cancelled', 'cancelled', 'denied', 'running', 'running']);
  assert.equal(store.audit()[2]?.denial, 'rate-limit');
});

test('the global limit speaks for everyone', async () => {
  const { gate } = setup({ limits: { perUser: { burst: 10, perMinute: 10 }, global: { burst: 1, perMinute: 6 } } });
  assert.equal((await gate.admit(request('db-1'))).kind, 'admitted');
  const d = await gate.admit(request('db-2', { user: 'U0BOB' }));
  assert.ok(d.kind === 'denied');
  assert.equal(d.message, 'sshcheck is at its limit for everyone (1 checks, then 6 a minute): try again in 10 s. Nothing was checked.');
});

test('the queue: positions while waiting, FIFO start, joins of the same target, a full queue with a retry time', async () => {
  const { gate, store } = setup({ limits: { concurrent: 1, queue: 2 } });
  const held = heldEngine();
  const first = await gate.admit(request('db-1'));
  const second = await gate.admit(request('db-2', { user: 'U0BOB' }));
  const joined = await gate.admit(request('db-2', { user: 'U0CAROL' }));
  const third = await gate.admit(request('db-3', { user: 'U0DAVE' }));
  assert.ok(first.kind === 'admitted' && second.kind === 'admitted' && joined.kind === 'admitted' && third.kind === 'admitted');
  assert.deepEqual([first.ticket.position, second.ticket.position, joined.ticket.position, third.ticket.position], [0, 1, 1, 2]);
  assert.equal(second.ticket.queueMessage, 'You are number 1 in the queue (sshcheck runs 1 check at once): yours starts as soon as one finishes.');
  assert.equal(joined.ticket.queueMessage, 'You are number 1 in the queue (sshcheck runs 1 check at once): yours starts as soon as one finishes. It joins the same check someone else asked for.');
  assert.equal(third.ticket.queueMessage, 'You are number 2 in the queue (sshcheck runs 1 check at once): yours starts as soon as 2 finish.');
  const full = await gate.admit(request('db-4', { user: 'U0ERIN' }));
  assert.ok(full.kind === 'denied');
  assert.equal(full.reason, 'queue-full');
  assert.equal(full.message, 'sshcheck is busy: 1 checks are running and 2 are waiting, the most it queues. Try again in about 60 s. Nothing was checked.');
  assert.equal(full.retryAfterMs, 60_000);
  // Only the first runs; the others wait for it.
  const runs = [first, second, third].map((d, i) => (d.kind === 'admitted' ? d.ticket.wrap(held.engine).check(parseTarget(`db-${i + 1}`)) : Promise.reject(new Error('unreachable'))));
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(held.calls.map((t) => t.host), ['db-1']);
  assert.deepEqual(store.audit().map((r) => r.verdict).slice(0, 4), ['running', 'queued', 'queued', 'queued']);
  held.finish(0, { report: fakeReport({ id: 'r1', host: 'db-1' }) });
  await runs[0];
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(held.calls.map((t) => t.host), ['db-1', 'db-2']);
  assert.equal(store.audit()[1]?.verdict, 'running');
  // The joined request never ran its own check: cancelling it keeps db-2's slot for the other holder.
  joined.ticket.cancel('joined');
  held.finish(1, { report: fakeReport({ id: 'r2', host: 'db-2', cause: 'no-response' }) });
  await runs[1];
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(held.calls.map((t) => t.host), ['db-1', 'db-2', 'db-3']);
  held.finish(2, { report: fakeReport({ id: 'r3', host: 'db-3' }) });
  await runs[2];
  assert.deepEqual(store.audit().map((r) => r.verdict), ['healthy', 'problem', 'cancelled', 'healthy', 'denied']);
});

test('history: allowed people get the store rows and an audit row; nothing is rate limited or queued', async () => {
  const { gate, store } = setup({ limits: { perUser: { burst: 1, perMinute: 1 } } });
  store.recordRun(fakeReport({ id: 'h1', host: 'db-3', cause: 'healthy' }), 'cli');
  for (let i = 0; i < 3; i++) {
    const d = await gate.admit(request('db-3', {}, 'history'));
    assert.ok(d.kind === 'history');
    assert.equal(d.available, true);
    assert.deepEqual(d.runs.map((r) => r.reportId), ['h1']);
  }
  assert.deepEqual(store.audit().map((r) => [r.action, r.verdict]), [['history', 'shown'], ['history', 'shown'], ['history', 'shown']]);
  const closed = setup({ permissions: { discord: {} } });
  const refused = await closed.gate.admit(request('db-3', {}, 'history'));
  assert.ok(refused.kind === 'denied');
  assert.equal(refused.reason, 'permission');
});

test('an audit log that cannot be written refuses the check (and frees what it took)', async () => {
  const store = Store.open(':memory:');
  const gate = new Gate({ policy: defaultPolicy(), store, limits: { ...DEFAULT_LIMITS, concurrent: 1 } });
  store.close();
  const d = await gate.admit(request('db-3'));
  assert.ok(d.kind === 'denied');
  assert.equal(d.reason, 'audit');
  assert.match(d.message, /^The audit log cannot be written \(.*\), and sshcheck runs no check it cannot record/);
  assert.equal(gate.running, 0);
});

test('close(): waiting checks fail with the reason and are recorded as failed', async () => {
  const { gate, store } = setup({ limits: { concurrent: 1, queue: 5 } });
  const held = heldEngine();
  const first = await gate.admit(request('db-1'));
  const waiting = await gate.admit(request('db-2'));
  assert.ok(first.kind === 'admitted' && waiting.kind === 'admitted');
  const running = first.ticket.wrap(held.engine).check(parseTarget('db-1'));
  const queued = waiting.ticket.wrap(held.engine).check(parseTarget('db-2'));
  gate.close();
  await assert.rejects(queued, /the bot is stopping/);
  held.finish(0, { report: fakeReport({ id: 'r1', host: 'db-1' }) });
  await running;
  assert.deepEqual(store.audit().map((r) => r.verdict), ['healthy', 'failed']);
});

const fleetActor = { platform: 'slack', workspace: 'T0TEAM', channel: 'C0OPS', user: 'U0ALICE' } as const;

test('a fleet: one slot and one rate token for the command, an audit row per host with its outcome, history per host', async () => {
  const { gate, store } = setup({ limits: { concurrent: 2 } });
  const targets = ['db-1', 'db-2', '10.0.0.9'].map((t) => parseTarget(t));
  const decision = await gate.admitFleet({ actor: fleetActor, targets });
  assert.ok(decision.kind === 'admitted');
  assert.equal(decision.ticket.position, 0);
  assert.equal(gate.running, 1, 'the whole fleet holds one slot');
  assert.equal(store.audit().length, 0, 'rows are written as each host starts');
  const engine: EngineClient = {
    check: (t) => Promise.resolve({ report: fakeReport({ id: `rep-${t.host}`, host: t.host, cause: t.host === 'db-2' ? 'port-filtered' : 'healthy', addresses: ['10.0.0.5'] }) }),
  };
  const wrapped = decision.ticket.wrap(engine);
  for (const t of targets) await wrapped.check(t);
  decision.ticket.finish();
  assert.equal(gate.running, 0);
  const rows = store.audit();
  assert.deepEqual(rows.map((r) => [r.host, r.verdict, r.cause]).sort(), [
    ['10.0.0.9', 'healthy', 'healthy'],
    ['db-1', 'healthy', 'healthy'],
    ['db-2', 'problem', 'port-filtered'],
  ]);
  assert.equal(store.runsFor('db-2')[0]?.reportId, 'rep-db-2');
  await assert.rejects(wrapped.check(parseTarget('db-1')), /finished/, 'a finished ticket runs nothing more');
  // One command, one token: a second fleet and a single check still go through (burst 5).
  assert.equal((await gate.admitFleet({ actor: fleetActor, targets })).kind, 'admitted');
});

test('a fleet with one host outside the policy is refused whole: nothing runs, a denied row per host', async () => {
  const { gate, store } = setup();
  const targets = ['db-1', '169.254.169.254', '127.0.0.1', '10.0.0.2'].map((t) => parseTarget(t));
  const decision = await gate.admitFleet({ actor: fleetActor, targets });
  assert.ok(decision.kind === 'denied');
  assert.equal(decision.reason, 'policy');
  assert.match(decision.message, /^2 of the 4 hosts may not be probed from this bot: 169\.254\.169\.254: cloud instance metadata \(built-in rule deny 169\.254\.169\.254\/32\); 127\.0\.0\.1: loopback, the bastion itself \(built-in rule deny 127\.0\.0\.0\/8\)\. Nothing was checked\.$/);
  assert.equal(gate.running, 0);
  const rows = store.audit();
  assert.equal(rows.length, 4);
  assert.ok(rows.every((r) => r.verdict === 'denied' && r.denial === 'policy'));
});

test('a fleet is refused by permission and rate limits like a single check', async () => {
  const denied = setup({ permissions: { slack: { channels: ['C0INCIDENT'] } } });
  const d = await denied.gate.admitFleet({ actor: fleetActor, targets: [parseTarget('db-1'), parseTarget('db-2')] });
  assert.ok(d.kind === 'denied' && d.reason === 'permission');
  const limited = setup({ limits: { perUser: { burst: 1, perMinute: 1 } } });
  assert.equal((await limited.gate.admitFleet({ actor: fleetActor, targets: [parseTarget('db-1')] })).kind, 'admitted');
  const second = await limited.gate.admitFleet({ actor: fleetActor, targets: [parseTarget('db-1')] });
  assert.ok(second.kind === 'denied' && second.reason === 'rate-limit');
  assert.match(second.message, /try again in/);
});
