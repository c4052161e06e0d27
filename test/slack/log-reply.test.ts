// ssh logs in the bot's Slack threads, through the real Bolt app and the fake Slack: a pasted
// -vvv log (the real recorded ones) and an attached log file get one threaded reply with the
// explanation; chatter, other people's threads, other bots and the bot itself are ignored; a
// retried event is answered once; files are fetched with the bot token only from the
// allowed host and only when small enough; a hostile log is rendered inert.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BOT_ID, BOT_TOKEN, BOT_USER_ID } from './fake-slack.js';
import type { RecordedCall } from './fake-slack.js';
import { allText, settled, startHarness } from './harness.js';
import type { Harness } from './harness.js';
import { findUnsafeMarkup } from './markup-check.js';
import { fixtureLog, hostileLog, slackEncode } from './ssh-logs.js';
import { closedPort } from './targets.js';

const REQUESTER = 'U0REQUESTER';
/** A thread under one of the bot's messages (a check's parent). */
const BOT_THREAD = '1700000001.000001';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

let seq = 0;
function nextTs(): string {
  seq += 1;
  return `1700001${String(seq).padStart(3, '0')}.${String(seq).padStart(6, '0')}`;
}

/** A person's message in a thread; by default a thread under the bot's own message. */
function threadMessage(channel: string, text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'message', channel, channel_type: 'channel', user: REQUESTER, text, ts: nextTs(), thread_ts: BOT_THREAD, parent_user_id: BOT_USER_ID, ...extra };
}

function posts(channel: string): RecordedCall[] {
  return h.fake.callsOf('chat.postMessage', channel);
}

async function oneReply(channel: string): Promise<RecordedCall> {
  await h.fake.waitFor(() => posts(channel).length >= 1, 10_000, `a reply in ${channel}`);
  // Anything that would come twice comes within this.
  await new Promise((r) => setTimeout(r, 300));
  const all = posts(channel);
  assert.equal(all.length, 1, `exactly one reply in ${channel}: ${all.map((c) => String(c.args['text']).slice(0, 80)).join(' | ')}`);
  return all[0] as RecordedCall;
}

