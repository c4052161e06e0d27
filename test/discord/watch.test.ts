// Watches on Discord, end to end through the real discord.js client against the fake, with the
// real engine on loopback and the real store: /sshcheck with `watch` answers privately and the
// bot posts its own parent (an interaction's reply dies after 15 minutes; a watch runs hours)
// with a Stop button and a thread; each change of the diagnosis is one thread message; Stop
// ends it. A usage error is answered privately and nothing is watched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WatchRunner } from '../../src/chat/watch-runner.js';
import { WATCH_LIMITS } from '../../src/chat/watch.js';
import { Store } from '../../src/store/store.js';
import { watchStoreOf } from '../../src/store/watch-store.js';
import { createLogger } from '../../src/log.js';
import { WATCH_STOP_PREFIX } from '../../adapters/discord/watch.js';
import { openGate } from '../support/open-gate.js';
import type { StoredMessage } from './fake-discord.js';
import { embedsOf, startHarness } from './harness.js';

function stopButton(message: StoredMessage | undefined): string | undefined {
  const rows = (message?.['components'] ?? []) as unknown as Array<{ components?: Array<{ custom_id?: string }> }>;
  return rows.flatMap((r) => r.components ?? []).find((c) => c.custom_id?.startsWith(WATCH_STOP_PREFIX) === true)?.custom_id;
}

const contentOf = (m: StoredMessage | undefined): string => (typeof m?.['content'] === 'string' ? m['content'] : '');

async function until(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a watch from /sshcheck watch:…: a bot message with Stop and a thread, one thread message per change, Stop ends it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-discord-watch-'));
  const store = Store.open(join(dir, 'store.db'));
  const limits = { ...WATCH_LIMITS, minEveryMs: 1000 };
  const h = await startHarness({ watches: (engine) => new WatchRunner({ store: watchStoreOf(store), gate: openGate(), engine, vantage: 'test-bastion', logger: createLogger({ name: 'test', level: 'error' }), limits }) });
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    s.end('SSH-2.0-OpenSSH_9.9 @everyone <@123>\r\n');
  });
  try {
    const port = h.closedPort;
    const command = h.fake.dispatchInteraction({ target: `127.0.0.1:${port}`, watch: 'every 1s for 10m' });
    const channel = command.channelId;
    const bots = (): StoredMessage[] => (h.fake.messages.get(channel) ?? []).filter((m) => embedsOf(m)[0]?.title === 'sshcheck watch');
    await until('the watch parent', () => bots().length === 1);
    const parent = bots()[0];
    assert.ok(parent);
    const customId = stopButton(parent);
    assert.ok(customId, 'the parent carries Stop');
    const thread = (): StoredMessage[] => h.fake.messages.get(String(parent.id)) ?? [];
    await until('the first state', () => /Now: `port-closed` since/.test(embedsOf(bots()[0])[0]?.description ?? ''));
    assert.equal(thread().length, 0, 'the first state is not a change');

    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    await until('the first change', () => thread().length >= 1);
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await until('the second change', () => thread().length >= 2);
    const texts = thread().map((m) => contentOf(m));
    assert.match(texts[0] ?? '', /^now `[a-z-]+` \(since \d\d:\d\d UTC; was `port-closed` for \d+ s\)$/);
    assert.match(texts[1] ?? '', /^now `port-closed` \(since \d\d:\d\d UTC; was `[a-z-]+` for \d+ s\)$/);
    for (const m of thread()) assert.deepEqual(m['mentions'] ?? [], [], 'nobody is pinged');

    h.fake.dispatchComponent(customId, parent, { userId: '222222222222222222' });
    await until('the stop message', () => thread().some((m) => /^Watch stopped at/.test(contentOf(m))));
    assert.equal(thread().filter((m) => /^(now|recovered) /.test(contentOf(m))).length, 2, 'exactly the two changes');
    assert.match(contentOf(thread().at(-1)), /^Watch stopped at \d\d:\d\d UTC by <@222222222222222222> after \d+ checks and 2 changes/);
    await until('the parent without Stop', () => stopButton(bots()[0]) === undefined);
    assert.equal(store.activeWatches().length, 0);
  } finally {
    for (const s of sockets) s.destroy();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    await h.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a watch usage error is answered privately; nothing is watched or posted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-discord-watch-'));
  const store = Store.open(join(dir, 'store.db'));
  const h = await startHarness({ watches: (engine) => new WatchRunner({ store: watchStoreOf(store), gate: openGate(), engine, vantage: 'test-bastion', logger: createLogger({ name: 'test', level: 'error' }) }) });
  try {
    const command = h.fake.dispatchInteraction({ target: '127.0.0.1', watch: 'every 5s' });
    const answer = await h.fake.waitFor((c) => c.method === 'POST' && c.path === `/interactions/${command.id}/${command.token}/callback`);
    const body = answer.body as { type: number; data: { content: string; flags: number } };
    assert.equal(body.type, 4);
    assert.equal(body.data.flags & 64, 64, 'ephemeral');
    assert.match(body.data.content, /at most once every 30 s/);
    assert.equal(store.activeWatches().length, 0);
  } finally {
    await h.stop();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
