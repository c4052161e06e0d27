// /sshcheck-explain end to end: the real discord.js client against the fake Discord. A log
// pasted into `text` (flattened to one line, as Discord does) or attached as a file (served
// from the fake's CDN path) is explained in the channel or thread where the command was used;
// no log, a file on another host, an oversized or non-text file get a private answer and
// nothing is fetched; a hostile log is inert.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DispatchedInteraction, JsonObject, RecordedCall } from './fake-discord.js';
import { callsSince, embedsOf, messageRequests, startHarness } from './harness.js';
import type { EmbedJson, Harness } from './harness.js';
import { liveMarkup, strings } from './markup.js';
import { fixtureLog, hostileLog } from '../slack/ssh-logs.js';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.stop());

function field(embed: EmbedJson | undefined, name: string): string | undefined {
  return embed?.fields?.find((f) => f.name === name)?.value;
}

/** Waits until the interaction's answer is complete: its reply, or its deferral and the edit. */
async function answered(i: DispatchedInteraction): Promise<{ callback: RecordedCall; edit?: RecordedCall; calls: RecordedCall[] }> {
  const callback = await h.fake.waitFor((c) => c.method === 'POST' && c.path === `/interactions/${i.id}/${i.token}/callback`);
  let edit: RecordedCall | undefined;
  if ((callback.body as { type: number }).type === 5) edit = await h.fake.waitFor((c) => c.method === 'PATCH' && c.path === `/webhooks/${h.fake.applicationId}/${i.token}/messages/@original`);
  await h.logger.waitFor((e) => e.fields.interaction === i.id && /explain|explained/.test(e.msg));
  return { callback, ...(edit ? { edit } : {}), calls: callsSince(h, i) };
}

function replyData(callback: RecordedCall): JsonObject {
  return (callback.body as { data?: JsonObject }).data ?? {};
}

/** A message's plain content ('' when it has none). */
function contentOf(payload: JsonObject | undefined): string {
  return typeof payload?.content === 'string' ? payload.content : '';
}

/** Every message request carries no mentions, and no string in it is live markup. */
function assertInert(calls: readonly RecordedCall[]): void {
  const requests = messageRequests(calls);
  assert.ok(requests.length > 0);
  for (const { payload } of requests) {
    if (payload.allowed_mentions !== undefined || payload.embeds !== undefined || payload.content !== undefined) assert.deepEqual(payload.allowed_mentions, { parse: [] });
    for (const s of strings(payload)) assert.deepEqual(liveMarkup(s), [], s);
  }
}

test('a -vvv log pasted into text inside a thread (its lines flattened): the reply in that thread names step 7 and kex-stall', async () => {
  const thread = h.fake.createThread('db-3 is down');
  const i = h.fake.dispatchExplain({ where: 'thread', threadId: thread, text: fixtureLog('mtu-blackhole').split('\n').join(' ') });
  const { callback, calls } = await answered(i);
  assert.equal((callback.body as { type: number }).type, 4, 'answered at once');
  const data = replyData(callback);
  assert.equal(data.flags ?? 0, 0, 'public: the thread sees it');
  const embed = embedsOf(data)[0];
  assert.match(embed?.title ?? '', /Where the ssh log stopped/);
  assert.match(embed?.description ?? '', /^After "sent KEXINIT \(algorithm lists\)": Connection to 10\.77\.2\.2 port 22 timed out\n/);
  assert.equal(field(embed, 'Checklist step'), '7. VPN, proxy and path MTU');
  assert.equal(field(embed, 'Cause'), 'kex-stall (medium confidence)');
  assert.match(field(embed, 'Next') ?? '', /MSS clamping/);
  assert.match(field(embed, 'Phases in the log') ?? '', /^```\nssh started \(OpenSSH_9\.2p1[\s\S]*sent KEXINIT[\s\S]*```$/);
  const inThread = h.fake.messages.get(thread) ?? [];
  assert.equal(inThread.length, 1, 'the answer is a message in the thread');
  assertInert(calls);
  assert.equal(h.engine.counts.runs, 0, 'explaining probes nothing');
});

