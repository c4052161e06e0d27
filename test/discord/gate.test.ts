// The gate on Discord, end to end: the real discord.js client against the fake Discord, the
// real engine on loopback under a target policy that allows 127.0.0.2 only, and a real store.
// Audit rows after real runs; refusals (people, roles, rates) as ephemeral replies with
// nothing probed; a queued check defers its reply and tells its place privately; history.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EngineClient } from '../../src/chat/engine-client.js';
import { Gate } from '../../src/chat/gate.js';
import type { GateOptions } from '../../src/chat/gate.js';
import { DEFAULT_LIMITS } from '../../src/chat/limits.js';
import { Pacer } from '../../src/chat/pacer.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';
import { Store } from '../../src/store/store.js';
import type { DispatchedInteraction, JsonObject, RecordedCall } from './fake-discord.js';
import { checkDone, embedsOf, parentMessage, startHarness, threadMessages } from './harness.js';
import type { Harness } from './harness.js';
import { liveMarkup } from './markup.js';

const POLICY = parseEngineConfig('policy:\n  allow: [127.0.0.2]\n').policy as TargetPolicy;
const ROLE = '246813579024681357';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-discord-gate-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function gated(options: Partial<GateOptions> = {}, wrapEngine?: (inner: EngineClient) => EngineClient): Promise<{ h: Harness; store: Store; gate: Gate; close: () => Promise<void> }> {
  const store = Store.open(join(dir, `audit-${++n}.db`));
  const gate = new Gate({ policy: POLICY, store, limits: DEFAULT_LIMITS, ...options });
  const h = await startHarness({ gate, policy: POLICY, guildRoles: [ROLE], pacer: new Pacer({ burst: 100, perSecond: 200 }), ...(wrapEngine ? { wrapEngine } : {}) });
  return {
    h,
    store,
    gate,
    close: async () => {
      await h.stop();
      store.close();
    },
  };
}

/** The interaction's first answer, once it arrived. */
async function callback(h: Harness, i: DispatchedInteraction): Promise<{ type: number; data: JsonObject }> {
  const call = await h.fake.waitFor((c: RecordedCall) => c.path === `/interactions/${i.id}/${i.token}/callback`);
  return call.body as { type: number; data: JsonObject };
}

/**
 * The answer only the requester sees after the gate: the interaction was deferred first (the
 * gate comes after the acknowledgement), then the deferral deleted and an ephemeral follow-up sent.
 */
async function privateAnswer(h: Harness, i: DispatchedInteraction): Promise<{ type: number; data: JsonObject }> {
  const first = await callback(h, i);
  assert.equal(first.type, 5, 'deferred before the gate was asked');
  const original = `/webhooks/${h.fake.applicationId}/${i.token}/messages/@original`;
  const follow = await h.fake.waitFor((c: RecordedCall) => c.method === 'POST' && c.path === `/webhooks/${h.fake.applicationId}/${i.token}`);
  const deleted = h.fake.calls.find((c) => c.method === 'DELETE' && c.path === original);
  assert.ok(deleted && deleted.at <= follow.at, 'the public deferral made way for the private answer');
  return { type: 4, data: follow.body as JsonObject };
}

function assertPrivate(body: { type: number; data: JsonObject }, pattern: RegExp): void {
  assert.equal(body.type, 4);
  assert.equal(((body.data.flags as number) & 64) === 64, true, 'ephemeral');
  assert.deepEqual(body.data.allowed_mentions, { parse: [] });
  assert.match(body.data.content as string, pattern);
  assert.deepEqual(liveMarkup(body.data.content as string), []);
}

test('a real chat-driven check: the audit row (guild, channel, user, addresses, bastion, cause, report) and the history row', async () => {
  const { h, store, close } = await gated();
  try {
    const i = h.fake.dispatchInteraction({ target: `127.0.0.2:${h.closedPort}` });
    await checkDone(h, i);
    assert.equal(threadMessages(h, i).length, 10);
    assert.match(embedsOf(parentMessage(h, i))[0]?.description ?? '', /port-closed/);
    const [row] = store.audit();
    assert.deepEqual(
      [row?.source, row?.action, row?.workspace, row?.channel, row?.user, row?.target, row?.addresses, row?.bastion, row?.verdict, row?.cause],
      ['discord', 'check', h.fake.guildId, i.channelId, h.fake.requesterId, `sshcheck@127.0.0.2:${h.closedPort}`, ['127.0.0.2'], 'test-bastion', 'problem', 'port-closed'],
    );
    assert.equal(store.runsFor('127.0.0.2')[0]?.reportId, row?.reportId);
    assert.equal(store.runsFor('127.0.0.2')[0]?.source, 'discord');
  } finally {
    await close();
  }
});

