import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTarget, parseTarget } from '../../src/target.js';
import { SshcheckError } from '../../src/errors.js';

test('accepts names, IPv4, bracketed IPv6, users and ports', () => {
  assert.deepEqual(parseTarget('db-3'), { input: 'db-3', host: 'db-3', kind: 'name', port: 22, user: 'sshcheck' });
  assert.deepEqual(parseTarget('ops@DB-3.Example.com.:2222'), { input: 'ops@DB-3.Example.com.:2222', host: 'db-3.example.com', kind: 'name', port: 2222, user: 'ops' });
  assert.equal(parseTarget('10.0.0.5:22').kind, 'ipv4');
  const v6 = parseTarget('root@[2001:DB8::1]:2200');
  assert.equal(v6.host, '2001:db8::1');
  assert.equal(v6.kind, 'ipv6');
  assert.equal(v6.port, 2200);
  assert.equal(parseTarget('2001:db8::1').port, 22, 'a bare IPv6 literal carries no port');
  assert.equal(parseTarget('_srv-host').host, '_srv-host');
});

test('options override defaults and must not contradict the target', () => {
  assert.equal(parseTarget('db-3', { port: '2222', user: 'ops' }).port, 2222);
  assert.equal(parseTarget('db-3', { defaultUser: 'diag' }).user, 'diag');
  assert.equal(parseTarget('db-3:2222', { port: 2222 }).port, 2222);
  assert.throws(() => parseTarget('db-3:2222', { port: '22' }), { code: 'E_TARGET_CONFLICT' });
  assert.throws(() => parseTarget('a@db-3', { user: 'b' }), { code: 'E_TARGET_CONFLICT' });
});

const hostile: Array<[string, string]> = [
  ['', 'E_TARGET_EMPTY'],
  ['   ', 'E_TARGET_EMPTY'],
  ['-oProxyCommand=touch /tmp/x', 'E_TARGET_OPTION'],
  ['-p', 'E_TARGET_OPTION'],
  ['$(reboot)', 'E_TARGET_CHARACTER'],
  ['db-3;id', 'E_TARGET_CHARACTER'],
  ['db 3', 'E_TARGET_CHARACTER'],
  ['db-3\nother', 'E_TARGET_CHARACTER'],
  ['db-3\u0000', 'E_TARGET_CHARACTER'],
  ['db\u202e3', 'E_TARGET_CHARACTER'],
  ['`id`', 'E_TARGET_CHARACTER'],
  ['db-3|nc', 'E_TARGET_CHARACTER'],
  ['exämple.com', 'E_TARGET_IDN'],
  ['а.example', 'E_TARGET_IDN'],
  [`${'a'.repeat(64)}.example`, 'E_TARGET_LENGTH'],
  [`${'a.'.repeat(130)}com`, 'E_TARGET_LENGTH'],
  ['x'.repeat(400), 'E_TARGET_LENGTH'],
  ['db..3', 'E_TARGET_LABEL'],
  ['-db', 'E_TARGET_OPTION'],
  ['db-.example', 'E_TARGET_LABEL'],
  ['127.1', 'E_TARGET_NUMERIC'],
  ['0x7f.1', 'E_TARGET_NUMERIC'],
  ['2130706433', 'E_TARGET_NUMERIC'],
  ['999.1.1.1', 'E_TARGET_NUMERIC'],
  ['db-3:0', 'E_TARGET_PORT'],
  ['db-3:65536', 'E_TARGET_PORT'],
  ['db-3:22a', 'E_TARGET_PORT'],
  ['db-3:-1', 'E_TARGET_PORT'],
  ['[2001:db8::1', 'E_TARGET_IPV6'],
  ['[not:v6]:22', 'E_TARGET_IPV6'],
  ['[::1]x', 'E_TARGET_IPV6'],
  ['@db-3', 'E_TARGET_USER'],
  ['-l@db-3', 'E_TARGET_OPTION'],
  ['9root@db-3', 'E_TARGET_USER'],
  ['ro ot@db-3', 'E_TARGET_CHARACTER'],
];

for (const [input, code] of hostile) {
  test(`rejects ${JSON.stringify(input).slice(0, 40)} with ${code}`, () => {
    assert.throws(
      () => parseTarget(input),
      (err: unknown) => {
        assert.ok(err instanceof SshcheckError);
        assert.equal(err.code, code);
        assert.doesNotMatch(err.message, /[\u0000-\u001f\u202e]/, 'the message itself must be printable');
        return true;
      },
    );
  });
}

test('formatTarget writes IPv6 in brackets only when a port follows', () => {
  assert.equal(formatTarget(parseTarget('[::1]:2222')), '[::1]:2222');
  assert.equal(formatTarget(parseTarget('[::1]')), '::1');
  assert.equal(formatTarget(parseTarget('db-3')), 'db-3');
});

test('an unbracketed IPv6 literal whose last group could be a port is refused, not guessed', () => {
  for (const [input, hint] of [
    ['::1:2222', /write \[::1\]:2222 for a port, or \[::1:2222\] for the address/],
    ['fe80::1:22', /write \[fe80::1\]:22 for a port/],
    ['ops@2001:db8::5:2200', /write \[2001:db8::5\]:2200 for a port/],
  ] as const) {
    assert.throws(() => parseTarget(input), (err: unknown) => err instanceof SshcheckError && err.code === 'E_TARGET_IPV6' && hint.test(err.message), input);
  }
  // Not ambiguous: no address before the last group, a full eight groups, an IPv4 tail, brackets.
  assert.equal(parseTarget('::1').host, '::1');
  assert.equal(parseTarget('2001:db8::1').host, '2001:db8::1');
  assert.equal(parseTarget('2001:db8:0:0:0:0:0:22').port, 22);
  assert.equal(parseTarget('::ffff:10.0.0.1').kind, 'ipv6');
  assert.equal(parseTarget('[::1]:2222').port, 2222);
  assert.equal(parseTarget('[::1:2222]').host, '::1:2222');
});
