// `sshcheck explain` on real ssh logs recorded in the lab for each fault (the same fixtures
// as the ssh -vvv parser), plus users' own -v logs of the too-many-keys case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { explainLog, renderExplanation } from '../../src/explain/explain.js';

function log(name: string): string {
  const fixture = JSON.parse(readFileSync(new URL(`../../../test/fixtures/openssh-verbose/${name}.json`, import.meta.url), 'utf8')) as { lines: Array<{ text: string }> };
  return fixture.lines.map((l) => l.text).join('\n');
}

const cases: Array<[string, string, string | undefined, RegExp]> = [
  ['silent-drop', 'firewall', 'port-filtered', /never completed/],
  ['rst', 'sshd', 'port-closed', /reset/],
  ['sshd-stopped', 'sshd', 'port-closed', /nothing listens/],
  ['icmp-admin-prohibited', 'connectivity', 'host-unreachable', /No route to host/],
  ['host-unreachable', 'connectivity', 'host-unreachable', /no route/],
  ['tcp-wrappers', 'tcp-wrappers', 'connection-closed', /before its banner/],
  ['tcp-wrappers-short-timeout', 'sshd', 'banner-timeout', /no SSH banner/],
  ['banner-timeout', 'sshd', 'banner-timeout', /no SSH banner/],
  ['mtu-blackhole', 'vpn-proxy', 'kex-stall', /MTU/],
  ['not-ssh-http', 'vpn-proxy', 'not-ssh', /not an SSH server/],
  ['kex-no-match', 'verbose', 'kex-failed', /key exchange method/],
  ['hostkey-no-match', 'verbose', 'kex-failed', /host key type/],
  ['resolve-failure', 'dns', undefined, /resolve/],
  ['maxstartups', 'load', 'server-overloaded', /Exceeded MaxStartups/],
  ['too-many-keys-v', 'auth', 'auth-denied', /offered \d+ keys/],
  ['too-many-keys-vv', 'auth', 'auth-denied', /Too many authentication failures/],
];

for (const [name, step, cause, summary] of cases) {
  test(`explains ${name}`, () => {
    const e = explainLog(log(name));
    assert.equal(e.step, step, e.summary);
    if (cause !== undefined) assert.equal(e.cause, cause, e.summary);
    else assert.ok(e.cause === undefined || e.cause.startsWith('dns-'), e.summary);
    assert.match(e.summary, summary);
    assert.ok(e.next.length > 0 || e.connectionWorks);
  });
}

test('too many keys: the keys are counted and IdentitiesOnly is the advice', () => {
  const e = explainLog(log('too-many-keys-v'));
  assert.ok(e.keysOffered >= 3, `${e.keysOffered}`);
  assert.ok(e.connectionWorks);
  assert.match(e.next.join(' '), /IdentitiesOnly yes/);
});

test('the rendering says where it stopped and what to do', () => {
  const text = renderExplanation(explainLog(log('mtu-blackhole')));
  assert.match(text, /^Where it stopped: after "sent KEXINIT/);
  assert.match(text, /Step 7, VPN, proxy and path MTU: kex-stall/);
  assert.match(text, /MSS clamping/);
});

test('not an ssh log', () => {
  const e = explainLog('hello\nworld\n');
  assert.equal(e.cause, undefined);
  assert.match(e.next.join(' '), /ssh -vvv/);
});

test('the CLI reads stdin, answers 1 for a problem, 0 when the connection works, 2 for nothing', () => {
  const cli = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
  const run = (input: string, args: string[] = []) => spawnSync(process.execPath, [cli, 'explain', ...args], { input, encoding: 'utf8' });
  const mtu = run(log('mtu-blackhole'));
  assert.equal(mtu.status, 1);
  assert.match(mtu.stdout, /kex-stall/);
  const keys = run(log('too-many-keys-v'), ['--json']);
  assert.equal(keys.status, 0);
  assert.equal((JSON.parse(keys.stdout) as { step: string }).step, 'auth');
  assert.equal(run('').status, 2);
  const hostile = run('debug1: Connecting to x [10.0.0.1] port 22.\n\u001b]0;pwned\u0007ssh: connect to host x port 22: Connection timed out\n');
  assert.doesNotMatch(hostile.stdout, /\u001b|\u0007/);
});
