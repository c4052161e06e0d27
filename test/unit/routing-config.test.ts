import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRoutingConfig, RoutingConfigError } from '../../src/chat/routing-config.js';
import type { ConfigDeps } from '../../src/chat/routing-config.js';

const EU = 'eu-token-0123456789abcdef';
const US = 'us-token-0123456789abcdef';
const deps: ConfigDeps = {
  env: { SSHCHECK_TOKEN_EU1: EU },
  readFile: (p) => {
    if (p === '/etc/sshcheck/us-1.token') return `# us-1\n${US}\n`;
    throw new Error(`ENOENT: no such file or directory, open '${p}'`);
  },
};

const GOOD = `# two bastions
bastions:
  - name: eu-1
    url: https://bastion-eu-1.example.com:8722/
    token_env: SSHCHECK_TOKEN_EU1
  - name: us-1
    url: http://10.20.0.5:8722
    token_file: /etc/sshcheck/us-1.token
    timeout_seconds: 5
rules:
  - cidr: 10.10.0.0/16
    bastion: eu-1
  - cidr: 2001:db8:10::/48
    bastion: eu-1
  - suffix: .us.example.com
    bastion: us-1
default: eu-1
reuse_seconds: 8
`;

test('a good config: bastions with tokens from env and file, rules, default', () => {
  const c = loadRoutingConfig(GOOD, 'sshcheck.yml', deps);
  assert.deepEqual(c.bastions, [
    { name: 'eu-1', url: 'https://bastion-eu-1.example.com:8722', token: EU },
    { name: 'us-1', url: 'http://10.20.0.5:8722', token: US, timeoutMs: 5000 },
  ]);
  assert.deepEqual(
    c.rules.map((r) => (r.kind === 'cidr' ? `${r.cidr.text}→${r.bastion}` : `${r.suffix}→${r.bastion}`)),
    ['10.10.0.0/16→eu-1', '2001:db8:10::/48→eu-1', 'us.example.com→us-1'],
  );
  assert.equal(c.default, 'eu-1');
  assert.equal(c.reuseMs, 8000);
  assert.deepEqual(c.secrets, [EU, US]);
});

test('an empty file, or one without bastions, configures nothing (the engine runs in process)', () => {
  assert.deepEqual(loadRoutingConfig('', 'sshcheck.yml', deps), { bastions: [], rules: [], secrets: [] });
  assert.deepEqual(loadRoutingConfig('# nothing yet\nbastions: []\n', 'sshcheck.yml', deps).bastions, []);
});

/** Replaces one line of the good config (1-based) and returns the error message. */
function errorWith(line: number, replacement: string, text = GOOD): string {
  const lines = text.split('\n');
  lines[line - 1] = replacement;
  try {
    loadRoutingConfig(lines.join('\n'), 'sshcheck.yml', deps);
  } catch (err) {
    assert.ok(err instanceof RoutingConfigError, String(err));
    return err.message;
  }
  assert.fail('no error');
}

