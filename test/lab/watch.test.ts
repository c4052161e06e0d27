// `sshcheck watch` through the real CLI binary from the lab's bastion, against a real sshd:
// a fault that appears and clears (an iptables DROP added, then removed, by the test) gives
// exactly two change lines; Ctrl-C ends the watch cleanly with its last state; a watch stops
// by itself at its maximum; a spent connection budget makes a check reuse a result and the
// watch says so. Short intervals through the test-only SSHCHECK_TEST_WATCH_* variables: no
// test waits real minutes.
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDR, CLI, Lab, labUnavailable } from './lab.js';

const unavailable = labUnavailable();
const figures: string[] = [];
after(() => {
  if (figures.length > 0) console.log(`watch lab:\n  ${figures.join('\n  ')}`);
});

interface Watching {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void>;
}

/** The CLI's watch in the bastion namespace, its output kept; killed by the test if it outlives it. */
function startWatch(lab: Lab, args: readonly string[], env: Record<string, string>): Watching {
  const child = spawn('ip', ['netns', 'exec', lab.bastion, process.execPath, CLI, 'watch', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', SSHCHECK_DB: join(lab.workDir, 'watch.db'), TZ: 'UTC', ...env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (!pattern.test(out)) {
        if (Date.now() > until) throw new Error(`the watch never printed ${String(pattern)}:\n${out}\n${err}`);
        if (child.exitCode !== null) throw new Error(`the watch exited (${child.exitCode}) before printing ${String(pattern)}:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

const DROP = ['INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP'];

describe('lab: sshcheck watch', { skip: unavailable ?? false }, () => {
  test('a fault appears and clears: exactly two change lines; Ctrl-C prints the last state and exits with it', async () => {
    const lab = await Lab.create();
    let watch: Watching | undefined;
    try {
      await lab.startSshd();
      // A budget no watch of this test reaches: every check connects, so the fault is seen.
      const config = join(lab.workDir, 'engine.yml');
      writeFileSync(config, 'connection_budget:\n  connections: 1000\n  window_seconds: 600\n');
      watch = startWatch(lab, ['--config', config, '--every', '1s', '--for', '5m', ADDR.target], { SSHCHECK_TEST_WATCH_MIN_EVERY_MS: '1000' });
      await watch.waitFor(/^\d\d:\d\d:\d\d {2}healthy since /m, 30_000);
      const faultAt = Date.now();
      await lab.iptables(lab.target, '-I', ...DROP);
      await watch.waitFor(/now port-filtered \(since .*; was healthy for .*\): SYNs to port 22 are silently dropped/, 30_000);
      const seenAt = Date.now();
      await lab.iptables(lab.target, '-D', ...DROP);
      await watch.waitFor(/recovered at \d\d:\d\d:\d\d after \d+ s port-filtered/, 30_000);
      const clearedAt = Date.now();
      watch.child.kill('SIGINT');
      const code = await watch.exited;
      const lines = watch.stdout().trim().split('\n');
      const changes = lines.filter((l) => /^\d\d:\d\d:\d\d {2}(now |recovered )/.test(l));
      assert.equal(changes.length, 2, `exactly the two changes:\n${watch.stdout()}`);
      assert.match(changes[0] ?? '', /now port-filtered/);
      assert.match(changes[1] ?? '', /recovered at .* after \d+ s port-filtered/);
      assert.match(lines.at(-1) ?? '', /^Watch stopped at \d\d:\d\d:\d\d by Ctrl-C after \d+ checks and 2 changes; last state healthy since \d\d:\d\d:\d\d \(\d+ s\)\.$/);
      assert.equal(code, 0, 'the last state is healthy: exit 0');
      const checks = Number(/after (\d+) checks/.exec(lines.at(-1) ?? '')?.[1]);
      figures.push(`fault seen ${((seenAt - faultAt) / 1000).toFixed(1)} s after the DROP, recovery ${((clearedAt - seenAt) / 1000).toFixed(1)} s after its removal; ${checks} checks in all`);
      figures.push(`captured:\n    ${lines.join('\n    ')}`);
    } finally {
      if (watch && watch.child.exitCode === null) watch.child.kill('SIGKILL');
      await lab.destroy();
    }
  });

  test('a watch stops by itself at its maximum; a spent connection budget is reused and said', async () => {
    const lab = await Lab.create();
    let watch: Watching | undefined;
    try {
      await lab.startSshd();
      // No --for: the default duration, capped by the (lowered) maximum. The default budget (4
      // connections per 10 min) is spent after a few checks: later ones reuse the newest result.
      const started = Date.now();
      watch = startWatch(lab, ['--every', '1s', ADDR.target], { SSHCHECK_TEST_WATCH_MIN_EVERY_MS: '1000', SSHCHECK_TEST_WATCH_MAX_FOR_MS: '12000' });
      const code = await watch.exited;
      const wallMs = Date.now() - started;
      const lines = watch.stdout().trim().split('\n');
      assert.match(lines[0] ?? '', /^sshcheck watch sshcheck@10\.77\.2\.2:22: every 1 s for 12 s, until /);
      assert.match(lines.at(-1) ?? '', /^Watch ended at \d\d:\d\d:\d\d: it ran its 12 s after \d+ checks and 0 changes; last state healthy since /);
      assert.equal(code, 0);
      assert.ok(wallMs < 40_000, `it stopped by itself (${wallMs} ms)`);
      assert.match(watch.stderr(), /no change \(the last check reused a result \d+ s old instead of connecting \(/, 'a reused result is reported as such');
      figures.push(`stopped at its 12 s maximum after ${(wallMs / 1000).toFixed(1)} s wall; ${/after (\d+) checks/.exec(lines.at(-1) ?? '')?.[1] ?? '?'} checks, ${(watch.stderr().match(/reused a result/g) ?? []).length} of them reused`);
    } finally {
      if (watch && watch.child.exitCode === null) watch.child.kill('SIGKILL');
      await lab.destroy();
    }
  });
});
