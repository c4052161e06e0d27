// Two `sshcheck bot` replicas for availability, meeting real agents on a real nats-server
// (the documented broker config, docs/nats/broker.conf, so the bots' claims bucket works
// under their permissions): the project's Discord fake gives both gateways every
// interaction, as Discord does, and each is answered by exactly one replica; a Slack
// request redelivered to the other replica is not answered twice; and two replicas asking
// for one target meet in one run on the agents (single flight across replicas).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBot } from '../../src/cli/bot.js';
import { parseTarget } from '../../src/target.js';
import { NatsEngine } from '../../src/nats/engine.js';
import { openBroker } from '../../src/nats/connect.js';
import { natsSettings } from '../../src/nats/options.js';
import { FakeDiscord } from '../discord/fake-discord.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack } from '../slack/fake-slack.js';
import { freePort, natsUnavailable, TestBroker, waitFor } from '../support/nats-server.js';

const unavailable = natsUnavailable();
if (unavailable) console.log(`# nats replica tests skipped: ${unavailable}`);

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
const BROKER_CONF = fileURLToPath(new URL('../../../docs/nats/broker.conf', import.meta.url));

interface Replica {
  lines: Array<Record<string, unknown>>;
  stop: () => void;
  done: Promise<number>;
}

describe('two bot replicas on one broker', { skip: unavailable ?? false }, () => {
  let dir: string;
  let broker: TestBroker;
  const agents: Array<{ name: string; child: ChildProcess; log: () => string }> = [];
  const passwords = { bot: `p${randomUUID()}`, eu: `p${randomUUID()}`, us: `p${randomUUID()}` };
  const botEnv = (): Record<string, string> => ({ SSHCHECK_NATS_URL: broker.url, SSHCHECK_NATS_USER: 'sshcheck-bot', SSHCHECK_NATS_PASSWORD: passwords.bot });
  const runsOf = (port: number): number => agents.reduce((n, a) => n + (a.log().match(new RegExp(`"msg":"run started"[^\\n]*"target":"sshcheck@127\\.0\\.0\\.1:${port}"`, 'g')) ?? []).length, 0);

  let replicaStores = 0;
  const startReplica = (name: string, env: Record<string, string>): Replica => {
    const lines: Array<Record<string, unknown>> = [];
    let stop: () => void = () => undefined;
    const stopSignal = new Promise<void>((resolve) => (stop = resolve));
    // The bot's own policy pre-check lets the agents' loopback targets through, as theirs does.
    // A store of its own per replica and test: no test meets an earlier one's rows (runs, queues, limits).
    replicaStores += 1;
    const done = runBot({ ...botEnv(), ...env, SSHCHECK_DB: join(dir, `${name}-${replicaStores}.db`), SSHCHECK_VANTAGE: name, SSHCHECK_ENGINE_CONFIG: join(dir, 'engine.yml') }, { stderr: () => undefined, stopSignal, log: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    return { lines, stop, done };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sshcheck-nats-replicas-'));
    writeFileSync(join(dir, 'engine.yml'), 'policy:\n  allow: [127.0.0.1/32]\n');
    writeFileSync(join(dir, 'eu.pass'), `${passwords.eu}\n`, { mode: 0o600 });
    const config = readFileSync(BROKER_CONF, 'utf8').replace('/var/lib/nats/jetstream', join(dir, 'js'));
    broker = await TestBroker.start({ config, env: { SSHCHECK_BOT_PASSWORD: passwords.bot, SSHCHECK_AGENT_EU_1_PASSWORD: passwords.eu, SSHCHECK_AGENT_US_1_PASSWORD: passwords.us } });
    for (const name of ['eu-a', 'eu-b']) {
      const child = spawn(process.execPath, [CLI, 'agent', '--nats', broker.url, '--bastion', 'eu-1', '--agent', name, '--config', join(dir, 'engine.yml')], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { PATH: process.env.PATH ?? '', SSHCHECK_DB: join(dir, `${name}.db`), SSHCHECK_NATS_USER: 'agent-eu-1', SSHCHECK_NATS_PASSWORD_FILE: join(dir, 'eu.pass') },
      });
      let log = '';
      child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      agents.push({ name, child, log: () => log });
    }
    await waitFor('both agents to serve', () => agents.every((a) => a.log().includes('"msg":"serving checks"')));
  });

  after(async () => {
    for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    await broker?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('Discord: both gateways get every interaction; each is acknowledged and answered by exactly one replica', async () => {
    const discord = new FakeDiscord();
    discord.everySession = true;
    await discord.start();
    const env = { DISCORD_TOKEN: discord.token, DISCORD_APPLICATION_ID: discord.applicationId, DISCORD_API_URL: discord.apiUrl };
    const replicas = [startReplica('bot-1', env), startReplica('bot-2', env)];
    try {
      await waitFor('both replicas on the gateway', () => replicas.every((r) => r.lines.some((l) => l.msg === 'discord connected')));
      // Three commands for one target (single flight) and three for targets of their own.
      const shared = await freePort();
      const ports = [shared, shared, shared, await freePort(), await freePort(), await freePort()];
      // From six people: one person's burst is five checks (the gate's per-user limit).
      const sent = ports.map((port, i) => discord.dispatchInteraction({ target: '127.0.0.1', port, userId: `98765432109876543${i}` }));
      const callbacks = (id: string): number => discord.calls.filter((c) => c.method === 'POST' && c.path.startsWith(`/interactions/${id}/`)).length;
      await waitFor('every interaction acknowledged', () => sent.every((s) => discord.interaction(s.id)?.acknowledged === true));
      const ignored = (): number => replicas.reduce((n, r) => n + r.lines.filter((l) => l.msg === 'interaction answered by another replica').length, 0);
      await waitFor('the other replica to let each one go', () => ignored() === sent.length);
      // Each thread's check finishes (a closed port: port-closed) and was run by the agents.
      await waitFor('every check run', () => runsOf(ports[3] ?? 0) + runsOf(ports[4] ?? 0) + runsOf(ports[5] ?? 0) === 3 && runsOf(shared) >= 1, 60_000);
      await new Promise((r) => setTimeout(r, 500));
      for (const s of sent) assert.equal(callbacks(s.id), 1, `interaction ${s.id} acknowledged once`);
      assert.equal(discord.calls.filter((c) => c.status === 400).length, 0, 'no "already acknowledged" (40060) or other refusal');
      assert.equal(runsOf(shared), 1, 'three commands for one target: one run, whichever replicas took them');
    } finally {
      for (const r of replicas) r.stop();
      assert.deepEqual(await Promise.all(replicas.map((r) => r.done)), [0, 0]);
      await discord.stop();
    }
  });

  test('Slack: a command redelivered to the other replica is not answered twice', async () => {
    const slack = await FakeSlack.start();
    const env = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slack.apiUrl };
    const replicas: Replica[] = [];
    const parents = (port: number): number =>
      slack.calls.filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts === undefined && JSON.stringify(c.args).includes(`127.0.0.1:${port}`)).length;
    try {
      replicas.push(startReplica('bot-1', env));
      await slack.whenConnected();
      await waitFor('replica 1 started', () => replicas[0]?.lines.some((l) => l.msg === 'adapter started' && l.adapter === 'slack') === true);
      const first = await freePort();
      const original = slack.sendSlashCommand({ text: `127.0.0.1 ${first}`, channel_id: 'C0123456789' });
      await waitFor('replica 1 answers', () => parents(first) === 1);
      // Replica 2 connects; the fake spreads envelopes over both connections (round robin), so
      // the same command again (its trigger id, a new envelope, as Slack may send after a
      // reconnect) goes to replica 2, then a new command to either.
      replicas.push(startReplica('bot-2', env));
      await waitFor('replica 2 started', () => replicas[1]?.lines.some((l) => l.msg === 'adapter started' && l.adapter === 'slack') === true);
      await slack.whenConnected();
      slack.sendSlashCommand({ text: `127.0.0.1 ${first}`, channel_id: 'C0123456789', trigger_id: original.triggerId });
      const second = await freePort();
      slack.sendSlashCommand({ text: `127.0.0.1 ${second}`, channel_id: 'C0123456789' });
      await waitFor('a replica answers the new command', () => parents(second) === 1);
      await waitFor('replica 2 lets the redelivery go', () => replicas[1]?.lines.some((l) => l.msg === 'request answered by another replica') === true);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(parents(first), 1, 'the redelivered command was answered once');
      assert.equal(runsOf(first), 1);
      assert.equal(parents(second), 1);
    } finally {
      for (const r of replicas) r.stop();
      await Promise.all(replicas.map((r) => r.done));
      await slack.close();
    }
  });

  test('Slack: two replicas on two Socket Mode connections: each command answered once, single flight across them', async () => {
    const slack = await FakeSlack.start();
    const env = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slack.apiUrl };
    const replicas = [startReplica('bot-1', env), startReplica('bot-2', env)];
    const threadsOf = (port: number): Array<{ channel: unknown }> =>
      slack.calls.filter((c) => c.method === 'chat.postMessage' && c.status === 200 && c.args.thread_ts === undefined && JSON.stringify(c.args).includes(`127.0.0.1:${port}`)).map((c) => ({ channel: c.args.channel }));
    try {
      await slack.whenConnected(2);
      await waitFor('both replicas started', () => replicas.every((r) => r.lines.some((l) => l.msg === 'adapter started' && l.adapter === 'slack')));
      // Three commands for one target, in three channels by three people (single flight), and three of their own.
      const shared = await freePort();
      const ports = [shared, shared, shared, await freePort(), await freePort(), await freePort()];
      const sent = ports.map((port, i) => ({ port, channel: `C01234567${i}0`, d: slack.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: `C01234567${i}0`, user_id: `U0REPLICA${i}` }) }));
      assert.deepEqual(new Set(sent.map((s) => s.d.connection)).size, 2, 'the fake spread the commands over both connections, as Slack does');
      await Promise.all(sent.map((s) => s.d.ack));
      await waitFor('every command answered', () => sent.every((s) => threadsOf(s.port).some((t) => t.channel === s.channel)), 60_000);
      await waitFor('every check run', () => runsOf(ports[3] ?? 0) + runsOf(ports[4] ?? 0) + runsOf(ports[5] ?? 0) === 3 && runsOf(shared) >= 1, 60_000);
      await new Promise((r) => setTimeout(r, 500));
      for (const s of sent) {
        assert.equal(slack.acks.filter((a) => a.envelopeId === s.d.envelopeId).length, 1, `command in ${s.channel} acknowledged once`);
        assert.equal(threadsOf(s.port).filter((t) => t.channel === s.channel).length, 1, `command in ${s.channel} answered by one thread`);
      }
      const requested = replicas.map((r) => r.lines.filter((l) => l.msg === 'check requested').length);
      assert.equal(requested[0]! + requested[1]!, sent.length, 'each command taken by one replica');
      assert.ok(requested.every((n) => n > 0), `both replicas answered commands (${requested.join(' + ')})`);
      assert.equal(runsOf(shared), 1, 'three commands for one target through two replicas: one run on the agents');
    } finally {
      for (const r of replicas) r.stop();
      assert.deepEqual(await Promise.all(replicas.map((r) => r.done)), [0, 0]);
      await slack.close();
    }
  });

  test('single flight across replicas: two bot connections asking for one target meet in one run', async () => {
    const settings = natsSettings(broker.url, { SSHCHECK_NATS_USER: 'sshcheck-bot', SSHCHECK_NATS_PASSWORD: passwords.bot }, (p) => readFileSync(p, 'utf8'), 'test replica');
    assert.ok(settings);
    const connections = await Promise.all([openBroker(settings, { wait: false }), openBroker(settings, { wait: false })]);
    const engines = connections.map((nc) => new NatsEngine(nc, { url: broker.url }));
    try {
      await Promise.all(engines.map((e) => e.watchAgents(500)));
      for (let i = 0; i < 4; i++) {
        const port = await freePort();
        const target = parseTarget(`127.0.0.1:${port}`);
        const [a, b] = await Promise.all(engines.map((e) => e.check(target, { via: 'eu-1' })));
        assert.equal(a?.report.id, b?.report.id, 'one report for both replicas');
        assert.equal(runsOf(port), 1, 'one run on the agents');
      }
    } finally {
      for (const e of engines) e.close();
      await Promise.all(connections.map((nc) => nc.close()));
    }
  });

  test('an agent that is only slow (stopped for 6 s, its connection alive) is not taken for dead: no retry, its run finishes', async () => {
    const silent = createServer((socket) => socket.on('error', () => undefined));
    const port = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as AddressInfo).port)));
    const settings = natsSettings(broker.url, { SSHCHECK_NATS_USER: 'sshcheck-bot', SSHCHECK_NATS_PASSWORD: passwords.bot }, (p) => readFileSync(p, 'utf8'), 'test replica');
    assert.ok(settings);
    const nc = await openBroker(settings, { wait: false });
    const engine = new NatsEngine(nc, { url: broker.url });
    const lost: string[] = [];
    engine.onLost = (text) => lost.push(text);
    try {
      await engine.watchAgents(500);
      let stopped: (typeof agents)[number] | undefined;
      const started = Date.now();
      const { report } = await engine.check(parseTarget(`127.0.0.1:${port}`), {
        via: 'eu-1',
        onEvent: (e) => {
          if (e.type !== 'run-started' || stopped) return;
          stopped = agents.find((a) => runsOf(port) > 0 && a.log().includes(`"target":"sshcheck@127.0.0.1:${port}"`));
          assert.ok(stopped, 'an agent logged the run');
          // Frozen, as a starved event loop is: no heartbeat, but its TCP connection stays up.
          stopped.child.kill('SIGSTOP');
          setTimeout(() => stopped?.child.kill('SIGCONT'), 6_000);
        },
      });
      assert.ok(stopped);
      assert.ok(Date.now() - started >= 6_000, 'the report came after the agent was let go again: it was stopped mid-run');
      assert.deepEqual(lost, [], 'not taken for dead');
      assert.equal(runsOf(port), 1, 'no second run on the twin');
      assert.equal(report.vantage.name, 'eu-1');
    } finally {
      engine.close();
      await nc.close();
      silent.close();
    }
  });
});
