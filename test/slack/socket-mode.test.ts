// The real Bolt app in Socket Mode against the fake Slack, the real engine on loopback:
// /sshcheck is acknowledged at once, then the parent, ten replies in order and the parent's
// updates are posted at Slack's pace, through SLACK_API_URL only, with no secret in the logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLACK_PACE } from '../../adapters/slack/index.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import { STEP_IDS, STEP_TITLES } from '../../src/engine/report.js';
import type { EngineClient } from '../../src/chat/engine-client.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack } from './fake-slack.js';
import type { RecordedCall } from './fake-slack.js';
import { allText, settled, startHarness, threadIn, VANTAGE, answerTo } from './harness.js';
import { closedPort } from './targets.js';
import { sshdUnavailable, startSshd } from '../support/openssh-server.js';

const REQUESTER = 'U0REQUESTER';

/** Slack's per-channel pace as a token bucket: no run of calls came faster than it allows. */
function assertPace(calls: readonly RecordedCall[], pace: { burst: number; perSecond: number }, slackMs = 150): void {
  const at = calls.map((c) => c.at).sort((a, b) => a - b);
  for (let i = 0; i < at.length; i++) {
    for (let j = i + pace.burst; j < at.length; j++) {
      const count = j - i + 1;
      const allowed = pace.burst + (pace.perSecond * ((at[j] ?? 0) - (at[i] ?? 0) + slackMs)) / 1000;
      assert.ok(count <= allowed, `${count} calls in ${Math.round((at[j] ?? 0) - (at[i] ?? 0))} ms (allowed ${allowed.toFixed(1)})`);
    }
  }
}

