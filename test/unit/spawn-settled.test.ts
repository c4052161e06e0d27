// boundedSpawn's settledBy: a child whose answer is known from one line is stopped there
// instead of lingering (a DF ping after "No buffer space available" stays 2 s with -W 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundedSpawn } from '../../src/engine/probes/spawn.js';
import { decidesSize } from '../../src/engine/probes/mtu.js';
import { testContext } from '../support/context.js';

test('a line that settles the run stops the child: its lines end there, and it is neither aborted nor timed out', async () => {
  // Prints a line, then would sleep 30 s (exec: the same process, so the kill reaches it).
  const run = await boundedSpawn({
    command: 'sh',
    args: ['-c', 'echo "ping: sendmsg: No buffer space available"; exec sleep 30'],
    ctx: testContext(60_000),
    timeoutMs: 40_000,
    settledBy: (line) => /No buffer space/.test(line.text),
  });
  assert.deepEqual(run.lines.map((l) => l.text), ['ping: sendmsg: No buffer space available']);
  assert.equal(run.aborted, false);
  assert.equal(run.timedOut, false);
  assert.equal(run.signal, 'SIGKILL');
});

test('which DF ping lines decide a size', () => {
  assert.equal(decidesSize('PING 10.77.2.2 (10.77.2.2) 1472(1500) bytes of data.'), false);
  assert.equal(decidesSize('ping: sendmsg: No buffer space available'), true);
  assert.equal(decidesSize('ping: local error: message too long, mtu=1400'), true);
  assert.equal(decidesSize('1480 bytes from 10.77.2.2: icmp_seq=1 ttl=63 time=0.071 ms'), true);
  assert.equal(decidesSize('From 10.77.1.1 icmp_seq=1 Frag needed and DF set (mtu = 1400)'), true);
  assert.equal(decidesSize(''), false);
});

test('a grandchild that keeps the pipes open does not hold the result: it is complete at the child\'s exit', async (t) => {
  // sh prints the background sleep's pid and exits; the sleep inherits the pipes and, when it
  // ends, would create the marker file. The result must come before that.
  const marker = join(mkdtempSync(join(tmpdir(), 'sshcheck-spawn-')), 'grandchild-ended');
  const run = await boundedSpawn({
    command: 'sh',
    args: ['-c', `(sleep 20; touch ${marker}) & echo "grandchild $!"; echo done`],
    ctx: testContext(60_000),
    timeoutMs: 40_000,
  });
  const grandchild = Number(/^grandchild (\d+)$/.exec(run.lines[0]?.text ?? '')?.[1]);
  t.after(() => {
    try {
      process.kill(grandchild, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  assert.ok(grandchild > 0, `the grandchild's pid was printed: ${JSON.stringify(run.lines)}`);
  assert.equal(existsSync(marker), false, 'resolved while the grandchild still ran');
  assert.deepEqual(run.lines.map((l) => l.text).slice(1), ['done']);
  assert.equal(run.exitCode, 0);
  assert.equal(run.timedOut, false);
  assert.equal(run.aborted, false);
});
