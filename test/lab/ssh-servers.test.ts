// The real CLI from the lab's bastion against SSH servers that misbehave at one precise
// point after the TCP connect (test/support/ssh-server.ts in the target namespace), and
// against real servers from Debian that speak other algorithm sets than OpenSSH's default:
// each failure gets its own name, and a server that works for the real `ssh` is healthy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cause, Report } from '../../src/engine/report.js';
import type { SshServerMode } from '../support/ssh-server.js';
import { fingerprintOf } from '../../src/engine/probes/ssh-hostkey.js';
import { SshWriter } from '../../src/engine/probes/ssh-wire.js';
import { ADDR, Lab, labUnavailable, sh } from './lab.js';
import { keygen } from '../support/openssh-server.js';

const unavailable = labUnavailable();
const SERVER_MAIN = fileURLToPath(new URL('../support/ssh-server-main.js', import.meta.url));

let lab: Lab;
let nextPort = 2300;
const figures: string[] = [];

async function check(port: number): Promise<Report> {
  // A store per check: the connection budget counts checks of one target, and this lab checks
  // 10.77.2.2 once per server mode.
  const run = await lab.runCli(['--json', '-q', `${ADDR.target}:${port}`], 30_000, `port-${port}`);
  let report: Report;
  try {
    report = JSON.parse(run.stdout) as Report;
  } catch {
    return assert.fail(`stdout is not one JSON report (exit ${run.code}): ${run.stdout.slice(0, 300)} ${run.stderr.slice(0, 300)}`);
  }
  assert.equal(run.code, report.diagnosis.cause === 'healthy' ? 0 : 1, 'exit status follows the diagnosis');
  figures.push(`${port}: ${report.diagnosis.cause} (${report.diagnosis.confidence}) in ${report.diagnosedMs} ms`);
  return report;
}

function explained(report: Report): string {
  return `${report.diagnosis.cause} (${report.diagnosis.step ?? '-'}, ${report.diagnosis.confidence}): ${report.diagnosis.summary}`;
}