test('a person without the role is refused privately; one with it runs; the rows say which', async () => {
  const { h, store, close } = await gated({ permissions: { discord: { groups: [ROLE] } } });
  try {
    const runs = h.engine.counts.runs;
    const outsider = h.fake.dispatchInteraction({ target: `127.0.0.2:${h.closedPort}`, userId: '111122223333444455' });
    assertPrivate(await privateAnswer(h, outsider), /^⚠️ You \(111122223333444455\) are not allowed to run sshcheck: ask the bot's admin to add you to one of its roles \(nothing was checked\)$/);
    await sleep(100);
    assert.equal(h.engine.counts.runs, runs, 'nothing probed');
    assert.equal(threadMessages(h, outsider).length, 0);
    const member = h.fake.dispatchInteraction({ target: `127.0.0.2:${h.closedPort}`, roles: [ROLE] });
    await checkDone(h, member);
    assert.deepEqual(store.audit().map((r) => [r.user, r.verdict, r.denial]), [
      ['111122223333444455', 'denied', 'permission'],
      [h.fake.requesterId, 'problem', null],
    ]);
  } finally {
    await close();
  }
});

test('a server not on the list, and a typed metadata address: ephemeral refusals, nothing probed', async () => {
  const { h, store, close } = await gated({ permissions: { discord: { workspaces: ['135791357913579135'] } } });
  try {
    const i = h.fake.dispatchInteraction({ target: '10.0.0.5' });
    assertPrivate(await privateAnswer(h, i), /may not be used in this server \(\d+\): ask the bot's admin to add it to `?permissions\.discord\.guilds`? \(nothing was checked\)/);
    assert.deepEqual(store.audit().map((r) => [r.verdict, r.denial]), [['denied', 'permission']]);
  } finally {
    await close();
  }
  const open = await gated();
  try {
    const i = open.h.fake.dispatchInteraction({ target: '169.254.169.254' });
    assertPrivate(await privateAnswer(open.h, i), /The target policy refuses the address 169\.254\.169\.254: cloud instance metadata/);
    await sleep(100);
    assert.equal(open.h.engine.counts.runs, 0);
    assert.deepEqual(open.store.audit().map((r) => [r.verdict, r.denial]), [['denied', 'policy']]);
  } finally {
    await open.close();
  }
});

test('rate limited: an ephemeral reply with the retry time', async () => {
  const { h, store, close } = await gated({ limits: { ...DEFAULT_LIMITS, perUser: { burst: 1, perMinute: 1 } } });
  try {
    const first = h.fake.dispatchInteraction({ target: `127.0.0.2:${h.closedPort}` });
    await h.logger.waitFor((e) => e.msg === 'discord check requested' && e.fields.interaction === first.id);
    const second = h.fake.dispatchInteraction({ target: `127.0.0.2:${h.closedPort}` });
    assertPrivate(await privateAnswer(h, second), /You have started 1 checks in a short time, the most sshcheck runs for one person \(then 1 a minute\): try again in (60|59) s\. Nothing was checked\./);
    await checkDone(h, first);
    assert.deepEqual(store.audit().map((r) => [r.verdict, r.denial]), [['problem', null], ['denied', 'rate-limit']]);
  } finally {
    await close();
  }
});

test('the queue: the second check defers its reply, says its place privately, and runs when the first is done', async () => {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const hold = (inner: EngineClient): EngineClient => ({
    check: async (target, options) => {
      if (target.port !== 23) await held;
      return inner.check(target, options);
    },
  });
  const { h, store, gate, close } = await gated({ limits: { ...DEFAULT_LIMITS, concurrent: 1, queue: 2 } }, hold);
  try {
    const first = h.fake.dispatchInteraction({ target: `127.0.0.2:${h.closedPort}` });
    await h.logger.waitFor((e) => e.msg === 'discord check requested' && e.fields.interaction === first.id);
    const second = h.fake.dispatchInteraction({ target: '127.0.0.2:23', userId: '111122223333444455' });
    const deferred = await callback(h, second);
    assert.equal(deferred.type, 5, 'deferred: the parent follows when the check starts');
    const notice = await h.fake.waitFor((c) => c.method === 'POST' && c.path === `/webhooks/${h.fake.applicationId}/${second.token}`);
    const body = notice.body as JsonObject;
    assert.equal(((body.flags as number) & 64) === 64, true, 'the place in the queue is private');
    assert.equal(body.content, 'You are number 1 in the queue (sshcheck runs 1 check at once): yours starts as soon as one finishes.');
    assert.deepEqual([gate.running, gate.waiting], [1, 1]);
    assert.deepEqual(store.audit().map((r) => r.verdict), ['running', 'queued']);
    release();
    await checkDone(h, first);
    await checkDone(h, second);
    assert.match(embedsOf(parentMessage(h, second))[0]?.description ?? '', /port-closed/, 'the deferred reply became the parent');
    assert.deepEqual(store.audit().map((r) => r.verdict), ['problem', 'problem']);
  } finally {
    release();
    await close();
  }
});

test('/sshcheck target:<host> history:True: the recorded runs, privately; nothing probed', async () => {
  const { h, store, close } = await gated();
  try {
    const run = h.fake.dispatchInteraction({ target: `127.0.0.2:${h.closedPort}` });
    await checkDone(h, run);
    const runs = h.engine.counts.runs;
    const i = h.fake.dispatchInteraction({ target: '127.0.0.2', history: true });
    const body = await privateAnswer(h, i);
    assertPrivate(body, /^127\.0\.0\.2: 1 run \(times in UTC\)\n• `?sshcheck@127\.0\.0\.2:\d+`? from test-bastion: broken since \d\d:\d\d \(just now\): `?port-closed`?, 1 run; no healthy run in the history\n```\n/);
    assert.match(body.data.content as string, new RegExp(`sshcheck@127\\.0\\.0\\.2:${h.closedPort}  port-closed \\(high\\)`));
    await sleep(100);
    assert.equal(h.engine.counts.runs, runs);
    assert.deepEqual(store.audit().map((r) => [r.action, r.verdict]), [['check', 'problem'], ['history', 'shown']]);
  } finally {
    await close();
  }
});
