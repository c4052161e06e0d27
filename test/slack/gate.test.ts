// The gate on Slack, end to end: the real Bolt app against the fake Slack, the real engine
// on loopback under a target policy that allows 127.0.0.2 only, and a real store. Audit rows
// are checked after real chat-driven runs; refused people, targets, rates and a full slot
// each get a message to the requester only, and nothing is probed for them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineClient } from '../../src/chat/engine-client.js';
import { Gate } from '../../src/chat/gate.js';
import type { GateOptions } from '../../src/chat/gate.js';
import { DEFAULT_LIMITS } from '../../src/chat/limits.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';
import { Store } from '../../src/store/store.js';
import { TEAM_ID } from './fake-slack.js';
import { allText, settled, startHarness, threadIn, VANTAGE, answerTo } from './harness.js';
import type { Harness } from './harness.js';
import { closedPort } from './targets.js';

const REQUESTER = 'U0REQUESTER';
// The built-in defaults (loopback denied) plus one loopback address the tests may probe.
const POLICY = parseEngineConfig('policy:\n  allow: [127.0.0.2]\n').policy as TargetPolicy;

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-slack-gate-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
async function gated(options: Partial<GateOptions> = {}, wrapEngine?: (inner: EngineClient) => EngineClient): Promise<{ h: Harness; store: Store; gate: Gate; close: () => Promise<void> }> {
  const store = Store.open(join(dir, `audit-${++n}.db`));
  const gate = new Gate({ policy: POLICY, store, limits: DEFAULT_LIMITS, ...options });
  const h = await startHarness({ gate, policy: POLICY, ...(wrapEngine ? { wrapEngine } : {}) });
  return {
    h,
    store,
    gate,
    close: async () => {
      await h.close();
      store.close();
    },
  };
}

test('a real chat-driven check (slash command and mention): the audit rows and the history row', async () => {
  const { h, store, close } = await gated();
  try {
    const port = await closedPort();
    const ack = await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2 ${port}`, channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    assert.equal(ack['text'], `Checking \`sshcheck@127.0.0.2:${port}\` from ${VANTAGE}…`);
    await settled(h, 1);
    const { replies, parentUpdates } = threadIn(h.fake, 'C0INCIDENT');
    assert.equal(replies.length, 10);
    assert.match(allText(parentUpdates[parentUpdates.length - 1]?.args ?? {}), /`port-closed`/);
    await h.fake.sendEvent({ type: 'app_mention', user: 'U0SECOND', text: `<@U0SSHCHECK> 127.0.0.2:${port}`, ts: '1700000001.000100', channel: 'C0OPS' }).ack;
    await settled(h, 2);
    const rows = store.audit();
    assert.equal(rows.length, 2);
    const [slash, mention] = rows;
    assert.deepEqual(
      [slash?.source, slash?.action, slash?.workspace, slash?.channel, slash?.user, slash?.target, slash?.host, slash?.port, slash?.addresses, slash?.bastion, slash?.verdict, slash?.cause, slash?.denial],
      ['slack', 'check', TEAM_ID, 'C0INCIDENT', REQUESTER, `sshcheck@127.0.0.2:${port}`, '127.0.0.2', port, ['127.0.0.2'], VANTAGE, 'problem', 'port-closed', null],
    );
    assert.ok((slash?.durationMs ?? -1) >= 0);
    assert.match(slash?.reportId ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual([mention?.workspace, mention?.channel, mention?.user, mention?.verdict, mention?.cause], [TEAM_ID, 'C0OPS', 'U0SECOND', 'problem', 'port-closed']);
    const runs = store.runsFor('127.0.0.2');
    assert.deepEqual(runs.map((r) => r.reportId).sort(), [slash?.reportId, mention?.reportId].sort());
    assert.ok(runs.every((r) => r.source === 'slack' && r.vantage === VANTAGE && r.cause === 'port-closed'));
  } finally {
    await close();
  }
});

