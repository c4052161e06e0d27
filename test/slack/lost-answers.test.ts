// Slack took a request but its answer never reached the bot (the connection closed, or the
// answer came after the client's timeout, as on a process too busy to read it). The Slack
// client would send the request again; for a post that makes a second message (a second
// "Checking…" parent no thread ever uses). A post is sent again only when Slack certainly did
// not take it (a 429); an edit, which cannot duplicate anything, is still retried. A parent
// whose answer was lost is looked up by the mark it carries, and the thread goes on under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FakeSlack, LostAnswer } from './fake-slack.js';
import { allText, fallbacks, settled, startHarness, threadIn } from './harness.js';
import type { Harness } from './harness.js';
import { closedPort } from './targets.js';

/** Every chat.postMessage that reached the fake in `channel` outside a thread, answered or not. */
const parentsIn = (fake: FakeSlack, channel: string): number => fake.calls.filter((c) => c.method === 'chat.postMessage' && c.args['channel'] === channel && c.args['thread_ts'] === undefined && c.status === 200).length;

/** One check in `channel`, one of whose posts (the parent, unless `which` says) is carried out but its answer lost, to the end of its posting. */
async function checkLosing(h: Harness, channel: string, loss: LostAnswer, which: (args: Record<string, unknown>) => boolean = (a) => a['thread_ts'] === undefined): Promise<void> {
  h.fake.loseAnswer('chat.postMessage', loss, { match: (a) => a['channel'] === channel && which(a) });
  const port = await closedPort();
  await h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: channel }).ack;
  await settled(h, 1);
  assert.equal(parentsIn(h.fake, channel), 1, 'the parent was posted once');
}

for (const [how, loss, timeoutMs] of [
  ['the connection closes before it', { drop: true }, undefined],
  ['it comes after the client gave up waiting', { delayMs: 2_500 }, 500],
] as const) {
  test(`the parent was posted but ${how}: one parent, not two, found again by its mark, and the thread completes under it`, async () => {
    const h = await startHarness(timeoutMs !== undefined ? { requestTimeoutMs: timeoutMs } : {});
    try {
      const channel = 'C0LOSTPARENT';
      await checkLosing(h, channel, loss);
      const { parent, replies, parentUpdates } = threadIn(h.fake, channel);
      assert.equal(replies.length, 10, 'every step replied under the one parent');
      const last = allText(parentUpdates.at(-1)?.args ?? {});
      assert.match(last, /`port-closed`/);
      assert.match(last, /finished in/);
      assert.ok(parentUpdates.every((u) => u.args['ts'] === parent.response['ts']));
      assert.equal(fallbacks(h.fake).length, 0);
      assert.ok(h.logs.some((l) => l.includes('"level":"warn"') && l.includes('found in the conversation') && l.includes(timeoutMs !== undefined ? 'did not answer within 0.5 s' : "the connection failed before Slack's answer")), 'the lost answer is logged');
    } finally {
      await h.close();
    }
  });
}

test('the parent was posted but its answer lost where the bot may not read the history (a DM): one parent, and the requester is told plainly, with the result', async () => {
  const h = await startHarness();
  try {
    const channel = 'D0LOSTPARENT';
    // The manifest asks for channels:history and groups:history, not im:history.
    h.fake.failNext('conversations.history', { body: { ok: false, error: 'missing_scope' } }, { match: (a) => a['channel'] === channel });
    await checkLosing(h, channel, { drop: true });
    // The bot never learnt the parent's ts: nothing was hung under it, and the result went to the requester.
    assert.equal(h.fake.calls.filter((c) => c.args['channel'] === channel && (c.args['thread_ts'] !== undefined || c.method === 'chat.update')).length, 0);
    assert.equal(fallbacks(h.fake).length, 1);
    const text = allText(fallbacks(h.fake)[0]?.body ?? {});
    assert.match(text, /posting the first message.*`?chat\.postMessage`?: the connection failed before Slack's answer .*not sent again, since Slack may have posted it already/);
    assert.match(text, /Diagnosis:\* `port-closed`/);
    assert.ok(h.logs.some((l) => l.includes('"level":"warn"') && l.includes('missing_scope')), 'the failed look-up is logged');
  } finally {
    await h.close();
  }
});

test("a step reply's answer is lost: that reply is not posted twice, and the thread still completes", async () => {
  const h = await startHarness();
  try {
    const channel = 'C0LOSTREPLY';
    let replies = 0;
    await checkLosing(h, channel, { drop: true }, (a) => a['thread_ts'] !== undefined && ++replies === 3);
    const { replies: posted, parentUpdates } = threadIn(h.fake, channel);
    assert.equal(posted.length, 10, 'ten step replies, each once (the third one\'s answer was lost)');
    assert.equal(new Set(posted.map((r) => allText(r.args).split('\n')[0])).size, 10);
    const last = allText(parentUpdates.at(-1)?.args ?? {});
    assert.match(last, /`port-closed`/);
    assert.match(last, /finished in/);
    assert.match(last, /step 3 .*could not be posted/, 'the parent says which reply may be missing');
  } finally {
    await h.close();
  }
});

test('a 429 on the parent is still waited out and posted once; a lost answer to an edit is retried', async () => {
  const h = await startHarness();
  try {
    const channel = 'C0LIMITPARENT';
    h.fake.failNext('chat.postMessage', { status: 429, headers: { 'Retry-After': '1' }, body: { ok: false, error: 'ratelimited' } }, { match: (a) => a['channel'] === channel && a['thread_ts'] === undefined });
    // An edit changes a message to the same text however often it is sent: retried as before.
    h.fake.loseAnswer('chat.update', { drop: true }, { match: (a) => a['channel'] === channel });
    const port = await closedPort();
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: channel }).ack;
    await settled(h, 1);
    const limited = h.fake.calls.filter((c) => c.status === 429);
    assert.equal(limited.length, 1, 'the 429 was answered');
    assert.equal(parentsIn(h.fake, channel), 1, 'then the parent was posted once');
    const { parent, replies, parentUpdates } = threadIn(h.fake, channel);
    assert.ok(limited[0] && parent.at - limited[0].at >= 1000, `posted ${Math.round(parent.at - (limited[0]?.at ?? 0))} ms after the 429`);
    assert.equal(replies.length, 10);
    assert.match(allText(parentUpdates.at(-1)?.args ?? {}), /finished in/);
    const sentTwice = parentUpdates.filter((u, i) => parentUpdates.slice(i + 1).some((v) => JSON.stringify(v.args) === JSON.stringify(u.args)));
    assert.equal(sentTwice.length, 1, 'the edit whose answer was lost was sent again');
    assert.equal(fallbacks(h.fake).length, 0);
  } finally {
    await h.close();
  }
});
