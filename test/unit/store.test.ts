// The SQLite store: migrations from an empty file and from the previous version, a file
// from a newer sshcheck refused, concurrent writers in two processes, retention, the audit
// and history queries, and where the file lives by default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from '../../src/store/sqlite.js';
import { SshcheckError } from '../../src/errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/migrations.js';
import { storePath } from '../../src/store/paths.js';
import { recentHistory } from '../../src/store/run-history.js';
import { migrate, Store } from '../../src/store/store.js';
import { fakeReport } from './store-support.js';

const WRITER = fileURLToPath(new URL('./store-writer.js', import.meta.url));

function tempDir(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-store-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}


test('a new file: created private, migrated to the latest version, WAL', () => {
  const { dir, done } = tempDir();
  try {
    const path = join(dir, 'nested', 'sshcheck.db');
    const store = Store.open(path);
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
    store.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'nested')).mode & 0o777, 0o700);
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    // Opening again is a no-op migration.
    const again = Store.open(path);
    assert.equal(again.schemaVersion, SCHEMA_VERSION);
    again.close();
  } finally {
    done();
  }
});

test('a file at an older version: migrated, its rows kept', () => {
  const { dir, done } = tempDir();
  try {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    // Version 1: the audit log only (the runs table came with version 2).
    assert.equal(migrate(old, 1), 1);
    old.prepare("INSERT INTO audit (at_ms, source, action, target, host, verdict) VALUES (?, 'slack', 'check', 'sshcheck@db-3:22', 'db-3', 'healthy')").run(Date.now());
    assert.throws(() => old.prepare('SELECT * FROM runs').all(), /no such table: runs/);
    old.close();
    const store = Store.open(path);
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    const rows = store.audit();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.target, 'sshcheck@db-3:22');
    store.recordRun(fakeReport({ id: 'r1' }), 'cli');
    assert.equal(store.runsFor('db-3').length, 1);
    store.close();
  } finally {
    done();
  }
});

test('a file from a newer sshcheck is refused with what to do', () => {
  const { dir, done } = tempDir();
  try {
    const path = join(dir, 'new.db');
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(
      () => Store.open(path),
      (err: unknown) => err instanceof SshcheckError && err.code === 'E_STORE' && err.message.includes(`has schema version 99; this sshcheck knows versions up to ${SCHEMA_VERSION}: upgrade sshcheck`),
    );
  } finally {
    done();
  }
});

test('a path that cannot be created is an E_STORE error naming it, at once (also under /proc)', () => {
  const { dir, done } = tempDir();
  try {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    for (const path of [join(file, 'sub', 'sshcheck.db'), '/proc/sshcheck-no/sshcheck.db']) {
      assert.throws(
        () => Store.open(path),
        (err: unknown) => err instanceof SshcheckError && err.code === 'E_STORE' && err.message.startsWith(`cannot open the store ${path}`),
      );
    }
  } finally {
    done();
  }
});

function runWriter(path: string, tag: string, rows: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [WRITER, path, tag, String(rows)], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr });
    });
  });
}

test('two processes writing at once (migrating a fresh file together, then 200 rows each): nothing lost, no busy errors', async () => {
  const { dir, done } = tempDir();
  try {
    const path = join(dir, 'shared.db');
    const results = await Promise.all([runWriter(path, 'bot', 200), runWriter(path, 'serve', 200), runWriter(path, 'cli', 200)]);
    for (const r of results) {
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, 'done 200\n');
    }
    const store = Store.open(path);
    const rows = store.audit({ limit: 10_000 });
    assert.equal(rows.length, 600);
    for (const tag of ['bot', 'serve', 'cli']) assert.equal(rows.filter((r) => r.user === tag && r.verdict === 'healthy').length, 200);
    assert.equal(store.runsFor('h7', { limit: 10 }).length, 3);
    assert.equal(store.schemaVersion, SCHEMA_VERSION);
    store.close();
  } finally {
    done();
  }
});

test('audit rows: inserted, completed, read since a time, long texts bounded', () => {
  let now = Date.parse('2026-11-24T10:00:00Z');
  const store = Store.open(':memory:', { now: () => now });
  try {
    const id = store.addAudit({ source: 'slack', action: 'check', workspace: 'T0TEAM', channel: 'C0OPS', user: 'U0ALICE', target: 'sshcheck@db-3:22', host: 'db-3', port: 22, verdict: 'queued' });
    store.updateAudit(id, { verdict: 'problem', cause: 'port-filtered', addresses: ['10.0.0.5', 'fd00::5'], bastion: 'bastion-eu-1', durationMs: 1234.6, reportId: 'r-1' });
    now += 60_000;
    store.addAudit({ source: 'discord', action: 'check', user: '333', target: 'sshcheck@127.0.0.1:22', host: '127.0.0.1', verdict: 'denied', denial: 'policy', reason: 'x'.repeat(5000) });
    const all = store.audit();
    assert.equal(all.length, 2);
    assert.deepEqual(all[0], {
      id,
      at: '2026-11-24T10:00:00.000Z',
      atMs: Date.parse('2026-11-24T10:00:00Z'),
      source: 'slack',
      action: 'check',
      workspace: 'T0TEAM',
      channel: 'C0OPS',
      user: 'U0ALICE',
      target: 'sshcheck@db-3:22',
      host: 'db-3',
      port: 22,
      addresses: ['10.0.0.5', 'fd00::5'],
      bastion: 'bastion-eu-1',
      verdict: 'problem',
      denial: null,
      reason: null,
      cause: 'port-filtered',
      durationMs: 1235,
      reportId: 'r-1',
    });
    assert.equal(all[1]?.reason?.length, 1000);
    assert.equal(store.audit({ sinceMs: Date.parse('2026-11-24T10:00:30Z') }).length, 1);
  } finally {
    store.close();
  }
});

