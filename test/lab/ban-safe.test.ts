// What a check costs the target, measured at the target: a real sshd on a port other than 22
// is healthy with high confidence (ssh -G is asked about that port), and a check sends no
// user name unless one is configured.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Report } from '../../src/engine/report.js';
import { ADDR, Lab, labUnavailable } from './lab.js';
import { CLIENT, addClient, diagnosticsLogin, fail2banAvailable, getClientBanned, installFail2banConfig, sshdLogPath, startFail2ban } from './inside-lab.js';

const unavailable = labUnavailable();
const figures: string[] = [];
after(() => {
  if (figures.length > 0) console.log(`ban-safe lab figures:\n  ${figures.join('\n  ')}`);
});

async function check(lab: Lab, args: string[]): Promise<{ report: Report; code: number | null; wallMs: number }> {
  const run = await lab.runCli(['--json', '-q', ...args]);
  try {
    return { report: JSON.parse(run.stdout) as Report, code: run.code, wallMs: run.wallMs };
  } catch {
    assert.fail(`no JSON report (exit ${run.code}): ${run.stdout.slice(0, 200)} ${run.stderr.slice(0, 400)}`);
  }
}

/**
 * Connections the target's sshd accepted from the bastion, from its own VERBOSE log: one
 * "Connection from" line per accepted connection, one "drop connection" line per connection
 * MaxStartups turned away. Waits until the count has been stable for a moment: sshd's
 * children log after the CLI has exited.
 */
async function acceptedFromBastion(log: string): Promise<{ count: number; text: string }> {
  const read = (): { count: number; text: string } => {
    const text = readFileSync(log, 'utf8');
    const mine = text.split('\n').filter((l) => l.includes(`Connection from ${ADDR.bastion} port`) || l.includes(`from [${ADDR.bastion}]:`) && l.includes('past MaxStartups'));
    return { count: mine.length, text };
  };
  let last = read();
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 150));
    const next = read();
    if (next.count === last.count && i >= 2) return next;
    last = next;
  }
  return last;
}

/** sshd's log lines that name a user: what fail2ban's filters count ("Invalid user", "authenticating user"). */
function userLines(text: string): string[] {
  return text.split('\n').filter((l) => /\buser\b/i.test(l) && l.includes(ADDR.bastion));
}

function evidence(report: Report, step: string): string {
  return (report.steps.find((s) => s.id === step)?.evidence ?? []).map((e) => e.detail).join('\n');
}

