// When Slack says no: a channel the bot is not in (the answer goes through response_url with
// the diagnosis and how to invite the bot), a DM it cannot write to, a 429 on a reply (waited
// out and retried, nothing lost), and a target whose banner tries to smuggle in markup.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STEP_TITLES } from '../../src/engine/report.js';
import { BOT_USER_ID } from './fake-slack.js';
import { allText, settled, startHarness, threadIn, fallbacks } from './harness.js';
import { findUnsafeMarkup } from './markup-check.js';
import { closedPort, hostileGreeter, hostileSshServer } from './targets.js';

const REQUESTER = 'U0REQUESTER';

test('not_in_channel: the diagnosis comes back through response_url, with how to invite the bot', async () => {
  const h = await startHarness();
  try {
    h.fake.refuseChannel('C0NOTIN', 'not_in_channel');
    const port = await closedPort();
    const sent = h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: 'C0NOTIN', user_id: REQUESTER });
    await sent.ack;
    await settled(h, 1);
    assert.equal(fallbacks(h.fake).length, 1);
    const body = fallbacks(h.fake)[0]?.body ?? {};
    assert.ok(sent.responseUrl.endsWith(fallbacks(h.fake)[0]?.id ?? '?'));
    assert.equal(body['response_type'], 'ephemeral');
    assert.equal(body['unfurl_links'], false);
    const text = allText(body);
    assert.match(text, /not a member of this channel \(`?not_in_channel`?\)/);
    assert.match(text, /`\/invite @sshcheck`/);
    assert.match(text, /Diagnosis:\* `port-closed`/);
    assert.ok(text.includes(STEP_TITLES.sshd), 'every step is listed');
    // Nothing was posted in the channel, and the failure was logged, not swallowed.
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0NOTIN').length, 0);
    assert.ok(h.logs.some((l) => l.includes('"level":"warn"') && l.includes('not_in_channel')));
  } finally {
    await h.close();
  }
});

test('the engine fails before anything is posted: the requester is told why, without an invite hint', async () => {
  const h = await startHarness({
    wrapEngine: () => ({ check: () => Promise.reject(new Error('the bastion is unreachable <!channel>')) }),
  });
  try {
    await h.fake.sendSlashCommand({ text: '127.0.0.1', channel_id: 'C0BROKEN' }).ack;
    await h.fake.waitFor(() => fallbacks(h.fake).length === 1 && h.adapter.running === 0, 5000, 'the fallback');
    const text = allText(fallbacks(h.fake)[0]?.body ?? {});
    assert.match(text, /The check itself failed: the bastion is unreachable `&lt;!channel&gt;`/);
    assert.doesNotMatch(text, /\/invite/);
    assert.deepEqual(findUnsafeMarkup(fallbacks(h.fake)[0]?.body, ['<@U0REQUESTER>']), []);
    assert.ok(h.logs.some((l) => l.includes('"level":"error"') && l.includes('the bastion is unreachable')));
  } finally {
    await h.close();
  }
});

test('a DM the bot cannot write to (channel_not_found): the fallback says to use a channel', async () => {
  const h = await startHarness();
  try {
    h.fake.refuseChannel('D0DIRECT', 'channel_not_found');
    const port = await closedPort();
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: 'D0DIRECT', channel_name: 'directmessage' }).ack;
    await settled(h, 1);
    const text = allText(fallbacks(h.fake)[0]?.body ?? {});
    assert.match(text, /channel_not_found/);
    assert.match(text, /cannot write in a direct message/);
    assert.match(text, /`port-closed`/);
  } finally {
    await h.close();
  }
});

test('an @mention where posting is refused: the requester gets the diagnosis as an ephemeral message', async () => {
  const h = await startHarness();
  try {
    h.fake.failNext('chat.postMessage', { body: { ok: false, error: 'is_archived' } }, { match: (a) => a['channel'] === 'C0ARCHIVED', times: Infinity });
    const port = await closedPort();
    await h.fake.sendEvent({ type: 'app_mention', user: REQUESTER, text: `<@${BOT_USER_ID}> 127.0.0.1 ${port}`, ts: '1699999500.000100', channel: 'C0ARCHIVED', thread_ts: '1699999000.000100' }).ack;
    await settled(h, 1);
    const ephemeral = h.fake.callsOf('chat.postEphemeral', 'C0ARCHIVED');
    assert.equal(ephemeral.length, 1);
    assert.equal(ephemeral[0]?.args['user'], REQUESTER);
    assert.match(allText(ephemeral[0]?.args ?? {}), /archived \(`?is_archived`?\)/);
    assert.match(allText(ephemeral[0]?.args ?? {}), /`port-closed`/);
  } finally {
    await h.close();
  }
});

