// The inside view for real: a diagnostics login on the lab target (root with a key, strict
// host key checking), the fixed command set, and the requester's address (--from) checked
// against TCP wrappers and a real fail2ban jail that banned a second lab client.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Report } from '../../src/engine/report.js';
import { ADDR, Lab, labUnavailable } from './lab.js';
import { CLIENT, addClient, diagnosticsLogin, fail2banAvailable, getClientBanned, installFail2banConfig, sshdLogPath, startFail2ban } from './inside-lab.js';

const unavailable = labUnavailable();
const timings: string[] = [];
after(() => {
  if (timings.length > 0) console.log(`inside view, per run:\n  ${timings.join('\n  ')}`);
});

async function check(lab: Lab, args: string[]): Promise<{ report: Report; code: number | null }> {
  const run = await lab.runCli(['--json', '-q', ...args]);
  let report: Report;
  try {
    report = JSON.parse(run.stdout) as Report;
  } catch {
    assert.fail(`no JSON report (exit ${run.code}): ${run.stdout.slice(0, 200)} ${run.stderr.slice(0, 400)}`);
  }
  const login = report.steps.find((s) => s.id === 'sshd')?.evidence.find((e) => e.probe === 'inside' && e.detail.startsWith('inside: logged in'));
  if (login) timings.push(login.detail);
  return { report, code: run.code };
}

function evidence(report: Report, step: string): string {
  return (report.steps.find((s) => s.id === step)?.evidence ?? []).map((e) => e.detail).join('\n');
}

describe('lab: the inside view', { skip: unavailable ?? false }, () => {
  test('healthy, with the server side in the report', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd({ systemConfig: true, logFile: sshdLogPath(lab) });
      const diag = await diagnosticsLogin(lab);
      const { report, code } = await check(lab, ['--config', diag.configPath, ADDR.target]);
      assert.equal(report.diagnosis.cause, 'healthy', report.diagnosis.summary);
      assert.equal(code, 0);
      const sshd = evidence(report, 'sshd');
      assert.match(sshd, /inside: logged in as root on 10\.77\.2\.2:22/);
      assert.match(sshd, /listening: 10\.77\.2\.2:22 \(sshd\)/);
      assert.match(sshd, /sshd -T: port 22/);
      assert.match(evidence(report, 'load'), /inside: load .* on \d+ cores?/);
      assert.match(evidence(report, 'bans'), /fail2ban/);
    } finally {
      await lab.destroy();
    }
  });

  test('sshd listening only on another port: port-closed, with where it listens', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd({ port: 2222, systemConfig: true });
      const diag = await diagnosticsLogin(lab, { port: 2222 });
      const { report } = await check(lab, ['--config', diag.configPath, ADDR.target]);
      assert.equal(report.diagnosis.cause, 'port-closed', report.diagnosis.summary);
      assert.equal(report.diagnosis.confidence, 'high');
      assert.match(report.diagnosis.summary, /listens on port 2222 only, not on port 22/);
    } finally {
      await lab.destroy();
    }
  });

  test('a reset from a firewall rule while sshd listens: port-rejected, not port-closed', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd({ systemConfig: true, config: ['Port 22', 'Port 2222'] });
      await lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'REJECT', '--reject-with', 'tcp-reset');
      const diag = await diagnosticsLogin(lab, { port: 2222 });
      const { report } = await check(lab, ['--config', diag.configPath, ADDR.target]);
      assert.equal(report.diagnosis.cause, 'port-rejected', report.diagnosis.summary);
      assert.equal(report.diagnosis.step, 'firewall');
      assert.match(report.diagnosis.summary, /--dport 22 -j REJECT --reject-with tcp-reset/);
    } finally {
      await lab.destroy();
    }
  });

  test('hosts.deny refusing everyone but the bastion: the requester is refused by TCP wrappers', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd({ systemConfig: true, hostsDeny: `sshd: ALL EXCEPT ${ADDR.bastion}\n` });
      const diag = await diagnosticsLogin(lab);
      const { report } = await check(lab, ['--config', diag.configPath, '--from', CLIENT.address, ADDR.target]);
      assert.equal(report.diagnosis.cause, 'connection-closed', report.diagnosis.summary);
      assert.match(report.diagnosis.summary, new RegExp(`TCP wrappers refuse ${CLIENT.address.replace(/\./g, '\\.')}`));
      const other = await check(lab, ['--config', diag.configPath, '--from', ADDR.bastion, ADDR.target]);
      assert.equal(other.report.diagnosis.cause, 'healthy', 'the bastion itself is allowed');
    } finally {
      await lab.destroy();
    }
  });

  test('a real fail2ban jail that banned a second client: --from finds the ban and says how to lift it', { skip: fail2banAvailable() ?? false }, async () => {
    const lab = await Lab.create();
    try {
      const client = await addClient(lab);
      installFail2banConfig(lab, sshdLogPath(lab));
      await lab.startSshd({ systemConfig: true, logFile: sshdLogPath(lab) });
      const diag = await diagnosticsLogin(lab);
      await startFail2ban(lab);
      await getClientBanned(lab, client);
      const { report, code } = await check(lab, ['--config', diag.configPath, '--from', CLIENT.address, ADDR.target]);
      assert.equal(report.diagnosis.cause, 'banned', report.diagnosis.summary);
      assert.equal(report.diagnosis.confidence, 'high');
      assert.match(report.diagnosis.summary, /fail2ban's sshd jail has banned it/);
      assert.match(report.diagnosis.summary, new RegExp(`sudo fail2ban-client set sshd unbanip ${CLIENT.address.replace(/\./g, '\\.')}`));
      assert.equal(code, 1);
      const clean = await check(lab, ['--config', diag.configPath, '--from', '10.77.3.99', ADDR.target]);
      assert.equal(clean.report.diagnosis.cause, 'healthy');
      assert.match(evidence(clean.report, 'bans'), /fail2ban sshd jail: 1 banned \(10\.77\.3\.2\)/);
      assert.match(clean.report.steps.find((s) => s.id === 'bans')?.summary ?? '', /10\.77\.3\.99\) is not banned/);
    } finally {
      await lab.destroy();
    }
  });

  test('MaxStartups throttling shows in the server log and config', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd({ systemConfig: true, logFile: sshdLogPath(lab), config: ['MaxStartups 1:100:1', 'Port 22', 'Port 2222'] });
      const diag = await diagnosticsLogin(lab, { port: 2222 });
      const { report } = await check(lab, ['--config', diag.configPath, ADDR.target]);
      assert.equal(report.diagnosis.cause, 'server-overloaded', report.diagnosis.summary);
      assert.match(evidence(report, 'load'), /MaxStartups 1:100:1/);
    } finally {
      await lab.destroy();
    }
  });

  test('a target whose host key does not match known_hosts gets no login', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd({ systemConfig: true });
      const diag = await diagnosticsLogin(lab, { wrongHostKey: true });
      const { report } = await check(lab, ['--config', diag.configPath, ADDR.target]);
      assert.equal(report.diagnosis.cause, 'healthy');
      assert.match(evidence(report, 'sshd'), /no inside view: the target's host key is not the one in the configured known_hosts/);
      assert.doesNotMatch(evidence(report, 'sshd'), /logged in/);
    } finally {
      await lab.destroy();
    }
  });
});
