// The Discord adapter end to end: the real discord.js client, started through
// createDiscordAdapter, against a local fake of Discord's REST API and gateway, with the real
// probe engine checking loopback targets (no DNS or anything else leaves the machine).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pacer } from '../../src/chat/pacer.js';
import type { CheckOptions, CheckResult, EngineClient } from '../../src/chat/engine-client.js';
import { STEP_TITLES, STEP_IDS } from '../../src/engine/report.js';
import type { Target } from '../../src/target.js';
import { createDiscordAdapter } from '../../adapters/discord/index.js';
import { BOT_PERMISSIONS, FakeDiscord, PERMISSION_BITS, apiError, rateLimited } from './fake-discord.js';
import type { DispatchedInteraction, JsonObject, RecordedCall } from './fake-discord.js';
import { MemoryLogger, callsSince, checkDone, embedsOf, messageRequests, parentMessage, startHarness, talker, threadMessages } from './harness.js';
import type { EmbedJson, Harness } from './harness.js';
import { liveMarkup, strings } from './markup.js';
import { openGate } from '../support/open-gate.js';
import { sshdUnavailable, startSshd } from '../support/openssh-server.js';

/** Fast enough that a check's thread is written in well under a second. */
const fastPacer = (): Pacer => new Pacer({ burst: 100, perSecond: 200 });

const HOSTILE_BANNER = 'SSH-2.0-OpenSSH_9.9 @everyone <@123456789012345678> [click](https://evil.example) **bold** `tick`';
const HOSTILE_LINE = '**bold** [click](https://evil.example) @here <@&112233445566778899>';

function stepNumbers(embeds: EmbedJson[]): number[] {
  return embeds.map((e) => Number(/^\S+ (\d+)\. /.exec(e.title ?? '')?.[1]));
}

function stepTitles(embeds: EmbedJson[]): string[] {
  return embeds.map((e) => (e.title ?? '').replace(/^\S+ \d+\. /, ''));
}

function field(embed: EmbedJson | undefined, name: string): string | undefined {
  return embed?.fields?.find((f) => f.name === name)?.value;
}

function threadCall(calls: readonly RecordedCall[]): RecordedCall | undefined {
  return calls.find((c) => c.method === 'POST' && /^\/channels\/\d+\/messages\/\d+\/threads$/.test(c.path));
}

function callbackCall(calls: readonly RecordedCall[], i: DispatchedInteraction): RecordedCall | undefined {
  return calls.find((c) => c.method === 'POST' && c.path === `/interactions/${i.id}/${i.token}/callback`);
}

/** Every message request of the check carries allowed_mentions with nothing to parse. */
function assertNoMentionsAllowed(calls: readonly RecordedCall[]): void {
  const requests = messageRequests(calls);
  assert.ok(requests.length > 0);
  for (const { call, payload } of requests) assert.deepEqual(payload.allowed_mentions, { parse: [] }, `${call.method} ${call.path}`);
}

/** The complete checklist, from the follow-ups sent under the reply. */
function followUpSteps(h: Harness, calls: readonly RecordedCall[], i: DispatchedInteraction): EmbedJson[] {
  return calls
    .filter((c) => c.method === 'POST' && c.path === `/webhooks/${h.fake.applicationId}/${i.token}` && c.status === 200)
    .flatMap((c) => embedsOf(c.body as JsonObject));
}