test('/sshcheck: ack within 3 s before any probing; parent, ten replies in order, the diagnosis, at Slack pace', async () => {
  const fake = await FakeSlack.start();
  let ackWaitMs = -1;
  // Probing cannot start until the fake holds the ack: a listener that waited for the check
  // before acknowledging would dead-lock here and fail.
  const gate = (inner: EngineClient): EngineClient => ({
    check: async (target, options) => {
      const before = performance.now();
      await fake.waitFor(() => fake.acks.length > 0, 3000, 'the ack, before probing');
      ackWaitMs = performance.now() - before;
      return inner.check(target, options);
    },
  });
  const h = await startHarness({ fake, pace: SLACK_PACE, wrapEngine: gate });
  try {
    const port = await closedPort();
    const channel = 'C0INCIDENT';
    const sent = fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: channel, user_id: REQUESTER });
    const ack = await sent.ack;
    await settled(h, 1);

    // The ack: private, naming target and bastion, well within Slack's 3 s, before probing.
    assert.ok(ack.at - sent.sentAt < 3000, `ack after ${Math.round(ack.at - sent.sentAt)} ms`);
    assert.deepEqual(ack.payload, {}, 'acknowledged with nothing, before the gate');
    const answer = await answerTo(fake, sent);
    assert.equal(answer['response_type'], 'ephemeral');
    assert.equal(answer['text'], `Checking \`sshcheck@127.0.0.1:${port}\` from ${VANTAGE}…`);
    assert.ok(ackWaitMs >= 0 && ackWaitMs < 1000, `the engine waited ${ackWaitMs} ms for the ack`);

    const { parent, replies, parentUpdates } = threadIn(fake, channel);
    // The parent: in the channel, naming target, bastion and requester; never unfurled.
    const parentText = allText(parent.args);
    assert.ok(parentText.includes(`sshcheck@127.0.0.1:${port}`));
    assert.ok(parentText.includes(VANTAGE));
    assert.ok(parentText.includes(`<@${REQUESTER}>`));
    assert.equal(parent.args['unfurl_links'], 'false');
    assert.equal(parent.args['unfurl_media'], 'false');
    assert.equal(parent.args['link_names'], undefined);
    assert.ok(ack.at <= parent.at, 'the ack comes before anything is posted');

    // Ten replies under it, in checklist order.
    assert.equal(replies.length, 10);
    replies.forEach((r, i) => {
      assert.equal(r.args['thread_ts'], parent.response['ts']);
      const id = STEP_IDS[i] ?? 'bans';
      assert.match(String(r.args['text']), new RegExp(`^\\S+ ${i + 1}\\. ${STEP_TITLES[id]}:`), `reply ${i + 1}`);
      assert.equal(r.args['unfurl_links'], 'false');
    });
    for (let i = 1; i < replies.length; i++) assert.ok((replies[i]?.at ?? 0) >= (replies[i - 1]?.at ?? 0));

    // The diagnosis reaches the parent as soon as it is settled: ahead of most replies.
    const diagnosed = parentUpdates.find((u) => allText(u.args).includes('`port-closed`'));
    assert.ok(diagnosed, 'an update carries the diagnosis');
    assert.ok(diagnosed.at < (replies[3]?.at ?? 0), 'the diagnosis overtakes the step replies');
    // At the end: the diagnosis and the ten statuses in one line.
    const last = parentUpdates[parentUpdates.length - 1];
    assert.ok(last);
    const lastText = allText(last.args);
    assert.match(lastText, /Diagnosis:\* `port-closed`/);
    const statuses = new RegExp(`(?:${Object.values(STATUS_EMOJI).filter((e) => e !== STATUS_EMOJI.running).join('|')}){10}  finished in`);
    assert.match(lastText, statuses);

    // Slack's pace for this channel, for posts and every operation together.
    assertPace(fake.callsOf('chat.postMessage', channel), SLACK_PACE);
    assertPace([...fake.callsOf('chat.postMessage', channel), ...fake.callsOf('chat.update', channel)], SLACK_PACE);

    // Every Web API call went to SLACK_API_URL with the right token, apps.connections.open too.
    const open = fake.calls.filter((c) => c.method === 'apps.connections.open');
    assert.equal(open.length, 1);
    assert.equal(open[0]?.token, APP_TOKEN);
    assert.ok(fake.calls.filter((c) => c.method !== 'apps.connections.open').every((c) => c.token === BOT_TOKEN));
    assert.equal(fake.calls.filter((c) => c.method === 'auth.test').length, 1, 'one auth.test, at start');
    assert.equal(h.checks.length, 1);
  } finally {
    await h.close();
  }
  assertNoSecrets(h.logs);
});

function assertNoSecrets(logs: readonly string[]): void {
  assert.ok(logs.length > 0, 'something was logged');
  for (const secret of [BOT_TOKEN, APP_TOKEN, 'fake-ticket', 'legacy-verification-token', 'xoxb-', 'xapp-']) {
    assert.ok(!logs.some((l) => l.includes(secret)), `${secret} appears in the logs`);
  }
}

test('help and usage errors are the acknowledgement itself: nothing is probed or posted', async () => {
  const h = await startHarness();
  try {
    const help = await h.fake.sendSlashCommand({ text: 'help', channel_id: 'C0HELP' }).ack;
    assert.equal(help.payload?.['response_type'], 'ephemeral');
    assert.match(String(help.payload?.['text']), /Usage: \/sshcheck &lt;target&gt; \[port\] \[user\]/);
    const empty = await h.fake.sendSlashCommand({ text: '', channel_id: 'C0HELP' }).ack;
    assert.match(String(empty.payload?.['text']), /Usage:/);
    for (const text of ['db-3 notaport', '-oProxyCommand=touch db-3', 'db-3 22 sshcheck extra', '<!channel>']) {
      const ack = await h.fake.sendSlashCommand({ text, channel_id: 'C0HELP' }).ack;
      assert.equal(ack.payload?.['response_type'], 'ephemeral');
      assert.match(String(ack.payload?.['text']), /nothing was checked/, text);
      assert.doesNotMatch(JSON.stringify(ack.payload), /<!channel>/);
    }
    // This bot probes from its own machine: naming a bastion is a usage error, caught at once.
    const via = await h.fake.sendSlashCommand({ text: 'db-3 via eu-1', channel_id: 'C0HELP' }).ack;
    assert.match(String(via.payload?.['text']), /unknown bastion .*eu-1.* no bastions are .*configured.* this bot probes from its own machine/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.checks.length, 0);
    assert.equal(h.fake.calls.filter((c) => c.method.startsWith('chat.')).length, 0);
  } finally {
    await h.close();
  }
});