test('a pasted -vvv log (MTU blackhole) in the bot\'s thread: one threaded reply naming step 7 and kex-stall', async () => {
  const channel = 'C0PASTE';
  await h.fake.sendEvent(threadMessage(channel, slackEncode(`here's what I get:\n\`\`\`${fixtureLog('mtu-blackhole')}\`\`\``))).ack;
  const reply = await oneReply(channel);
  assert.equal(reply.args['thread_ts'], BOT_THREAD);
  assert.equal(reply.args['unfurl_links'], 'false');
  assert.equal(reply.args['unfurl_media'], 'false');
  const text = allText(reply.args);
  assert.match(text, /Where the ssh log stopped:\* after "sent KEXINIT \(algorithm lists\)"/);
  assert.match(text, /Step 7, VPN, proxy and path MTU:\* `kex-stall` \(medium confidence\)/);
  assert.match(text, /MSS clamping/);
  assert.match(text, /\*Phases in the log:\*\n```\nssh started \(OpenSSH_9\.2p1/, 'the phase list, preformatted, without invented times');
  assert.match(text, /From the log above/);
  assert.match(String(reply.args['text']), /^Where the ssh log stopped: .*Step 7, VPN, proxy and path MTU: `kex-stall`/);
  assert.deepEqual(findUnsafeMarkup(reply.args), []);
  assert.equal(h.checks.length, 0, 'explaining probes nothing');
});

test('an attached log file (file_share) is fetched with the bot token from the file host and explained', async () => {
  const channel = 'C0FILE';
  const file = h.fake.addFile('ssh.log', fixtureLog('silent-drop'));
  const before = h.fake.fileDownloads.length;
  await h.fake.sendEvent(threadMessage(channel, 'the log', { subtype: 'file_share', files: [file] })).ack;
  const reply = await oneReply(channel);
  const downloads = h.fake.fileDownloads.slice(before);
  assert.equal(downloads.length, 1);
  assert.equal(downloads[0]?.token, BOT_TOKEN);
  assert.match(downloads[0]?.path ?? '', new RegExp(`/download/ssh\\.log$`));
  assert.equal(reply.args['thread_ts'], BOT_THREAD);
  const text = allText(reply.args);
  assert.match(text, /Step 3, Firewalls and security groups:\* `port-filtered`/);
  assert.match(text, /From the attached file `ssh\.log`/);
});

test('a snippet of a too-many-keys -v log: step 8 and IdentitiesOnly', async () => {
  const channel = 'C0SNIPPET';
  const file = h.fake.addFile('Untitled', fixtureLog('too-many-keys-v'), { mode: 'snippet' });
  await h.fake.sendEvent(threadMessage(channel, '', { subtype: 'file_share', files: [file] })).ack;
  const text = allText((await oneReply(channel)).args);
  assert.match(text, /Step 8, /);
  assert.match(text, /IdentitiesOnly yes/);
  assert.match(text, /the connection itself works/);
});

test('ignored: chatter in the bot\'s thread, a log in someone else\'s thread or in the channel, the bot itself, other bots, images, edits', async () => {
  const channel = 'C0IGNORE';
  const log = slackEncode(fixtureLog('rst'));
  const image = h.fake.addFile('screen.png', Buffer.from([0x89, 0x50, 0x4e, 0x47]), { mimetype: 'image/png', filetype: 'png' });
  const before = h.fake.fileDownloads.length;
  const ignored = [
    threadMessage(channel, 'thanks, looking at the firewall now'),
    threadMessage(channel, 'what does `debug1: Connecting to` mean?'),
    threadMessage(channel, log, { thread_ts: '1699999999.000009', parent_user_id: 'U0SOMEONE' }),
    { type: 'message', channel, user: REQUESTER, text: log, ts: nextTs() },
    threadMessage(channel, log, { user: BOT_USER_ID }),
    threadMessage(channel, log, { subtype: 'bot_message', bot_id: 'B0OTHERBOT', user: undefined }),
    threadMessage(channel, log, { bot_id: 'B0OTHERBOT', user: 'U0OTHERBOT' }),
    threadMessage(channel, log, { subtype: 'bot_message', bot_id: BOT_ID, user: undefined }),
    threadMessage(channel, 'screenshot', { subtype: 'file_share', files: [image] }),
    { type: 'message', subtype: 'message_changed', channel, hidden: true, ts: nextTs(), message: { type: 'message', user: REQUESTER, text: log, ts: nextTs(), thread_ts: BOT_THREAD, parent_user_id: BOT_USER_ID } },
  ];
  for (const event of ignored) await h.fake.sendEvent(event).ack;
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(posts(channel).map((c) => String(c.args['text']).slice(0, 100)), []);
  assert.equal(h.fake.fileDownloads.length, before, 'no file was fetched');
});

test('a retried event and a redelivered envelope: one reply', async () => {
  const channel = 'C0RETRY';
  const event = threadMessage(channel, slackEncode(fixtureLog('tcp-wrappers')));
  await h.fake.sendEvent(event, { eventId: 'Ev0LOGRETRY', envelopeId: 'env-log-1' }).ack;
  await h.fake.sendEvent(event, { eventId: 'Ev0LOGRETRY', retryAttempt: 1, envelopeId: 'env-log-2' }).ack;
  await h.fake.sendEvent(event, { eventId: 'Ev0LOGRETRY', envelopeId: 'env-log-1' }).ack;
  const reply = await oneReply(channel);
  assert.match(allText(reply.args), /Step 6, TCP wrappers and host rules:\* `connection-closed`/);
});

test('an attachment on another host is refused with a clear reply, and nothing is fetched', async () => {
  const hits: string[] = [];
  const evil = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('debug1: x\ndebug1: y\n');
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  try {
    const channel = 'C0EVILHOST';
    const port = (evil.address() as AddressInfo).port;
    const file = { ...h.fake.addFile('ssh.log', fixtureLog('rst')), url_private_download: `http://127.0.0.1:${port}/latest/meta-data/ssh.log`, url_private: `http://127.0.0.1:${port}/x` };
    const before = h.fake.fileDownloads.length;
    await h.fake.sendEvent(threadMessage(channel, '', { subtype: 'file_share', files: [file] })).ack;
    const text = allText((await oneReply(channel)).args);
    assert.match(text, /I did not read `ssh\.log`: its download link is not on `files\.slack\.com`, 127\.0\.0\.1:\d+, so it was not fetched/);
    assert.match(text, /Paste the output of `ssh -vvv user@host`/);
    assert.deepEqual(hits, [], 'the other host got no request (and no token)');
    assert.equal(h.fake.fileDownloads.length, before);
  } finally {
    evil.closeAllConnections();
    await new Promise<void>((resolve) => evil.close(() => resolve()));
  }
});

