import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRoutingConfig, RoutingConfigError } from '../../src/chat/routing-config.js';

const GOOD = `# two bastions
bastions:
  - name: eu-1
  - name: us-1
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

test('a good config: bastions, rules, default', () => {
  const c = loadRoutingConfig(GOOD, 'sshcheck.yml');
  assert.deepEqual(c.bastions, [{ name: 'eu-1' }, { name: 'us-1' }]);
  assert.deepEqual(
    c.rules.map((r) => (r.kind === 'cidr' ? `${r.cidr.text}→${r.bastion}` : `${r.suffix}→${r.bastion}`)),
    ['10.10.0.0/16→eu-1', '2001:db8:10::/48→eu-1', 'us.example.com→us-1'],
  );
  assert.equal(c.default, 'eu-1');
  assert.equal(c.reuseMs, 8000);
});

test('an empty file, or one without bastions, configures nothing (the engine runs in process)', () => {
  assert.deepEqual(loadRoutingConfig('', 'sshcheck.yml'), { bastions: [], rules: [] });
  assert.deepEqual(loadRoutingConfig('# nothing yet\nbastions: []\n', 'sshcheck.yml').bastions, []);
});

/** Replaces one line of the good config (1-based) and returns the error message. */
function errorWith(line: number, replacement: string, text = GOOD): string {
  const lines = text.split('\n');
  lines[line - 1] = replacement;
  try {
    loadRoutingConfig(lines.join('\n'), 'sshcheck.yml');
  } catch (err) {
    assert.ok(err instanceof RoutingConfigError, String(err));
    return err.message;
  }
  assert.fail('no error');
}

const cases: Array<[string, number, string, string]> = [
  ['a CIDR with a bad prefix', 6, '  - cidr: 10.0.0.0/33', 'sshcheck.yml:6: rules[0].cidr: "10.0.0.0/33" is not a CIDR: the prefix length must be 0-32 for IPv4'],
  ['a CIDR with host bits', 6, '  - cidr: 10.10.0.5/16', 'sshcheck.yml:6: rules[0].cidr: "10.10.0.5/16" has host bits set: did you mean 10.10.0.0/16?'],
  ['a CIDR that is a name', 8, '  - cidr: db.example.com/24', 'sshcheck.yml:8: rules[1].cidr: "db.example.com/24" is not a CIDR: the address part is not an IPv4 or IPv6 address'],
  ['a rule naming no configured bastion', 11, '    bastion: ap-1', 'sshcheck.yml:11: rules[2].bastion: "ap-1" is not a configured bastion: the bastions are eu-1, us-1'],
  ['a default naming no configured bastion', 12, 'default: ap-1', 'sshcheck.yml:12: default: "ap-1" is not a configured bastion: the bastions are eu-1, us-1'],
  ['a misspelt field', 10, '  - sufix: .us.example.com', 'sshcheck.yml:10: rules[2].sufix: unknown field; the fields here are cidr, suffix, bastion'],
  ['a bad suffix', 10, '  - suffix: "us example"', 'sshcheck.yml:10: rules[2].suffix: "us example" is not a domain suffix'],
  ['a bad bastion name', 3, '  - name: EU 1', 'sshcheck.yml:3: bastions[0].name: "EU 1" is not a bastion name'],
  ['a bastion name with a dot (a NATS subject separator)', 3, '  - name: eu.1', 'sshcheck.yml:3: bastions[0].name: "eu.1" is not a bastion name'],
  ['a duplicate bastion name', 4, '  - name: eu-1', 'sshcheck.yml:4: bastions[1].name: "eu-1" is already the name of bastions[0]'],
  ['a number where a string belongs', 3, '  - name: 8722', 'sshcheck.yml:3: bastions[0].name: must be a non-empty string, not "8722"'],
  ['broken YAML', 5, 'rules: [', 'sshcheck.yml:'],
  ['a duplicate key', 12, 'rules: []', 'sshcheck.yml:12: YAML: Map keys must be unique'],
];
for (const [what, line, replacement, expected] of cases) {
  test(`error with line and field: ${what}`, () => {
    const message = errorWith(line, replacement);
    assert.ok(message.startsWith(expected), `${message}\n  expected to start with\n${expected}`);
  });
}

test('a missing field is reported at the line of its entry; several problems at once', () => {
  const text = 'bastions:\n  - name: eu-1\n  - {}\nrules:\n  - cidr: 10.0.0.0/8\n';
  assert.throws(() => loadRoutingConfig(text, 'b.yml'), (err: unknown) => {
    assert.ok(err instanceof RoutingConfigError);
    assert.deepEqual(err.problems.map((p) => `${p.line} ${p.field}`), ['3 bastions[1].name', '5 rules[0].bastion']);
    return true;
  });
});

test("a bastion's HTTP fields (url, token_env, token_file, timeout_seconds) say that bastions are reached through the broker now", () => {
  const old = 'bastions:\n  - name: eu-1\n    url: https://bastion-eu-1.example.com:8722\n    token_env: SSHCHECK_TOKEN_EU1\n';
  assert.throws(() => loadRoutingConfig(old, 'c.yml'), (err: unknown) => {
    assert.ok(err instanceof RoutingConfigError);
    assert.deepEqual(err.problems.map((p) => `${p.line} ${p.field}`), ['3 bastions[0].url', '4 bastions[0].token_env']);
    assert.match(err.message, /c\.yml:3: bastions\[0\]\.url: bastions are reached through the broker now: .*set SSHCHECK_NATS_URL for the bot and run `sshcheck agent --bastion <name>` on the bastion/);
    return true;
  });
});

test('both or neither of cidr and suffix; a config that is no mapping', () => {
  const rule = 'bastions:\n  - name: a\nrules:\n  - bastion: a\n';
  assert.throws(() => loadRoutingConfig(rule, 'c.yml'), /c\.yml:4: rules\[0\]: needs cidr/);
  const both = 'bastions:\n  - name: a\nrules:\n  - bastion: a\n    cidr: 10.0.0.0/8\n    suffix: a.example\n';
  assert.throws(() => loadRoutingConfig(both, 'c.yml'), /c\.yml:6: rules\[0\]\.suffix: a rule has either cidr or suffix, not both/);
  assert.throws(() => loadRoutingConfig('- a\n- b\n', 'c.yml'), /c\.yml:1: the config must be a mapping/);
});
