// The target policy: every built-in range, precedence (most specific wins, deny wins a tie),
// domain suffixes, IPv6 and IPv4-mapped addresses, the messages, and the policy: section of
// the engine config with its line-numbered errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { parseTarget } from '../../src/target.js';
import { SshcheckError } from '../../src/errors.js';
import { parseEntry } from '../../src/policy/entries.js';
import { canonicalIp, parseCidrBlock, parseIp } from '../../src/policy/ip.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';
import { checkAddresses, checkTyped, defaultPolicy, isPolicyError, judgeAddress, judgeName, PolicyError } from '../../src/policy/target-policy.js';

const policy = defaultPolicy();

function withConfig(yaml: string): TargetPolicy {
  const config = parseEngineConfig(yaml, 'engine.yml');
  assert.ok(config.policy, 'a policy section');
  return config.policy;
}

/** [address, allowed, what the deciding rule says (for denials)]. */
const DEFAULTS: Array<[string, boolean, RegExp?]> = [
  ['10.0.0.1', true],
  ['10.255.255.255', true],
  ['172.16.0.1', true],
  ['172.31.255.254', true],
  ['172.32.0.1', false, /outside every range the policy allows/],
  ['192.168.1.10', true],
  ['100.64.0.1', true],
  ['100.127.255.254', true],
  ['100.128.0.1', false, /outside every range/],
  ['100.100.100.200', false, /cloud instance metadata \(Alibaba Cloud\)/],
  ['127.0.0.1', false, /loopback.*built-in rule deny 127\.0\.0\.0\/8/],
  ['127.1.2.3', false, /loopback/],
  ['169.254.169.254', false, /cloud instance metadata \(built-in rule deny 169\.254\.169\.254\/32\)/],
  ['169.254.10.1', false, /link-local \(built-in rule deny 169\.254\.0\.0\/16\)/],
  ['224.0.0.1', false, /multicast/],
  ['239.255.255.250', false, /multicast/],
  ['255.255.255.255', false, /broadcast/],
  ['0.0.0.0', false, /unspecified/],
  ['0.1.2.3', false, /unspecified/],
  ['8.8.8.8', false, /outside every range the policy allows \(10\.0\.0\.0\/8, 172\.16\.0\.0\/12/],
  ['203.0.113.7', false, /outside every range/],
  ['240.0.0.1', false, /outside every range/],
  ['fc00::1', true],
  ['fd12:3456::1', true],
  ['fd00:ec2::254', false, /cloud instance metadata \(AWS, IPv6\)/],
  ['::1', false, /loopback.*::1\/128/],
  ['::', false, /unspecified/],
  ['fe80::1', false, /link-local/],
  ['fe80::1%eth0', false, /link-local/],
  ['febf::1', false, /link-local/],
  ['ff02::1', false, /multicast/],
  ['2001:db8::1', false, /outside every range/],
  ['::ffff:127.0.0.1', false, /loopback/],
  ['::ffff:169.254.169.254', false, /cloud instance metadata/],
  ['::ffff:10.1.2.3', true],
  ['::ffff:7f00:1', false, /loopback/],
  ['not-an-address', false, /not an IP address/],
];

for (const [address, allowed, why] of DEFAULTS) {
  test(`default policy: ${address} is ${allowed ? 'allowed' : 'denied'}`, () => {
    const verdict = judgeAddress(policy, address);
    assert.equal(verdict.allowed, allowed);
    if (!verdict.allowed && why) assert.match(verdict.why, why);
  });
}

test('addresses: IPv4-mapped IPv6 is judged and shown as IPv4; zones are dropped', () => {
  assert.deepEqual(parseIp('::ffff:10.0.0.5'), { family: 4, value: 0x0a000005n });
  assert.equal(canonicalIp('::FFFF:7F00:1'), '127.0.0.1');
  assert.equal(canonicalIp('FE80::1%eth0'), 'fe80::1');
  assert.equal(parseIp('10.0.0.256'), undefined);
  assert.deepEqual(parseCidrBlock('10.0.0.5/8'), { error: 'has host bits set: did you mean 10.0.0.0/8?' });
  assert.deepEqual(parseCidrBlock('10.0.0.0/33'), { error: 'is not a CIDR: the prefix length must be 0-32 for IPv4' });
  assert.equal((parseCidrBlock('10.0.0.5') as { text: string }).text, '10.0.0.5/32');
  assert.equal((parseCidrBlock('2001:DB8::/32') as { text: string }).text, '2001:db8::/32');
});

test('precedence: the most specific entry wins, a deny wins a tie', () => {
  const p = withConfig(
    [
      'policy:',
      '  allow:',
      '    - 203.0.113.0/24', // widens: a public range
      '    - 10.9.8.0/24', // re-allows inside the deny below
      '    - 127.0.0.1', // a /32 beats the built-in 127/8
      '    - 169.254.169.254/32', // a tie with the built-in deny: still denied
      '    - 10.20.0.0/16', // a tie with the deny below: denied
      '  deny:',
      '    - 10.9.0.0/16', // narrows the built-in 10/8
      '    - 10.20.0.0/16',
    ].join('\n'),
  );
  const cases: Array<[string, boolean]> = [
    ['203.0.113.9', true],
    ['198.51.100.1', false],
    ['10.1.2.3', true],
    ['10.9.1.1', false],
    ['10.9.8.7', true],
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['169.254.169.254', false],
    ['10.20.1.1', false],
  ];
  for (const [address, allowed] of cases) assert.equal(judgeAddress(p, address).allowed, allowed, address);
  const denied = judgeAddress(p, '10.9.1.1');
  assert.ok(!denied.allowed);
  assert.match(denied.why, /^policy\.deny\[0\] \(engine\.yml:9\) denies 10\.9\.0\.0\/16$/);
});

test('defaults: false leaves only the configured entries (a lab that probes loopback)', () => {
  const p = withConfig('policy:\n  defaults: false\n  allow: [127.0.0.0/8, "::1"]\n');
  assert.equal(judgeAddress(p, '127.0.0.1').allowed, true);
  assert.equal(judgeAddress(p, '::1').allowed, true);
  assert.equal(judgeAddress(p, '10.0.0.1').allowed, false);
  const none = withConfig('policy:\n  defaults: false\n');
  const verdict = judgeAddress(none, '10.0.0.1');
  assert.ok(!verdict.allowed);
  assert.match(verdict.why, /\(it allows none\)/);
});

test('domain suffixes: a name matches its domain and every name under it; longest wins; deny wins a tie', () => {
  const p = withConfig('policy:\n  allow: [corp.example, "*.lab.test", .eu.example]\n  deny: [vault.corp.example, secret.lab.test]\n');
  const cases: Array<[string, boolean]> = [
    ['db-3.corp.example', true],
    ['corp.example', true],
    ['DB-3.Corp.Example.', true],
    ['evilcorp.example', false],
    ['corp.example.evil.test', false],
    ['vault.corp.example', false],
    ['a.vault.corp.example', false],
    ['db-3.lab.test', true],
    ['secret.lab.test', false],
    ['db.eu.example', true],
    ['db-3', false],
  ];
  for (const [name, allowed] of cases) assert.equal(judgeName(p, name).allowed, allowed, name);
  const notAllowed = judgeName(p, 'db-3');
  assert.ok(!notAllowed.allowed);
  assert.match(notAllowed.why, /not under a domain the policy allows \(corp\.example, lab\.test, eu\.example\)/);
  const tie = withConfig('policy:\n  allow: [corp.example]\n  deny: [corp.example]\n');
  assert.equal(judgeName(tie, 'db.corp.example').allowed, false);
  // Without any allowed suffix, names are not fenced by name: their addresses decide.
  assert.equal(judgeName(policy, 'anything.example').allowed, true);
  const denyOnly = withConfig('policy:\n  deny: [internal.example]\n');
  assert.equal(judgeName(denyOnly, 'db.internal.example').allowed, false);
  assert.equal(judgeName(denyOnly, 'db.other.example').allowed, true);
});

test('checkTyped: literals as addresses, names by suffix; messages name the address, the rule and that nothing was probed', () => {
  assert.equal(checkTyped(policy, parseTarget('10.0.0.5')), undefined);
  assert.equal(checkTyped(policy, parseTarget('db-3')), undefined);
  const metadata = checkTyped(policy, parseTarget('169.254.169.254:22'));
  assert.ok(metadata);
  assert.equal(metadata.address, '169.254.169.254');
  assert.equal(metadata.rule, 'built-in rule deny 169.254.169.254/32');
  assert.equal(
    metadata.message,
    'The target policy refuses the address 169.254.169.254: cloud instance metadata (built-in rule deny 169.254.169.254/32). Nothing was probed. If it should be checked, an admin can allow it under policy: in the engine config (docs/security.md).',
  );
  const mapped = checkTyped(policy, parseTarget('[::ffff:127.0.0.1]'));
  assert.match(mapped?.message ?? '', /^The target policy refuses the address 127\.0\.0\.1 \(::ffff:127\.0\.0\.1\): loopback/);
  const p = withConfig('policy:\n  deny: [vault.corp.example]\n');
  const name = checkTyped(p, parseTarget('ops@vault.corp.example:2222'));
  assert.equal(name?.name, 'vault.corp.example');
  assert.match(name?.message ?? '', /^The target policy refuses the name vault\.corp\.example: policy\.deny\[\d+\] \(engine\.yml:\d+\) denies names under vault\.corp\.example\. Nothing was probed/);
});

test('checkAddresses: every resolved address must be allowed; the first refused one is named, all are kept for the audit log', () => {
  const target = parseTarget('db-3.lab.test');
  assert.equal(checkAddresses(policy, target, ['10.77.2.2', 'fd00::5']), undefined);
  const denial = checkAddresses(policy, target, ['10.77.2.2', '127.0.0.1', '10.77.2.2', '169.254.169.254']);
  assert.ok(denial);
  assert.equal(denial.address, '127.0.0.1');
  assert.deepEqual(denial.addresses, ['10.77.2.2', '127.0.0.1', '169.254.169.254']);
  assert.match(denial.message, /^The target policy refuses db-3\.lab\.test, which resolves to 127\.0\.0\.1: loopback, the bastion itself \(built-in rule deny 127\.0\.0\.0\/8\)\. Nothing was probed/);
  // No address at all (NXDOMAIN): nothing to refuse; nothing will be probed either.
  assert.equal(checkAddresses(policy, target, []), undefined);
  const err = new PolicyError(denial);
  assert.ok(err instanceof SshcheckError);
  assert.equal(err.code, 'E_POLICY');
  assert.ok(isPolicyError(err));
  assert.ok(isPolicyError(new SshcheckError('E_POLICY', 'remote')));
  assert.ok(!isPolicyError(new SshcheckError('E_USAGE', 'x')));
});

test('policy entries: CIDRs, addresses and suffixes; what is neither is refused with what is accepted', () => {
  assert.equal((parseEntry('10.0.0.0/8', 'allow', 'x') as { kind: string }).kind, 'cidr');
  assert.equal((parseEntry('2001:db8::1', 'deny', 'x') as { kind: string }).kind, 'cidr');
  assert.equal((parseEntry('*.Corp.Example.', 'allow', 'x') as { suffix: string }).suffix, 'corp.example');
  assert.match((parseEntry('foo bar', 'allow', 'x') as { error: string }).error, /is neither a CIDR .* nor a domain suffix/);
  assert.match((parseEntry('10.0.0', 'allow', 'x') as { error: string }).error, /incomplete IP address/);
  assert.match((parseEntry('db.*.example', 'allow', 'x') as { error: string }).error, /neither a CIDR/);
});

const CONFIG_ERRORS: Array<[string, string, RegExp]> = [
  ['host bits set', 'policy:\n  allow:\n    - 10.1.0.0/16\n    - 10.0.0.5/8\n', /^engine\.yml:4: policy\.allow\[1\]: "10\.0\.0\.5\/8" has host bits set: did you mean 10\.0\.0\.0\/8\?$/],
  ['prefix too long', 'policy:\n  deny: [10.0.0.0/33]\n', /^engine\.yml:2: policy\.deny\[0\]: "10\.0\.0\.0\/33" is not a CIDR: the prefix length must be 0-32 for IPv4$/],
  ['bad IPv6', 'policy:\n  deny:\n    - "fe80::zz/10"\n', /^engine\.yml:3: policy\.deny\[0\]: "fe80::zz\/10" is not a CIDR: the address part is not an IPv4 or IPv6 address$/],
  ['unknown field', 'policy:\n  alow: [10.0.0.0/8]\n', /^engine\.yml:2: policy\.alow: unknown field \(expected defaults, allow, deny, cli\)$/],
  ['defaults not a boolean', 'policy:\n  defaults: "yes please"\n', /^engine\.yml:2: policy\.defaults: must be true or false$/],
  ['cli not a boolean', 'policy:\n  cli: 1\n', /^engine\.yml:2: policy\.cli: must be true or false$/],
  ['not a mapping', 'policy: [10.0.0.0/8]\n', /^engine\.yml:1: policy: must be a mapping with defaults, allow, deny, cli$/],
  ['a list item that is a mapping', 'policy:\n  allow:\n    - cidr: 10.0.0.0/8\n', /^engine\.yml:3: policy\.allow\[0\]: must be a non-empty string$/],
  ['neither CIDR nor suffix', 'diagnostics: []\npolicy:\n  allow:\n    - "corp example"\n', /^engine\.yml:4: policy\.allow\[0\]: "corp example" is neither a CIDR/],
  ['unknown top-level field', 'polcy: {}\n', /^engine\.yml:1: polcy: unknown field \(expected diagnostics, groups, policy, store, probe_user, connection_budget, known_hosts or fleet\)$/],
];

for (const [what, yaml, message] of CONFIG_ERRORS) {
  test(`policy config error, ${what}: line and field`, () => {
    assert.throws(
      () => parseEngineConfig(yaml, 'engine.yml'),
      (err: unknown) => {
        assert.ok(err instanceof SshcheckError);
        assert.equal(err.code, 'E_USAGE');
        assert.match(err.message, message);
        return true;
      },
    );
  });
}

test('policy config: an empty policy: is the defaults; cli: true fences the CLI; the store section parses', () => {
  const config = parseEngineConfig('policy:\nstore:\n  path: /var/lib/sshcheck/x.db\n  retention_days: 30\n  healthy_window_minutes: 15\n', 'engine.yml');
  assert.equal(config.policy?.cli, false);
  assert.equal(config.policy?.entries.length, defaultPolicy().entries.length);
  assert.deepEqual(config.store, { path: '/var/lib/sshcheck/x.db', retentionDays: 30, healthyWindowMinutes: 15 });
  assert.equal(parseEngineConfig('policy:\n  cli: true\n', 'engine.yml').policy?.cli, true);
  assert.throws(() => parseEngineConfig('store:\n  path: relative.db\n', 'engine.yml'), /^SshcheckError: engine\.yml:2: store\.path: must be an absolute file path$|engine\.yml:2: store\.path: must be an absolute file path/);
  assert.throws(() => parseEngineConfig('store:\n  retention_days: 0\n', 'engine.yml'), /engine\.yml:2: store\.retention_days: must be a number of days from 1 to 3650/);
  assert.throws(() => parseEngineConfig('store:\n  keep: 3\n', 'engine.yml'), /engine\.yml:2: store\.keep: unknown field/);
});
