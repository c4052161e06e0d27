// The store under a lock held by a real second process (BEGIN EXCLUSIVE): the store's thread
// keeps this event loop free, a row it cannot write is spooled to disk at once and written
// when the lock goes, reads go on meanwhile, reading commands open the file read-only, and
// a process killed with rows in its spool loses none of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreClient } from '../../src/store/client.js';
import { spoolDir } from '../../src/store/spool.js';
import { Store } from '../../src/store/store.js';
import Database from '../../src/store/sqlite.js';
import { holdStoreLock } from '../support/store-lock.js';
import { fakeReport } from './store-support.js';

const SPOOLER = fileURLToPath(new URL('../support/store-spooler.js', import.meta.url));

function tempDb(): { path: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-client-'));
  return { path: join(dir, 'sshcheck.db'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

const row = { source: 'service', action: 'check', target: 'sshcheck@db-3:22', host: 'db-3', port: 22, verdict: 'running' } as const;

test('the store thread: rows written and read, every Store method callable, closed cleanly', async () => {
  const { path, done } = tempDb();
  try {
    const store = await StoreClient.open(path, { recover: true });
    const id = await store.addAudit(row);
    await store.updateAudit(id, { verdict: 'healthy', cause: 'healthy' });
    await store.recordRun(fakeReport({ id: 'r1', host: 'db-3' }), 'service');
    assert.equal((await store.audit())[0]?.verdict, 'healthy');
    assert.equal((await store.runsFor('db-3')).length, 1);
    assert.deepEqual(await store.call('prune', [Date.now()]), { audit: 0, runs: 0 });
    await assert.rejects(store.call('close' as 'prune', [0]), /no method close/);
    assert.equal(await store.close(), 0);
  } finally {
    done();
  }
});

test('another process holds BEGIN EXCLUSIVE: a row is spooled at once, reads go on, the row is written when the lock goes', async (t) => {
  const { path, done } = tempDb();
  try {
    const store = await StoreClient.open(path, { busyTimeoutMs: 100 });
    await store.recordRun(fakeReport({ id: 'before', host: 'db-3' }), 'service');
    const lock = await holdStoreLock(path);
    let spooledAt: number | undefined;
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 5);
    const started = performance.now();
    let written = false;
    const insert = store.addAudit(row, { spooled: () => (spooledAt = performance.now() - started) });
    void insert.then(() => (written = true));
    // The event loop is free while the store waits: reads are answered meanwhile (WAL).
    while (spooledAt === undefined) await new Promise((r) => setTimeout(r, 10));
    assert.equal(written, false, 'the row cannot be written while the lock is held');
    assert.ok(readdirSync(spoolDir(path)).length === 1, 'the row is on disk in the spool');
    assert.equal((await store.runsFor('db-3')).length, 1);
    // A Store opened for reading (sshcheck audit/history) works at once beside the lock.
    const reader = Store.open(path, { readonly: true, busyTimeoutMs: 0 });
    assert.equal(reader.runsFor('db-3').length, 1);
    assert.equal(reader.audit().length, 0);
    reader.close();
    // So does opening it for writing: an up-to-date WAL file needs no write to open.
    const writer = Store.open(path, { busyTimeoutMs: 0 });
    writer.close();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(written, false);
    await lock.release();
    const id = await insert;
    clearInterval(ticker);
    t.diagnostic(`spooled after ${spooledAt.toFixed(0)} ms; written ${(performance.now() - started).toFixed(0)} ms after the call (lock held about 300 ms longer); ${ticks} timer ticks meanwhile`);
    assert.ok(ticks > 10, 'timers ran while the store waited for the lock');
    assert.equal((await store.audit())[0]?.id, id);
    assert.deepEqual(readdirSync(spoolDir(path)), [], 'the spool is gone once written');
    assert.equal(await store.close(), 0);
  } finally {
    done();
  }
});

test('a process killed with a row in its spool: the next opener writes it and closes it as interrupted', async () => {
  const { path, done } = tempDb();
  try {
    Store.open(path).close();
    const lock = await holdStoreLock(path);
    const child = spawn(process.execPath, [SPOOLER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the spooler did not spool within 10 s')), 10_000);
      child.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('spooled')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    process.kill(child.pid ?? -1, 'SIGKILL');
    await exited;
    await lock.release();
    const store = await StoreClient.open(path, { recover: true });
    assert.deepEqual(store.recovery, { replayed: 1, interrupted: 1 });
    const rows = await store.audit();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.host, 'db-9');
    assert.equal(rows[0]?.verdict, 'interrupted');
    assert.match(rows[0]?.reason ?? '', new RegExp(`^interrupted: process ${child.pid ?? -1} stopped before the check finished; found and closed at \\d{4}-`));
    assert.deepEqual(readdirSync(spoolDir(path)), []);
    await store.close();
  } finally {
    done();
  }
});

test('reading commands: a read-only open creates nothing and writes nothing', () => {
  const { path, done } = tempDb();
  try {
    assert.throws(() => Store.open(path, { readonly: true }), /no store at/);
    assert.equal(existsSync(path), false);
    Store.open(path).close();
    const reader = Store.open(path, { readonly: true });
    assert.equal(reader.readonly, true);
    assert.throws(() => reader.addAudit(row), /readonly/);
    reader.close();
  } finally {
    done();
  }
});

test('a burst of calls: sent to the store thread as one message, answered in order', async () => {
  const { path, done } = tempDb();
  try {
    const store = await StoreClient.open(path);
    const before = store.messagesSent;
    // 300 refusal rows nobody waits for, then a read that is waited for, in the same turn.
    const rows = Array.from({ length: 300 }, (_, i) => store.addAudit({ ...row, host: `h${i}`, verdict: 'denied', denial: 'queue-full' }, { background: true }));
    const read = store.audit({ limit: 1000 });
    const ids = await Promise.all(rows);
    assert.equal(store.messagesSent - before, 1, 'one message for the whole turn');
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'written in the order they were made');
    assert.equal((await read).length, 300, 'the read, sent after the rows, sees all of them');
    // Background calls alone are still sent (a little later), without anything else to carry them.
    const late = await store.addAudit({ ...row, host: 'late', verdict: 'denied', denial: 'queue-full' }, { background: true });
    assert.ok(late > (ids.at(-1) ?? 0));
    assert.equal(await store.close(), 0);
  } finally {
    done();
  }
});

test('a row of a batch that fails: only it fails, the rows around it are written', async () => {
  const { path, done } = tempDb();
  try {
    const store = await StoreClient.open(path);
    const first = store.addAudit({ ...row, host: 'first' });
    // No source: the NOT NULL constraint refuses it inside the batch's transaction.
    const broken = store.addAudit({ ...row, host: 'broken', source: undefined } as never);
    const last = store.addAudit({ ...row, host: 'last' });
    await assert.rejects(broken, /NOT NULL|source/);
    await Promise.all([first, last]);
    assert.deepEqual((await store.audit()).map((r) => r.host), ['first', 'last']);
    await store.close();
  } finally {
    done();
  }
});

test('close() writes the calls not yet sent: background rows made just before it are not lost', async () => {
  const { path, done } = tempDb();
  try {
    const store = await StoreClient.open(path);
    for (let i = 0; i < 20; i++) void store.addAudit({ ...row, host: `h${i}`, verdict: 'denied', denial: 'queue-full' }, { background: true });
    assert.equal(await store.close(), 0);
    const reader = Store.open(path, { readonly: true });
    assert.equal(reader.audit({ limit: 100 }).length, 20);
    reader.close();
  } finally {
    done();
  }
});

test('a batch met by a lock: every row spooled at once, then written in order once the lock goes', async () => {
  const { path, done } = tempDb();
  try {
    const store = await StoreClient.open(path, { busyTimeoutMs: 100 });
    const lock = await holdStoreLock(path);
    let spooled = 0;
    const hooks = { spooled: () => (spooled += 1), background: true };
    const rows = Array.from({ length: 50 }, (_, i) => store.addAudit({ ...row, host: `h${i}`, verdict: 'denied', denial: 'queue-full' }, hooks));
    while (spooled < 50) await new Promise((r) => setTimeout(r, 10));
    const [file] = readdirSync(spoolDir(path));
    assert.equal(readFileSync(join(spoolDir(path), file ?? ''), 'utf8').trim().split('\n').length, 50, 'all 50 rows on disk in the spool');
    await lock.release();
    const ids = await Promise.all(rows);
    assert.deepEqual((await store.audit({ limit: 100 })).map((r) => r.host), Array.from({ length: 50 }, (_, i) => `h${i}`));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.deepEqual(readdirSync(spoolDir(path)), []);
    await store.close();
  } finally {
    done();
  }
});

test('direct: a check’s audit row and history read are answered on this thread, with no message to the store’s thread', async () => {
  const { path, done } = tempDb();
  try {
    const store = await StoreClient.open(path, { direct: true });
    await store.recordRun(fakeReport({ id: 'ok', host: 'db-3', cause: 'healthy' }), 'service');
    const before = store.messagesSent;
    const id = await store.addAudit(row);
    const healthy = await store.lastHealthy('db-3', 22, 'bastion-eu-1', 0);
    assert.equal(store.messagesSent, before, 'neither call went to the store thread');
    assert.equal(healthy?.reportId, 'ok', 'the history read found the run the thread wrote');
    // The row is the store's like any other: the thread updates it and reads it back.
    await store.updateAudit(id, { verdict: 'healthy', cause: 'healthy' });
    const rows = await store.audit();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.verdict, 'healthy');
    // Owned by this process, as a row the thread wrote would be: a crash's unfinished rows are told apart by it.
    const raw = new Database(path, { readonly: true });
    assert.equal((raw.prepare('SELECT owner FROM audit WHERE id = ?').get(id) as { owner: string }).owner, store.owner);
    raw.close();
    // Background rows keep their order with the others: they go through the thread.
    await store.addAudit({ ...row, verdict: 'denied', denial: 'queue-full' }, { background: true });
    assert.ok(store.messagesSent > before);
    await store.close();
  } finally {
    done();
  }
});

test('direct, with another process holding BEGIN EXCLUSIVE: the row goes to the store’s thread at once and is spooled, as without', async () => {
  const { path, done } = tempDb();
  try {
    const store = await StoreClient.open(path, { busyTimeoutMs: 100, direct: true });
    const lock = await holdStoreLock(path);
    let spooled = false;
    const before = store.messagesSent;
    const insert = store.addAudit(row, { spooled: () => (spooled = true) });
    while (!spooled) await new Promise((r) => setTimeout(r, 10));
    assert.equal(store.messagesSent, before + 1, 'the locked statement fell back to the thread');
    await lock.release();
    const id = await insert;
    assert.ok(id > 0);
    assert.equal((await store.audit()).length, 1, 'written once the lock went, exactly once');
    await store.close();
  } finally {
    done();
  }
});
