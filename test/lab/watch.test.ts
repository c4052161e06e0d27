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
import { fileURLToPath } from 'node:url';
import { ADDR, CLI, Lab, labUnavailable } from './lab.js';

const DRIVER = fileURLToPath(new URL('./watch-driver.js', import.meta.url));

interface DriverLine {
  op: string;
  ref?: string;
  text?: string;
  kind?: string;
  id?: string;
  resumed?: number;
  stopped?: number;
  view?: { id: string; cause: string | null; checks: number; changes: number; stopped: string | null };
}

interface Driver {
  lines: DriverLine[];
  send(command: Record<string, unknown>): void;
  waitFor(what: string, match: (l: DriverLine) => boolean, timeoutMs?: number): Promise<DriverLine>;
  exited: Promise<number | null>;
  kill(): void;
}

/** The chat side (watch-driver.ts: the runner as the bot builds it) in the bastion namespace. */
function startDriver(lab: Lab, store: string): Driver {
  const child = spawn('ip', ['netns', 'exec', lab.bastion, process.execPath, DRIVER, store], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root' } });
  const lines: DriverLine[] = [];
  let buffer = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      lines.push(JSON.parse(buffer.slice(0, i)) as DriverLine);
      buffer = buffer.slice(i + 1);
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    lines,
    send: (command) => child.stdin.write(`${JSON.stringify(command)}\n`),
    async waitFor(what, match, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const found = lines.find(match);
        if (found) return found;
        if (Date.now() > until || child.exitCode !== null) throw new Error(`the driver never showed ${what}:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${err}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    exited,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

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

  test('chat: a watch sees a DROP appear and clear (exactly two thread messages); a new bot over the same store resumes it, and says in the thread when one ended while it was down', async () => {
    const lab = await Lab.create();
    const store = join(lab.workDir, 'bot.db');
    let a: Driver | undefined;
    let b: Driver | undefined;
    try {
      await lab.startSshd();
      a = startDriver(lab, store);
      await a.waitFor('the start', (l) => l.op === 'resumed');
      a.send({ op: 'watch', text: `watch ${ADDR.target} every 1s for 5m`, channel: 'C1' });
      const started = await a.waitFor('the watch', (l) => l.op === 'started');
      assert.equal(started.kind, 'started');
      const ref = (await a.waitFor('its parent', (l) => l.op === 'parent')).ref;
      await a.waitFor('the first state', (l) => l.op === 'update' && l.view?.cause === 'healthy');
      await lab.iptables(lab.target, '-I', ...DROP);
      await a.waitFor('the fault', (l) => l.op === 'thread' && /^now `port-filtered`/.test(l.text ?? ''));
      await lab.iptables(lab.target, '-D', ...DROP);
      await a.waitFor('the recovery', (l) => l.op === 'thread' && /^recovered at .* `port-filtered`$/.test(l.text ?? ''));
      const thread = a.lines.filter((l) => l.op === 'thread' && l.ref === ref).map((l) => l.text ?? '');
      assert.equal(thread.length, 2, `exactly the two changes: ${JSON.stringify(thread)}`);
      const checksBefore = Math.max(...a.lines.filter((l) => l.op === 'update' && l.ref === ref).map((l) => l.view?.checks ?? 0));
      // A second watch that ends while the bot is down.
      a.send({ op: 'watch', text: `watch ${ADDR.target} every 1s for 2s`, channel: 'C2' });
      const short = (await a.waitFor('the short watch', (l) => l.op === 'parent' && l.ref !== ref)).ref;
      a.send({ op: 'close' });
      assert.equal(await a.exited, 0);
      await new Promise((r) => setTimeout(r, 2500));

      b = startDriver(lab, store);
      const resumed = await b.waitFor('the resume', (l) => l.op === 'resumed');
      assert.deepEqual([resumed.resumed, resumed.stopped], [1, 1]);
      const lost = await b.waitFor('the lost watch', (l) => l.op === 'thread' && l.ref === short);
      assert.match(lost.text ?? '', /^Watch stopped: the bot restarted and could not take it up again \(the bot was down when its \d\d:\d\d UTC end came\)/);
      await b.waitFor('a check after the restart', (l) => l.op === 'update' && l.ref === ref && (l.view?.checks ?? 0) > checksBefore);
      b.send({ op: 'unwatch', host: ADDR.target, port: 22, channel: 'C1' });
      const end = await b.waitFor('the end', (l) => l.op === 'thread' && l.ref === ref && /^Watch stopped at/.test(l.text ?? ''));
      assert.match(end.text ?? '', /by <@U2> after \d+ checks and 2 changes; last state `healthy`/);
      b.send({ op: 'close' });
      assert.equal(await b.exited, 0);
      figures.push(`chat: ${[...thread, lost.text ?? '', end.text ?? ''].join(' | ')}`);
    } finally {
      a?.kill();
      b?.kill();
      await lab.destroy();
    }
  });
});
