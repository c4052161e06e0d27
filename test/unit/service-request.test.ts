import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCheckBody, RequestError } from '../../src/service/request.js';
import { parseListen } from '../../src/service/listen.js';

const JSON_TYPE = 'application/json';

test('a target alone, with port and user, and the user@host:port form', () => {
  assert.deepEqual(parseCheckBody('{"target":"db-3"}', JSON_TYPE), { target: { input: 'db-3', host: 'db-3', kind: 'name', port: 22, user: 'sshcheck' } });
  const t = parseCheckBody('{"target":"db-3","port":2222,"user":"ops"}', 'application/json; charset=utf-8').target;
  assert.equal(t.port, 2222);
  assert.equal(t.user, 'ops');
  const u = parseCheckBody('{"target":"ops@[2001:db8::1]:2200","port":"2200"}', undefined).target;
  assert.ok(u.kind === 'ipv6' && u.port === 2200 && u.user === 'ops');
});

test('the requester address travels as "from", validated as an IP address', () => {
  assert.equal(parseCheckBody('{"target":"db-3","from":"203.0.113.7"}', JSON_TYPE).from, '203.0.113.7');
  assert.throws(() => parseCheckBody('{"target":"db-3","from":"evil.example"}', JSON_TYPE), (err: unknown) => err instanceof RequestError && err.field === 'from' && err.status === 400);
  assert.throws(() => parseCheckBody('{"target":"db-3","from":7}', JSON_TYPE), (err: unknown) => err instanceof RequestError && err.field === 'from');
});

const bad: Array<[string, string | undefined, number, RegExp]> = [
  ['{"target":"-oProxyCommand=x"}', 'target', 400, /^target: .*can never be an option/],
  ['{"target":"db-3;id"}', 'target', 400, /^target: target contains ";"/],
  ['{"target":"127.1"}', 'target', 400, /^target: .*dotted-quad/],
  ['{"target":"db-3","port":70000}', 'port', 400, /^port: invalid port 70000: use a number from 1 to 65535/],
  ['{"target":"db-3","port":true}', 'port', 400, /^port: a number/],
  ['{"target":"db-3","user":"$(id)"}', 'user', 400, /^user: invalid user name/],
  ['{"target":"db-3:2222","port":22}', 'target', 400, /port given twice/],
  ['{"port":22}', 'target', 400, /^target: required/],
  ['{"target":42}', 'target', 400, /^target: required, a string/],
  ['{"target":"db-3","budget":99}', 'budget', 400, /^budget: unknown field; the fields are target, port, user and from/],
  ['[1]', undefined, 400, /must be a JSON object/],
  ['{"target":', undefined, 400, /not valid JSON/],
];
for (const [body, field, status, message] of bad) {
  test(`rejects ${body}`, () => {
    assert.throws(
      () => parseCheckBody(body, JSON_TYPE),
      (err: unknown) => err instanceof RequestError && err.status === status && err.field === field && message.test(err.message),
    );
  });
}

test('a body that is not JSON by its Content-Type is a 415', () => {
  assert.throws(() => parseCheckBody('target=db-3', 'application/x-www-form-urlencoded'), (err: unknown) => err instanceof RequestError && err.status === 415);
});

test('listen addresses: host:port, [v6]:port, unix:/path; names and bad ports refused', () => {
  assert.deepEqual(parseListen('10.0.0.5:8722'), { kind: 'tcp', host: '10.0.0.5', port: 8722 });
  assert.deepEqual(parseListen('[::1]:8722'), { kind: 'tcp', host: '::1', port: 8722 });
  assert.deepEqual(parseListen('unix:/run/sshcheck/engine.sock'), { kind: 'unix', path: '/run/sshcheck/engine.sock' });
  assert.throws(() => parseListen('bastion.example.com:8722'), /give an IP address/);
  assert.throws(() => parseListen('10.0.0.5:0'), /1-65535/);
  assert.throws(() => parseListen('10.0.0.5'), /is not an address/);
  assert.throws(() => parseListen('unix:relative.sock'), /absolute/);
  assert.throws(() => parseListen(`unix:/${'x'.repeat(120)}`), /107 bytes/);
});