test('via <bastion>: passed to an engine that routes to bastions; an unknown one is a usage error', async () => {
  const vias: Array<string | undefined> = [];
  const routed = (inner: EngineClient): EngineClient => ({
    bastions: ['eu-1', 'us-2'],
    check: (target, options) => {
      vias.push(options?.via);
      return inner.check(target, options);
    },
  });
  const h = await startHarness({ wrapEngine: routed });
  try {
    const port = await closedPort();
    const ack = await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.1 ${port} via EU-1`, channel_id: 'C0VIA' }));
    assert.equal(ack['text'], `Checking \`sshcheck@127.0.0.1:${port}\` from eu-1…`);
    await settled(h, 1);
    assert.deepEqual(vias, ['eu-1']);
    assert.equal(threadIn(h.fake, 'C0VIA').replies.length, 10);
    const unknown = await h.fake.sendSlashCommand({ text: `127.0.0.1 ${port} via ap-9`, channel_id: 'C0VIA' }).ack;
    assert.match(String(unknown.payload?.['text']), /unknown bastion .*ap-9.*eu-1, us-2/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(vias.length, 1);
  } finally {
    await h.close();
  }
});

test('a redelivered envelope and a repeated trigger id are acknowledged and start no second run', async () => {
  const h = await startHarness();
  try {
    const port = await closedPort();
    const first = h.fake.sendSlashCommand({ text: `127.0.0.1:${port}`, channel_id: 'C0DUP', envelope_id: 'env-dup-1', trigger_id: 'trig-dup-1' });
    await first.ack;
    // Slack redelivers the same envelope after a reconnect, and the same command in a new one.
    const again = h.fake.sendSlashCommand({ text: `127.0.0.1:${port}`, channel_id: 'C0DUP', envelope_id: 'env-dup-1', trigger_id: 'trig-dup-1' });
    const sameTrigger = h.fake.sendSlashCommand({ text: `127.0.0.1:${port}`, channel_id: 'C0DUP', envelope_id: 'env-dup-2', trigger_id: 'trig-dup-1' });
    const [a2, a3] = await Promise.all([again.ack, sameTrigger.ack]);
    assert.equal(a2.payload?.['text'], undefined, 'a repeat is acked without an answer');
    assert.equal(a3.payload?.['text'], undefined);
    await settled(h, 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(h.checks.length, 1);
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0DUP').filter((c) => c.args['thread_ts'] === undefined).length, 1, 'one parent');
    assert.ok(h.logs.some((l) => l.includes('repeated delivery ignored')));
  } finally {
    await h.close();
  }
});

test('a healthy loopback sshd: the parent ends with "healthy" and ten statuses', async (t) => {
  const why = sshdUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const sshd = await startSshd();
  const h = await startHarness();
  try {
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${sshd.port}`, channel_id: 'C0HEALTHY', user_id: REQUESTER }).ack;
    await settled(h, 1);
    const { replies, parentUpdates } = threadIn(h.fake, 'C0HEALTHY');
    assert.equal(replies.length, 10);
    const last = parentUpdates[parentUpdates.length - 1];
    assert.ok(last);
    assert.match(allText(last.args), /Diagnosis:\* `healthy`/);
    assert.match(allText(last.args), /finished in/);
  } finally {
    await h.close();
    await sshd.stop();
  }
});