const cases: Array<[string, number, string, string]> = [
  ['a CIDR with a bad prefix', 11, '  - cidr: 10.0.0.0/33', 'sshcheck.yml:11: rules[0].cidr: "10.0.0.0/33" is not a CIDR: the prefix length must be 0-32 for IPv4'],
  ['a CIDR with host bits', 11, '  - cidr: 10.10.0.5/16', 'sshcheck.yml:11: rules[0].cidr: "10.10.0.5/16" has host bits set: did you mean 10.10.0.0/16?'],
  ['a CIDR that is a name', 13, '  - cidr: db.example.com/24', 'sshcheck.yml:13: rules[1].cidr: "db.example.com/24" is not a CIDR: the address part is not an IPv4 or IPv6 address'],
  ['a rule naming no configured bastion', 16, '    bastion: ap-1', 'sshcheck.yml:16: rules[2].bastion: "ap-1" is not a configured bastion: the bastions are eu-1, us-1'],
  ['a default naming no configured bastion', 17, 'default: ap-1', 'sshcheck.yml:17: default: "ap-1" is not a configured bastion: the bastions are eu-1, us-1'],
  ['a misspelt field', 15, '  - sufix: .us.example.com', 'sshcheck.yml:15: rules[2].sufix: unknown field; the fields here are cidr, suffix, bastion'],
  ['a bad suffix', 15, '  - suffix: "us example"', 'sshcheck.yml:15: rules[2].suffix: "us example" is not a domain suffix'],
  ['a URL that is not http(s)', 4, '    url: ftp://bastion', 'sshcheck.yml:4: bastions[0].url: "ftp://bastion" must be an http:// or https:// URL'],
  ['a URL with credentials', 4, '    url: https://me:pw@bastion', 'sshcheck.yml:4: bastions[0].url: must not carry credentials: put the token in token_env or token_file'],
  ['an unset token variable', 5, '    token_env: SSHCHECK_TOKEN_NOPE', 'sshcheck.yml:5: bastions[0].token_env: SSHCHECK_TOKEN_NOPE is not set in the bot\'s environment'],
  ['an unreadable token file', 8, '    token_file: /etc/sshcheck/nope', 'sshcheck.yml:8: bastions[1].token_file: cannot read /etc/sshcheck/nope: ENOENT'],
  ['a bad bastion name', 3, '  - name: EU 1', 'sshcheck.yml:3: bastions[0].name: "EU 1" is not a bastion name'],
  ['a duplicate bastion name', 6, '  - name: eu-1', 'sshcheck.yml:6: bastions[1].name: "eu-1" is already the name of bastions[0]'],
  ['a timeout out of range', 9, '    timeout_seconds: 0', 'sshcheck.yml:9: bastions[1].timeout_seconds: must be a number of seconds from 1 to 120, not "0"'],
  ['a number where a string belongs', 4, '    url: 8722', 'sshcheck.yml:4: bastions[0].url: must be a non-empty string, not "8722"'],
  ['broken YAML', 10, 'rules: [', 'sshcheck.yml:'],
  ['a duplicate key', 17, 'rules: []', 'sshcheck.yml:17: YAML: Map keys must be unique'],
];
for (const [what, line, replacement, expected] of cases) {
  test(`error with line and field: ${what}`, () => {
    const message = errorWith(line, replacement);
    assert.ok(message.startsWith(expected), `${message}\n  expected to start with\n${expected}`);
    assert.ok(!message.includes(EU) && !message.includes(US), 'no token in errors');
  });
}

test('a missing field is reported at the line of its entry; several problems at once', () => {
  const text = 'bastions:\n  - name: eu-1\n    token_env: SSHCHECK_TOKEN_EU1\nrules:\n  - cidr: 10.0.0.0/8\n';
  assert.throws(() => loadRoutingConfig(text, 'b.yml', deps), (err: unknown) => {
    assert.ok(err instanceof RoutingConfigError);
    assert.deepEqual(err.problems.map((p) => `${p.line} ${p.field}`), ['2 bastions[0].url', '5 rules[0].bastion']);
    return true;
  });
});

test('both or neither of token_env and token_file; both or neither of cidr and suffix', () => {
  const both = 'bastions:\n  - name: a\n    url: http://10.0.0.1:8722\n    token_env: SSHCHECK_TOKEN_EU1\n    token_file: /etc/sshcheck/us-1.token\n';
  assert.throws(() => loadRoutingConfig(both, 'c.yml', deps), /c\.yml:5: bastions\[0\]\.token_file: give either token_env or token_file, not both/);
  const neither = 'bastions:\n  - name: a\n    url: http://10.0.0.1:8722\n';
  assert.throws(() => loadRoutingConfig(neither, 'c.yml', deps), /c\.yml:2: bastions\[0\]: needs token_env/);
  const rule = 'bastions:\n  - name: a\n    url: http://10.0.0.1:8722\n    token_env: SSHCHECK_TOKEN_EU1\nrules:\n  - bastion: a\n';
  assert.throws(() => loadRoutingConfig(rule, 'c.yml', deps), /c\.yml:6: rules\[0\]: needs cidr/);
  assert.throws(() => loadRoutingConfig('- a\n- b\n', 'c.yml', deps), /c\.yml:1: the config must be a mapping/);
});
