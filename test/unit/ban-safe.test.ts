// Ban safety, the pure parts: which user name a check may send (only one known to exist),
// and how step 8 reads a handshake that stopped at the ssh-userauth service because it had none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessAll } from '../../src/engine/checklist/assess.js';
import { diagnose } from '../../src/engine/checklist/diagnose.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { probeUserFor } from '../../src/engine/run-config.js';
import { parseTarget } from '../../src/target.js';
import { completeHandshake, control, input, pingReply, verboseDone } from '../support/observations.js';
import type { HandshakeObs } from '../../src/engine/observations.js';
import { RunConnections, perRunLimit } from '../../src/engine/connection-budget.js';
import { allowance, describeRules, reusedReport } from '../../src/engine/ledger.js';
import type { BudgetRules, ConnectionLedger, LedgerKey, Reservation } from '../../src/engine/ledger.js';
import type { Report } from '../../src/engine/report.js';
import { run } from '../../src/engine/run.js';
import { parseCli } from '../../src/cli/args.js';
import { finishedParent, initialParent } from '../../src/chat/views.js';
import { SshcheckError } from '../../src/errors.js';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Store } from '../../src/store/store.js';
import { StoreConnectionLedger } from '../../src/store/connection-ledger.js';
import { fakeReport } from './store-support.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CONFIG = parseEngineConfig(
  ['probe_user: monitor', 'diagnostics:', '  - match: ["db-*"]', '    user: diag', '    key: /k', '    known_hosts: /kh', ''].join('\n'),
);

test('no configuration: no user name is sent', () => {
  assert.equal(probeUserFor(undefined, parseTarget('db-3'), ['10.0.0.5'], undefined), undefined);
  assert.equal(probeUserFor(parseEngineConfig(''), parseTarget('db-3'), ['10.0.0.5'], undefined), undefined);
});

test('the operator’s -l wins, then the diagnostics login for the target, then probe_user', () => {
  assert.equal(probeUserFor(CONFIG, parseTarget('db-3'), [], 'alice'), 'alice');
  assert.equal(probeUserFor(CONFIG, parseTarget('db-3'), [], undefined), 'diag');
  assert.equal(probeUserFor(CONFIG, parseTarget('web-1'), [], undefined), 'monitor');
});

test('probe_user is checked like any user name', () => {
  assert.throws(() => parseEngineConfig('probe_user: "-oProxyCommand=x"\n', 'e.yml'), /e\.yml:1: probe_user: invalid user name/);
  assert.equal(parseEngineConfig('probe_user: monitor\n').probeUser, 'monitor');
});

/** What the handshake records when it had no user name: complete at the ssh-userauth service. */
function stoppedAtService(): HandshakeObs {
  const h = completeHandshake();
  const { 'auth-methods': _methods, ...at } = h.at;
  const { authMethods: _list, ...rest } = h;
  return { ...rest, at };
}

test('step 8 skips with the reason and how to enable it; the host is still healthy with high confidence', () => {
  const i = input({ handshakes: [stoppedAtService()], ping: pingReply(), control: control('refused'), verbose: verboseDone('auth-denied') }, 400, { final: true });
  const steps = assessAll(i);
  const auth = steps.find((s) => s.id === 'auth');
  assert.equal(auth?.status, 'skip');
  assert.match(auth?.summary ?? '', /^not measured: no user name was sent/);
  assert.match(auth?.summary ?? '', /Invalid user/);
  assert.match(auth?.evidence.map((e) => e.detail).join('\n') ?? '', /ssh-userauth service accepted 1.0 ms after NEWKEYS; no user name sent/);
  const d = diagnose(steps, i.target, 'bastion-1', true).diagnosis;
  assert.equal(d.cause, 'healthy');
  assert.equal(d.confidence, 'high');
});

