// The real probeVerbose against loopback only: a real sshd started on 127.0.0.1 (root), a
// closed loopback port, and a silent loopback TCP server for the abort behaviour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { probeVerbose, verboseArgs } from '../../src/engine/probes/openssh-verbose.js';
import type { VerboseObs } from '../../src/engine/observations.js';
import { testContext } from '../support/context.js';
import { sshdUnavailable, startSshd } from '../support/openssh-server.js';

const LOOPBACK = '127.0.0.1';
const sshInstalled = spawnSync('ssh', ['-V']).error === undefined;

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      const addr = server.address();
      if (addr === null || typeof addr === 'string') reject(new Error('no port'));
      else resolve(addr.port);
    });
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('verboseArgs: no config, no auth, no known_hosts, bounded, -- before the host', () => {
  const args = verboseArgs({ host: 'db-3', port: 2222, user: 'sshcheck', connectTimeoutS: 4 });
  assert.deepEqual(args.slice(0, 3), ['-vvv', '-F', '/dev/null']);
  assert.deepEqual(args.slice(-7), ['-N', '-p', '2222', '-l', 'sshcheck', '--', 'db-3']);
  const options = args.filter((_, i) => args[i - 1] === '-o');
  for (const o of [
    'BatchMode=yes',
    'PubkeyAuthentication=no',
    'PasswordAuthentication=no',
    'KbdInteractiveAuthentication=no',
    'GSSAPIAuthentication=no',
    'HostbasedAuthentication=no',
    'IdentityAgent=none',
    'IdentityFile=none',
    'StrictHostKeyChecking=yes',
    'UserKnownHostsFile=/dev/null',
    'GlobalKnownHostsFile=/dev/null',
    'UpdateHostKeys=no',
    'CheckHostIP=no',
    'ConnectionAttempts=1',
    'ConnectTimeout=4',
    'ServerAliveInterval=1',
    'ServerAliveCountMax=4',
    'ControlMaster=no',
    'ControlPath=none',
  ]) {
    assert.ok(options.includes(o), o);
  }
  assert.ok(args.includes('-T'));
  // Only the host follows "--"; nothing the caller passes can become an option.
  assert.equal(args.indexOf('--'), args.length - 2);
});

test('verboseArgs: IPv6 literals are passed bare', () => {
  const args = verboseArgs({ host: '2001:db8::1', port: 22, user: 'sshcheck', connectTimeoutS: 3 });
  assert.equal(args[args.length - 1], '2001:db8::1');
});

test('a closed loopback port: connect refused', async (t) => {
  if (!sshInstalled) {
    t.skip('ssh is not installed');
    return;
  }
  const port = await freePort();
  const obs = await probeVerbose({ host: LOOPBACK, port, user: 'sshcheck', connectTimeoutS: 3 }, testContext(10_000));
  assert.equal(obs.state, 'done');
  assert.equal(obs.aborted, undefined);
  assert.equal(obs.exitCode, 255);
  assert.equal(obs.parsed.stop?.kind, 'connect-refused');
  assert.equal(obs.parsed.last, 'connecting');
  assert.equal(obs.parsed.address, LOOPBACK);
  assert.deepEqual(obs.command.slice(0, 2), ['ssh', '-vvv']);
});

test('a real sshd on loopback: every phase through the key exchange, and no user name sent', async (t) => {
  if (!sshInstalled) {
    t.skip('ssh is not installed');
    return;
  }
  const why = sshdUnavailable();
  if (why !== undefined) {
    t.skip(why);
    return;
  }
  const sshd = await startSshd();
  t.after(() => sshd.stop());
  const { port } = sshd;

  const updates: VerboseObs[] = [];
  const obs = await probeVerbose({ host: LOOPBACK, port, user: 'sshcheck', connectTimeoutS: 3 }, testContext(15_000), (s) => updates.push(s));
  assert.equal(obs.state, 'done');
  assert.equal(obs.parsed.last, 'kex-reply-received');
  assert.equal(obs.parsed.stop?.kind, 'host-key-unverified');
  assert.match(obs.parsed.remoteSoftware ?? '', /^OpenSSH_/);
  assert.ok((obs.parsed.kexAlgorithm ?? '').length > 0);
  assert.match(obs.parsed.hostKey ?? '', /SHA256:/);
  // ssh stopped before authentication, so sshd has nothing for fail2ban's default filter.
  await sleep(100);
  const sshdLog = sshd.log();
  assert.doesNotMatch(sshdLog, /Invalid user|Failed none|authenticating user/);
  assert.match(sshdLog, /Connection closed by 127\.0\.0\.1 port \d+ \[preauth\]/);
  // No key was ever offered: the bastion's identities stay out of it.
  assert.ok(!obs.lines.some((l) => /Offering public key|identity file /.test(l.text)));

  // Live snapshots: running, each one further along than the one before.
  assert.ok(updates.length >= 5, `${updates.length} updates`);
  for (const u of updates) assert.equal(u.state, 'running');
  for (let i = 1; i < updates.length; i++) {
    assert.ok((updates[i]?.parsed.phases.length ?? 0) >= (updates[i - 1]?.parsed.phases.length ?? 0));
  }
  assert.ok(updates.some((u) => u.parsed.last === 'connected' || u.parsed.last === 'ident-sent'));
});

test('abort mid-run: resolves promptly with aborted and what was seen so far', async (t) => {
  if (!sshInstalled) {
    t.skip('ssh is not installed');
    return;
  }
  // Accepts and never sends a banner: ssh waits (ConnectTimeout 10 s) until the abort.
  const held: Socket[] = [];
  const server = createServer((s) => {
    held.push(s);
    s.on('error', () => undefined);
  });
  const port = await listen(server);
  t.after(() => {
    for (const s of held) s.destroy();
    server.close();
  });

  const ctx = testContext(30_000);
  let abortedAt = 0;
  const obs = await probeVerbose({ host: LOOPBACK, port, user: 'sshcheck', connectTimeoutS: 10 }, ctx, (s) => {
    if (s.parsed.last === 'ident-sent' && abortedAt === 0) {
      abortedAt = ctx.now();
      ctx.abort();
    }
  });
  assert.ok(abortedAt > 0, 'never reached ident-sent');
  assert.ok(ctx.now() - abortedAt < 1000, `resolved ${ctx.now() - abortedAt} ms after the abort`);
  assert.equal(obs.state, 'done');
  assert.equal(obs.aborted, true);
  assert.equal(obs.exitCode, null);
  assert.equal(obs.parsed.last, 'ident-sent');
  assert.equal(obs.parsed.stop, undefined);
});

test('an already aborted run returns at once without starting ssh', async () => {
  const ctx = testContext(5000);
  ctx.abort();
  const obs = await probeVerbose({ host: LOOPBACK, port: 22, user: 'sshcheck', connectTimeoutS: 3 }, ctx);
  assert.equal(obs.aborted, true);
  assert.deepEqual(obs.lines, []);
});

test('ssh missing: done and unavailable, never a rejection', async () => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent-sshcheck-path';
  try {
    const obs = await probeVerbose({ host: LOOPBACK, port: 22, user: 'sshcheck', connectTimeoutS: 3 }, testContext(5000));
    assert.equal(obs.state, 'done');
    assert.equal(obs.unavailable, 'ssh (openssh-client) is not installed');
    assert.equal(obs.parsed.phases.length, 0);
  } finally {
    if (saved === undefined) delete process.env.PATH;
    else process.env.PATH = saved;
  }
});
