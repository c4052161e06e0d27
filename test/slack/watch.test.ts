// Watches on Slack, end to end through the real Bolt app over Socket Mode against the fake
// Slack, with the real engine on loopback and the real store: `/sshcheck watch` answers the
// requester privately and posts a parent with a Stop button; a change of the target's
// diagnosis (a server starts on the watched port, then goes away) is one reply each in the
// thread, nothing else is; the Stop button ends it with a last message and a parent without
// the button. Usage errors are the ack; a forged Stop value stops nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WatchRunner } from '../../src/chat/watch-runner.js';
import { WATCH_LIMITS } from '../../src/chat/watch.js';
import { Store } from '../../src/store/store.js';
import { watchStoreOf } from '../../src/store/watch-store.js';
import { createLogger } from '../../src/log.js';
import { WATCH_STOP_ACTION } from '../../adapters/slack/watch.js';
import { openGate } from '../support/open-gate.js';
import type { RecordedCall } from './fake-slack.js';
import { allText, answerTo, startHarness } from './harness.js';
import { closedPort, HOSTILE, LOOPBACK } from './targets.js';

function buttonsOf(call: RecordedCall | undefined): Array<{ action_id: string; value: string }> {
  const blocks = (call?.args['blocks'] ?? []) as Array<{ type: string; elements?: Array<{ type: string; action_id?: string; value?: string }> }>;
  return blocks.filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).flatMap((e) => (e.action_id !== undefined && e.value !== undefined ? [{ action_id: e.action_id, value: e.value }] : [])));
}

