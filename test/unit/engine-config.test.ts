import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { inCidr, loginFor } from '../../src/engine/run-config.js';
import { parseTarget } from '../../src/target.js';

const good = `# diagnostics logins
diagnostics:
  - match: ["db-*", "10.0.0.0/8"]
    user: sshcheck-diag
    key: /etc/sshcheck/diag_ed25519
    known_hosts: /etc/sshcheck/known_hosts
    port: 2222
    sudo: true
  - match: "*.corp.example"
    user: diag
    key: /k
    known_hosts: /kh
`;

test('a good config, and which login a target gets', () => {
  const c = parseEngineConfig(good, 'engine.yml');
  assert.equal(c.diagnostics.length, 2);
  assert.deepEqual(c.diagnostics[0], { match: ['db-*', '10.0.0.0/8'], user: 'sshcheck-diag', key: '/etc/sshcheck/diag_ed25519', knownHosts: '/etc/sshcheck/known_hosts', port: 2222, sudo: true });
  assert.equal(loginFor(c, parseTarget('db-3'), [])?.user, 'sshcheck-diag');
  assert.equal(loginFor(c, parseTarget('web-1'), ['10.4.5.6'])?.user, 'sshcheck-diag', 'a resolved address inside the CIDR');
  assert.equal(loginFor(c, parseTarget('x.corp.example'), ['192.0.2.1'])?.user, 'diag');
  assert.equal(loginFor(c, parseTarget('192.0.2.1'), ['192.0.2.1']), undefined);
  assert.equal(parseEngineConfig('').diagnostics.length, 0);
});

const bad: Array<[string, RegExp]> = [
  ['diagnostics:\n  - match: "db-*"\n    user: root\n', /engine\.yml:2: diagnostics\[0\]\.key: is required/],
  ['diagnostics:\n  - match: "10.0.0.0/33"\n    user: u\n    key: /k\n    known_hosts: /kh\n', /engine\.yml:2: diagnostics\[0\]\.match\[0\]: "10\.0\.0\.0\/33" is neither/],
  ['diagnostics:\n  - match: "db"\n    user: "-oProxyCommand=x"\n    key: /k\n    known_hosts: /kh\n', /engine\.yml:3: diagnostics\[0\]\.user: invalid user name/],
  ['diagnostics:\n  - match: "db"\n    user: u\n    key: k\n    known_hosts: /kh\n', /engine\.yml:4: diagnostics\[0\]\.key: must be an absolute path/],
  ['diagnostics:\n  - match: "db"\n    user: u\n    key: /k\n    known_hosts: /kh\n    sshd_log: "/var/log/$(id)"\n', /engine\.yml:6: diagnostics\[0\]\.sshd_log: must be an absolute path of letters/],
  ['diagnostics:\n  - match: "db"\n    user: u\n    key: /k\n    known_hosts: /kh\n    colour: red\n', /engine\.yml:6: diagnostics\[0\]\.colour: unknown field/],
  ['diagnostics:\n  - match: "db"\n    user: u\n    key: /k\n    known_hosts: /kh\n    port: 70000\n', /engine\.yml:6: diagnostics\[0\]\.port: invalid port/],
  ['diagnostics: [\n', /engine\.yml:\d+: /],
  ['routes: []\n', /engine\.yml:1: routes: unknown field/],
];
for (const [text, message] of bad) {
  test(`rejects with line and field: ${message.source.slice(0, 50)}`, () => {
    assert.throws(() => parseEngineConfig(text, 'engine.yml'), (err: unknown) => err instanceof Error && message.test(err.message));
  });
}

test('CIDR membership for IPv4 and IPv6', () => {
  assert.equal(inCidr('10.1.2.3', '10.0.0.0/8'), true);
  assert.equal(inCidr('11.1.2.3', '10.0.0.0/8'), false);
  assert.equal(inCidr('2001:db8::5', '2001:db8::/32'), true);
  assert.equal(inCidr('10.1.2.3', '2001:db8::/32'), false);
  assert.equal(inCidr('10.1.2.3', '10.1.2.3'), true);
});
