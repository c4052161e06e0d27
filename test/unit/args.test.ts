import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCli } from '../../src/cli/args.js';

test('parses the contract options', () => {
  const r = parseCli(['-p', '2222', '-l', 'ops', '--json', 'db-3']);
  assert.equal(r.command, 'check');
  if (r.command !== 'check') return;
  assert.equal(r.target.port, 2222);
  assert.equal(r.target.user, 'ops');
  assert.equal(r.json, true);
  assert.equal(r.waitAll, false);
});

test('reads the vantage from the environment unless given', () => {
  const a = parseCli(['db-3'], { SSHCHECK_VANTAGE: 'bastion-eu-1' });
  const b = parseCli(['--vantage', 'other', 'db-3'], { SSHCHECK_VANTAGE: 'bastion-eu-1' });
  assert.ok(a.command === 'check' && a.vantage === 'bastion-eu-1');
  assert.ok(b.command === 'check' && b.vantage === 'other');
});

test('help and version need no host', () => {
  assert.deepEqual(parseCli(['--help']), { command: 'help' });
  assert.deepEqual(parseCli(['-V']), { command: 'version' });
});

const usage: Array<[string[], RegExp]> = [
  [[], /no host given/],
  [['-oProxyCommand=sh', 'db-3'], /Unknown option '-o'/],
  [['--', '-oProxyCommand=sh'], /starts with "-"/],
  [['db-1', 'db-2', '--wait-all'], /--wait-all is for a single host/],
  [['--budget', '0', 'db-3'], /--budget/],
  [['--budget', '1e3', 'db-3'], /--budget/],
  [['-p', '99999', 'db-3'], /invalid port/],
  [['-l', '$(id)', 'db-3'], /invalid user name/],
  [['--vantage', 'a b', 'db-3'], /invalid vantage/],
  [['--json=yes', 'db-3'], /json/],
];
for (const [argv, message] of usage) {
  test(`usage error for ${JSON.stringify(argv)}`, () => {
    assert.throws(() => parseCli(argv), (err: unknown) => err instanceof Error && message.test(err.message) && (err as { code?: string }).code !== undefined);
  });
}

test('--brief and --events: one output choice, single host only; --brief implies no progress', () => {
  const brief = parseCli(['--brief', 'db-3']);
  assert.ok(brief.command === 'check' && brief.brief === true && brief.quiet === true && brief.json === false);
  const events = parseCli(['--events', 'db-3']);
  assert.ok(events.command === 'check' && events.events === true && events.quiet === false);
  assert.throws(() => parseCli(['--json', '--brief', 'db-3']), /--json and --brief both choose what stdout carries: give one/);
  assert.throws(() => parseCli(['--events', '--json', 'db-3']), /--json and --events both choose/);
  assert.throws(() => parseCli(['--brief', 'db-1', 'db-2']), /--brief is for a single host/);
  assert.throws(() => parseCli(['--events', 'db-[1-3]']), /--events is for a single host/);
});

test('logins with @: -l alice@corp.example is the user; in a target the last @ separates user from host (ssh(1))', () => {
  const a = parseCli(['-l', 'alice@corp.example', 'db-3']);
  assert.ok(a.command === 'check' && a.target.user === 'alice@corp.example' && a.target.host === 'db-3' && a.probeUser === 'alice@corp.example');
  const b = parseCli(['alice@corp.example@db-3:2222']);
  assert.ok(b.command === 'check' && b.target.user === 'alice@corp.example' && b.target.host === 'db-3' && b.target.port === 2222);
  const c = parseCli(['-l', 'alice@corp.example', 'alice@corp.example@db-3']);
  assert.ok(c.command === 'check' && c.target.user === 'alice@corp.example');
  assert.throws(() => parseCli(['-l', 'bob@corp.example', 'alice@corp.example@db-3']), /user given twice/);
  const f = parseCli(['-l', 'alice@corp.example', 'db-1,db-2']);
  assert.ok(f.command === 'fleet');
  for (const bad of ['@corp.example', 'alice@', 'alice@@corp', 'alice@-x', `alice@${'a'.repeat(60)}`, 'alice@corp example']) {
    assert.throws(() => parseCli(['-l', bad, 'db-3']), /invalid user name|whitespace/, bad);
  }
  assert.throws(() => parseCli(['@db-3']), /empty user name/);
});
