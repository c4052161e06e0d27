// The engine off the caller's thread (src/engine/threaded.ts), on a worker thread and in a
// process of its own: a real run against a closed loopback port comes back as the same
// report with its events, and a policy refusal stays a PolicyError across the boundary. A
// prestarted engine process that dies is started again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProgressEvent } from '../../src/engine/report.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { parseTarget } from '../../src/target.js';
import { ThreadedEngine } from '../../src/engine/threaded.js';
import { defaultPolicy, isPolicyError } from '../../src/policy/target-policy.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';
import { closedPort } from '../support/serve-child.js';

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
