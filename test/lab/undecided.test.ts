// A run that ends before its evidence settles says so (issue 12): interrupted by a signal,
// cut by --budget, or a fleet stopped half way, against real lab faults. Never "healthy",
// never a cause that was not seen, never exit 0; the history does not call it "works".
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Report } from '../../src/engine/report.js';
import type { FleetResult } from '../../src/fleet/run.js';
import { ADDR, CLI, Lab, labUnavailable } from './lab.js';
import type { CliRun } from './lab.js';

const unavailable = labUnavailable();

/**
 * The real CLI in the bastion, sent `signal` `afterMs` after it printed its first progress
 * line (so the signal meets a run, not Node still starting on a busy machine).
 */
function cliStoppedBy(lab: Lab, signal: NodeJS.Signals, afterMs: number, args: readonly string[]): Promise<CliRun> {
  const started = performance.now();
  return new Promise((resolve) => {
    // `ip netns exec` execs the command: the child's pid is the CLI's own.
    const child = spawn('ip', ['netns', 'exec', lab.bastion, process.execPath, CLI, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', SSHCHECK_DB: join(lab.workDir, 'sshcheck.db') },
    });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && /checking /.test(stderr)) {
        sent = true;
        setTimeout(() => child.kill(signal), afterMs);
      }
    });
    const limit = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(limit);
      resolve({ code, stdout, stderr, wallMs: performance.now() - started });
    });
  });
}

function parse<T>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    return assert.fail(`stdout is not one JSON document (exit ${run.code}): ${run.stdout.slice(0, 300)} | ${run.stderr.slice(0, 300)}`);
  }
}

function assertUndecided(report: Report, stoppedBy: string): void {
  const d = report.diagnosis;
  const what = `${d.cause}: ${d.summary}`;
  assert.equal(d.cause, 'undecided', what);
  assert.equal(report.outcome, 'undecided', what);
  assert.equal(d.step, null);
  assert.equal(d.stoppedBy, stoppedBy, what);
  assert.ok((d.pending ?? []).length > 0, `pending steps are listed: ${what}`);
  assert.match(d.summary, /^Stopped before a verdict/);
  assert.ok(report.steps.every((s) => s.status !== ('running' as string)));
}

describe('lab: runs that stop before their verdict', { skip: unavailable ?? false }, () => {
  test('SIGINT 0.7 s into a run against an address nobody owns: undecided, exit 130, and history does not say "works"', async () => {
    const lab = await Lab.create();
    try {
      const run = await cliStoppedBy(lab, 'SIGINT', 700, ['--json', ADDR.nobody]);
      const report = parse<Report>(run);
      assertUndecided(report, 'signal');
      assert.equal(report.diagnosis.stopDetail, 'SIGINT');
      assert.equal(run.code, 130, run.stderr);
      const history = await lab.runCli(['history', ADDR.nobody]);
      assert.equal(history.code, 0, history.stderr);
      assert.doesNotMatch(history.stdout, /\bworks\b|\bbroken\b/, history.stdout);
      assert.match(history.stdout, /undecided/);
    } finally {
      await lab.destroy();
    }
  });

  test('SIGTERM: undecided, exit 143, the text report says it stopped before a verdict', async () => {
    const lab = await Lab.create();
    try {
      const run = await cliStoppedBy(lab, 'SIGTERM', 700, ['--no-color', ADDR.nobody]);
      assert.equal(run.code, 143, run.stderr);
      assert.match(run.stdout, /: stopped before a verdict after /);
      assert.match(run.stdout, /Diagnosis: undecided/);
      assert.match(run.stdout, /Stopped before a verdict/);
      assert.doesNotMatch(run.stdout, /Diagnosis: (healthy|no-response|host-unreachable)|diagnosed in|once the diagnosis was settled/);
    } finally {
      await lab.destroy();
    }
  });

  test('--budget 1: against an address nobody owns and against a dropped port, undecided with exit 4, no unseen claims', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd();
      await lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP');
      for (const target of [ADDR.nobody, ADDR.target]) {
        const run = await lab.runCli(['--json', '-q', '--budget', '1', target]);
        const report = parse<Report>(run);
        assertUndecided(report, 'budget');
        assert.equal(run.code, 4, run.stderr);
        // A SYN unanswered for less than a second was not retransmitted yet.
        assert.doesNotMatch(run.stdout, /retransmitted/);
      }
    } finally {
      await lab.destroy();
    }
  });

  test('a fleet interrupted at 1.6 s: the unfinished host is undecided, not no-response; exit 130', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd();
      const run = await cliStoppedBy(lab, 'SIGINT', 1600, ['--json', ADDR.nobody, ADDR.target]);
      const result = parse<FleetResult>(run);
      const nobody = result.reports.find((r) => r.target.host === ADDR.nobody);
      assert.ok(nobody || result.notStarted.includes(ADDR.nobody), JSON.stringify(result.summary));
      if (nobody) assertUndecided(nobody, 'signal');
      assert.ok(!result.summary.byCause.some((c) => c.cause === 'no-response'), JSON.stringify(result.summary.byCause));
      assert.equal(run.code, 130, run.stderr);
    } finally {
      await lab.destroy();
    }
  });
});