test('a person not on the list: the ack explains, nothing is probed or posted, the row says denied', async () => {
  const { h, store, close } = await gated({ permissions: { slack: { users: ['U0ONCALL'] } } });
  try {
    const ack = await answerTo(h.fake, h.fake.sendSlashCommand({ text: '127.0.0.2 22', channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    assert.equal(ack['response_type'], 'ephemeral');
    assert.match(allText(ack), /You \(U0REQUESTER\) are not allowed to run sshcheck: ask the bot's admin to add you to `permissions\.slack\.users` \(nothing was checked\)/);
    await h.fake.sendEvent({ type: 'app_mention', user: REQUESTER, text: '<@U0SSHCHECK> 127.0.0.2', ts: '1700000002.000100', channel: 'C0OPS', thread_ts: '1700000000.000001' }).ack;
    await h.fake.waitFor(() => h.fake.callsOf('chat.postEphemeral').length === 1, 5000, 'the ephemeral refusal of the mention');
    const eph = h.fake.callsOf('chat.postEphemeral')[0];
    assert.equal(eph?.args['user'], REQUESTER);
    assert.equal(eph?.args['thread_ts'], '1700000000.000001');
    assert.match(allText(eph?.args ?? {}), /are not allowed to run sshcheck/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.checks.length, 0);
    assert.equal(h.fake.callsOf('chat.postMessage').length, 0);
    assert.deepEqual(store.audit().map((r) => [r.verdict, r.denial, r.user, r.workspace]), [
      ['denied', 'permission', REQUESTER, TEAM_ID],
      ['denied', 'permission', REQUESTER, TEAM_ID],
    ]);
  } finally {
    await close();
  }
});

test('user groups: usergroups.list says who is in the on-call group; others are refused', async () => {
  const { h, store, close } = await gated({ permissions: { slack: { groups: ['S0ONCALL'] } } });
  try {
    h.fake.failNext('usergroups.list', { body: { ok: true, usergroups: [{ id: 'S0ONCALL', users: [REQUESTER] }, { id: 'S0OTHER', users: ['U0OUTSIDER'] }] } }, { times: Infinity });
    const port = await closedPort();
    const member = await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2 ${port}`, channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    assert.match(String(member['text']), /^Checking/);
    const outsider = await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2 ${port}`, channel_id: 'C0INCIDENT', user_id: 'U0OUTSIDER' }));
    assert.match(allText(outsider), /You \(U0OUTSIDER\) are not allowed to run sshcheck: .*one of its `user_groups` \(nothing was checked\)/);
    await settled(h, 1);
    assert.equal(h.fake.calls.filter((c) => c.method === 'usergroups.list').length, 1, 'the groups are cached');
    assert.deepEqual(store.audit().map((r) => [r.user, r.verdict]), [[REQUESTER, 'problem'], ['U0OUTSIDER', 'denied']]);
  } finally {
    await close();
  }
});

test('the policy: a typed metadata address is refused in the ack; a name resolving to loopback is refused by the engine', async () => {
  const { h, store, close } = await gated();
  try {
    const ack = await answerTo(h.fake, h.fake.sendSlashCommand({ text: '169.254.169.254', channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    assert.equal(ack['response_type'], 'ephemeral');
    assert.match(allText(ack), /The target policy refuses the address 169\.254\.169\.254: cloud instance metadata/);
    assert.equal(h.checks.length, 0);
    // "localhost" passes the typed check (a name) and resolves to 127.0.0.1: the engine refuses it.
    const port = await closedPort();
    await answerTo(h.fake, h.fake.sendSlashCommand({ text: `localhost ${port}`, channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    await settled(h, 1);
    const texts = [...h.fake.callsOf('chat.postMessage'), ...h.fake.callsOf('chat.update')].map((c) => allText(c.args)).join('\n') + h.fake.responses.map((r) => JSON.stringify(r.body)).join('\n');
    assert.match(texts, /The target policy refuses localhost, which resolves to 127\.0\.0\.1: loopback/);
    assert.equal(h.fake.callsOf('chat.postMessage').filter((c) => c.args['thread_ts'] !== undefined).length, 0, 'no checklist: nothing was probed');
    const [metadata, localhost] = store.audit();
    assert.deepEqual([metadata?.verdict, metadata?.denial, metadata?.addresses], ['denied', 'policy', ['169.254.169.254']]);
    assert.deepEqual([localhost?.verdict, localhost?.denial], ['denied', 'policy']);
    assert.ok(localhost?.addresses.includes('127.0.0.1'));
    assert.match(localhost?.reason ?? '', /loopback/);
  } finally {
    await close();
  }
});

test('rate limited: the second check in a row is refused with the retry time', async () => {
  const { h, store, close } = await gated({ limits: { ...DEFAULT_LIMITS, perUser: { burst: 1, perMinute: 2 } } });
  try {
    const port = await closedPort();
    await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2 ${port}`, channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    const second = await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2 ${port}`, channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    assert.equal(second['response_type'], 'ephemeral');
    assert.match(allText(second), /You have started 1 checks in a short time, the most sshcheck runs for one person \(then 2 a minute\): try again in (30|29) s\. Nothing was checked\./);
    await settled(h, 1);
    assert.equal(h.checks.length, 1);
    assert.deepEqual(store.audit().map((r) => [r.verdict, r.denial]), [['problem', null], ['denied', 'rate-limit']]);
  } finally {
    await close();
  }
});

test('the queue: a second check waits for the first, and its ack says its place', async () => {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const hold = (inner: EngineClient): EngineClient => ({
    check: async (target, options) => {
      if (target.port !== 23) await held;
      return inner.check(target, options);
    },
  });
  const { h, store, gate, close } = await gated({ limits: { ...DEFAULT_LIMITS, concurrent: 1, queue: 3 } }, hold);
  try {
    const port = await closedPort();
    await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2 ${port}`, channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    const queued = await answerTo(h.fake, h.fake.sendSlashCommand({ text: '127.0.0.2 23', channel_id: 'C0OPS', user_id: 'U0SECOND' }));
    assert.equal(queued['response_type'], 'ephemeral');
    assert.equal(queued['text'], `Checking \`sshcheck@127.0.0.2:23\` from ${VANTAGE}…\nYou are number 1 in the queue (sshcheck runs 1 check at once): yours starts as soon as one finishes.`);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual([gate.running, gate.waiting], [1, 1], 'the second waits for a slot');
    assert.deepEqual(store.audit().map((r) => r.verdict), ['running', 'queued']);
    release();
    await settled(h, 2);
    assert.deepEqual(store.audit().map((r) => r.verdict), ['problem', 'problem']);
    assert.ok((h.checks[1]?.at ?? 0) >= (h.checks[0]?.at ?? 0));
  } finally {
    release();
    await close();
  }
});

test('/sshcheck history <host>: the runs this bot recorded, to the requester only', async () => {
  const { h, store, close } = await gated();
  try {
    const port = await closedPort();
    await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2 ${port}`, channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    await settled(h, 1);
    const before = h.fake.calls.length;
    const ack = await answerTo(h.fake, h.fake.sendSlashCommand({ text: 'history 127.0.0.2', channel_id: 'C0INCIDENT', user_id: REQUESTER }));
    assert.equal(ack['response_type'], 'ephemeral');
    const text = allText(ack);
    assert.match(text, /\*127\.0\.0\.2: 1 run \(times in UTC\)\*/);
    assert.match(text, new RegExp(`from ${VANTAGE}: broken since \\d\\d:\\d\\d \\(just now\\): port-closed, 1 run; no healthy run in the history`));
    assert.match(text, new RegExp(`\`\`\`\\n\\s+\\d\\d:\\d\\d  ${VANTAGE}  sshcheck@127\\.0\\.0\\.2:${port}  port-closed \\(high\\)`));
    assert.equal(h.fake.calls.slice(before).filter((c) => c.method.startsWith('chat.')).length, 0, 'nothing posted in the channel');
    assert.equal(h.checks.length, 1, 'nothing probed');
    const usage = await h.fake.sendSlashCommand({ text: 'history', channel_id: 'C0INCIDENT', user_id: REQUESTER }).ack;
    assert.match(allText(usage.payload ?? {}), /"history" needs a host/, 'a usage error is the ack itself');
    assert.deepEqual(store.audit().map((r) => [r.action, r.verdict]), [['check', 'problem'], ['history', 'shown']]);
  } finally {
    await close();
  }
});

test('a fleet through the gate: refused whole when one host is outside the policy; admitted, one audit row and history per host', async () => {
  const { h, store, close } = await gated();
  try {
    const [a, b] = [await closedPort(), await closedPort()];
    const refused = await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2:${a},127.0.0.1:${b}`, channel_id: 'C0FLEETGATE', user_id: REQUESTER }));
    assert.match(allText(refused), /1 of the 2 hosts may not be probed from this bot: .*127\.0\.0\.1.*Nothing was checked/);
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0FLEETGATE').length, 0, 'nothing posted');
    assert.deepEqual(store.audit().map((r) => [r.host, r.verdict, r.denial]), [
      ['127.0.0.2', 'denied', 'policy'],
      ['127.0.0.1', 'denied', 'policy'],
    ]);

    const ack = await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.2:${a},127.0.0.2:${b}`, channel_id: 'C0FLEETGATE', user_id: REQUESTER }));
    assert.match(allText(ack), /Checking 2 hosts/);
    await h.fake.waitFor(() => h.fake.callsOf('chat.postMessage', 'C0FLEETGATE').filter((c) => c.args['thread_ts'] !== undefined).length >= 2 && h.adapter.running === 0, 20_000, 'the fleet thread');
    const rows = store.audit().slice(2);
    assert.deepEqual(rows.map((r) => [r.target, r.verdict, r.cause, r.user]).sort(), [
      [`sshcheck@127.0.0.2:${a}`, 'problem', 'port-closed', REQUESTER],
      [`sshcheck@127.0.0.2:${b}`, 'problem', 'port-closed', REQUESTER],
    ].sort());
    assert.ok(rows.every((r) => typeof r.reportId === 'string'));
    assert.equal(store.runsFor('127.0.0.2').length, 2);
  } finally {
    await close();
  }
});
