// Bot-side engine client and real `sshcheck agent` processes meeting on a real nats-server
// (Debian's, on a loopback port of the test's own), configured with the documented broker
// config (docs/nats/broker.conf): two agents of eu-1, one of us-1, each with its own
// credentials. Proves: a check answered by an agent with live events and the bastion as
// vantage; from/user/port reach the agent; the policy enforced in the agent; no agent → an
// engine failure naming bastion and broker; an agent killed mid-run → told within 5 s and
// the check retried on its twin; a broker restart → the next check works; and the broker
// refusing an agent what its permissions do not allow.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, createInbox, headers } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { runCheckFlow } from '../../src/chat/check-flow.js';
import type { ChatSurface } from '../../src/chat/check-flow.js';
import { Pacer } from '../../src/chat/pacer.js';
import type { ParentView } from '../../src/chat/views.js';
import type { ProgressEvent } from '../../src/engine/report.js';
import { createLogger } from '../../src/log.js';
import { RoutedNatsEngine } from '../../src/nats/bot-engine.js';
import { parseTarget } from '../../src/target.js';
import { NatsEngine, NatsEngineError } from '../../src/nats/engine.js';
import { openBroker } from '../../src/nats/connect.js';
import { natsSettings } from '../../src/nats/options.js';
import { BATCH_HEADER, checkSubject, parseAgentMessage } from '../../src/nats/protocol.js';
import type { AgentMessage } from '../../src/nats/protocol.js';
import { freePort, natsUnavailable, TestBroker, waitFor } from '../support/nats-server.js';
import { commandLine, descendants, gone } from '../support/process-tree.js';
import { holdStoreLock } from '../support/store-lock.js';

const unavailable = natsUnavailable();
if (unavailable) console.log(`# nats tests skipped: ${unavailable}`);

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
const BROKER_CONF = fileURLToPath(new URL('../../../docs/nats/broker.conf', import.meta.url));

interface AgentProcess {
  name: string;
  child: ChildProcess;
  log: () => string;
}

