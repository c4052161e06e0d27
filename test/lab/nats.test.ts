// Bastion agents meet the bot on NATS, in the lab (shared/design/lab.md). A real nats-server
// with the documented permissions (docs/nats/broker.conf) in its own namespace; two
// segments, eu-1 and us-1, each with two real `sshcheck agent` processes in namespaces of
// their own; the terminal client (`sshcheck --nats`) in a bot namespace. The lab router
// forwards only what the design allows: every agent and the bot may open connections to
// the broker's port, each segment's agents to their own segment's target; nothing may open
// a connection to an agent or the bot, and the bot reaches no target. Proves: checks of
// hosts in each segment answered by that segment's agents with live progress; an agent
// killed mid-run is told within 5 s and the check is retried on its twin; nats-server
// stopped and started → the next check works.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDR, CLI, Lab, labUnavailable } from './lab.js';
import { LabSegments } from './segments.js';
import type { LabProcess, Segment } from './segments.js';
import { natsUnavailable, TestBroker } from '../support/nats-server.js';

const unavailable = labUnavailable() ?? natsUnavailable();
if (unavailable) console.log(`# NATS lab skipped: ${unavailable}`);

const BROKER_CONF = fileURLToPath(new URL('../../../docs/nats/broker.conf', import.meta.url));
/** us-1's host: a second address of the target namespace, where nothing listens on 22. */
const US_TARGET = '10.77.2.130';
/** SYNs to this port of eu-1's host are dropped: a run there lasts long enough to kill its agent. */
const SLOW_PORT = 2201;
const BROKER_PORT = 4222;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Milliseconds after the start at which each stderr line arrived. */
  lines: Array<{ at: number; text: string }>;
}

