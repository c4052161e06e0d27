// @sshcheck in a thread: the same check, answered in that thread (slash commands cannot be
// used there). Outside a thread it behaves like the slash command. Slack's retries of the same
// event never start a second run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOT_USER_ID } from './fake-slack.js';
import { allText, settled, startHarness, threadIn } from './harness.js';
import { closedPort } from './targets.js';

const REQUESTER = 'U0REQUESTER';
const INCIDENT_THREAD = '1699999000.000100';

function mention(channel: string, text: string, threadTs?: string): Record<string, unknown> {
  return { type: 'app_mention', user: REQUESTER, text: `<@${BOT_USER_ID}> ${text}`, ts: `1699999${Math.floor(Math.random() * 900 + 100)}.000200`, channel, ...(threadTs ? { thread_ts: threadTs } : {}) };
}

test('@sshcheck in a thread: the parent and the ten replies go into that thread', async () => {
  const h = await startHarness();
  try {
    const port = await closedPort();
    const delivery = h.fake.sendEvent(mention('C0INCIDENT', `127.0.0.1 ${port}`, INCIDENT_THREAD));
    const ack = await delivery.ack;
    assert.ok(ack.at - delivery.sentAt < 3000);
    await settled(h, 1);
    const { parent, replies, parentUpdates } = threadIn(h.fake, 'C0INCIDENT', INCIDENT_THREAD);
    assert.equal(parent.args['thread_ts'], INCIDENT_THREAD);
    assert.ok(allText(parent.args).includes(`<@${REQUESTER}>`));
    assert.ok(allText(parent.args).includes(`sshcheck@127.0.0.1:${port}`));
    assert.equal(replies.length, 10);
    assert.ok(replies.every((r) => r.args['thread_ts'] === INCIDENT_THREAD));
    replies.forEach((r, i) => assert.match(String(r.args['text']), new RegExp(`^\\S+ ${i + 1}\\. `)));
    // Nothing lands in the channel itself.
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0INCIDENT').filter((c) => c.args['thread_ts'] === undefined).length, 0);
    const last = parentUpdates[parentUpdates.length - 1];
    assert.ok(last, 'the parent reply is updated');
    assert.match(allText(last.args), /Diagnosis:\* `port-closed`/);
  } finally {
    await h.close();
  }
});

test('@sshcheck outside a thread behaves like the slash command: a parent in the channel, replies under it', async () => {
  const h = await startHarness();
  try {
    const port = await closedPort();
    await h.fake.sendEvent(mention('C0CHAN', `127.0.0.1:${port}`)).ack;
    await settled(h, 1);
    const { parent, replies } = threadIn(h.fake, 'C0CHAN');
    assert.equal(parent.args['thread_ts'], undefined);
    assert.equal(replies.length, 10);
    assert.ok(replies.every((r) => r.args['thread_ts'] === parent.response['ts']));
  } finally {
    await h.close();
  }
});

test("Slack's retry of the same event (retry_attempt 1) and a redelivered envelope start no second run", async () => {
  const h = await startHarness();
  try {
    const port = await closedPort();
    const event = mention('C0RETRY', `127.0.0.1 ${port}`, INCIDENT_THREAD);
    const first = h.fake.sendEvent(event, { eventId: 'Ev0RETRY1', envelopeId: 'env-retry-1' });
    await first.ack;
    const retried = h.fake.sendEvent(event, { eventId: 'Ev0RETRY1', retryAttempt: 1, envelopeId: 'env-retry-2' });
    const redelivered = h.fake.sendEvent(event, { eventId: 'Ev0RETRY1', envelopeId: 'env-retry-1' });
    await Promise.all([retried.ack, redelivered.ack]);
    await settled(h, 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(h.checks.length, 1);
    assert.equal(threadIn(h.fake, 'C0RETRY', INCIDENT_THREAD).replies.length, 10);
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0RETRY').length, 11, 'one parent reply and ten step replies');
  } finally {
    await h.close();
  }
});

test('@sshcheck help and a usage error: answered only to the requester, in the thread; nothing probed', async () => {
  const h = await startHarness();
  try {
    await h.fake.sendEvent(mention('C0HELP', 'help', INCIDENT_THREAD)).ack;
    await h.fake.sendEvent(mention('C0HELP', 'db-3 port-twenty-two', INCIDENT_THREAD)).ack;
    await h.fake.sendEvent(mention('C0HELP', '', INCIDENT_THREAD)).ack;
    await h.fake.waitFor(() => h.fake.callsOf('chat.postEphemeral').length === 3, 5000, 'three ephemeral answers');
    const answers = h.fake.callsOf('chat.postEphemeral');
    for (const a of answers) {
      assert.equal(a.args['user'], REQUESTER);
      assert.equal(a.args['thread_ts'], INCIDENT_THREAD);
    }
    assert.ok(answers.some((a) => /Usage: \/sshcheck/.test(allText(a.args))));
    assert.ok(answers.some((a) => /nothing was checked/.test(allText(a.args))));
    assert.equal(h.checks.length, 0);
    assert.equal(h.fake.callsOf('chat.postMessage').length, 0);
  } finally {
    await h.close();
  }
});