test('an attached log file: deferred, fetched from the CDN host without the bot token, and explained', async () => {
  const before = h.fake.attachmentDownloads.length;
  const i = h.fake.dispatchExplain({ attachment: { filename: 'ssh.log', content: fixtureLog('silent-drop'), contentType: 'text/plain; charset=utf-8' } });
  const { callback, edit, calls } = await answered(i);
  assert.equal((callback.body as { type: number }).type, 5, 'deferred while downloading');
  assert.ok(edit, 'then the reply is edited');
  const downloads = h.fake.attachmentDownloads.slice(before);
  assert.equal(downloads.length, 1);
  assert.equal(downloads[0]?.auth, undefined, 'CDN URLs are signed: the bot token never goes there');
  const embed = embedsOf(edit?.body as JsonObject)[0];
  assert.equal(field(embed, 'Checklist step'), '3. Firewalls and security groups');
  assert.equal(field(embed, 'Cause'), 'port-filtered (medium confidence)');
  assert.equal(field(embed, 'Log'), 'the attached file `ssh.log`');
  assertInert(calls);
});

test('neither a file nor text: a private answer that says what to give; nothing fetched', async () => {
  const before = h.fake.attachmentDownloads.length;
  const i = h.fake.dispatchExplain({});
  const { callback } = await answered(i);
  const data = replyData(callback);
  assert.equal((callback.body as { type: number }).type, 4);
  assert.equal(data.flags, 64, 'ephemeral');
  assert.match(contentOf(data), /nothing to explain: attach the log with the `log` option or paste it into the `text` option/);
  assert.match(contentOf(data), /Usage: `\/sshcheck-explain log:<file>` or `\/sshcheck-explain text:<the log>`/);
  assert.equal(h.fake.attachmentDownloads.length, before);
});

test('an attachment on another host, an oversized one, one that is not text: refused privately, nothing fetched', async () => {
  const hits: string[] = [];
  const evil = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('debug1: x\ndebug1: y\n');
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  try {
    const before = h.fake.attachmentDownloads.length;
    const port = (evil.address() as AddressInfo).port;
    const cases: Array<[Parameters<Harness['fake']['dispatchExplain']>[0], RegExp]> = [
      [{ attachment: { filename: 'ssh.log', content: 'x', contentType: 'text/plain', url: `http://127.0.0.1:${port}/attachments/1/2/ssh.log` } }, /its address is not on Discord's file hosts .*cdn\.discordapp\.com`?, `?media\.discordapp\.net`?,.* 127\.0\.0\.1:\d+\), so it was not downloaded/],
      [{ attachment: { filename: 'ssh.log', content: 'x', contentType: 'text/plain', url: `https://cdn.discordapp.com.evil.example/attachments/1/2/ssh.log` } }, /not on Discord's file hosts/],
      [{ attachment: { filename: 'huge.log', content: fixtureLog('rst'), size: 3 * 1024 * 1024, contentType: 'text/plain' } }, /it is 3\.0 MiB; at most 1\.0 MiB of log is read/],
      [{ attachment: { filename: 'screen.png', content: 'x', contentType: 'image/png' } }, /it is not a text file/],
    ];
    for (const [options, reason] of cases) {
      const i = h.fake.dispatchExplain(options);
      const { callback, calls } = await answered(i);
      const data = replyData(callback);
      assert.equal(data.flags, 64, 'ephemeral');
      assert.match(contentOf(data), /I did not read `[^`]+`: /);
      assert.match(contentOf(data), reason);
      assertInert(calls);
    }
    assert.deepEqual(hits, [], 'the other host got no request');
    assert.equal(h.fake.attachmentDownloads.length, before, 'nothing was downloaded');
  } finally {
    evil.closeAllConnections();
    await new Promise<void>((resolve) => evil.close(() => resolve()));
  }
});

test('a hostile log (mentions, links, formatting) is rendered inert, with mentions disabled', async () => {
  const i = h.fake.dispatchExplain({ text: hostileLog() });
  const { callback, calls } = await answered(i);
  const embed = embedsOf(replyData(callback))[0];
  assert.equal(field(embed, 'Cause'), 'kex-stall (medium confidence)');
  assert.match(embed?.description ?? '', /`[^`\n]*@everyone[^`\n]*`/, 'shown, as code');
  assertInert(calls);
});

test('an attached file that turns out to be binary: the deferred reply says so', async () => {
  const i = h.fake.dispatchExplain({ attachment: { filename: 'ssh.log', content: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1, 2]), contentType: 'text/plain' } });
  const { edit } = await answered(i);
  assert.match(contentOf(edit?.body as JsonObject), /I did not read `ssh\.log`: it is not a text file/);
});