test('an attachment over 1 MiB is refused without downloading it', async () => {
  const channel = 'C0BIGFILE';
  const file = h.fake.addFile('huge.log', fixtureLog('rst'), { size: 5 * 1024 * 1024 });
  const before = h.fake.fileDownloads.length;
  await h.fake.sendEvent(threadMessage(channel, '', { subtype: 'file_share', files: [file] })).ack;
  const text = allText((await oneReply(channel)).args);
  assert.match(text, /I did not read `huge\.log`: it is 5\.0 MiB; at most 1\.0 MiB of log is read/);
  assert.equal(h.fake.fileDownloads.length, before);
});

test('a hostile log (special mentions, mention words, links, formatting) is rendered inert', async () => {
  const channel = 'C0HOSTILE';
  await h.fake.sendEvent(threadMessage(channel, hostileLog())).ack;
  const reply = await oneReply(channel);
  const text = allText(reply.args);
  assert.match(text, /`kex-stall`/);
  assert.match(text, /&lt;!channel&gt;/, 'the special mention is shown, escaped');
  assert.match(text, /evil\.example/);
  assert.deepEqual(findUnsafeMarkup(reply.args), []);
});

test('@sshcheck with a log instead of a target: explained in a thread under it, no usage error', async () => {
  const channel = 'C0MENTIONLOG';
  const ts = nextTs();
  await h.fake.sendEvent({ type: 'app_mention', channel, user: REQUESTER, text: `<@${BOT_USER_ID}> why?\n${slackEncode(fixtureLog('sshd-stopped'))}`, ts }).ack;
  const reply = await oneReply(channel);
  assert.equal(reply.args['thread_ts'], ts);
  assert.match(allText(reply.args), /`port-closed`/);
  assert.equal(h.fake.callsOf('chat.postEphemeral', channel).length, 0);
  assert.equal(h.checks.length, 0);
});

test('a log that mentions the bot in its thread arrives twice (app_mention and message): one reply', async () => {
  const channel = 'C0BOTH';
  const ts = nextTs();
  const text = `<@${BOT_USER_ID}> ${slackEncode(fixtureLog('banner-timeout'))}`;
  await h.fake.sendEvent({ type: 'message', channel, user: REQUESTER, text, ts, thread_ts: BOT_THREAD, parent_user_id: BOT_USER_ID }).ack;
  await h.fake.sendEvent({ type: 'app_mention', channel, user: REQUESTER, text, ts, thread_ts: BOT_THREAD }).ack;
  const reply = await oneReply(channel);
  assert.match(allText(reply.args), /`banner-timeout`/);
  assert.equal(h.fake.callsOf('chat.postEphemeral', channel).length, 0);
});

test('a thread the bot answered an @mention check in (someone else\'s incident thread) counts as its own', async () => {
  const channel = 'C0INCIDENT';
  const incident = '1699990000.000100';
  const port = await closedPort();
  const checksBefore = h.checks.length;
  await h.fake.sendEvent({ type: 'app_mention', channel, user: REQUESTER, text: `<@${BOT_USER_ID}> 127.0.0.1 ${port}`, ts: nextTs(), thread_ts: incident }).ack;
  await settled(h, checksBefore + 1);
  const checkPosts = posts(channel).length;
  await h.fake.sendEvent({ type: 'message', channel, user: 'U0OTHER', text: slackEncode(fixtureLog('icmp-admin-prohibited')), ts: nextTs(), thread_ts: incident, parent_user_id: 'U0INCIDENTLEAD' }).ack;
  await h.fake.waitFor(() => posts(channel).length > checkPosts, 10_000, 'the log reply');
  const reply = posts(channel)[checkPosts] as RecordedCall;
  assert.equal(reply.args['thread_ts'], incident);
  assert.match(allText(reply.args), /`host-unreachable`/);
});
