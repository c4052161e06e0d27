// The pure parts of the NATS path: subjects, the agents' messages, declarations, routing by
// declared coverage, and broker settings from the environment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget } from '../../src/target.js';
import { loadRoutingConfig } from '../../src/chat/routing-config.js';
import { claimKey } from '../../src/nats/claims.js';
import { AgentDirectory, coverageOf, preferredAgent } from '../../src/nats/directory.js';
import { natsSettings, NatsConfigError, parseNatsUrl } from '../../src/nats/options.js';
import { checkSubject, encodeDeclaration, MAX_BATCH_EVENTS, parseAgentMessage, parseDeclaration, ProtocolError } from '../../src/nats/protocol.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { AGENT_USAGE, parseAgentArgs } from '../../src/cli/agent.js';
import { parseCli } from '../../src/cli/args.js';
import { RoutedNatsEngine } from '../../src/nats/bot-engine.js';
import type { Report } from '../../src/engine/report.js';

const bytes = (value: unknown): Uint8Array => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

test('subjects carry the bastion (and the agent for a retry on a twin)', () => {
  assert.equal(checkSubject('eu-1'), 'sshcheck.check.eu-1');
  assert.equal(checkSubject('eu-1', 'b2'), 'sshcheck.check.eu-1.b2');
});

test("agents' messages: every form parses; anything else is a protocol error", () => {
  assert.deepEqual(parseAgentMessage(bytes({ t: 'accepted', agent: 'a', bastion: 'eu-1', outcome: 'reused', ageMs: 1200 })), { t: 'accepted', agent: 'a', bastion: 'eu-1', outcome: 'reused', ageMs: 1200 });
  assert.deepEqual(parseAgentMessage(bytes({ t: 'heartbeat', agent: 'a' })), { t: 'heartbeat', agent: 'a' });
  assert.equal(parseAgentMessage(bytes({ t: 'refused', code: 'policy', message: 'x'.repeat(900) })).t, 'refused');
  assert.equal((parseAgentMessage(bytes({ t: 'failed', message: 'boom', code: 'E_ENGINE' })) as { code?: string }).code, 'E_ENGINE');
  for (const bad of ['not json', '[]', { t: 'event', seq: 0, event: { type: 'run-started' } }, { t: 'event', seq: 1, event: { type: 'run-finished' } }, { t: 'event', seq: 1, event: { type: 'mention' } }, { t: 'accepted', agent: 'a', bastion: 'b', outcome: 'stolen' }, { t: 'accepted', agent: '<!channel>', bastion: 'b', outcome: 'started' }, { t: 'heartbeat', agent: 'a.b' }, { t: 'refused', code: 'other', message: '' }, { t: 'shell' }]) {
    assert.throws(() => parseAgentMessage(bytes(bad)), ProtocolError, JSON.stringify(bad));
  }
});

test("a batch of events parses as the events in order; a batch with any bad event, none, or too many is refused whole", () => {
  const started = { type: 'run-started', id: 'r', target: {}, vantage: { name: 'eu-1' }, startedAt: 'x', elapsedMs: 0 };
  const step = { type: 'step-updated', step: { id: 'dns', status: 'running' }, elapsedMs: 0 };
  assert.deepEqual(parseAgentMessage(bytes({ t: 'events', seq: 1, events: [started, step] })), { t: 'events', seq: 1, events: [started, step] });
  for (const bad of [
    { t: 'events', seq: 0, events: [started] },
    { t: 'events', seq: 1.5, events: [started] },
    { t: 'events', seq: 1, events: [] },
    { t: 'events', seq: 1, events: {} },
    { t: 'events', seq: 1, events: [started, { type: 'mention' }] },
    { t: 'events', seq: 1, events: [step, { type: 'run-finished' }] },
    { t: 'events', seq: 1, events: [step, null] },
    { t: 'events', seq: 1, events: Array.from({ length: MAX_BATCH_EVENTS + 1 }, () => step) },
  ]) {
    assert.throws(() => parseAgentMessage(bytes(bad)), ProtocolError, JSON.stringify(bad).slice(0, 120));
  }
});

test('declarations round-trip; a malformed one is refused', () => {
  const d = { bastion: 'eu-1', agent: 'host-1', cidrs: ['10.1.0.0/16'], suffixes: ['eu.example.com'], up: true };
  assert.deepEqual(parseDeclaration(bytes(encodeDeclaration(d))), d);
  assert.throws(() => parseDeclaration(bytes({ ...d, v: 'sshcheck/nats@1', bastion: 'EU 1' })), ProtocolError);
  assert.throws(() => parseDeclaration(bytes({ ...d })), /another protocol/);
});

