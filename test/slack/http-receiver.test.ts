// The HTTP receiver (SLACK_SIGNING_SECRET): Slack's signed requests start a check, anything
// unsigned, wrongly signed or stale is refused with 401 before it reaches a listener, and a
// request Slack retries (X-Slack-Retry-Num) never starts a second run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOT_USER_ID, SIGNING_SECRET } from './fake-slack.js';
import { allText, settled, startHarness, threadIn } from './harness.js';
import { closedPort } from './targets.js';
import { commandBody, FORM, post } from './signed-requests.js';

test('HTTP receiver: a validly signed command is acked in the response and runs; its retry does not run again', async () => {
  const h = await startHarness({ mode: 'http' });
  try {
    assert.ok(h.adapter.httpPort !== undefined && h.adapter.httpPort > 0);
    assert.equal(h.fake.calls.filter((c) => c.method === 'apps.connections.open').length, 0, 'no Socket Mode in HTTP mode');
    const port = await closedPort();
    const body = commandBody(h.fake, `127.0.0.1 ${port}`, 'C0HTTP', 'trig-http-1');
    const started = performance.now();
    const res = await post(h, body, FORM);
    assert.ok(performance.now() - started < 3000);
    assert.equal(res.status, 200);
    assert.equal(res.body, '', 'acknowledged with nothing: the gate and the check come after');
    await h.fake.waitFor(() => h.fake.responses.length > 0, 10_000, 'the private answer');
    const answer = h.fake.responses[0]?.body ?? {};
    assert.equal(answer['response_type'], 'ephemeral');
    assert.match(String(answer['text']), /^Checking `sshcheck@127\.0\.0\.1:\d+` from test-bastion…$/);
    // Slack thought it timed out and sends it again.
    const retry = await post(h, body, FORM, { retryNum: 1 });
    assert.equal(retry.status, 200);
    await settled(h, 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(h.checks.length, 1);
    const { replies, parentUpdates } = threadIn(h.fake, 'C0HTTP');
    assert.equal(replies.length, 10);
    assert.match(allText(parentUpdates[parentUpdates.length - 1]?.args ?? {}), /`port-closed`/);
  } finally {
    await h.close();
  }
});

test('HTTP receiver: a bad signature and a stale timestamp get 401 and run nothing', async () => {
  const h = await startHarness({ mode: 'http' });
  try {
    const port = await closedPort();
    const bad = await post(h, commandBody(h.fake, `127.0.0.1 ${port}`, 'C0BAD', 'trig-bad'), FORM, { secret: 'not-the-signing-secret' });
    assert.equal(bad.status, 401);
    // Correctly signed, but six minutes old: a replay.
    const stale = await post(h, commandBody(h.fake, `127.0.0.1 ${port}`, 'C0STALE', 'trig-stale'), FORM, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    assert.equal(stale.status, 401);
    const unsigned = await fetch(`http://127.0.0.1:${h.adapter.httpPort ?? 0}/slack/events`, { method: 'POST', headers: { 'content-type': FORM }, body: 'text=db-3' });
    assert.equal(unsigned.status, 401);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.checks.length, 0);
    assert.equal(h.fake.calls.filter((c) => c.method.startsWith('chat.')).length, 0);
    assert.ok(!h.logs.some((l) => l.includes(SIGNING_SECRET)));
  } finally {
    await h.close();
  }
});

test('HTTP receiver: an app_mention event and its retry (same event_id, X-Slack-Retry-Num: 1) run once, in the thread', async () => {
  const h = await startHarness({ mode: 'http' });
  try {
    const port = await closedPort();
    const thread = '1699999000.000100';
    const event = { type: 'app_mention', user: 'U0REQUESTER', text: `<@${BOT_USER_ID}> 127.0.0.1 ${port}`, ts: '1699999100.000100', channel: 'C0HTTPEV', thread_ts: thread };
    const body = JSON.stringify(h.fake.eventCallback(event, 'Ev0HTTP1'));
    const first = await post(h, body, 'application/json');
    assert.equal(first.status, 200);
    const retry = await post(h, body, 'application/json', { retryNum: 1 });
    assert.equal(retry.status, 200);
    await settled(h, 1);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(h.checks.length, 1);
    assert.equal(threadIn(h.fake, 'C0HTTPEV', thread).replies.length, 10);
  } finally {
    await h.close();
  }
});