test('a run takes at most 2 connections per address, 3 with a diagnostics login, never a 4th for a retry', () => {
  assert.equal(perRunLimit(false), 2);
  assert.equal(perRunLimit(true), 3);
  const run = new RunConnections(perRunLimit(true));
  assert.equal(run.take(undefined, 'ssh -vvv'), undefined, 'ssh -vvv before the name resolved');
  assert.equal(run.take('10.0.0.5', 'handshake'), undefined);
  assert.equal(run.take('10.0.0.6', 'handshake'), undefined, 'a second address has its own budget');
  assert.equal(run.count('10.0.0.5'), 2, 'ssh -vvv is charged to the first address');
  assert.equal(run.take('10.0.0.5', 'login'), undefined);
  assert.match(run.take('10.0.0.5', 'login retry') ?? '', /^this run's connection budget for 10\.0\.0\.5 is spent \(3 connections to sshd per address in this run, .*\): no login retry$/);
  assert.deepEqual(run.spent(), { '10.0.0.5': ['handshake', 'login', 'ssh -vvv'], '10.0.0.6': ['handshake'] });
});

test('one connection is always kept for the in-process handshake', () => {
  const one = new RunConnections(1);
  assert.notEqual(one.take('10.0.0.5', 'ssh -vvv'), undefined, 'ssh -vvv cannot take the only connection');
  assert.notEqual(one.take(undefined, 'ssh -vvv'), undefined);
  assert.equal(one.take('10.0.0.5', 'handshake'), undefined);
  assert.notEqual(one.take('10.0.0.5', 'handshake'), undefined);
  const two = new RunConnections(2);
  assert.equal(two.take('10.0.0.5', 'ssh -vvv'), undefined);
  assert.notEqual(two.take('10.0.0.5', 'login'), undefined, 'the last one is the handshake’s');
  assert.equal(two.take('10.0.0.5', 'handshake'), undefined);
});

test('the budget across runs: what the window allows, and when a full check can run again', () => {
  const rules = { connections: 4, windowMs: 600_000 };
  assert.deepEqual(allowance([], rules, 2, 1_000_000), { granted: 2, spent: 2 });
  assert.deepEqual(allowance([{ atMs: 999_000, connections: 2 }], rules, 2, 1_000_000), { granted: 2, spent: 4 });
  // One left: the run gets it (the handshake), and learns when two are free again.
  assert.deepEqual(allowance([{ atMs: 500_000, connections: 1 }, { atMs: 999_000, connections: 2 }], rules, 2, 1_000_000), { granted: 1, spent: 4, nextCheckAtMs: 1_599_000 });
  assert.deepEqual(allowance([{ atMs: 500_000, connections: 2 }, { atMs: 999_000, connections: 2 }], rules, 2, 1_000_000), { granted: 0, spent: 4, nextCheckAtMs: 1_100_000 });
  // Entries that left the window no longer count.
  assert.deepEqual(allowance([{ atMs: 400_000, connections: 4 }], rules, 2, 1_000_000), { granted: 2, spent: 2 });
  assert.equal(describeRules(rules), '4 connections in 10 min');
  assert.equal(describeRules({ connections: 1, windowMs: 20_000 }), '1 connection in 20 s');
});

test('the SQLite ledger: two processes share one budget, and a spent one gives the newest report back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-ledger-'));
  const path = join(dir, 'store.db');
  const a = Store.open(path);
  const b = Store.open(path);
  try {
    const rules = { connections: 4, windowMs: 600_000 };
    const key = { vantage: 'bastion-1', host: 'db-3', port: 22 };
    const first = await new StoreConnectionLedger(a).reserve(key, 2, rules, 1_000_000);
    assert.equal(first.granted, 2);
    const second = await new StoreConnectionLedger(b).reserve(key, 2, rules, 1_000_001);
    assert.equal(second.granted, 2, 'the second process sees the first reservation and gets the rest');
    await first.settle(2, fakeReport({ id: 'r1', host: 'db-3' }));
    await second.settle(1, fakeReport({ id: 'r2', host: 'db-3' }));
    const third = await new StoreConnectionLedger(a).reserve(key, 2, rules, 1_000_002);
    assert.equal(third.granted, 1, 'the second run used one connection: one is left');
    await third.settle(1, fakeReport({ id: 'r3', host: 'db-3' }));
    const spent = await new StoreConnectionLedger(b).reserve(key, 2, rules, 1_000_003);
    assert.equal(spent.granted, 0);
    assert.equal(spent.reuse?.report.id, 'r3', 'the newest kept result');
    assert.equal(spent.nextCheckAtMs, 1_600_000);
    const otherPort = await new StoreConnectionLedger(b).reserve({ ...key, port: 2222 }, 2, rules, 1_000_004);
    assert.equal(otherPort.granted, 0, 'one budget per target, whatever the port');
    assert.equal(otherPort.reuse, undefined, 'but a result of another port is not given for this one');
    const later = await new StoreConnectionLedger(a).reserve(key, 2, rules, 1_600_001);
    assert.equal(later.granted, 2, 'the window moved on');
  } finally {
    a.close();
    b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reused report says why, how old it is, and when a check can connect again', () => {
  const stored = fakeReport({ id: 'r1', host: 'db-3' });
  const r = reusedReport(stored, 1_000_000, { vantage: 'bastion-1', host: 'db-3', port: 22 }, { connections: 4, windowMs: 600_000 }, 1_100_000, 1_030_000);
  assert.equal(r.id, 'r1');
  assert.equal(r.reused?.ageMs, 30_000);
  assert.equal(r.reused?.nextCheckAt, new Date(1_100_000).toISOString());
  assert.match(r.reused?.reason ?? '', /^the connection budget for db-3 from bastion-1 is spent \(4 connections in 10 min, .*\): this is the result of the check 30 s ago; the next check that connects can run in 70 s$/);
});

