// The engine off the caller's thread (src/engine/threaded.ts), on a worker thread and in a
// process of its own: a real run against a closed loopback port comes back as the same
// report with its events, and a policy refusal stays a PolicyError across the boundary. A
// prestarted engine process that dies is started again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ProgressEvent } from '../../src/engine/report.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { parseTarget } from '../../src/target.js';
import { ThreadedEngine } from '../../src/engine/threaded.js';
import { defaultPolicy, isPolicyError } from '../../src/policy/target-policy.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';
import { closedPort } from '../support/serve-child.js';
import type { FromRunWorkerBatch, ToRunWorker } from '../../src/engine/run-worker.js';

const LOOPBACK = parseEngineConfig('policy:\n  allow: [127.0.0.1]\n').policy as TargetPolicy;

for (const mode of ['thread', 'process'] as const) {
  test(`engine on a ${mode}: a closed loopback port is diagnosed port-closed, with every event on the way`, async () => {
    const engine = new ThreadedEngine({ process: mode === 'process' });
    try {
      const port = await closedPort();
      const events: ProgressEvent[] = [];
      const report = await engine.run(parseTarget('127.0.0.1', { port }), { vantage: 'test', budgetMs: 5000, policy: LOOPBACK, onEvent: (e) => events.push(e) });
      assert.equal(report.schema, 'sshcheck/report@1');
      assert.equal(report.target.port, port);
      assert.equal(report.diagnosis.cause, 'port-closed');
      assert.equal(events[0]?.type, 'run-started');
      assert.equal(events.at(-1)?.type, 'run-finished');
    } finally {
      await engine.close();
    }
  });

  test(`engine on a ${mode}: a policy refusal arrives as a PolicyError`, async () => {
    const engine = new ThreadedEngine({ process: mode === 'process' });
    try {
      const refused = await engine.run(parseTarget('127.0.0.1', { port: 22 }), { vantage: 'test', budgetMs: 5000, policy: defaultPolicy() }).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(isPolicyError(refused), `got ${String(refused)}`);
    } finally {
      await engine.close();
    }
  });
}

test('a prestarted engine process that dies is started again, and runs in the new one', async () => {
  const exits: Array<{ error: string; restartInMs: number }> = [];
  const engine = new ThreadedEngine({ process: true, onExit: (err, restartInMs) => exits.push({ error: err.message, restartInMs }) });
  try {
    engine.prestart();
    const first = engine.pid;
    assert.ok(first !== undefined, 'started before any run');
    process.kill(first, 'SIGKILL');
    // Waits (bounded: RESTART_FIRST_MS, then at most 10 s) for the new process.
    let second: number | undefined;
    for (let i = 0; i < 1000 && (second === undefined || second === first); i++) {
      await new Promise((r) => setTimeout(r, 10));
      second = engine.pid;
    }
    assert.ok(second !== undefined && second !== first, 'a new engine process was started without a run asking for it');
    assert.equal(exits.length, 1);
    assert.match(exits[0]?.error ?? '', /SIGKILL/);
    const port = await closedPort();
    const report = await engine.run(parseTarget('127.0.0.1', { port }), { vantage: 'test', budgetMs: 5000, policy: LOOPBACK });
    assert.equal(report.diagnosis.cause, 'port-closed');
    assert.equal(engine.pid, second, 'the run went to the restarted process');
  } finally {
    await engine.close();
  }
});

test("the engine process hands over each turn's messages together, in order, and two runs' messages never mix", async () => {
  // The wire itself: run-worker.js forked as threaded.ts forks it, two runs at once.
  const child = fork(fileURLToPath(new URL('../../src/engine/run-worker.js', import.meta.url)), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  try {
    const batches: FromRunWorkerBatch[] = [];
    const done = new Set<number>();
    const finished = new Promise<void>((resolve) =>
      child.on('message', (batch: FromRunWorkerBatch) => {
        batches.push(batch);
        for (const m of batch) if (m.type !== 'event') done.add(m.id);
        if (done.size === 2) resolve();
      }),
    );
    const ports = [await closedPort(), await closedPort()];
    ports.forEach((port, i) => child.send({ type: 'run', id: i + 1, target: parseTarget('127.0.0.1', { port }), options: { vantage: 'test', budgetMs: 5000, policy: LOOPBACK } } satisfies ToRunWorker));
    await finished;
    assert.ok(batches.every((b) => Array.isArray(b) && b.length > 0), 'every channel message is a non-empty batch');
    for (const id of [1, 2]) {
      const mine = batches.flat().filter((m) => m.id === id);
      const types = mine.map((m) => (m.type === 'event' ? m.event.type : m.type));
      assert.equal(types[0], 'run-started');
      assert.deepEqual(types.slice(-2), ['run-finished', 'done']);
      const report = mine.at(-1);
      assert.ok(report?.type === 'done' && report.report.target.port === ports[id - 1], 'each run reports its own target');
    }
    const messages = batches.flat().length;
    // A run marks its ten steps running in one go: those arrive as one batch, not ten messages.
    assert.ok(batches.length < messages / 2, `${batches.length} channel messages for ${messages} messages`);
  } finally {
    child.kill('SIGKILL');
  }
});