describe('lab: agents of two segments and a client meet on a real nats-server', { skip: unavailable ?? false }, () => {
  let lab: Lab;
  let segments: LabSegments;
  let broker: TestBroker;
  let net: Record<string, Segment>;
  const agents = new Map<string, LabProcess>();
  // A letter first: nats-server parses a $VARIABLE's value as a config value, and one that starts with a digit as a number.
  const passwords = { bot: `p${randomUUID()}`, eu: `p${randomUUID()}`, us: `p${randomUUID()}` };

  const brokerUrl = (): string => `nats://${net.broker?.address ?? ''}:${BROKER_PORT}`;
  const runCli = (args: string[], onLine?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<CliResult> =>
    new Promise((resolve) => {
      const started = Date.now();
      const child = spawn('ip', ['netns', 'exec', net.bot?.ns ?? '', process.execPath, CLI, '--nats', brokerUrl(), ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env.PATH ?? '', SSHCHECK_DB: join(lab.workDir, 'cli.db'), SSHCHECK_NATS_USER: 'sshcheck-bot', SSHCHECK_NATS_PASSWORD: passwords.bot },
      });
      const result: CliResult = { code: null, stdout: '', stderr: '', lines: [] };
      let partial = '';
      child.stdout.on('data', (d: Buffer) => (result.stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        result.stderr += d.toString();
        partial += d.toString();
        const parts = partial.split('\n');
        partial = parts.pop() ?? '';
        for (const text of parts) {
          result.lines.push({ at: Date.now() - started, text });
          onLine?.(text, child);
        }
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        result.code = code;
        resolve(result);
      });
    });
  const runsOf = (name: string): number => (agents.get(name)?.stderr().match(/"msg":"run started"/g) ?? []).length;

  before(async () => {
    lab = await Lab.create();
    try {
      const built = await LabSegments.add(lab, { broker: 3, bot: 4, eua: 5, eub: 6, usa: 7, usb: 8 });
      segments = built.segments;
      net = built.added;
      await lab.startSshd();
      await lab.exec(lab.target, 'ip', ['addr', 'add', `${US_TARGET}/24`, 'dev', 't0']);
      await lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', String(SLOW_PORT), '-j', 'DROP');
      // The router: replies flow; new connections only to the broker, and from each
      // segment's agents to their own segment's host. Nothing connects to an agent or the bot.
      const r = lab.router;
      await lab.iptables(r, '-P', 'FORWARD', 'DROP');
      await lab.iptables(r, '-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
      for (const name of ['bot', 'eua', 'eub', 'usa', 'usb']) {
        await lab.iptables(r, '-A', 'FORWARD', '-s', net[name]?.address ?? '', '-d', net.broker?.address ?? '', '-p', 'tcp', '--dport', String(BROKER_PORT), '-j', 'ACCEPT');
      }
      for (const [name, host] of [['eua', ADDR.target], ['eub', ADDR.target], ['usa', US_TARGET], ['usb', US_TARGET]] as const) {
        await lab.iptables(r, '-A', 'FORWARD', '-s', net[name]?.address ?? '', '-d', host, '-j', 'ACCEPT');
      }
      const config = readFileSync(BROKER_CONF, 'utf8').replace('/var/lib/nats/jetstream', join(lab.workDir, 'js'));
      broker = await TestBroker.start({
        host: net.broker?.address ?? '',
        port: BROKER_PORT,
        netns: net.broker?.ns ?? '',
        config,
        env: { SSHCHECK_BOT_PASSWORD: passwords.bot, SSHCHECK_AGENT_EU_1_PASSWORD: passwords.eu, SSHCHECK_AGENT_US_1_PASSWORD: passwords.us },
      });
      // Each bastion covers its own segment's host (what the agents declare).
      writeFileSync(join(lab.workDir, 'eu-1.yml'), `policy:\n  allow: [${ADDR.target}/32]\n`);
      writeFileSync(join(lab.workDir, 'us-1.yml'), `policy:\n  allow: [${US_TARGET}/32]\n`);
      for (const [name, bastion, password] of [['eua', 'eu-1', passwords.eu], ['eub', 'eu-1', passwords.eu], ['usa', 'us-1', passwords.us], ['usb', 'us-1', passwords.us]] as const) {
        const passFile = join(lab.workDir, `${name}.pass`);
        writeFileSync(passFile, `${password}\n`, { mode: 0o600 });
        const proc = await segments.start(net[name]?.ns ?? '', process.execPath, [CLI, 'agent', '--nats', brokerUrl(), '--bastion', bastion, '--agent', name, '--config', join(lab.workDir, `${bastion}.yml`)], {
          ready: /"msg":"serving checks"/,
          env: { SSHCHECK_NATS_USER: `agent-${bastion}`, SSHCHECK_NATS_PASSWORD_FILE: passFile },
        });
        agents.set(name, proc);
      }
    } catch (err) {
      await broker?.destroy();
      await segments?.destroy();
      await lab.destroy();
      throw err;
    }
  });

  after(async () => {
    await broker?.destroy();
    await segments?.destroy();
    await lab?.destroy();
  });

  test('the bot namespace reaches the broker but no target and no agent', async () => {
    const bot = net.bot?.ns ?? '';
    assert.equal((await lab.exec(bot, 'nc', ['-z', '-w', '1', ADDR.target, '22'], { allowFail: true })).code !== 0, true, 'the bot reached a target');
    assert.equal((await lab.exec(bot, 'nc', ['-z', '-w', '1', net.eua?.address ?? '', '22'], { allowFail: true })).code !== 0, true, 'the bot reached an agent');
    assert.equal((await lab.exec(bot, 'nc', ['-z', '-w', '2', net.broker?.address ?? '', String(BROKER_PORT)])).code, 0);
  });

  test("each segment's host is checked by that segment's agents, routed by what they declare, with live progress", async () => {
    const before = { eu: runsOf('eua') + runsOf('eub'), us: runsOf('usa') + runsOf('usb') };
    const eu = await runCli(['--json', ADDR.target]);
    assert.equal(eu.code, 0, eu.stderr);
    const euReport = JSON.parse(eu.stdout) as { vantage: { name: string }; diagnosis: { cause: string } };
    assert.equal(euReport.vantage.name, 'eu-1');
    assert.equal(euReport.diagnosis.cause, 'healthy');
    const us = await runCli(['--json', US_TARGET]);
    assert.equal(us.code, 1, us.stderr);
    const usReport = JSON.parse(us.stdout) as { vantage: { name: string }; diagnosis: { cause: string } };
    assert.equal(usReport.vantage.name, 'us-1');
    assert.equal(usReport.diagnosis.cause, 'port-closed');
    assert.equal(runsOf('eua') + runsOf('eub'), before.eu + 1);
    assert.equal(runsOf('usa') + runsOf('usb'), before.us + 1);
    // Live: the progress lines arrived over the run, not all at once with the report. Only the
    // healthy run spans long enough to tell (its pings alone take 0.4 s); a TCP reset settles in
    // a few ms, so its lines may all arrive together without anything being held back.
    for (const run of [eu]) {
      const progress = run.lines.filter((l) => /^\[.*\] (checking|step|diagnosis)/.test(l.text));
      assert.ok(progress.length >= 10, run.stderr);
      const spread = (progress.at(-1)?.at ?? 0) - (progress[0]?.at ?? 0);
      assert.ok(spread > 100, `progress lines spread over ${spread} ms`);
    }
  });

  test('an agent killed mid-run: the client is told within 5 s and the check is retried on its twin', async () => {
    const counts = { eua: runsOf('eua'), eub: runsOf('eub') };
    let victim: string | undefined;
    let killedAt = 0;
    const result = await runCli(['--json', '--via', 'eu-1', '-p', String(SLOW_PORT), ADDR.target], (text) => {
      if (victim || !/checking .* from eu-1/.test(text)) return;
      victim = runsOf('eua') > counts.eua ? 'eua' : runsOf('eub') > counts.eub ? 'eub' : undefined;
      assert.ok(victim, 'an agent of eu-1 started the run');
      killedAt = Date.now();
      agents.get(victim)?.child.kill('SIGKILL');
    });
    assert.ok(victim);
    const twin = victim === 'eua' ? 'eub' : 'eua';
    const notice = result.lines.find((l) => l.text.includes(`agent ${victim} went silent`));
    assert.ok(notice, result.stderr);
    assert.match(notice.text, /sending the check to another agent/);
    const start = result.lines.find((l) => /checking .* from eu-1/.test(l.text));
    const told = notice.at - (start?.at ?? 0);
    assert.ok(told < 5_000, `told ${told} ms after the kill (${Date.now() - killedAt} ms ago now)`);
    assert.equal(runsOf(twin), counts[twin] + 1, 'the twin ran the check');
    assert.equal(result.code, 1, result.stderr);
    const report = JSON.parse(result.stdout) as { vantage: { name: string }; diagnosis: { cause: string } };
    assert.equal(report.vantage.name, 'eu-1');
    assert.equal(report.diagnosis.cause, 'port-filtered');
  });

  test('nats-server stopped and started: the agents reconnect by themselves and the next check works', async () => {
    const live = [...agents.entries()].filter(([, p]) => p.child.exitCode === null && p.child.signalCode === null);
    const restored = new Map(live.map(([name, p]) => [name, (p.stderr().match(/broker connection restored/g) ?? []).length]));
    await broker.stop();
    const down = await runCli(['--json', '--via', 'us-1', US_TARGET]);
    assert.equal(down.code, 3, down.stderr);
    assert.match(down.stderr, new RegExp(`the broker at ${brokerUrl().replace(/\./g, '\\.')} is unreachable`));
    await broker.start();
    const end = Date.now() + 20_000;
    while (live.some(([name, p]) => (p.stderr().match(/broker connection restored/g) ?? []).length <= (restored.get(name) ?? 0)) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const [name, p] of live) assert.ok((p.stderr().match(/broker connection restored/g) ?? []).length > (restored.get(name) ?? 0), `${name} reconnected`);
    const us = await runCli(['--json', US_TARGET]);
    assert.equal(us.code, 1, us.stderr);
    assert.equal((JSON.parse(us.stdout) as { vantage: { name: string } }).vantage.name, 'us-1');
  });
});