test("an agent's coverage is its engine config's own allow entries, not the built-in private ranges", () => {
  const config = parseEngineConfig('policy:\n  allow: [10.1.0.0/16, eu.example.com]\n  deny: [10.1.9.0/24]\n');
  assert.deepEqual(coverageOf(config.policy), { cidrs: ['10.1.0.0/16'], suffixes: ['eu.example.com'] });
  assert.deepEqual(coverageOf(undefined), { cidrs: [], suffixes: [] });
});

test('routing: via, then the static rules of the bot config, then declared coverage (most specific), then the default', () => {
  let now = 0;
  const dir = new AgentDirectory(() => now, 15_000);
  dir.update({ bastion: 'eu-1', agent: 'a', cidrs: ['10.1.0.0/16'], suffixes: ['eu.example.com'], up: true });
  dir.update({ bastion: 'eu-2', agent: 'b', cidrs: ['10.1.2.0/24'], suffixes: [], up: true });
  const routing = loadRoutingConfig('bastions:\n  - name: us-1\nrules:\n  - cidr: 10.1.3.0/24\n    bastion: us-1\n', 'sshcheck.yml');
  const routes = { bastions: routing.bastions.map((b) => b.name), rules: routing.rules };
  assert.deepEqual(dir.route(routes, parseTarget('10.1.3.4')), { bastion: 'us-1', reason: 'cidr 10.1.3.0/24' });
  assert.deepEqual(dir.route(routes, parseTarget('10.1.2.4')), { bastion: 'eu-2', reason: 'declared cidr 10.1.2.0/24' });
  assert.deepEqual(dir.route(routes, parseTarget('10.1.7.4')), { bastion: 'eu-1', reason: 'declared cidr 10.1.0.0/16' });
  assert.deepEqual(dir.route(routes, parseTarget('db-3.eu.example.com')), { bastion: 'eu-1', reason: 'declared suffix eu.example.com' });
  assert.deepEqual(dir.route(routes, parseTarget('10.1.2.4'), 'US-1'), { bastion: 'us-1', reason: 'via' });
  assert.throws(() => dir.route(routes, parseTarget('192.168.1.1')), /no bastion covers 192\.168\.1\.1: .*eu-1, eu-2, us-1/);
  assert.deepEqual(dir.route({ ...routes, default: 'us-1' }, parseTarget('192.168.1.1')), { bastion: 'us-1', reason: 'default' });
  // An agent that stops, or is not heard for the TTL, no longer routes anything.
  dir.update({ bastion: 'eu-2', agent: 'b', cidrs: [], suffixes: [], up: false });
  assert.deepEqual(dir.route(routes, parseTarget('10.1.2.4')).bastion, 'eu-1');
  now = 20_000;
  assert.deepEqual(dir.bastions(), []);
  assert.throws(() => dir.route(routes, parseTarget('10.1.7.4')), /no bastion covers/);
});