/** A ledger that grants what it is told, and records what the run settled. */
function fixedLedger(granted: number, reuse?: Report): { ledger: ConnectionLedger; settled: Array<{ used: number; report: Report | undefined }> } {
  const settled: Array<{ used: number; report: Report | undefined }> = [];
  return {
    settled,
    ledger: {
      reserve: (_key: LedgerKey, _want: number, _rules: BudgetRules, nowMs: number): Promise<Reservation> =>
        Promise.resolve({
          granted,
          spent: 4,
          nextCheckAtMs: nowMs + 60_000,
          ...(reuse ? { reuse: { report: reuse, endedAtMs: nowMs - 5000 } } : {}),
          settle: (used: number, report: Report | undefined) => {
            settled.push({ used, report });
            return Promise.resolve();
          },
        }),
    },
  };
}

test('a spent budget: the run connects to nothing and replays the kept result, or refuses with E_BUDGET', async () => {
  const accepted: number[] = [];
  const server = createServer((s) => (accepted.push(1), s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const kept = fakeReport({ id: 'kept', host: '127.0.0.1', port });
    const { ledger } = fixedLedger(0, kept);
    const events: string[] = [];
    const report = await run(parseTarget(`127.0.0.1:${port}`), { ledger, budgetMs: 3000, onEvent: (e) => events.push(e.type) });
    assert.equal(report.id, 'kept');
    assert.equal(report.reused?.ageMs !== undefined && report.reused.ageMs >= 5000, true);
    assert.match(report.reused?.reason ?? '', /connection budget for 127\.0\.0\.1 from .* is spent/);
    assert.deepEqual([events[0], events.at(-1)], ['run-started', 'run-finished']);
    await assert.rejects(run(parseTarget(`127.0.0.1:${port}`), { ledger: fixedLedger(0).ledger, budgetMs: 3000 }), (err: unknown) => err instanceof SshcheckError && err.code === 'E_BUDGET' && /next check that connects can run in 60 s/.test(err.message));
    assert.equal(accepted.length, 0, 'nothing connected to the target');
  } finally {
    server.close();
  }
});

test('one connection left: the handshake takes it, ssh -vvv is left out and says why, and the run settles what it used', async () => {
  const accepted: number[] = [];
  const server = createServer((s) => (accepted.push(1), s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const { ledger, settled } = fixedLedger(1);
    const report = await run(parseTarget(`127.0.0.1:${port}`), { ledger, budgetMs: 3000, extrasMs: 0 });
    assert.equal(report.reused, undefined);
    assert.equal(accepted.length, 1, 'one connection reached the target');
    assert.match(report.steps.find((s) => s.id === 'verbose')?.summary ?? '', /this run's connection budget for 127\.0\.0\.1 is spent .*: no ssh -vvv/);
    assert.equal(settled.length, 1);
    assert.equal(settled[0]?.used, 1);
    assert.equal(settled[0]?.report?.id, report.id);
  } finally {
    server.close();
  }
});

test('the CLI sends a user name only when the operator gave one (-l or user@host)', () => {
  const plain = parseCli(['db-3']);
  assert.equal(plain.command === 'check' ? plain.probeUser : 'not a check', undefined);
  const flag = parseCli(['-l', 'alice', 'db-3']);
  assert.equal(flag.command === 'check' ? flag.probeUser : undefined, 'alice');
  const at = parseCli(['bob@db-3']);
  assert.equal(at.command === 'check' ? at.probeUser : undefined, 'bob');
});

test('the chat thread of a reused result shows its age and why', () => {
  const stored = fakeReport({ id: 'r1', host: 'db-3' });
  const reused = reusedReport(stored, 1_000_000, { vantage: 'bastion-1', host: 'db-3', port: 22 }, { connections: 4, windowMs: 600_000 }, undefined, 1_045_000);
  const view = finishedParent(initialParent(parseTarget('db-3'), 'bastion-1', '<@U1>'), reused);
  assert.equal(view.reusedAgeMs, 45_000);
  assert.match(view.reusedReason ?? '', /connection budget for db-3 from bastion-1 is spent/);
  assert.equal(finishedParent(initialParent(parseTarget('db-3'), 'bastion-1', '<@U1>'), stored).reusedReason, undefined);
});

test('connection_budget in the engine config: defaults for what is left out, bad values name the line', () => {
  assert.deepEqual(parseEngineConfig('connection_budget:\n  connections: 8\n').connectionBudget, { connections: 8, windowMs: 600_000 });
  assert.deepEqual(parseEngineConfig('connection_budget:\n  window_seconds: 60\n').connectionBudget, { connections: 4, windowMs: 60_000 });
  assert.equal(parseEngineConfig('probe_user: monitor\n').connectionBudget, undefined);
  assert.throws(() => parseEngineConfig('connection_budget:\n  connections: 0\n', 'e.yml'), /e\.yml:2: connection_budget\.connections/);
  assert.throws(() => parseEngineConfig('connection_budget:\n  burst: 3\n', 'e.yml'), /e\.yml:2: .*burst/);
});