describe('lab: what a check costs the target', { skip: unavailable ?? false }, () => {
  test('a healthy sshd on port 2222 is healthy with high confidence (ssh -G is asked about port 2222)', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd({ port: 2222 });
      const { report, code, wallMs } = await check(lab, [`${ADDR.target}:2222`]);
      figures.push(`healthy on 2222: ${report.diagnosedMs} ms to diagnosis, ${Math.round(wallMs)} ms wall`);
      assert.equal(report.diagnosis.cause, 'healthy', report.diagnosis.summary);
      assert.equal(report.diagnosis.confidence, 'high', report.diagnosis.summary);
      assert.equal(code, 0);
      const vpn = report.steps.find((s) => s.id === 'vpn-proxy');
      assert.equal(vpn?.status, 'pass', vpn?.summary);
      assert.doesNotMatch(evidence(report, 'vpn-proxy'), /changes how .* is reached/);
    } finally {
      await lab.destroy();
    }
  });

  test('with nothing configured a check sends no user name, and step 8 says the auth phase was not measured', async () => {
    const lab = await Lab.create();
    try {
      const log = join(lab.workDir, 'sshd-verbose.log');
      await lab.startSshd({ config: ['LogLevel VERBOSE'], logFile: log });
      const { report } = await check(lab, [ADDR.target]);
      assert.equal(report.diagnosis.cause, 'healthy', report.diagnosis.summary);
      assert.equal(report.diagnosis.confidence, 'high');
      const auth = report.steps.find((s) => s.id === 'auth');
      assert.equal(auth?.status, 'skip');
      assert.match(auth?.summary ?? '', /^not measured: no user name was sent/);
      assert.match(auth?.summary ?? '', /-l <user>, probe_user in the engine config/);
      assert.match(evidence(report, 'auth'), /ssh-userauth service accepted .* after NEWKEYS; no user name sent/);
      const seen = await acceptedFromBastion(log);
      assert.deepEqual(userLines(seen.text), [], 'sshd logged no user name for the bastion');
      assert.ok(seen.count >= 1, 'the check did connect');

      // The operator's own -l is sent (that is what it is for), and sshd says so.
      const named = await check(lab, ['-l', 'nosuchuser', ADDR.target]);
      assert.match(evidence(named.report, 'auth'), /"none" authentication answered/);
      const after = await acceptedFromBastion(log);
      assert.equal(userLines(after.text).filter((l) => /Invalid user nosuchuser/.test(l)).length, 1, 'one none request, from the in-process handshake only (ssh -vvv sends none)');
    } finally {
      await lab.destroy();
    }
  });

  for (const c of [
    { name: 'without a diagnostics login: at most 2', login: false, sshd: [] as string[], limit: 2 },
    { name: 'with a diagnostics login on the target port: at most 3', login: true, sshd: [] as string[], limit: 3 },
    // MaxStartups 1: the handshake and ssh -vvv race, one is dropped; the login used to retry (4).
    { name: 'with a diagnostics login and MaxStartups 1:100:1: still at most 3', login: true, sshd: ['MaxStartups 1:100:1'], limit: 3 },
  ]) {
    test(`connections the target accepts from one check, ${c.name}`, async () => {
      const lab = await Lab.create();
      try {
        const log = sshdLogPath(lab);
        await lab.startSshd({ config: ['LogLevel VERBOSE', ...c.sshd], logFile: log, systemConfig: true });
        const args = c.login ? ['--config', (await diagnosticsLogin(lab)).configPath, ADDR.target] : [ADDR.target];
        const { report } = await check(lab, args);
        const seen = await acceptedFromBastion(log);
        const login = evidence(report, 'sshd').match(/inside: logged in[^\n]*/)?.[0] ?? report.steps.find((s) => s.id === 'sshd')?.evidence.find((e) => e.probe === 'inside')?.detail ?? 'no inside view';
        figures.push(`${c.name}: ${seen.count} connection(s) accepted by sshd → ${report.diagnosis.cause}; ${login.slice(0, 120)}`);
        assert.ok(seen.count <= c.limit, `${seen.count} connections accepted, budget ${c.limit}:\n${seen.text}`);
        assert.ok(seen.count >= 1, 'the check connected');
        if (c.sshd.length === 0) assert.equal(report.diagnosis.cause, 'healthy', report.diagnosis.summary);
        if (c.login && c.sshd.length === 0) assert.match(evidence(report, 'sshd'), /inside: logged in as root/);
        assert.deepEqual(userLines(seen.text).filter((l) => /Invalid user/.test(l)), []);
      } finally {
        await lab.destroy();
      }
    });
  }

  test('30 checks of one target in one fail2ban window through the real CLI: the stock sshd jail never bans the bastion', { skip: fail2banAvailable() ?? false }, async () => {
    const lab = await Lab.create();
    try {
      const client = await addClient(lab);
      const log = sshdLogPath(lab);
      installFail2banConfig(lab, log);
      // The stock jail as shipped: no maxretry, findtime or bantime of our own (5 in 10 min bans
      // for 10 min); the whole test runs inside one findtime. Only how the log is read differs.
      writeFileSync(
        `/etc/netns/${lab.target}/fail2ban/jail.local`,
        ['[DEFAULT]', 'backend = polling', 'ignoreself = false', 'ignoreip =', 'banaction = iptables-allports', '[sshd]', 'enabled = true', `logpath = ${log}`, 'datepattern = {NONE}', ''].join('\n'),
      );
      await lab.startSshd({ config: ['LogLevel VERBOSE'], logFile: log });
      await startFail2ban(lab);
      const jail = async (what: string): Promise<string> => (await lab.exec(lab.target, 'fail2ban-client', ['get', 'sshd', what])).stdout.trim();
      assert.equal(await jail('maxretry'), '5');
      assert.equal(await jail('findtime'), '600');
      // The budget's window is compressed (10 min → 10 s) so that most checks connect; its size is the default.
      const windowS = 10;
      const config = join(lab.workDir, 'budget.yml');
      writeFileSync(config, `connection_budget:\n  connections: 4\n  window_seconds: ${windowS}\n`);
      const started = performance.now();
      let connected = 0;
      let reused = 0;
      const walls: number[] = [];
      for (let i = 1; i <= 30; i++) {
        // The last check comes after the budget's window, so it must connect.
        if (i === 30) await new Promise((r) => setTimeout(r, windowS * 1000));
        const { report, wallMs } = await check(lab, ['--config', config, ADDR.target]);
        walls.push(wallMs);
        assert.equal(report.diagnosis.cause, 'healthy', `check ${i}: ${report.diagnosis.summary}`);
        if (report.reused) {
          reused += 1;
          assert.match(report.reused.reason, /connection budget for 10\.77\.2\.2 .* is spent/);
        } else connected += 1;
        if (i === 30) assert.equal(report.reused, undefined, 'the last check connected');
      }
      const spanS = (performance.now() - started) / 1000;
      await new Promise((r) => setTimeout(r, 2500)); // fail2ban polls the log about once a second
      const seen = await acceptedFromBastion(log);
      const status = (await lab.exec(lab.target, 'fail2ban-client', ['status', 'sshd'])).stdout;
      figures.push(
        `fail2ban: 30 checks in ${spanS.toFixed(0)} s (${connected} connected, ${reused} reused; wall ${Math.min(...walls).toFixed(0)}-${Math.max(...walls).toFixed(0)} ms); sshd accepted ${seen.count} connections from the bastion; jail: ${status.replace(/\s+/g, ' ').replace(/.*?Currently failed/, 'Currently failed').trim()}`,
      );
      assert.match(status, /Currently failed:\s+0/);
      assert.match(status, /Total failed:\s+0/);
      assert.match(status, /Currently banned:\s+0/);
      assert.doesNotMatch(status, new RegExp(ADDR.bastion.replace(/\./g, '\\.')));
      // At least the first check and the last (after the window) connected; how many in between
      // depends on how many windows 30 checks span, which is the machine's speed, not the budget's.
      assert.ok(connected >= 2 && seen.count >= connected, `checks connected: ${connected}, connections: ${seen.count}`);
      assert.ok(seen.count <= Math.ceil(spanS / windowS + 1) * 4, 'the budget held');
      assert.deepEqual(userLines(seen.text), []);

      // The control: the same jail bans a client that sends user names it does not know.
      await getClientBanned(lab, client);
      const after = (await lab.exec(lab.target, 'fail2ban-client', ['status', 'sshd'])).stdout;
      assert.match(after, new RegExp(`Banned IP list:.*${CLIENT.address.replace(/\./g, '\\.')}`));
      assert.doesNotMatch(after, new RegExp(ADDR.bastion.replace(/\./g, '\\.')));

      // And the test can tell: the old default, a `none` request as "sshcheck" (no such account
      // here), gets the bastion banned within a few checks, budget and all.
      let oldDefault = 0;
      for (let i = 0; i < 12; i++) {
        const run = await lab.runCli(['--json', '-q', '--budget', '4', '--config', config, '-l', 'sshcheck', ADDR.target]);
        if (!/"reused"/.test(run.stdout)) oldDefault += 1;
        await new Promise((r) => setTimeout(r, 1500));
        if (new RegExp(`Banned IP list:.*${ADDR.bastion.replace(/\./g, '\\.')}`).test((await lab.exec(lab.target, 'fail2ban-client', ['status', 'sshd'])).stdout)) break;
        await new Promise((r) => setTimeout(r, 3000));
      }
      const banned = (await lab.exec(lab.target, 'fail2ban-client', ['status', 'sshd'])).stdout;
      figures.push(`control: ${oldDefault} checks that sent "sshcheck" as the user got the bastion banned: ${/Banned IP list:.*/.exec(banned)?.[0] ?? ''}`);
      assert.match(banned, new RegExp(`Banned IP list:.*${ADDR.bastion.replace(/\./g, '\\.')}`), 'checks that send an unknown user get the bastion banned');
    } finally {
      await lab.destroy();
    }
  });
});