describe('NATS: bot engine client and real agents on a real nats-server', { skip: unavailable ?? false }, () => {
  let dir: string;
  let broker: TestBroker;
  let nc: NatsConnection;
  let engine: NatsEngine;
  let silent: Server;
  let silentPort: number;
  let closedPort: number;
  const silentSockets = new Set<Socket>();
  let silentConnections = 0;
  const agents: AgentProcess[] = [];
  // A letter first: nats-server parses a $VARIABLE's value as a config value, and one that starts with a digit as a number.
  const passwords = { bot: `p${randomUUID()}`, eu: `p${randomUUID()}`, us: `p${randomUUID()}` };

  const passwordFile = (name: string, value: string): string => {
    const path = join(dir, `${name}.pass`);
    writeFileSync(path, `${value}\n`, { mode: 0o600 });
    return path;
  };

  const startAgent = (bastion: string, name: string, user: string, password: string): Promise<AgentProcess> => {
    const child = spawn(process.execPath, [CLI, 'agent', '--nats', broker.url, '--bastion', bastion, '--agent', name, '--config', join(dir, 'engine.yml')], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '', SSHCHECK_DB: join(dir, `${name}.db`), SSHCHECK_NATS_USER: user, SSHCHECK_NATS_PASSWORD_FILE: passwordFile(name, password) },
    });
    let log = '';
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const agent = { name, child, log: () => log };
    agents.push(agent);
    return waitFor(`agent ${name} to serve`, () => log.includes('"msg":"serving checks"')).then(() => agent);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sshcheck-nats-test-'));
    // Loopback targets are denied by the built-in policy; this bastion allows exactly one address.
    writeFileSync(join(dir, 'engine.yml'), 'policy:\n  allow: [127.0.0.1/32, eu.lab.test]\n');
    const config = readFileSync(BROKER_CONF, 'utf8').replace('/var/lib/nats/jetstream', join(dir, 'js'));
    broker = await TestBroker.start({ config, env: { SSHCHECK_BOT_PASSWORD: passwords.bot, SSHCHECK_AGENT_EU_1_PASSWORD: passwords.eu, SSHCHECK_AGENT_US_1_PASSWORD: passwords.us } });
    // A port that accepts and never says a word: a run there lasts long enough to kill its agent.
    silent = createServer((socket) => {
      silentConnections += 1;
      silentSockets.add(socket);
      socket.on('close', () => silentSockets.delete(socket));
      socket.on('error', () => undefined);
    });
    silentPort = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as AddressInfo).port)));
    closedPort = await freePort();
    await Promise.all([startAgent('eu-1', 'eu-a', 'agent-eu-1', passwords.eu), startAgent('eu-1', 'eu-b', 'agent-eu-1', passwords.eu)]);
    const settings = natsSettings(broker.url, { SSHCHECK_NATS_USER: 'sshcheck-bot', SSHCHECK_NATS_PASSWORD: passwords.bot }, (p) => readFileSync(p, 'utf8'), 'test bot');
    assert.ok(settings);
    nc = await openBroker(settings, { wait: false });
    engine = new NatsEngine(nc, { url: broker.url });
    await engine.watchAgents(500);
  });

  after(async () => {
    engine?.close();
    await nc?.close().catch(() => undefined);
    await Promise.all(
      agents.map(
        (a) =>
          new Promise<void>((resolve) => {
            if (a.child.exitCode !== null || a.child.signalCode !== null) return resolve();
            a.child.once('exit', () => resolve());
            a.child.kill('SIGKILL');
          }),
      ),
    );
    for (const s of silentSockets) s.destroy();
    silent?.close();
    await broker?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Everything an agent says on a check's reply subject, read raw, until the report, a refusal or a failure. */
  const ask = (subject: string, body: object, batch: boolean): Promise<AgentMessage[]> =>
    new Promise((resolve, reject) => {
      const got: AgentMessage[] = [];
      const inbox = createInbox();
      const timer = setTimeout(() => reject(new Error(`no end: ${JSON.stringify(got.map((m) => m.t))}`)), 30_000);
      const sub = nc.subscribe(inbox, {
        callback: (err, msg) => {
          if (err) return reject(err);
          const m = parseAgentMessage(msg.data);
          got.push(m);
          const last = m.t === 'event' ? m.event : m.t === 'events' ? m.events.at(-1) : undefined;
          if (last?.type === 'run-finished' || m.t === 'failed' || m.t === 'refused') {
            clearTimeout(timer);
            sub.unsubscribe();
            resolve(got);
          }
        },
      });
      const h = headers();
      if (batch) h.set(BATCH_HEADER, '1');
      nc.publish(subject, JSON.stringify(body), { reply: inbox, headers: h });
    });

  test('the agents declare their bastion and coverage; a check is routed by it and streams live events', async () => {
    assert.deepEqual(engine.bastions, ['eu-1']);
    assert.deepEqual(new Set(engine.directory.agents('eu-1')), new Set(['eu-a', 'eu-b']));
    const target = parseTarget(`ops@127.0.0.1:${closedPort}`);
    assert.deepEqual(engine.route(target), { bastion: 'eu-1', reason: 'declared cidr 127.0.0.1/32' });
    const events: ProgressEvent[] = [];
    const { report } = await engine.check(target, { onEvent: (e) => events.push(e) });
    assert.equal(report.vantage.name, 'eu-1');
    assert.equal(report.diagnosis.cause, 'port-closed');
    assert.equal(report.target.port, closedPort);
    assert.equal(report.target.user, 'ops');
    assert.equal(events[0]?.type, 'run-started');
    assert.equal(events.at(-1)?.type, 'run-finished');
    assert.ok(events.filter((e) => e.type === 'step-updated').length >= 10, `step events: ${events.length}`);
  });

  test('events come in batches to a bot that asks for them, one by one to one that does not; the same run either way', async () => {
    // What each kind of bot receives on the reply subject, read raw: the batched client (this
    // build's NatsEngine) and an older one that sends no header.
    const collect = (batch: boolean): Promise<AgentMessage[]> => ask(checkSubject('eu-1'), { target: '127.0.0.1', port: closedPort }, batch);
    const flatten = (messages: AgentMessage[]): { seqs: number[]; types: string[] } => {
      const seqs: number[] = [];
      const types: string[] = [];
      for (const m of messages) {
        const events = m.t === 'event' ? [m.event] : m.t === 'events' ? m.events : [];
        const first = m.t === 'event' || m.t === 'events' ? m.seq : 0;
        events.forEach((e, i) => {
          seqs.push(first + i);
          types.push(e.type);
        });
      }
      return { seqs, types };
    };
    const batched = await collect(true);
    const single = await collect(false);
    assert.ok(batched.some((m) => m.t === 'events'), `batched: ${JSON.stringify(batched.map((m) => m.t))}`);
    assert.ok(!single.some((m) => m.t === 'events'), `single: ${JSON.stringify(single.map((m) => m.t))}`);
    // Fewer messages for the same events: a run's ~40 events in a handful of batches.
    const eventMessages = (list: AgentMessage[]): number => list.filter((m) => m.t === 'event' || m.t === 'events').length;
    assert.ok(eventMessages(batched) < eventMessages(single) / 2, `${eventMessages(batched)} batched against ${eventMessages(single)} single messages`);
    for (const list of [batched, single]) {
      // A started run's "accepted" travels with its first events, but before them.
      assert.equal(list[0]?.t, 'accepted');
      const { seqs, types } = flatten(list);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'every event once, in order');
      assert.equal(types[0], 'run-started');
      assert.equal(types.at(-1), 'run-finished');
      assert.ok(types.includes('diagnosis'));
      // The report travels alone.
      const finished = list.find((m) => (m.t === 'event' && m.event.type === 'run-finished') || (m.t === 'events' && m.events.some((e) => e.type === 'run-finished')));
      assert.equal(finished?.t, 'event');
    }
  });

  test('from reaches the agent (its report names the requester)', async () => {
    const { report } = await engine.check(parseTarget(`127.0.0.1:${closedPort}`), { via: 'eu-1', from: '192.0.2.7' });
    assert.equal(report.vantage.name, 'eu-1');
    assert.match(JSON.stringify(report), /192\.0\.2\.7/);
  });

  test('the target policy is enforced in the agent: a refused target is a policy error and nothing runs', async () => {
    const before = agents.map((a) => (a.log().match(/"run started"/g) ?? []).length);
    await assert.rejects(engine.check(parseTarget('127.0.0.2'), { via: 'eu-1' }), (err: unknown) => {
      assert.ok(err instanceof NatsEngineError);
      assert.equal(err.code, 'E_POLICY');
      assert.match(err.message, /bastion eu-1 .*nats:\/\/127\.0\.0\.1:\d+.*The target policy refuses the address 127\.0\.0\.2/);
      return true;
    });
    assert.deepEqual(
      agents.map((a) => (a.log().match(/"run started"/g) ?? []).length),
      before,
    );
  });

  test('an agent whose audit log another process holds locked refuses the check and probes nothing; once the lock goes it runs', async () => {
    // The agent's own thread tries the row first (StoreClient direct): the lock must send it
    // to the store's thread, spooled, and the check refused, never run unrecorded.
    const lock = await holdStoreLock(join(dir, 'eu-a.db'));
    let released = false;
    try {
      const connectionsBefore = silentConnections;
      const got = await ask(checkSubject('eu-1', 'eu-a'), { target: '127.0.0.1', port: silentPort }, true);
      const end = got.at(-1);
      assert.ok(end?.t === 'refused' && end.code === 'audit', `got ${JSON.stringify(got.map((m) => m.t))}`);
      assert.match(end.message, /nothing was probed/);
      assert.ok(!got.some((m) => m.t === 'accepted' || m.t === 'event' || m.t === 'events'), 'no run started');
      assert.equal(silentConnections, connectionsBefore, 'the target was never touched');
      await lock.release();
      released = true;
      const after = await ask(checkSubject('eu-1', 'eu-a'), { target: '127.0.0.1', port: closedPort }, true);
      assert.equal(after[0]?.t, 'accepted');
      const last = after.at(-1);
      const report = last?.t === 'event' && last.event.type === 'run-finished' ? last.event.report : undefined;
      assert.equal(report?.diagnosis.cause, 'port-closed');
    } finally {
      if (!released) await lock.release();
    }
  });

  test('a bastion without agents is an engine failure naming the bastion and the broker, not a verdict', async () => {
    await assert.rejects(engine.check(parseTarget('127.0.0.1'), { via: 'us-1' }), (err: unknown) => {
      assert.ok(err instanceof NatsEngineError);
      assert.equal(err.code, 'E_ENGINE');
      assert.equal(err.kind, 'no-agent');
      assert.ok(err.message.includes(`bastion us-1 (through the broker at ${broker.url})`), err.message);
      return true;
    });
  });

  test('an agent killed mid-run: the thread is told within 5 s, and the check is retried on its twin', async () => {
    const target = parseTarget(`127.0.0.1:${silentPort}`);
    const lost: Array<{ at: number; text: string }> = [];
    engine.onLost = (text) => lost.push({ at: Date.now(), text });
    let killedAt = 0;
    let victim: AgentProcess | undefined;
    let orphans: Array<{ pid: number; command: string }> = [];
    /** What was still running 5 s after the kill (command lines). */
    let orphansLeft: Promise<string[]> = Promise.resolve(['(the agent was never killed)']);
    const started = agents.map((a) => (a.log().match(/"run started"/g) ?? []).length);
    // The thread as the bot drives it: the chat check flow over the bot's routed NATS engine.
    const parents: Array<{ at: number; view: ParentView }> = [];
    const surface: ChatSurface = {
      channelKey: 'test',
      postParent: (view) => {
        parents.push({ at: Date.now(), view });
        // The parent is posted at run-started: one agent has the run now.
        if (!victim) {
          victim = agents.find((a, i) => (a.log().match(/"run started"/g) ?? []).length > (started[i] ?? 0));
          assert.ok(victim, 'one agent logged the start of the run');
          // Its engine runs in a process of its own, with the probes it starts under it: killed
          // once a probe runs there (the silent port keeps ssh waiting), or after 3 s at most.
          const agent = victim;
          const until = Date.now() + 3_000;
          const kill = (): void => {
            const tree = descendants(agent.child.pid ?? 0).map((pid) => ({ pid, command: commandLine(pid) }));
            if (!tree.some((p) => !p.command.includes('run-worker.js')) && Date.now() < until) return void setTimeout(kill, 20);
            orphans = tree;
            killedAt = Date.now();
            agent.child.kill('SIGKILL');
            // Watched from the kill on: the twin's retry of the silent port outlasts the probes' own timeouts.
            orphansLeft = waitFor("the killed agent's engine process and probes to end", () => tree.every((p) => gone(p.pid)), 5_000).then(
              () => [],
              () => tree.filter((p) => !gone(p.pid)).map((p) => p.command.slice(0, 60)),
            );
          };
          kill();
        }
        return Promise.resolve();
      },
      updateParent: (view) => (parents.push({ at: Date.now(), view }), Promise.resolve()),
      postStep: () => Promise.resolve(),
      updateStep: () => Promise.resolve(),
      fallback: (view) => (parents.push({ at: Date.now(), view }), Promise.resolve()),
    };
    const report = await runCheckFlow({
      surface,
      engine: new RoutedNatsEngine(engine, 0),
      pacer: new Pacer({ burst: 1000, perSecond: 10_000 }),
      logger: createLogger({ level: 'error', write: () => undefined }),
      target,
      vantage: 'the routed bastion',
      requester: 'test',
      via: 'eu-1',
    });
    engine.onLost = undefined;
    assert.ok(victim);
    assert.ok(report, JSON.stringify(parents.at(-1)?.view));
    assert.equal(lost.length, 1, JSON.stringify(lost));
    const toldAt = parents.find((p) => p.view.notice !== undefined)?.at ?? Infinity;
    assert.ok(toldAt - killedAt < 5_000, `the thread was told after ${toldAt - killedAt} ms`);
    const last = parents.at(-1)?.view;
    assert.equal(last?.phase, 'finished');
    assert.match(last?.notice ?? '', new RegExp(`^bastion eu-1 \\(through the broker at nats://127\\.0\\.0\\.1:\\d+\\): agent ${victim.name} went silent .*sending the check to another agent of the bastion$`));
    const twin = agents.find((a) => a !== victim && a.child.exitCode === null && a.child.signalCode === null);
    assert.ok(twin);
    assert.ok(twin.log().includes(`"target":"sshcheck@127.0.0.1:${silentPort}"`), 'the twin ran the retried check');
    assert.equal(report.vantage.name, 'eu-1');
    assert.notEqual(report.diagnosis.cause, 'healthy', 'a port that never speaks is no healthy sshd');
    // SIGKILL gives the agent no chance to stop its engine: the engine process notices its
    // parent's channel close and ends, and its probes with it; nothing is left orphaned.
    assert.ok(
      orphans.some((p) => p.command.includes('run-worker.js')) && orphans.some((p) => !p.command.includes('run-worker.js')),
      `the killed agent's processes: ${orphans.map((p) => `${p.pid} ${p.command}`).join('; ')}`,
    );
    const leftOver = await orphansLeft;
    assert.deepEqual(leftOver, [], 'left running 5 s after the agent was killed');
  });

  test('nats-server stops and starts: agents and bot reconnect by themselves, and the next check works', async () => {
    const twin = agents.find((a) => a.child.exitCode === null && a.child.signalCode === null && a.name.startsWith('eu-'));
    assert.ok(twin);
    const restoredBefore = (twin.log().match(/broker connection restored/g) ?? []).length;
    await broker.stop();
    // While it is down, a check is an engine failure that names the broker, not a verdict.
    await assert.rejects(engine.check(parseTarget(`127.0.0.1:${closedPort}`), { via: 'eu-1' }), (err: unknown) => {
      assert.ok(err instanceof NatsEngineError);
      assert.equal(err.code, 'E_ENGINE');
      assert.ok(err.message.includes(broker.url), err.message);
      return true;
    });
    await broker.start();
    await waitFor('the agent to reconnect', () => (twin.log().match(/broker connection restored/g) ?? []).length > restoredBefore, 15_000);
    await waitFor('the bot to reconnect', () => engine.connected, 15_000);
    const { report } = await engine.check(parseTarget(`127.0.0.1:${closedPort}`), { via: 'eu-1' });
    assert.equal(report.diagnosis.cause, 'port-closed');
    assert.equal(report.vantage.name, 'eu-1');
  });

  test("the broker refuses an agent another bastion's checks: the permission violation is observed", async () => {
    const us = await connect({ servers: broker.url, user: 'agent-us-1', pass: passwords.us });
    try {
      const violations: string[] = [];
      void (async () => {
        for await (const s of us.status()) if (s.type === 'error') violations.push(s.error.message);
      })();
      const errors: string[] = [];
      us.subscribe('sshcheck.check.eu-1', { queue: 'sshcheck-eu-1', callback: (err) => void (err && errors.push(err.message)) });
      us.subscribe('sshcheck.check.eu-1.eu-b', { callback: (err) => void (err && errors.push(err.message)) });
      // Nor may it inject a check into eu-1 or declare itself as eu-1.
      us.publish('sshcheck.check.eu-1', '{"target":"127.0.0.1"}');
      us.publish('sshcheck.agents.eu-1', '{}');
      await us.flush();
      await waitFor('the permission violations', () => errors.length >= 2 && violations.filter((v) => /publish/i.test(v)).length >= 2, 5_000);
      assert.ok(errors.every((e) => /permissions violation for subscription to "sshcheck\.check\.eu-1/i.test(e)), errors.join('; '));
      assert.ok(violations.some((v) => /publish to "sshcheck\.check\.eu-1"/i.test(v)), violations.join('; '));
      assert.ok(violations.some((v) => /publish to "sshcheck\.agents\.eu-1"/i.test(v)), violations.join('; '));
      // Its own bastion's subject is allowed.
      const own: string[] = [];
      us.subscribe('sshcheck.check.us-1', { callback: (err) => void (err && own.push(err.message)) });
      await us.flush();
      assert.deepEqual(own, []);
    } finally {
      await us.close();
    }
    // The bot's credentials reach any bastion (no agent of us-1 here: no responders, not a violation).
    await assert.rejects(engine.check(parseTarget('127.0.0.1'), { via: 'us-1' }), /no agent of this bastion is connected/);
  });
});