test('a 429 with Retry-After: 1 on a reply is waited out and retried; every reply arrives, in order', async () => {
  const h = await startHarness();
  try {
    const port = await closedPort();
    let replies = 0;
    // The third reply is rate limited once.
    h.fake.failNext('chat.postMessage', { status: 429, headers: { 'Retry-After': '1' }, body: { ok: false, error: 'ratelimited' } }, { match: (a) => a['channel'] === 'C0LIMIT' && a['thread_ts'] !== undefined && ++replies === 3 });
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: 'C0LIMIT' }).ack;
    await settled(h, 1);
    const limited = h.fake.calls.filter((c) => c.status === 429);
    assert.equal(limited.length, 1);
    const { replies: posted } = threadIn(h.fake, 'C0LIMIT');
    assert.equal(posted.length, 10, 'nothing lost');
    posted.forEach((r, i) => assert.match(String(r.args['text']), new RegExp(`^\\S+ ${i + 1}\\. `)));
    const retry = posted[2];
    assert.ok(retry && limited[0] && retry.at - limited[0].at >= 1000, `retried ${Math.round((retry?.at ?? 0) - (limited[0]?.at ?? 0))} ms after the 429`);
    assert.equal(String(retry.args['text']), String(limited[0].args['text']), 'the same reply was retried');
    assert.ok(h.logs.some((l) => /rate limit/i.test(l)), 'the rate limit is logged');
  } finally {
    await h.close();
  }
});

test('a reply Slack refuses (msg_too_long) is logged and shown on the parent; the other replies still arrive', async () => {
  const h = await startHarness();
  try {
    const port = await closedPort();
    let replies = 0;
    h.fake.failNext('chat.postMessage', { body: { ok: false, error: 'msg_too_long' } }, { match: (a) => a['channel'] === 'C0REFUSED' && a['thread_ts'] !== undefined && ++replies === 3 });
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: 'C0REFUSED' }).ack;
    await settled(h, 1);
    const { replies: posted, parentUpdates } = threadIn(h.fake, 'C0REFUSED');
    assert.equal(posted.length, 9);
    const last = parentUpdates[parentUpdates.length - 1];
    assert.ok(last);
    assert.match(allText(last.args), /step 3 .*Firewalls.* could not be posted .*msg_too_long/);
    assert.match(allText(last.args), /`port-closed`/, 'the newest state, with the note');
    assert.ok(h.logs.some((l) => l.includes('"level":"warn"') && l.includes('msg_too_long')));
  } finally {
    await h.close();
  }
});

test('a banner that tries <!channel>, @everyone, a link and *bold*: nothing of it becomes markup anywhere', async () => {
  const ssh = await hostileSshServer();
  const greeter = await hostileGreeter();
  const h = await startHarness();
  try {
    // One in a channel the bot is in, one through the response_url fallback.
    h.fake.refuseChannel('C0FALLBACK', 'not_in_channel');
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${ssh.port}`, channel_id: 'C0HOSTILE', user_id: REQUESTER }).ack;
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${greeter.port}`, channel_id: 'C0HOSTILE2', user_id: REQUESTER }).ack;
    await h.fake.sendSlashCommand({ text: `127.0.0.1 ${ssh.port}`, channel_id: 'C0FALLBACK', user_id: REQUESTER }).ack;
    await settled(h, 3);
    assert.ok(ssh.connections > 0 && greeter.connections > 0, 'the engine reached both servers');
    const everything = [...h.fake.calls.map((c) => ({ method: c.method, args: c.args })), ...h.fake.responses.map((r) => ({ response: r.body })), ...h.fake.acks.map((a) => a.payload)];
    // The hostile text did reach the messages (escaped), so the check below means something.
    assert.ok(JSON.stringify(everything).includes('&lt;!channel&gt;'));
    assert.deepEqual(findUnsafeMarkup(everything, [`<@${REQUESTER}>`]), []);
    assert.ok(fallbacks(h.fake).length === 1);
    for (const c of h.fake.calls.filter((x) => x.method === 'chat.postMessage')) {
      assert.equal(c.args['link_names'], undefined);
      assert.equal(c.args['unfurl_links'], 'false');
    }
  } finally {
    await h.close();
    await ssh.close();
    await greeter.close();
  }
});
