// The store under faults, with real processes: a second process holding BEGIN EXCLUSIVE on
// the database while `sshcheck serve` takes concurrent checks and the CLI diagnoses, and a
// `sshcheck serve` killed with -9 in the middle of a run. Targets are loopback ports only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { holdStoreLock } from '../support/store-lock.js';
import { CLI, closedPort, post, startServe, writeEngineConfig } from '../support/serve-child.js';
import { Store } from '../../src/store/store.js';

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-lock-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(db: string, args: string[]) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: dir, SSHCHECK_DB: db, SSHCHECK_ENGINE_CONFIG: writeEngineConfig(dir) } });
  return { ...r, ms: performance.now() - started };
}

function cliAsync(db: string, args: string[]): Promise<{ status: number; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env.PATH ?? '', HOME: dir, SSHCHECK_DB: db } }, (err, _stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stderr, ms: performance.now() - started });
    });
  });
}

function auditRows(db: string): Array<Record<string, unknown>> {
  const r = cli(db, ['audit', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('a second process holds the lock: concurrent checks to sshcheck serve are refused at once, healthz stays fast, nothing is probed unrecorded', async (t) => {
  const db = join(dir, 'serve.db');
  const serve = await startServe(dir, db);
  const lock = await holdStoreLock(db);
  try {
    const ports = await Promise.all([closedPort(), closedPort(), closedPort()]);
    let healthWorst = 0;
    let healthCount = 0;
    let polling = true;
    const health = (async () => {
      while (polling) {
        const started = performance.now();
        const res = await fetch(`${serve.url}/healthz`, { signal: AbortSignal.timeout(20_000) });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        healthWorst = Math.max(healthWorst, performance.now() - started);
        healthCount += 1;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const answers = await Promise.all(ports.map((p) => post(serve.url, { target: '127.0.0.1', port: p })));
    // Reading commands work beside the lock.
    const audit = await cliAsync(db, ['audit', '--json']);
    polling = false;
    await health;
    for (const a of answers) {
      assert.equal(a.status, 503, JSON.stringify(a.body));
      assert.equal((a.body.error as { code: string }).code, 'audit');
      assert.match((a.body.error as { message: string }).message, /the audit log is locked by another process, and this service runs no check it cannot record: nothing was probed/);
    }
    assert.equal(audit.status, 0, audit.stderr);
    t.diagnostic(`POST answers in ${answers.map((a) => `${a.ms.toFixed(0)} ms`).join(', ')}; /healthz worst ${healthWorst.toFixed(0)} ms over ${healthCount} polls; sshcheck audit beside the lock ${audit.ms.toFixed(0)} ms`);
    const metrics = await (await fetch(`${serve.url}/metrics`)).text();
    assert.match(metrics, /sshcheck_checks_total\{outcome="started"\} 0/);
    assert.match(metrics, /sshcheck_requests_rejected_total\{reason="audit"\} 3/);
    await lock.release();
    // The refusals were spooled and are written now that the lock is gone.
    const deadline = Date.now() + 10_000;
    let rows = auditRows(db);
    while (rows.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      rows = auditRows(db);
    }
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(row.verdict, 'denied');
      assert.equal(row.denial, 'audit');
    }
    // With the lock gone, a check runs and its row is completed.
    const ok = await post(serve.url, { target: '127.0.0.1', port: ports[0] });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
  } finally {
    await lock.release();
    await serve.stop();
  }
});

test('the CLI under the lock: it says so at once, diagnoses, and its rows are written by the next process that opens the store', async (t) => {
  const db = join(dir, 'cli.db');
  Store.open(db).close();
  const port = await closedPort();
  const free = cli(db, ['-q', '--json', `127.0.0.1:${port}`]);
  assert.equal(free.status, 1, free.stderr);
  const lock = await holdStoreLock(db);
  let locked;
  let history;
  try {
    locked = cli(db, ['-q', '--json', `127.0.0.1:${port}`]);
    history = cli(db, ['history', '127.0.0.1']);
  } finally {
    await lock.release();
  }
  assert.equal(locked.status, 1, locked.stderr);
  assert.match(locked.stdout, /"cause": "port-closed"/);
  assert.match(locked.stderr, /the store .* is locked by another process: diagnosing anyway; this run is recorded when the store is free/);
  assert.equal(history.status, 0, history.stderr);
  assert.match(history.stderr, /^sshcheck history: note: 1 process has rows waiting in .*cli\.db-spool \(written while the store was locked\)/);
  t.diagnostic(`CLI check ${free.ms.toFixed(0)} ms with a free store, ${locked.ms.toFixed(0)} ms with the store locked; history beside the lock ${history.ms.toFixed(0)} ms`);
  // The next writer (here another CLI run) writes the spooled row.
  cli(db, ['-q', '--json', `127.0.0.1:${port}`]);
  const rows = auditRows(db);
  assert.equal(rows.length, 3);
  assert.deepEqual(rows.map((r) => r.verdict), ['problem', 'problem', 'problem']);
  assert.equal(new Set(rows.map((r) => r.reportId)).size, 3);
});

test('kill -9 of sshcheck serve in the middle of a run: the next start closes the row as interrupted, with the time', async () => {
  const db = join(dir, 'crash.db');
  // A loopback port that accepts and never says anything: the run waits for a banner.
  const sockets = new Set<Socket>();
  const silent = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const { port } = silent.address() as AddressInfo;
  try {
    const first = await startServe(dir, db);
    const answer = await post(first.url, { target: '127.0.0.1', port });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(auditRows(db)[0]?.verdict, 'running');
    await first.stop('SIGKILL');
    assert.equal(auditRows(db)[0]?.verdict, 'running', 'nothing closed it: the process was killed');
    const second = await startServe(dir, db);
    try {
      const [row] = auditRows(db);
      assert.equal(row?.verdict, 'interrupted');
      assert.match(String(row?.reason), new RegExp(`^interrupted: process ${first.child.pid ?? -1} stopped before the check finished; found and closed at \\d{4}-\\d\\d-\\d\\dT`));
      assert.match(second.log(), /closed as interrupted/);
    } finally {
      await second.stop();
    }
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