test('broker settings: URL checked, credentials only from the environment or files, secrets listed for scrubbing', () => {
  assert.equal(parseNatsUrl('broker.example.com:4222'), 'nats://broker.example.com:4222');
  assert.equal(parseNatsUrl('tls://broker.example.com'), 'tls://broker.example.com');
  assert.throws(() => parseNatsUrl('nats://bot:secret@broker:4222'), /must not carry credentials/);
  assert.throws(() => parseNatsUrl('http://broker:4222'), /nats:\/\/ or tls:\/\//);
  assert.equal(natsSettings(undefined, {}, () => '', 'x'), undefined);
  const files: Record<string, string> = { '/p': '# rotated 2026-12\ns3cret-pass\n', '/c': 'not creds' };
  const read = (p: string): string => {
    const v = files[p];
    if (v === undefined) throw new Error('ENOENT');
    return v;
  };
  const s = natsSettings(undefined, { SSHCHECK_NATS_URL: 'nats://b:4222', SSHCHECK_NATS_USER: 'bot', SSHCHECK_NATS_PASSWORD_FILE: '/p' }, read, 'bot');
  assert.equal(s?.url, 'nats://b:4222');
  assert.deepEqual(s?.secrets, ['s3cret-pass']);
  assert.equal(s?.options.maxReconnectAttempts, -1);
  assert.throws(() => natsSettings('nats://b', { SSHCHECK_NATS_CREDS: '/c' }, read, 'x'), /not a NATS creds file/);
  assert.throws(() => natsSettings('nats://b', { SSHCHECK_NATS_USER: 'bot' }, read, 'x'), /needs SSHCHECK_NATS_PASSWORD/);
  assert.throws(() => natsSettings('nats://b', { SSHCHECK_NATS_USER: 'bot', SSHCHECK_NATS_PASSWORD: 'x', SSHCHECK_NATS_TOKEN: 't' }, read, 'x'), NatsConfigError);
  assert.throws(() => natsSettings('nats://b', { SSHCHECK_NATS_CA: '/missing' }, read, 'x'), /SSHCHECK_NATS_CA: cannot read \/missing/);
});

test('the agent and CLI grammar: --nats named in the usage, no credentials on the command line, --via needs a broker', () => {
  assert.match(AGENT_USAGE, /^Usage: sshcheck agent --nats <url> --bastion <name>/);
  assert.equal(parseAgentArgs(['--help'], {}, () => ''), 'help');
  const args = parseAgentArgs(['--nats', 'nats://b:4222', '--bastion', 'eu-1', '--agent', 'host-1'], {}, () => '');
  assert.ok(args !== 'help');
  assert.equal(args.bastion, 'eu-1');
  assert.equal(args.nats.url, 'nats://b:4222');
  assert.throws(() => parseAgentArgs(['--bastion', 'eu-1'], {}, () => ''), /no broker: give --nats/);
  assert.throws(() => parseAgentArgs(['--nats', 'nats://b', '--bastion', 'EU 1'], {}, () => ''), /invalid --bastion/);
  assert.throws(() => parseAgentArgs(['--nats', 'nats://b', '--bastion', 'eu-1', '--password', 'x'], {}, () => ''), /Unknown option '--password'/);
  assert.throws(() => parseAgentArgs(['--nats', 'nats://b', '--bastion', 'eu-1', 'db-3'], {}, () => ''), /takes no host/);
  assert.throws(() => parseCli(['--via', 'eu-1', 'db-3'], {}), /--via <bastion> asks a bastion through the broker/);
  const request = parseCli(['--via', 'eu-1', 'db-3'], { SSHCHECK_NATS_URL: 'nats://b:4222' });
  assert.ok(request.command === 'check' && request.via === 'eu-1');
  assert.throws(() => parseCli(['--nats', 'nats://b', 'db-1', 'db-2'], {}), /--nats and --via check one host/);
});

test("the bot's NATS engine: via accepted (bastions exposed), single flight per bastion, not across bastions", async () => {
  const calls: string[] = [];
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const dir = new AgentDirectory();
  dir.update({ bastion: 'eu-1', agent: 'a', cidrs: ['10.1.0.0/16'], suffixes: [], up: true });
  dir.update({ bastion: 'us-1', agent: 'b', cidrs: [], suffixes: [], up: true });
  const fake = {
    get bastions() {
      return dir.bastions();
    },
    route: (target: Parameters<AgentDirectory['route']>[1], via?: string) => dir.route({ bastions: [], rules: [] }, target, via),
    check: async (target: ReturnType<typeof parseTarget>, options: { via?: string } = {}) => {
      calls.push(`${target.host} via ${options.via ?? '-'}`);
      await gate;
      return { report: { vantage: { name: options.via } } as unknown as Report };
    },
  };
  const engine = new RoutedNatsEngine(fake, 10_000);
  assert.deepEqual(engine.bastions, ['eu-1', 'us-1']);
  const target = parseTarget('10.1.2.3');
  const all = Promise.all([engine.check(target), engine.check(target), engine.check(target, { via: 'us-1' })]);
  release();
  const results = await all;
  assert.deepEqual(calls, ['10.1.2.3 via eu-1', '10.1.2.3 via us-1']);
  assert.deepEqual(results.map((r) => r.report.vantage.name), ['eu-1', 'eu-1', 'us-1']);
});

test('preferredAgent: every replica picks the same agent for a target; targets spread; a leaving agent moves only its own', () => {
  const agents = ['eu-a', 'eu-b', 'eu-c'];
  const keys = Array.from({ length: 300 }, (_, i) => `sshcheck@10.0.0.${i % 250}:${22 + Math.floor(i / 250)}`);
  const picks = keys.map((k) => preferredAgent(agents, k));
  assert.deepEqual(keys.map((k) => preferredAgent([...agents].reverse(), k)), picks, 'the order agents are known in does not matter');
  for (const a of agents) assert.ok(picks.filter((p) => p === a).length > 50, `${a} gets a share`);
  const without = keys.map((k) => preferredAgent(['eu-a', 'eu-c'], k));
  keys.forEach((_, i) => picks[i] !== 'eu-b' && assert.equal(without[i], picks[i], 'only eu-b\'s targets move'));
  assert.equal(preferredAgent([], 'x'), undefined);
});

test('claimKey: request ids become KV keys (no dots, spaces or wildcards)', () => {
  assert.equal(claimKey('discord:1234567890123456789'), 'discord_1234567890123456789');
  assert.equal(claimKey('slack:trigger:13345224609.738474920.8088930838d88f008e0'), 'slack_trigger_13345224609_738474920_8088930838d88f008e0');
  assert.equal(claimKey('a.*>b c'), 'a___b_c');
  assert.equal(claimKey(''), '_');
});
