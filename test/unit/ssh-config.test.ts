// `ssh -G` parsing on real output captured from OpenSSH 9.2 (the bastion's default config,
// and temporary configs given with -F that set HostName/Port/User/ProxyJump/ProxyCommand),
// plus one live run of probeSshConfig (ssh -G opens no connection).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSshConfig, probeSshConfig, sshConfigArgs } from '../../src/engine/probes/ssh-config.js';
import { testContext } from '../support/context.js';

interface Capture {
  case: string;
  command: string[];
  text: string;
}

const DIR = new URL('../../../test/fixtures/ssh-config/', import.meta.url);
const load = (name: string): Capture => JSON.parse(readFileSync(new URL(`${name}.json`, DIR), 'utf8')) as Capture;

test('default config: no proxy, no connect timeout ("none" means unset)', () => {
  assert.deepEqual(parseSshConfig(load('default').text), { hostname: 'db-3', port: 22, user: 'sshcheck', addressFamily: 'any' });
});

test('a Host block with HostName, Port, User, ProxyJump, ConnectTimeout, AddressFamily', () => {
  assert.deepEqual(parseSshConfig(load('proxyjump-override').text), {
    hostname: '10.0.0.5',
    port: 2222,
    user: 'deploy',
    proxyJump: 'jump@bastion-2.example.test:2200',
    addressFamily: 'inet',
    connectTimeout: 7,
  });
});

test('-p and -l on the command line win over Port and User; the rest of the block still shows', () => {
  const cfg = parseSshConfig(load('proxyjump-override-with-p-l').text);
  assert.equal(cfg.port, 22);
  assert.equal(cfg.user, 'sshcheck');
  assert.equal(cfg.hostname, '10.0.0.5');
  assert.equal(cfg.proxyJump, 'jump@bastion-2.example.test:2200');
});

test('ProxyCommand is reported as written, and %h in HostName is expanded by ssh', () => {
  const cfg = parseSshConfig(load('proxycommand').text);
  assert.equal(cfg.proxyCommand, 'nc -X 5 -x socks.example.test:1080 %h %p');
  assert.equal(cfg.hostname, 'legacy-db.corp.example.test');
  assert.equal(cfg.proxyJump, undefined);
});

test('unknown, empty, CRLF and non-numeric lines are ignored', () => {
  assert.deepEqual(parseSshConfig('hostname a\r\nport abc\r\n\r\nproxyjump none\r\nconnecttimeout 5\r\n!!!\n'), { hostname: 'a', connectTimeout: 5 });
  assert.deepEqual(parseSshConfig(''), {});
});

test('probeSshConfig runs ssh -G with the real configuration', async (t) => {
  const obs = await probeSshConfig({ host: 'db-3.sshcheck.test' }, testContext(5000));
  if (obs.unavailable === 'ssh (openssh-client) is not installed') {
    t.skip('ssh is not installed');
    return;
  }
  assert.equal(obs.state, 'done');
  assert.equal(obs.unavailable, undefined);
  // Nothing on a test machine configures this invented name, so ssh -G reports its defaults.
  assert.equal(obs.hostname, 'db-3.sshcheck.test');
  assert.equal(typeof obs.port, 'number');
  assert.ok(obs.user !== undefined && obs.user.length > 0);
});

test('probeSshConfig reports a missing ssh as unavailable, without rejecting', async () => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent-sshcheck-path';
  try {
    const obs = await probeSshConfig({ host: 'db-3' }, testContext(5000));
    assert.equal(obs.state, 'done');
    assert.equal(obs.unavailable, 'ssh (openssh-client) is not installed');
  } finally {
    if (saved === undefined) delete process.env.PATH;
    else process.env.PATH = saved;
  }
});

test('ssh -G gets a port other than 22 (as `ssh -p N host` would), never the user', () => {
  assert.deepEqual(sshConfigArgs({ host: 'db-3', port: 2222 }), ['-G', '-p', '2222', '--', 'db-3']);
  // Port 22 is left out so that a Port override in the config for `ssh db-3` still shows.
  assert.deepEqual(sshConfigArgs({ host: 'db-3', port: 22 }), ['-G', '--', 'db-3']);
  assert.deepEqual(sshConfigArgs({ host: 'db-3' }), ['-G', '--', 'db-3']);
});

test('probeSshConfig on port 2222 reports port 2222 (no false Port override)', async (t) => {
  const obs = await probeSshConfig({ host: 'db-3.sshcheck.test', port: 2222 }, testContext(5000));
  if (obs.unavailable === 'ssh (openssh-client) is not installed') {
    t.skip('ssh is not installed');
    return;
  }
  assert.equal(obs.port, 2222);
});