describe('with Discord pacing (5 messages per 5 s per thread)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ heartbeatIntervalMs: 250 });
  });
  after(() => h.stop());

  test('connects outbound with the Guilds intent only, JSON without compression, heartbeats acknowledged', async () => {
    const gatewayBot = h.fake.calls.find((c) => c.path === '/gateway/bot');
    assert.equal(gatewayBot?.auth, 'bot');
    assert.equal(h.fake.gateway.identifies.length, 1);
    const identify = h.fake.gateway.identifies[0]!;
    assert.equal(identify.intents, 1, 'GatewayIntentBits.Guilds only');
    assert.equal(identify.compress, false);
    assert.deepEqual(identify.shard, [0, 1]);
    assert.match(h.fake.gateway.urls[0] ?? '', /^\/?\?v=10&encoding=json$/);
    const deadline = performance.now() + 5000;
    while (h.fake.gateway.heartbeats < 2 && performance.now() < deadline) await sleep(20);
    assert.ok(h.fake.gateway.heartbeats >= 2, 'the client heartbeats');
    assert.equal(h.fake.gateway.acks, h.fake.gateway.heartbeats);
  });

  test('a closed port: reply within 3 s, a thread from it, ten steps in order, the parent edited with the diagnosis', async () => {
    const i = h.fake.dispatchInteraction({ target: `127.0.0.1:${h.closedPort}` });
    await checkDone(h, i);
    const calls = callsSince(h, i);

    const callback = callbackCall(calls, i);
    assert.ok(callback, 'the interaction was answered');
    assert.ok(callback.at - i.dispatchedAt < 3000, `answered after ${callback.at - i.dispatchedAt} ms`);
    assert.equal((callback.body as { type: number }).type, 5, 'deferred first: the gate and the engine come after');
    const firstEdit = calls.find((c) => c.method === 'PATCH' && c.path.endsWith(`/${i.token}/messages/@original`));
    assert.ok(firstEdit && firstEdit.at > callback.at, 'the deferral is edited into the parent');
    const reply = firstEdit.body as JsonObject;
    const first = embedsOf(reply)[0];
    assert.equal(field(first, 'Target'), `\`sshcheck@127.0.0.1:${h.closedPort}\``);
    assert.equal(field(first, 'Bastion'), 'test-bastion');
    assert.equal(field(first, 'Requested by'), `<@${h.fake.requesterId}>`);
    assert.match(field(first, 'Status') ?? '', /^(⏳){10} probing$/);

    const parentId = h.fake.interaction(i.id)?.originalId;
    const thread = threadCall(calls);
    assert.equal(thread?.path, `/channels/${h.fake.textChannelId}/messages/${parentId}/threads`, 'the thread starts from the parent');
    assert.equal((thread?.body as JsonObject).name, `sshcheck sshcheck@127.0.0.1:${h.closedPort}`);
    assert.ok((thread?.at ?? 0) > callback.at);

    const steps = threadMessages(h, i).map((m) => embedsOf(m)[0] ?? {});
    assert.deepEqual(stepNumbers(steps), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(stepTitles(steps), STEP_IDS.map((id) => STEP_TITLES[id]));

    const parent = embedsOf(parentMessage(h, i))[0];
    assert.match(parent?.description ?? '', /port-closed \(sshd, high confidence\)/);
    assert.match(field(parent, 'Status') ?? '', /^(✅|⚠️|❌|⏭️){10} finished in /u);
    assert.equal(field(parent, 'Checklist')?.split('\n').length, 10);
    const edits = calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/${i.token}/messages/@original`));
    assert.ok(edits.length >= 1 && edits.every((c) => c.status === 200));
    assert.ok(edits.some((c) => /port-closed/.test(strings(c.body).join(' '))), 'an edit carries the diagnosis');

    assertNoMentionsAllowed(calls);

    // The thread's messages keep Discord's pace: at most 5 at once, then about one per second.
    const posts = calls.filter((c) => c.method === 'POST' && c.path === `/channels/${parentId}/messages`).map((c) => c.at);
    assert.equal(posts.length, 10);
    for (let a = 0; a < posts.length; a++) {
      for (let b = a; b < posts.length; b++) assert.ok(b - a + 1 <= 5 + ((posts[b]! - posts[a]!) / 1000) * 1 + 0.5, `messages ${a + 1}-${b + 1} too close together`);
    }
  });
});

describe('errors, fallbacks and hostile text', () => {
  let h: Harness;
  const tokens: string[] = [];
  const dispatch = (options: Parameters<Harness['fake']['dispatchInteraction']>[0]): DispatchedInteraction => {
    const i = h.fake.dispatchInteraction(options);
    tokens.push(i.token);
    return i;
  };
  before(async () => {
    // Port 9 stands for a target whose check fails inside the engine.
    h = await startHarness({ pacer: fastPacer(), wrapEngine: (engine) => failingOnPort(engine, 9) });
  });
  after(() => h.stop());

  test('a hostile banner is shown only as code: no mention, link or formatting anywhere', async () => {
    const server = await talker(`${HOSTILE_LINE}\r\n${HOSTILE_BANNER}\r\n`);
    try {
      const i = dispatch({ target: `127.0.0.1:${server.port}` });
      await checkDone(h, i);
      const calls = callsSince(h, i);
      const all = calls.flatMap((c) => strings(c.body));
      assert.ok(all.some((s) => s.includes('@everyone') && s.includes('<@123456789012345678>') && s.includes('evil.example')), 'the banner reached the messages');
      const live = all.flatMap((s) => liveMarkup(s, [`<@${h.fake.requesterId}>`]));
      assert.deepEqual(live, []);
      assertNoMentionsAllowed(calls);
      assert.equal(threadMessages(h, i).length, 10);
    } finally {
      await server.close();
    }
  });

  test('a 429 on a thread message is waited out and retried: nothing lost, order kept', async () => {
    let seen = 0;
    h.fake.override((c) => c.method === 'POST' && /^\/channels\/\d+\/messages$/.test(c.path) && ++seen === 3, rateLimited(0.5));
    const i = dispatch({ target: `127.0.0.1:${h.closedPort}` });
    await checkDone(h, i);
    const parentId = h.fake.interaction(i.id)?.originalId;
    const posts = callsSince(h, i).filter((c) => c.method === 'POST' && c.path === `/channels/${parentId}/messages`);
    assert.equal(posts.length, 11);
    const limited = posts.findIndex((c) => c.status === 429);
    assert.equal(limited, 2);
    const retry = posts[limited + 1]!;
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.body, posts[limited]!.body, 'the same message again');
    assert.ok(retry.at - posts[limited]!.at >= 450, `retried after ${retry.at - posts[limited]!.at} ms, Retry-After asked for 500`);
    assert.deepEqual(stepNumbers(threadMessages(h, i).map((m) => embedsOf(m)[0] ?? {})), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('thread creation forbidden (403, 50013): the parent says why and the whole checklist follows', async () => {
    h.fake.override((c) => c.method === 'POST' && c.path.endsWith('/threads'), apiError(403, 50013, 'Missing Permissions'));
    const i = dispatch({ target: `127.0.0.1:${h.closedPort}` });
    await checkDone(h, i);
    const calls = callsSince(h, i);
    assert.equal(threadCall(calls)?.status, 403);
    assert.equal(threadMessages(h, i).length, 0);
    const parent = embedsOf(parentMessage(h, i))[0];
    assert.match(parent?.description ?? '', /port-closed/);
    assert.match(field(parent, 'No thread') ?? '', /Missing Permissions.*50013.*the checklist is in the messages below/);
    const steps = followUpSteps(h, calls, i);
    assert.deepEqual(stepNumbers(steps), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assertNoMentionsAllowed(calls);
  });

  test('no permission to create threads: no attempt, the reason, and the checklist as follow-ups', async () => {
    const i = dispatch({ target: `127.0.0.1:${h.closedPort}`, appPermissions: BOT_PERMISSIONS & ~PERMISSION_BITS.createPublicThreads });
    await checkDone(h, i);
    const calls = callsSince(h, i);
    assert.equal(threadCall(calls), undefined);
    assert.match(field(embedsOf(parentMessage(h, i))[0], 'No thread') ?? '', /lacks the permission Create Public Threads/);
    assert.deepEqual(stepNumbers(followUpSteps(h, calls, i)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('a DM and a voice channel: no thread, the reason, the full result', async () => {
    for (const [where, reason] of [
      ['dm', /direct messages/i],
      ['voice', /this kind of channel has no threads/i],
    ] as const) {
      const i = dispatch({ target: `127.0.0.1:${h.closedPort}`, where });
      await checkDone(h, i);
      const calls = callsSince(h, i);
      assert.equal(threadCall(calls), undefined);
      const parent = embedsOf(parentMessage(h, i))[0];
      assert.match(field(parent, 'No thread') ?? '', reason);
      assert.match(parent?.description ?? '', /port-closed/);
      assert.deepEqual(stepNumbers(followUpSteps(h, calls, i)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assertNoMentionsAllowed(calls);
    }
  });

  test('an expired interaction token (404, 10015) is not retried; the parent is left alone, the thread goes on', async () => {
    // The token dies right after the reply: every later webhook call gets 404 Unknown Webhook.
    const i = dispatch({ target: `127.0.0.1:${h.closedPort}`, expireAfterReply: true });
    await checkDone(h, i);
    await sleep(300);
    const calls = callsSince(h, i);
    const edits = calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/messages/@original'));
    assert.equal(edits.length, 1, 'one try, no retry');
    assert.equal(edits[0]?.status, 404);
    const later = calls.filter((c) => c.at > edits[0]!.at && c.path.includes(i.token));
    assert.deepEqual(later.map((c) => `${c.method} ${c.path}`), [], 'nothing more with the dead token');
    const logged = h.logger.entries.find((e) => e.msg.includes('token no longer valid') && e.fields.interaction === i.id);
    assert.equal(logged?.level, 'warn');
    assert.equal(logged?.fields.code, 10015);
  });

  test('a target the CLI would refuse: an ephemeral answer, nothing probed', async () => {
    const runs = h.engine.counts.runs;
    for (const target of ['-oProxyCommand=touch /tmp/pwned', 'db-3;id', '127.1']) {
      const i = dispatch({ target });
      const callback = await h.fake.waitFor((c) => c.path === `/interactions/${i.id}/${i.token}/callback`);
      const body = callback.body as { type: number; data: JsonObject };
      assert.equal(body.type, 4);
      assert.equal(((body.data.flags as number) & 64) === 64, true, 'ephemeral');
      assert.match(body.data.content as string, /^❌ Nothing was probed: /);
      assert.deepEqual(body.data.allowed_mentions, { parse: [] });
      assert.deepEqual(liveMarkup(body.data.content as string), []);
    }
    const help = dispatch({ target: 'help' });
    const answer = await h.fake.waitFor((c) => c.path === `/interactions/${help.id}/${help.token}/callback`);
    assert.match(((answer.body as { data: JsonObject }).data.content as string) ?? '', /^Usage: /);
    await sleep(100);
    assert.equal(h.engine.counts.runs, runs, 'the engine was not started');
  });

  test('a gateway drop is logged and resumed; an interaction sent meanwhile is still answered', async () => {
    const connections = h.fake.gateway.connections;
    h.fake.dropGateway(4000);
    const i = dispatch({ target: `127.0.0.1:${h.closedPort}` });
    await checkDone(h, i);
    assert.ok(h.fake.gateway.connections > connections);
    assert.ok(h.fake.gateway.resumes >= 1);
    assert.ok(h.logger.entries.some((e) => e.level === 'warn' && e.msg === 'discord gateway connection lost; reconnecting'));
    assert.ok(h.logger.entries.some((e) => e.msg === 'discord gateway resumed'));
    assert.ok(!h.logger.entries.some((e) => e.msg === 'discord gateway closed and will not reconnect'));
    assert.equal(threadMessages(h, i).length, 10);
  });

  test('a healthy sshd on loopback: the parent says healthy (root only)', async (t) => {
    const why = sshdUnavailable();
    if (why !== undefined) return t.skip(why);
    const sshd = await startSshd();
    try {
      const i = dispatch({ target: `127.0.0.1:${sshd.port}` });
      await checkDone(h, i);
      const parent = embedsOf(parentMessage(h, i))[0];
      assert.match(parent?.description ?? '', /^✅ healthy/);
      assert.equal(threadMessages(h, i).length, 10);
    } finally {
      await sshd.stop();
    }
  });

  test('the engine failing before the run starts: the answer says the check failed', async () => {
    const i = dispatch({ target: '127.0.0.1:9' });
    await checkDone(h, i);
    const calls = callsSince(h, i);
    const callback = callbackCall(calls, i);
    assert.equal((callback?.body as { type: number }).type, 5);
    const parent = embedsOf(parentMessage(h, i))[0];
    assert.match(parent?.description ?? '', /^❌ The check itself failed: engine exploded/);
    assert.equal(field(parent, 'No thread'), undefined);
    assert.equal(threadCall(calls), undefined);
    assertNoMentionsAllowed(calls);
  });

  test('neither the bot token nor an interaction token ever reaches the logs', () => {
    const text = h.logger.text();
    assert.ok(h.logger.entries.length > 20);
    assert.ok(!text.includes(h.fake.token), 'bot token in the logs');
    for (const token of tokens) assert.ok(!text.includes(token), 'interaction token in the logs');
  });
});

/** An engine whose checks of one port fail at once, as a broken engine would. */
function failingOnPort(engine: EngineClient, port: number): EngineClient {
  return {
    check(target: Target, options?: CheckOptions): Promise<CheckResult> {
      return target.port === port ? Promise.reject(new Error('engine exploded')) : engine.check(target, options);
    },
  };
}

/** An engine that takes its time before the run starts, as one under load might. */
function slowStart(engine: EngineClient, delayMs: number): EngineClient {
  return {
    async check(target: Target, options?: CheckOptions): Promise<CheckResult> {
      await sleep(delayMs);
      return engine.check(target, options);
    },
  };
}

describe('the 3 s deadline', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ pacer: fastPacer(), wrapEngine: (e) => slowStart(e, 600) });
  });
  after(() => h.stop());

  test('a slow engine: the reply was deferred first, then edited into the parent, and the thread follows', async () => {
    const i = h.fake.dispatchInteraction({ target: `127.0.0.1:${h.closedPort}` });
    await checkDone(h, i);
    const calls = callsSince(h, i);
    const callback = callbackCall(calls, i);
    assert.equal((callback?.body as { type: number }).type, 5, 'deferred');
    assert.ok((callback?.at ?? Infinity) - i.dispatchedAt < 3000);
    const firstEdit = calls.find((c) => c.method === 'PATCH' && c.path.endsWith(`/${i.token}/messages/@original`));
    assert.ok(firstEdit && firstEdit.at > (callback?.at ?? 0));
    assert.ok(field(embedsOf(firstEdit.body as JsonObject)[0], 'Target'));
    const parentId = h.fake.interaction(i.id)?.originalId;
    assert.equal(threadCall(calls)?.path, `/channels/${h.fake.textChannelId}/messages/${parentId}/threads`);
    assert.equal(threadMessages(h, i).length, 10);
  });
});

describe('start-up', () => {
  test('a refused bot token: start() fails with a clear error, and the token is not logged', async () => {
    const fake = new FakeDiscord();
    await fake.start();
    const logger = new MemoryLogger();
    const wrong = `${fake.token.slice(0, -6)}BADBAD`;
    const adapter = createDiscordAdapter({ token: wrong, applicationId: fake.applicationId, apiUrl: fake.apiUrl }, { engine: { check: () => Promise.reject(new Error('unused')) }, logger, vantage: 'test-bastion', gate: openGate() });
    try {
      await assert.rejects(adapter.start(), /invalid token/i);
      assert.equal(fake.calls.find((c) => c.path === '/gateway/bot')?.status, 401);
      assert.equal(fake.gateway.connections, 0);
      assert.ok(!logger.text().includes(wrong));
    } finally {
      await adapter.stop();
      await fake.stop();
    }
  });
});
