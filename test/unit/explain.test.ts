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

// ---- Logs recorded from the real OpenSSH client against test/support/ssh-server.ts -------

function recorded(name: string): string {
  return readFileSync(new URL(`../../../test/fixtures/explain/${name}.log`, import.meta.url), 'utf8');
}

/** As people redact before pasting: ports, addresses and the user hidden. */
function redact(text: string): string {
  return text
    .replace(/port \d+/g, 'port ###')
    .replace(/127\.0\.0\.1/g, '<host>')
    .replace(/alice/g, '<user>');
}

const recordedCases: Array<[string, string, string, RegExp]> = [
  ['close-after-kexinit', 'sshd', 'server-dropped', /ended the connection during the key exchange.*not an MTU problem/],
  ['reset-after-kexinit', 'sshd', 'server-dropped', /Connection reset by/],
  ['forged-signature', 'vpn-proxy', 'host-key-forged', /incorrect signature/],
  ['length-max', 'vpn-proxy', 'protocol-violation', /not valid SSH/],
  ['garbage', 'vpn-proxy', 'protocol-violation', /not valid SSH/],
  ['changed-host-key', 'verbose', 'host-key-changed', /SHA256:/],
  ['post-auth-hang', 'auth', 'post-auth', /after authentication/],
  ['normal', 'auth', 'auth-denied', /refused the credentials/],
  ['proxy-hop-closed', 'vpn-proxy', 'proxy-failed', /not the target's doing/],
  ['proxy-close-after-kexinit', 'vpn-proxy', 'kex-stall', /ProxyCommand/],
];

for (const [name, step, cause, summary] of recordedCases) {
  test(`explains a recorded ${name} log, also when redacted`, () => {
    for (const text of [recorded(name), redact(recorded(name))]) {
      const e = explainLog(text);
      assert.equal(e.schema, 'sshcheck/explain@1');
      assert.equal(e.recognized, true);
      assert.equal(e.cause, cause, e.summary);
      assert.equal(e.step, step, e.summary);
      assert.match(e.summary, summary);
    }
  });
}

test('a login that then hangs is not "the connection works"', () => {
  const e = explainLog(recorded('post-auth-hang'));
  assert.equal(e.cause, 'post-auth');
  assert.equal(e.connectionWorks, false);
});

test('a close after "KEXINIT sent" is the server, not MTU advice', () => {
  const e = explainLog(recorded('close-after-kexinit'));
  assert.doesNotMatch(`${e.summary} ${e.next.join(' ')}`, /MSS clamping|lower the MTU/);
});

test('older OpenSSH forms: ssh_exchange_identification, a cut "(no match)" line, pre-7.0 no-match', () => {
  const v6 = 'OpenSSH_6.6.1, OpenSSL 1.0.1f 6 Jan 2014\ndebug1: Connecting to db-3 [10.0.0.5] port 22.\ndebug1: Connection established.\nssh_exchange_identification: read: Connection reset by peer\n';
  assert.equal(explainLog(v6).cause, 'connection-closed');
  const cut = recordedNoMatchCut();
  assert.equal(explainLog(cut).cause, 'kex-failed');
  const old = 'debug1: Connecting to db-3 [10.0.0.5] port 22.\ndebug1: Connection established.\ndebug1: Remote protocol version 2.0, remote software version OpenSSH_5.3\ndebug1: SSH2_MSG_KEXINIT sent\ndebug1: SSH2_MSG_KEXINIT received\nno matching cipher found: client aes128-ctr server aes256-cbc\n';
  assert.equal(explainLog(old).cause, 'kex-failed');
  const v6sig = 'debug1: Connecting to db-3 [10.0.0.5] port 22.\ndebug1: Connection established.\ndebug1: Remote protocol version 2.0, remote software version OpenSSH_6.0\ndebug1: SSH2_MSG_KEXINIT sent\ndebug1: SSH2_MSG_KEXINIT received\ndebug1: expecting SSH2_MSG_KEX_ECDH_REPLY\nkey_verify failed for server_host_key\n';
  assert.equal(explainLog(v6sig).cause, 'host-key-forged');
});

/** The recorded kex-no-match log without its "Unable to negotiate" line. */
function recordedNoMatchCut(): string {
  return log('kex-no-match')
    .split('\n')
    .filter((l) => !/Unable to negotiate/.test(l))
    .join('\n')
    .replace(/kex: algorithm: \S+/, 'kex: algorithm: (no match)');
}

test('a session that ended normally after login is healthy', () => {
  const text = `${recorded('post-auth-hang').split('\n').filter((l) => !/Killed by signal/.test(l)).join('\n')}\nTransferred: sent 2352, received 2208 bytes, in 0.1 seconds\n`;
  const e = explainLog(text);
  assert.equal(e.cause, 'healthy');
  assert.equal(e.connectionWorks, true);
});

test('the CLI: --json has a schema and a cause; text that is not an ssh log exits 2 and says so', () => {
  const cli = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
  const run = (input: string, args: string[] = []) => spawnSync(process.execPath, [cli, 'explain', ...args], { input, encoding: 'utf8' });
  const dropped = run(recorded('close-after-kexinit'), ['--json']);
  assert.equal(dropped.status, 1);
  const e = JSON.parse(dropped.stdout) as { schema: string; cause: string };
  assert.deepEqual([e.schema, e.cause], ['sshcheck/explain@1', 'server-dropped']);
  const denied = run(recorded('normal'), ['--json']);
  assert.equal(denied.status, 0);
  assert.equal((JSON.parse(denied.stdout) as { cause: string }).cause, 'auth-denied');
  const junk = run('Hello, this is my nginx error log\n2026/01/01 [error] upstream timed out\n');
  assert.equal(junk.status, 2);
  assert.equal(junk.stdout, '');
  assert.match(junk.stderr, /not ssh debug output/);
});