test('runs: one row per report (a reused result is kept once), newest first, the last healthy one from a vantage', () => {
  const t0 = Date.parse('2026-11-24T10:00:00Z');
  const store = Store.open(':memory:', { now: () => t0 + 3_600_000 });
  try {
    store.recordRun(fakeReport({ id: 'a', at: t0, cause: 'healthy' }), 'cli');
    store.recordRun(fakeReport({ id: 'a', at: t0, cause: 'healthy' }), 'slack');
    store.recordRun(fakeReport({ id: 'b', at: t0 + 180_000, cause: 'port-filtered' }), 'slack');
    store.recordRun(fakeReport({ id: 'c', at: t0 + 60_000, cause: 'healthy', vantage: 'bastion-us-1' }), 'service');
    store.recordRun(fakeReport({ id: 'd', at: t0 + 120_000, cause: 'healthy', port: 2222 }), 'cli');
    assert.deepEqual(store.runsFor('DB-3').map((r) => r.reportId), ['b', 'd', 'c', 'a']);
    assert.deepEqual(store.runsFor('db-3', { port: 22 }).map((r) => r.reportId), ['b', 'c', 'a']);
    assert.deepEqual(store.runsFor('db-3', { limit: 1 }).map((r) => r.reportId), ['b']);
    assert.equal(store.runsFor('db-3')[0]?.source, 'slack');
    assert.equal(store.lastHealthy('db-3', 22, 'bastion-eu-1', t0 - 1)?.reportId, 'a');
    assert.equal(store.lastHealthy('db-3', 22, 'bastion-eu-1', t0 + 1), undefined, 'outside the window');
    assert.equal(store.lastHealthy('db-3', 22, 'bastion-us-1', 0)?.reportId, 'c');
    // The history the engine gets: age relative to now.
    assert.deepEqual(recentHistory(store, { host: 'db-3', port: 22 }, 'bastion-eu-1', 60, t0 + 300_000), { lastHealthy: { at: '2026-11-24T10:00:00.000Z', ageMs: 300_000 } });
    assert.equal(recentHistory(store, { host: 'db-3', port: 22 }, 'bastion-eu-1', 4, t0 + 300_000), undefined);
  } finally {
    store.close();
  }
});

test('retention: rows older than retention_days are deleted on open and as time goes by', () => {
  const { dir, done } = tempDir();
  try {
    const path = join(dir, 'keep.db');
    const day = 86_400_000;
    let now = Date.parse('2026-11-24T10:00:00Z');
    const store = Store.open(path, { retentionDays: 7, now: () => now });
    store.addAudit({ atMs: now - 8 * day, source: 'cli', action: 'check', target: 't', host: 'old', verdict: 'healthy' });
    store.addAudit({ atMs: now - 6 * day, source: 'cli', action: 'check', target: 't', host: 'recent', verdict: 'healthy' });
    store.recordRun(fakeReport({ id: 'old', at: now - 10 * day }), 'cli');
    store.recordRun(fakeReport({ id: 'new', at: now - day }), 'cli');
    assert.deepEqual(store.prune(), { audit: 1, runs: 1 });
    assert.deepEqual(store.audit().map((r) => r.host), ['recent']);
    store.close();
    // Two days later, opening the store prunes what aged out meanwhile.
    now += 2 * day;
    const later = Store.open(path, { retentionDays: 7, now: () => now });
    assert.deepEqual(later.audit(), []);
    assert.deepEqual(later.runsFor('db-3').map((r) => r.reportId), ['new']);
    later.close();
  } finally {
    done();
  }
});

test('default path: SSHCHECK_DB, then store.path, then /var/lib/sshcheck when writable, then the XDG state directory', () => {
  const none = (): boolean => false;
  assert.deepEqual(storePath({ path: '/etc/x.db' }, { env: { SSHCHECK_DB: '/tmp/a.db' }, writableDir: none }), { path: '/tmp/a.db', source: 'SSHCHECK_DB' });
  assert.throws(() => storePath(undefined, { env: { SSHCHECK_DB: 'rel.db' } }), /SSHCHECK_DB must be an absolute path/);
  assert.deepEqual(storePath({ path: '/srv/s.db' }, { env: {}, writableDir: () => true }), { path: '/srv/s.db', source: 'config' });
  assert.deepEqual(storePath(undefined, { env: {}, writableDir: (d) => d === '/var/lib/sshcheck' }), { path: '/var/lib/sshcheck/sshcheck.db', source: 'system' });
  assert.deepEqual(storePath(undefined, { env: { XDG_STATE_HOME: '/home/a/.state', HOME: '/home/a' }, writableDir: none }), { path: '/home/a/.state/sshcheck/sshcheck.db', source: 'user' });
  assert.deepEqual(storePath(undefined, { env: { XDG_STATE_HOME: 'relative', HOME: '/home/a' }, writableDir: none }), { path: '/home/a/.local/state/sshcheck/sshcheck.db', source: 'user' });
  assert.deepEqual(storePath(undefined, { env: {}, writableDir: none, home: () => '/home/b' }), { path: '/home/b/.local/state/sshcheck/sshcheck.db', source: 'user' });
});