/** A server on `port` that says a hostile SSH identification line and closes. */
function serveOn(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.end(`SSH-2.0-OpenSSH_9.9 ${HOSTILE}\r\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, LOOPBACK, () =>
      resolve({
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise<void>((r) => server.close(() => r()));
        },
      }),
    );
  });
}

test('a watch from /sshcheck: a parent with Stop, one reply per change, Stop ends it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-slack-watch-'));
  const store = Store.open(join(dir, 'store.db'));
  const limits = { ...WATCH_LIMITS, minEveryMs: 1000 };
  const h = await startHarness({ watches: (engine) => new WatchRunner({ store: watchStoreOf(store), gate: openGate(), engine, vantage: 'test-bastion', logger: createLogger({ name: 'test', level: 'error' }), limits }) });
  let server: { close(): Promise<void> } | undefined;
  try {
    const port = await closedPort();
    const delivery = h.fake.sendSlashCommand({ text: `watch ${LOOPBACK} ${port} every 1s for 10m`, channel_id: 'C0WATCH' });
    const answer = await answerTo(h.fake, delivery);
    assert.equal(answer['response_type'], 'ephemeral');
    assert.match(String(answer['text']), new RegExp(`^Watching \`sshcheck@127\\.0\\.0\\.1:${port}\` every 1 s for 10 min`));
    const parents = (): RecordedCall[] => h.fake.callsOf('chat.postMessage', 'C0WATCH').filter((c) => c.args['thread_ts'] === undefined);
    await h.fake.waitFor(() => parents().length === 1, 10_000, 'the watch parent');
    const parent = parents()[0];
    assert.ok(parent);
    const ts = String(parent.response['ts']);
    const [stop] = buttonsOf(parent);
    assert.equal(stop?.action_id, WATCH_STOP_ACTION);
    const updates = (): RecordedCall[] => h.fake.callsOf('chat.update', 'C0WATCH').filter((c) => c.args['ts'] === ts);
    const replies = (): RecordedCall[] => h.fake.callsOf('chat.postMessage', 'C0WATCH').filter((c) => c.args['thread_ts'] === ts);
    await h.fake.waitFor(() => updates().some((u) => /Now: `port-closed` since/.test(allText(u.args))), 20_000, 'the first state on the parent');
    assert.equal(replies().length, 0, 'the first state is not a change');

    server = await serveOn(port);
    await h.fake.waitFor(() => replies().length >= 1, 30_000, 'the first change');
    await server.close();
    server = undefined;
    await h.fake.waitFor(() => replies().length >= 2, 30_000, 'the second change');
    const [first, second] = replies().map((r) => String(r.args['text']));
    assert.match(first ?? '', /^now `[a-z-]+` \(since \d\d:\d\d UTC; was `port-closed` for \d+ s\)$/);
    assert.doesNotMatch(first ?? '', /port-closed`? \(since/, 'a different cause');
    assert.match(second ?? '', /^now `port-closed` \(since \d\d:\d\d UTC; was `[a-z-]+` for \d+ s\)$/);
    for (const r of replies()) assert.doesNotMatch(allText(r.args), /<!channel>|@everyone|evil\.example/, 'nothing the server sent reaches the thread');
    await h.fake.waitFor(() => /Now: `port-closed` since \d\d:\d\d UTC/.test(allText(updates().at(-1)?.args ?? {})), 10_000, 'the parent to show the state again');

    const click = h.fake.sendBlockAction({ action_id: WATCH_STOP_ACTION, value: stop?.value, channel_id: 'C0WATCH', message_ts: ts, user_id: 'U0BOB' });
    await click.ack;
    await h.fake.waitFor(() => replies().some((r) => /^Watch stopped at/.test(String(r.args['text']))), 15_000, 'the stop message');
    const changes = replies().filter((r) => /^(now|recovered) /.test(String(r.args['text'])));
    assert.equal(changes.length, 2, 'exactly the two changes');
    assert.match(String(replies().at(-1)?.args['text']), /^Watch stopped at \d\d:\d\d UTC by <@U0BOB> after \d+ checks and 2 changes; last state `port-closed`/);
    await h.fake.waitFor(() => buttonsOf(updates().at(-1)).length === 0, 10_000, 'the parent without Stop');
    assert.match(allText(updates().at(-1)?.args ?? {}), /Last state: `port-closed`/);
    assert.equal(store.activeWatches().length, 0);
    // What the channel showed, for the README's example.
    t.diagnostic(`parent: ${allText(updates().at(-2)?.args ?? {})}`);
    for (const r of replies()) t.diagnostic(`reply: ${String(r.args['text'])}`);
  } finally {
    await server?.close();
    await h.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('watch usage errors are the ack; unwatch with nothing watched says so; a forged Stop stops nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-slack-watch-'));
  const store = Store.open(join(dir, 'store.db'));
  const h = await startHarness({ watches: (engine) => new WatchRunner({ store: watchStoreOf(store), gate: openGate(), engine, vantage: 'test-bastion', logger: createLogger({ name: 'test', level: 'error' }) }) });
  try {
    const bad = h.fake.sendSlashCommand({ text: 'watch 127.0.0.1 every 5s', channel_id: 'C0WATCH2' });
    const acked = (await bad.ack) as { payload?: Record<string, unknown> } | undefined;
    assert.match(JSON.stringify(acked ?? {}), /at most once every 30 s/);
    const none = h.fake.sendSlashCommand({ text: 'unwatch 127.0.0.1', channel_id: 'C0WATCH2' });
    assert.match(allText(await answerTo(h.fake, none)), /No watch of `?127\.0\.0\.1:22`? runs in this channel/);
    const forged = h.fake.sendBlockAction({ action_id: WATCH_STOP_ACTION, value: '<!channel>', channel_id: 'C0WATCH2', message_ts: '1700000000.000100' });
    assert.match(allText(await answerTo(h.fake, forged)), /nothing was stopped/);
    assert.equal(h.checks.length, 0, 'nothing probed');
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0WATCH2').length, 0, 'nothing posted');

    // A running watch, then /sshcheck unwatch: stopped, and its thread says by whom.
    const port = await closedPort();
    await answerTo(h.fake, h.fake.sendSlashCommand({ text: `watch ${LOOPBACK} ${port}`, channel_id: 'C0WATCH3' }));
    const again = h.fake.sendSlashCommand({ text: `watch ${LOOPBACK} ${port}`, channel_id: 'C0WATCH3' });
    assert.match(allText(await answerTo(h.fake, again)), /already watched in this channel/, 'one watch per target and channel');
    const off = h.fake.sendSlashCommand({ text: `unwatch ${LOOPBACK} ${port}`, channel_id: 'C0WATCH3', user_id: 'U0BOB' });
    assert.match(allText(await answerTo(h.fake, off)), /^Stopped the watch of `?127\.0\.0\.1:\d+`? in this channel/);
    await h.fake.waitFor(() => h.fake.callsOf('chat.postMessage', 'C0WATCH3').some((c) => /^Watch stopped at .* by <@U0BOB>/.test(String(c.args['text']))), 10_000, 'the stop in the thread');
  } finally {
    await h.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