/** Whether the real OpenSSH client, run from the bastion, gets to authentication. */
async function sshReachesAuth(port: number): Promise<boolean> {
  const r = await lab.exec(
    lab.bastion,
    'ssh',
    ['-vvv', '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'IdentityFile=none', '-o', 'IdentityAgent=none', '-o', 'ConnectTimeout=5', '-p', String(port), '-N', `nobody@${ADDR.target}`],
    { allowFail: true },
  );
  return /Authentications that can continue|Permission denied \(|Authenticated to/.test(r.stderr);
}

describe('lab: every failure after the TCP connect gets its own name', { skip: unavailable ?? false }, () => {
  const servers: ChildProcess[] = [];
  before(async () => {
    lab = await Lab.create();
  });
  after(async () => {
    if (figures.length > 0) console.log(`ssh-server lab runs:\n  ${figures.join('\n  ')}`);
    for (const s of servers) s.kill('SIGTERM');
    await lab?.destroy();
  });

  async function server(mode: SshServerMode): Promise<number> {
    const port = nextPort++;
    servers.push(await lab.spawnTracked(lab.target, process.execPath, [SERVER_MAIN, mode, ADDR.target, String(port)], /listening/));
    return port;
  }

  const cases: Array<[SshServerMode, Cause, string]> = [
    ['forged-signature', 'host-key-forged', 'a key exchange reply signed over other data'],
    ['close-after-kexinit', 'server-dropped', 'a close after KEXINIT'],
    ['reset-after-kexinit', 'server-dropped', 'a reset after KEXINIT'],
    ['length-zero', 'protocol-violation', 'a packet length of 0'],
    ['length-max', 'protocol-violation', 'a packet length of 0xFFFFFFFF'],
    ['garbage', 'protocol-violation', 'random bytes after the banner'],
    ['truncated-namelist', 'protocol-violation', 'a KEXINIT whose name-list runs past the packet'],
    ['close-mid-packet', 'protocol-violation', 'a close in the middle of a packet'],
    ['no-common-kex', 'kex-failed', 'no common key exchange method'],
    ['stall', 'kex-stall', 'a connection that stays open and goes quiet after KEXINIT (the control)'],
    ['normal', 'healthy', 'a well-behaved server (the control for all of the above)'],
  ];
  for (const [mode, cause, name] of cases) {
    test(`${name}: ${cause}`, async () => {
      const report = await check(await server(mode));
      assert.equal(report.diagnosis.cause, cause, explained(report));
      if (cause === 'host-key-forged') {
        assert.equal(report.diagnosis.confidence, 'high');
        const auth = report.steps.find((st) => st.id === 'auth');
        assert.notEqual(auth?.status, 'pass', 'step 8 never passes on a forged reply');
      }
      if (cause === 'kex-failed') assert.match(report.diagnosis.summary, /their offer: diffie-hellman-group1-sha1.*our offer: curve25519-sha256/);
      if (cause === 'kex-stall') assert.equal(report.diagnosis.confidence, 'medium', 'no MTU blackhole shown, so not high');
      if (cause === 'server-dropped') assert.doesNotMatch(report.diagnosis.next.join(' '), /lower the MTU/);
    });
  }

  test('every report carries the host key fingerprint as ssh prints it', async () => {
    const report = await check(await server('normal'));
    assert.match(report.hostKey?.sha256 ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(report.hostKey?.type, 'ssh-ed25519');
  });

  test('a host key that differs from the configured known_hosts: host-key-changed with both fingerprints', async () => {
    const port = await server('normal');
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as { x: string };
    const blob = new SshWriter().string('ssh-ed25519').string(Buffer.from(other.x, 'base64url')).toBuffer();
    const knownHosts = join(lab.workDir, 'known_hosts');
    writeFileSync(knownHosts, `[${ADDR.target}]:${port} ssh-ed25519 ${blob.toString('base64')}\n`);
    const config = join(lab.workDir, 'engine.yml');
    writeFileSync(config, `known_hosts: ${knownHosts}\n`);
    const run = await lab.runCli(['--json', '-q', '--config', config, `${ADDR.target}:${port}`], 30_000, `known-hosts-${port}`);
    const report = JSON.parse(run.stdout) as Report;
    assert.equal(report.diagnosis.cause, 'host-key-changed', explained(report));
    assert.equal(report.diagnosis.confidence, 'high');
    assert.ok(report.hostKey);
    assert.ok(report.diagnosis.summary.includes(report.hostKey.sha256), 'the presented fingerprint');
    assert.ok(report.diagnosis.summary.includes(fingerprintOf(blob)), 'the expected fingerprint');
    assert.equal(run.code, 1);
  });

  // ---- Real servers from Debian: healthy exactly when the real ssh reaches authentication --

  async function realServerCase(start: (port: number) => Promise<void>): Promise<void> {
    const port = nextPort++;
    await start(port);
    const reaches = await sshReachesAuth(port);
    const report = await check(port);
    assert.equal(report.diagnosis.cause === 'healthy', reaches, `ssh reaches authentication: ${reaches}; ${explained(report)}`);
    assert.ok(reaches, 'the real ssh client reaches authentication on this server');
  }

  test('Dropbear', async () => {
    await realServerCase(async (port) => {
      const key = join(lab.workDir, `dropbear_${port}`);
      await sh('dropbearkey', ['-t', 'ed25519', '-f', key]);
      servers.push(await lab.spawnTracked(lab.target, '/usr/sbin/dropbear', ['-F', '-E', '-s', '-p', `${ADDR.target}:${port}`, '-r', key], /Not backgrounding|listening/i));
    });
  });

  test('TinySSH under tcpserver (curve25519/sntrup761, ed25519, chacha20-poly1305 only)', async () => {
    await realServerCase(async (port) => {
      const keys = join(lab.workDir, `tinyssh_${port}`);
      await sh('tinysshd-makekey', [keys]);
      servers.push(await lab.spawnTracked(lab.target, 'tcpserver', ['-HRDl0', ADDR.target, String(port), 'tinysshd', keys]));
      // tcpserver prints nothing when ready: wait until the port answers.
      await waitForPort(port);
    });
  });

  test('OpenSSH with post-quantum key exchange only (sntrup761x25519)', async () => {
    await realServerCase(async (port) => {
      await lab.startSshd({ port, config: ['KexAlgorithms sntrup761x25519-sha512@openssh.com'] });
    });
  });

  test('OpenSSH with a hardened set (aes256-gcm, hmac-sha2-512-etm, rsa-sha2-512)', async () => {
    await realServerCase(async (port) => {
      const rsa = join(lab.workDir, `rsa_${port}`);
      keygen(rsa, { type: 'rsa', bits: 3072 });
      await lab.startSshd({ port, config: [`HostKey ${rsa}`, 'HostKeyAlgorithms rsa-sha2-512', 'Ciphers aes256-gcm@openssh.com', 'MACs hmac-sha2-512-etm@openssh.com', 'KexAlgorithms curve25519-sha256'] });
    });
  });
});

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await lab.exec(lab.bastion, 'nc', ['-z', '-w', '1', ADDR.target, String(port)], { allowFail: true });
    if (r.code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`port ${port} never answered`);
}
