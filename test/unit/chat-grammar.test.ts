import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatCommand, unwrapSlackLinks } from '../../src/chat/grammar.js';

test('target, port and user words', () => {
  assert.deepEqual(parseChatCommand('db-3'), { kind: 'check', target: { input: 'db-3', host: 'db-3', kind: 'name', port: 22, user: 'sshcheck' } });
  const c = parseChatCommand('  db-3   2222  ops ');
  assert.ok(c.kind === 'check' && c.target.port === 2222 && c.target.user === 'ops');
  const d = parseChatCommand('ops@[2001:db8::1]:2200');
  assert.ok(d.kind === 'check' && d.target.kind === 'ipv6' && d.target.port === 2200 && d.target.user === 'ops');
});

test('help in its spellings, and an empty command', () => {
  for (const text of ['', '   ', 'help', 'HELP', '--help', '-h', '?']) assert.deepEqual(parseChatCommand(text), { kind: 'help' });
});

test('Slack link formatting is undone before parsing', () => {
  assert.equal(unwrapSlackLinks('<http://db-3.example.com|db-3.example.com> 22'), 'db-3.example.com 22');
  const c = parseChatCommand('<http://db-3.example.com|db-3.example.com>');
  assert.ok(c.kind === 'check' && c.target.host === 'db-3.example.com');
});

const bad: Array<[string, RegExp]> = [
  ['db-3 22 ops extra', /too many words/],
  ['db-3 ssh', /invalid port \(the second word\) "ssh"/],
  ['db-3 70000', /1 to 65535/],
  ['db-3 22 $(id)', /invalid user name/],
  ['-oProxyCommand=x', /can never be an option/],
  ['<!channel>', /contains "<"/],
  ['db-3:2222 22', /port given twice/],
  ['a'.repeat(600), /at most 500/],
];
for (const [text, message] of bad) {
  test(`rejects ${JSON.stringify(text.slice(0, 30))}`, () => {
    assert.throws(() => parseChatCommand(text), (err: unknown) => err instanceof Error && message.test(err.message));
  });
}

test('via and from, in either order, after the target', () => {
  const a = parseChatCommand('db-3 2222 from 203.0.113.7 via eu-1', { bastions: ['eu-1'] });
  assert.ok(a.kind === 'check' && a.target.port === 2222 && a.via === 'eu-1' && a.from === '203.0.113.7');
  const b = parseChatCommand('db-3 via eu-1 from [2001:DB8::7]', { bastions: ['eu-1'] });
  assert.ok(b.kind === 'check' && b.from === '2001:db8::7');
  assert.throws(() => parseChatCommand('db-3 from'), /"from" needs your IP address/);
  assert.throws(() => parseChatCommand('db-3 from me.example.com'), /"from" takes your IP address/);
  assert.throws(() => parseChatCommand('db-3 from 10.0.0.1 from 10.0.0.2'), /"from" given twice/);
});
