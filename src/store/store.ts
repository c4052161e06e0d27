// The audit log and the run history in one SQLite file (better-sqlite3). The bot, `sshcheck
// serve` and operators' CLI runs on one bastion may write it at the same time: WAL lets
// readers run beside the one writer, and busy_timeout makes a writer wait for the lock
// instead of failing. Every call here is synchronous: long-lived processes use it from a
// worker thread (client.ts), so a lock held elsewhere never stalls their event loop.
// Opening writes nothing when the file is already WAL and migrated, so a store locked by
// another process can still be opened (and read) at once. Schema changes are numbered migrations (migrations.ts). Rows are
// bounded (long texts are cut), and old rows are deleted after the retention period.
// Nothing here is written anywhere but the database file and SQLite's own -wal/-shm files.
import { closeSync, existsSync, mkdirSync, openSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from './sqlite.js';
import type { SqliteDatabase } from './sqlite.js';
import { SshcheckError, errorMessage } from '../errors.js';
import type { Report } from '../engine/report.js';
import { DEFAULT_RETENTION_DAYS } from './config.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';
import { ownerAlive, ownerId } from './owner.js';
import { appendSpool, deadSpools } from './spool.js';
import type { SpooledCall } from './spool.js';

export type AuditSource = 'slack' | 'discord' | 'cli' | 'service';
export type AuditAction = 'check' | 'history';
/**
 * queued/running: not finished (yet); healthy/problem: the check ran; undecided: it stopped
 * before a verdict (signal, budget); failed: the engine failed; shown: a history answer;
 * interrupted: the process running it stopped first.
 */
export type AuditVerdict = 'queued' | 'running' | 'healthy' | 'problem' | 'undecided' | 'failed' | 'denied' | 'shown' | 'cancelled' | 'interrupted';
export type DenialReason = 'permission' | 'policy' | 'rate-limit' | 'queue-full' | 'audit';

export interface AuditEntry {
  /** Epoch milliseconds; default now. */
  atMs?: number;
  source: AuditSource;
  action: AuditAction;
  /** Slack team id or Discord guild id. */
  workspace?: string | null;
  channel?: string | null;
  user?: string | null;
  /** The target as checked: user@host:port. */
  target: string;
  host: string;
  port?: number | null;
  addresses?: readonly string[];
  bastion?: string | null;
  verdict: AuditVerdict;
  denial?: DenialReason | null;
  /** Why it was denied or failed, in words. */
  reason?: string | null;
  cause?: string | null;
  durationMs?: number | null;
  reportId?: string | null;
  /** Whose unfinished row this is (owner.ts); default the store's owner. Spool replays keep the original. */
  owner?: string;
}

export interface AuditRow {
  id: number;
  at: string;
  atMs: number;
  source: AuditSource;
  action: AuditAction;
  workspace: string | null;
  channel: string | null;
  user: string | null;
  target: string;
  host: string;
  port: number | null;
  addresses: string[];
  bastion: string | null;
  verdict: AuditVerdict;
  denial: DenialReason | null;
  reason: string | null;
  cause: string | null;
  durationMs: number | null;
  reportId: string | null;
}

export type AuditPatch = Partial<Pick<AuditEntry, 'addresses' | 'bastion' | 'verdict' | 'denial' | 'reason' | 'cause' | 'durationMs' | 'reportId'>>;

export interface RunRow {
  reportId: string;
  at: string;
  atMs: number;
  host: string;
  port: number;
  user: string;
  vantage: string;
  addresses: string[];
  cause: string;
  confidence: string;
  step: string | null;
  summary: string;
  durationMs: number;
  source: AuditSource;
}

/** A chat watch as the store keeps it (migration 5): where it posts, what it checks, how far it got. */
export interface WatchEntry {
  id: string;
  platform: 'slack' | 'discord';
  workspace: string | null;
  channel: string;
  user: string;
  /** The requester as the platform shows them (a mention the adapter built). */
  requester: string;
  /** The check as command text (src/chat/rerun.ts encodeRerun): parsed again on resume. */
  command: string;
  host: string;
  port: number;
  /** The bastion it probes through (`via`, or the bot's own vantage), for the per-bastion cap. */
  bastion: string;
  everyMs: number;
  startedMs: number;
  endsMs: number;
  /** The platform's id of the parent message (Slack ts, Discord message id), once posted. */
  parentRef: string | null;
  /** Where the thread is, when the platform gives it an id of its own (a Discord thread). */
  threadRef: string | null;
  /** The watch's progress (src/chat/watch.ts WatchProgress) as JSON. */
  progress: string;
}

export interface WatchRow extends WatchEntry {
  stoppedMs: number | null;
  stopReason: string | null;
}

export type WatchPatch = Partial<Pick<WatchEntry, 'parentRef' | 'threadRef' | 'progress'>>;

interface WatchDbRow {
  id: string;
  platform: string;
  workspace: string | null;
  channel: string;
  user: string;
  requester: string;
  command: string;
  host: string;
  port: number;
  bastion: string;
  every_ms: number;
  started_ms: number;
  ends_ms: number;
  parent_ref: string | null;
  thread_ref: string | null;
  progress: string;
  stopped_ms: number | null;
  stop_reason: string | null;
}

function watchRow(r: WatchDbRow): WatchRow {
  return {
    id: r.id,
    platform: r.platform === 'discord' ? 'discord' : 'slack',
    workspace: r.workspace,
    channel: r.channel,
    user: r.user,
    requester: r.requester,
    command: r.command,
    host: r.host,
    port: r.port,
    bastion: r.bastion,
    everyMs: r.every_ms,
    startedMs: r.started_ms,
    endsMs: r.ends_ms,
    parentRef: r.parent_ref,
    threadRef: r.thread_ref,
    progress: r.progress,
    stoppedMs: r.stopped_ms,
    stopReason: r.stop_reason,
  };
}

/** A watch's progress JSON is small; a bigger one is a bug, not something to keep. */
const MAX_PROGRESS = 16_384;

export interface StoreOptions {
  retentionDays?: number;
  /** How long a writer waits for another process's lock. */
  busyTimeoutMs?: number;
  now?: () => number;
  /** Reading commands: the file must exist; nothing is created, migrated or written. */
  readonly?: boolean;
  /** Who owns the unfinished rows this process writes (owner.ts); default this process. */
  owner?: string;
  /**
   * A second connection beside the store's own thread (StoreClient's `direct`): it never
   * waits for a lock, never prunes and never checkpoints the WAL, so that no call on it holds
   * its caller's thread for more than one short statement. The store's thread keeps house.
   */
  side?: boolean;
}

/** What recover() found: spooled rows of gone processes written, and their unfinished rows closed. */
export interface Recovery {
  replayed: number;
  interrupted: number;
}

/** True for SQLite's "another connection holds the lock" errors (retry later, nothing is wrong with the data). */
export function isBusyError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || (typeof code === 'string' && (code.startsWith('SQLITE_BUSY_') || code.startsWith('SQLITE_LOCKED_')));
}

/** Unfinished rows without an owner (written before owners were recorded) older than this are closed. */
const UNOWNED_OPEN_MS = 3_600_000;

const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 3_600_000;
const MAX_TEXT = 1000;
const MAX_FIELD = 200;
const MAX_ADDRESSES = 16;

function cut(value: string | null | undefined, max: number): string | null {
  if (value === undefined || value === null) return null;
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

function addressesJson(addresses: readonly string[] | undefined): string {
  return JSON.stringify((addresses ?? []).slice(0, MAX_ADDRESSES).map((a) => a.slice(0, 64)));
}

function parseAddresses(text: unknown): string[] {
  try {
    const parsed: unknown = JSON.parse(String(text));
    return Array.isArray(parsed) ? parsed.filter((a): a is string => typeof a === 'string') : [];
  } catch {
    return [];
  }
}

interface AuditDbRow {
  id: number;
  at_ms: number;
  source: string;
  action: string;
  workspace: string | null;
  channel: string | null;
  user: string | null;
  target: string;
  host: string;
  port: number | null;
  addresses: string;
  bastion: string | null;
  verdict: string;
  denial: string | null;
  reason: string | null;
  cause: string | null;
  duration_ms: number | null;
  report_id: string | null;
  owner?: string | null;
}

interface RunDbRow {
  report_id: string;
  at_ms: number;
  host: string;
  port: number;
  user: string;
  vantage: string;
  addresses: string;
  cause: string;
  confidence: string;
  step: string | null;
  summary: string;
  duration_ms: number;
  source: string;
}

function auditRow(r: AuditDbRow): AuditRow {
  return {
    id: r.id,
    at: new Date(r.at_ms).toISOString(),
    atMs: r.at_ms,
    source: r.source as AuditSource,
    action: r.action as AuditAction,
    workspace: r.workspace,
    channel: r.channel,
    user: r.user,
    target: r.target,
    host: r.host,
    port: r.port,
    addresses: parseAddresses(r.addresses),
    bastion: r.bastion,
    verdict: r.verdict as AuditVerdict,
    denial: r.denial as DenialReason | null,
    reason: r.reason,
    cause: r.cause,
    durationMs: r.duration_ms,
    reportId: r.report_id,
  };
}

function runRow(r: RunDbRow): RunRow {
  return {
    reportId: r.report_id,
    at: new Date(r.at_ms).toISOString(),
    atMs: r.at_ms,
    host: r.host,
    port: r.port,
    user: r.user,
    vantage: r.vantage,
    addresses: parseAddresses(r.addresses),
    cause: r.cause,
    confidence: r.confidence,
    step: r.step,
    summary: r.summary,
    durationMs: r.duration_ms,
    source: r.source as AuditSource,
  };
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync spins forever on some special
 * file systems (/proc), and a bad SSHCHECK_DB must fail, not hang the bot at start.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && missing.length < 64; d = dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d, { mode: 0o700 });
}

/** Applies the migrations a database lacks. Exported for tests that build older versions. */
export function migrate(db: SqliteDatabase, upTo: number = SCHEMA_VERSION, file = 'the store'): number {
  // A read first: a file that is up to date needs no write lock (another process may hold it).
  const before = Number(db.pragma('user_version', { simple: true }));
  if (before > SCHEMA_VERSION) throw newerSchema(file, before);
  if (before >= upTo) return before;
  const apply = db.transaction(() => {
    const current = Number(db.pragma('user_version', { simple: true }));
    if (current > SCHEMA_VERSION) throw newerSchema(file, current);
    for (const m of MIGRATIONS) {
      if (m.version <= current || m.version > upTo) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
    return Number(db.pragma('user_version', { simple: true }));
  });
  // IMMEDIATE: the write lock first, so a second process waits and then sees the new version.
  return apply.immediate();
}

function newerSchema(file: string, version: number): SshcheckError {
  return new SshcheckError('E_STORE', `${file} has schema version ${version}; this sshcheck knows versions up to ${SCHEMA_VERSION}: upgrade sshcheck, or point SSHCHECK_DB at another file`);
}

export class Store {
  private lastPrune = 0;
  private insertAudit: ReturnType<SqliteDatabase['prepare']> | undefined;
  private readonly now: () => number;
  private readonly retentionMs: number;
  /** Written into every audit row, so that a crash's unfinished rows can be told apart (owner.ts). */
  readonly owner: string;
  private readonly side: boolean;

  private constructor(
    readonly path: string,
    private readonly db: SqliteDatabase,
    options: StoreOptions,
  ) {
    this.now = options.now ?? (() => Date.now());
    this.retentionMs = (options.retentionDays ?? DEFAULT_RETENTION_DAYS) * DAY_MS;
    this.owner = options.owner ?? ownerId();
    this.side = options.side ?? false;
  }

  /**
   * Opens (creating it and its directory if needed) and migrates the store. Throws
   * SshcheckError E_STORE with the path and what to do.
   */
  static open(path: string, options: StoreOptions = {}): Store {
    let db: SqliteDatabase | undefined;
    const busyMs = options.side ? 0 : Math.round(options.busyTimeoutMs ?? 5000);
    try {
      if (options.readonly) {
        if (!existsSync(path)) throw new SshcheckError('E_STORE', `no store at ${path}`);
        db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyMs });
        const version = Number(db.pragma('user_version', { simple: true }));
        if (version > SCHEMA_VERSION) throw newerSchema(path, version);
        return new Store(path, db, options);
      }
      if (path !== ':memory:') {
        makeDirs(dirname(path));
        // Created private: the audit log says who probed what. Sharing it between accounts is
        // the admin's choice (group and mode on the file), kept as it is once it exists.
        closeSync(openSync(path, 'a', 0o600));
      }
      db = new Database(path, { timeout: busyMs });
      db.pragma(`busy_timeout = ${busyMs}`);
      // journal_mode is persistent: asked first, set (a write) only on a file that is not WAL yet.
      if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db, SCHEMA_VERSION, path);
      const store = new Store(path, db, options);
      if (options.side) {
        // A commit here never runs a checkpoint (up to the WAL's size in I/O): the store's thread does.
        db.pragma('wal_autocheckpoint = 0');
        return store;
      }
      try {
        store.prune();
      } catch (err) {
        // Pruning waits for a free store; a locked one is pruned next time.
        if (!isBusyError(err)) throw err;
      }
      return store;
    } catch (err) {
      db?.close();
      if (err instanceof SshcheckError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const locked = isBusyError(err) ? ' (another process holds its lock: try again when it is done)' : '';
      throw new SshcheckError('E_STORE', `cannot open the store ${path}: ${errorMessage(err)}${locked}${code === 'EACCES' ? ' (no permission: set SSHCHECK_DB or store.path in the engine config to a file this user may write)' : ''}`, { cause: err });
    }
  }

  /** True when opened by a reading command (nothing can be written through it). */
  get readonly(): boolean {
    return this.db.readonly;
  }

  get schemaVersion(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  addAudit(entry: AuditEntry): number {
    this.maybePrune();
    // Prepared once: a burst writes hundreds of these rows, and preparing costs more than inserting.
    this.insertAudit ??= this.db.prepare(
      `INSERT INTO audit (at_ms, source, action, workspace, channel, user, target, host, port, addresses, bastion, verdict, denial, reason, cause, duration_ms, report_id, owner)
       VALUES (@at_ms, @source, @action, @workspace, @channel, @user, @target, @host, @port, @addresses, @bastion, @verdict, @denial, @reason, @cause, @duration_ms, @report_id, @owner)`,
    );
    const result = this.insertAudit.run({
        at_ms: Math.round(entry.atMs ?? this.now()),
        source: entry.source,
        action: entry.action,
        workspace: cut(entry.workspace, MAX_FIELD),
        channel: cut(entry.channel, MAX_FIELD),
        user: cut(entry.user, MAX_FIELD),
        target: cut(entry.target, 400) ?? '',
        host: cut(entry.host, 300) ?? '',
        port: entry.port ?? null,
        addresses: addressesJson(entry.addresses),
        bastion: cut(entry.bastion, MAX_FIELD),
        verdict: entry.verdict,
        denial: entry.denial ?? null,
        reason: cut(entry.reason, MAX_TEXT),
        cause: cut(entry.cause, MAX_FIELD),
        duration_ms: entry.durationMs === undefined || entry.durationMs === null ? null : Math.round(entry.durationMs),
        report_id: cut(entry.reportId, 64),
        owner: entry.verdict === 'running' || entry.verdict === 'queued' ? (entry.owner ?? this.owner) : null,
      });
    return Number(result.lastInsertRowid);
  }

  updateAudit(id: number, patch: AuditPatch): void {
    const sets: string[] = [];
    const values: Record<string, unknown> = { id };
    const set = (column: string, value: unknown): void => {
      sets.push(`${column} = @${column}`);
      values[column] = value;
    };
    if (patch.addresses !== undefined) set('addresses', addressesJson(patch.addresses));
    if (patch.bastion !== undefined) set('bastion', cut(patch.bastion, MAX_FIELD));
    if (patch.verdict !== undefined) set('verdict', patch.verdict);
    if (patch.denial !== undefined) set('denial', patch.denial);
    if (patch.reason !== undefined) set('reason', cut(patch.reason, MAX_TEXT));
    if (patch.cause !== undefined) set('cause', cut(patch.cause, MAX_FIELD));
    if (patch.durationMs !== undefined) set('duration_ms', patch.durationMs === null ? null : Math.round(patch.durationMs));
    if (patch.reportId !== undefined) set('report_id', cut(patch.reportId, 64));
    if (sets.length === 0) return;
    this.db.prepare(`UPDATE audit SET ${sets.join(', ')} WHERE id = @id`).run(values);
  }

  /** Audit rows from `sinceMs` on, oldest first. */
  audit(options: { sinceMs?: number; limit?: number } = {}): AuditRow[] {
    const rows = this.db
      .prepare('SELECT * FROM audit WHERE at_ms >= ? ORDER BY at_ms, id LIMIT ?')
      .all(Math.round(options.sinceMs ?? 0), Math.max(1, Math.min(options.limit ?? 100_000, 1_000_000))) as AuditDbRow[];
    return rows.map(auditRow);
  }

  auditRow(id: number): AuditRow | undefined {
    const row = this.db.prepare('SELECT * FROM audit WHERE id = ?').get(id) as AuditDbRow | undefined;
    return row ? auditRow(row) : undefined;
  }

  /** Keeps a run for history. The same report (a reused result, or a second writer) is kept once. */
  recordRun(report: Report, source: AuditSource): void {
    this.maybePrune();
    const at = Date.parse(report.startedAt);
    this.db
      .prepare(
        `INSERT OR IGNORE INTO runs (report_id, at_ms, host, port, user, vantage, addresses, cause, confidence, step, summary, duration_ms, source)
         VALUES (@report_id, @at_ms, @host, @port, @user, @vantage, @addresses, @cause, @confidence, @step, @summary, @duration_ms, @source)`,
      )
      .run({
        report_id: report.id.slice(0, 64),
        at_ms: Number.isFinite(at) ? at : this.now(),
        host: report.target.host.slice(0, 300),
        port: report.target.port,
        user: report.target.user.slice(0, 64),
        vantage: report.vantage.name.slice(0, MAX_FIELD),
        addresses: addressesJson(report.target.addresses),
        cause: report.diagnosis.cause,
        confidence: report.diagnosis.confidence,
        step: report.diagnosis.step,
        summary: cut(report.diagnosis.summary, MAX_TEXT) ?? '',
        duration_ms: Math.round(report.durationMs),
        source,
      });
  }

  /** Runs for a host (and port, when given), newest first. */
  runsFor(host: string, options: { port?: number; limit?: number; sinceMs?: number } = {}): RunRow[] {
    const limit = Math.max(1, Math.min(options.limit ?? 20, 1000));
    const since = Math.round(options.sinceMs ?? 0);
    const rows = (
      options.port === undefined
        ? this.db.prepare('SELECT * FROM runs WHERE host = ? AND at_ms >= ? ORDER BY at_ms DESC LIMIT ?').all(host.toLowerCase(), since, limit)
        : this.db.prepare('SELECT * FROM runs WHERE host = ? AND port = ? AND at_ms >= ? ORDER BY at_ms DESC LIMIT ?').all(host.toLowerCase(), options.port, since, limit)
    ) as RunDbRow[];
    return rows.map(runRow);
  }

  /** The newest healthy run of host:port from this vantage since `sinceMs`, if any. */
  lastHealthy(host: string, port: number, vantage: string, sinceMs: number): RunRow | undefined {
    const row = this.db
      .prepare("SELECT * FROM runs WHERE host = ? AND port = ? AND vantage = ? AND cause = 'healthy' AND at_ms >= ? ORDER BY at_ms DESC LIMIT 1")
      .get(host.toLowerCase(), port, vantage, Math.round(sinceMs)) as RunDbRow | undefined;
    return row ? runRow(row) : undefined;
  }

  /**
   * The connection ledger (src/engine/ledger.ts): counts the window for vantage+host and writes
   * this run's reservation in one IMMEDIATE transaction, so two processes cannot both take the
   * last connection. `decide` gets the window's entries and returns how many to reserve.
   */
  reserveConnections(
    key: { vantage: string; host: string; port: number; from?: string },
    sinceMs: number,
    nowMs: number,
    decide: (entries: Array<{ atMs: number; connections: number }>) => number,
  ): { id: number | undefined; entries: Array<{ atMs: number; connections: number }>; reuse?: { report: string; endedMs: number } } {
    const vantage = key.vantage.slice(0, MAX_FIELD);
    const host = key.host.toLowerCase().slice(0, 300);
    const tx = this.db.transaction(() => {
      // Reports are kept only for reuse within a window: a day is more than any window allows.
      this.db.prepare('DELETE FROM connection_ledger WHERE at_ms < ?').run(nowMs - DAY_MS);
      const entries = (this.db.prepare('SELECT at_ms, connections FROM connection_ledger WHERE vantage = ? AND host = ? AND at_ms > ? ORDER BY at_ms').all(vantage, host, sinceMs) as Array<{ at_ms: number; connections: number }>).map((r) => ({
        atMs: r.at_ms,
        connections: r.connections,
      }));
      const granted = decide(entries);
      const reuse = this.db
        .prepare('SELECT report, ended_ms FROM connection_ledger WHERE vantage = ? AND host = ? AND port = ? AND requester IS ? AND report IS NOT NULL AND at_ms > ? ORDER BY ended_ms DESC, id DESC LIMIT 1')
        .get(vantage, host, key.port, key.from ?? null, sinceMs) as { report: string; ended_ms: number } | undefined;
      let id: number | undefined;
      if (granted > 0) {
        id = Number(
          this.db
            .prepare('INSERT INTO connection_ledger (at_ms, vantage, host, port, requester, connections) VALUES (?, ?, ?, ?, ?, ?)')
            .run(Math.round(nowMs), vantage, host, key.port, key.from ?? null, granted).lastInsertRowid,
        );
      }
      return { id, entries, ...(reuse ? { reuse: { report: reuse.report, endedMs: reuse.ended_ms } } : {}) };
    });
    return tx.immediate();
  }

  /** What a reserved run really used, and its report (JSON) to give again while the budget is spent. */
  settleConnections(id: number, used: number, reportJson: string | undefined, endedMs: number): void {
    this.db.prepare('UPDATE connection_ledger SET connections = ?, report = ?, ended_ms = ? WHERE id = ?').run(Math.max(0, Math.round(used)), reportJson ?? null, Math.round(endedMs), id);
  }

  /** Keeps a new watch; stopped watches older than the retention period go. */
  addWatch(entry: WatchEntry): void {
    this.db.prepare('DELETE FROM watches WHERE stopped_ms IS NOT NULL AND stopped_ms < ?').run(this.now() - this.retentionMs);
    this.db
      .prepare(
        `INSERT INTO watches (id, platform, workspace, channel, user, requester, command, host, port, bastion, every_ms, started_ms, ends_ms, parent_ref, thread_ref, progress)
         VALUES (@id, @platform, @workspace, @channel, @user, @requester, @command, @host, @port, @bastion, @every_ms, @started_ms, @ends_ms, @parent_ref, @thread_ref, @progress)`,
      )
      .run({
        id: entry.id.slice(0, 64),
        platform: entry.platform,
        workspace: cut(entry.workspace, MAX_FIELD),
        channel: cut(entry.channel, MAX_FIELD) ?? '',
        user: cut(entry.user, MAX_FIELD) ?? '',
        requester: cut(entry.requester, MAX_FIELD) ?? '',
        command: cut(entry.command, 600) ?? '',
        host: entry.host.toLowerCase().slice(0, 300),
        port: entry.port,
        bastion: cut(entry.bastion, MAX_FIELD) ?? '',
        every_ms: Math.round(entry.everyMs),
        started_ms: Math.round(entry.startedMs),
        ends_ms: Math.round(entry.endsMs),
        parent_ref: cut(entry.parentRef, MAX_FIELD),
        thread_ref: cut(entry.threadRef, MAX_FIELD),
        progress: entry.progress.length <= MAX_PROGRESS ? entry.progress : '{}',
      });
  }

  updateWatch(id: string, patch: WatchPatch): void {
    const sets: string[] = [];
    const values: Record<string, unknown> = { id };
    if (patch.parentRef !== undefined) {
      sets.push('parent_ref = @parent_ref');
      values['parent_ref'] = cut(patch.parentRef, MAX_FIELD);
    }
    if (patch.threadRef !== undefined) {
      sets.push('thread_ref = @thread_ref');
      values['thread_ref'] = cut(patch.threadRef, MAX_FIELD);
    }
    if (patch.progress !== undefined && patch.progress.length <= MAX_PROGRESS) {
      sets.push('progress = @progress');
      values['progress'] = patch.progress;
    }
    if (sets.length > 0) this.db.prepare(`UPDATE watches SET ${sets.join(', ')} WHERE id = @id`).run(values);
  }

  /** Ends a watch (once: a second stop keeps the first reason). */
  stopWatch(id: string, stoppedMs: number, reason: string): void {
    this.db.prepare('UPDATE watches SET stopped_ms = ?, stop_reason = ? WHERE id = ? AND stopped_ms IS NULL').run(Math.round(stoppedMs), cut(reason, MAX_TEXT), id);
  }

  /** The watches not stopped, oldest first: what a starting bot resumes. */
  activeWatches(): WatchRow[] {
    return (this.db.prepare('SELECT * FROM watches WHERE stopped_ms IS NULL ORDER BY started_ms, id').all() as WatchDbRow[]).map(watchRow);
  }

  watch(id: string): WatchRow | undefined {
    const row = this.db.prepare('SELECT * FROM watches WHERE id = ?').get(id) as WatchDbRow | undefined;
    return row ? watchRow(row) : undefined;
  }

  /**
   * After a crash: writes the spooled rows of processes that are gone (spool.ts), then closes
   * every unfinished row whose owner is gone as `interrupted`, with the time it was found.
   * Rows of live processes (another bot, a CLI run in progress) are left alone.
   */
  recover(isAlive: (owner: string) => boolean = (o) => ownerAlive(o)): Recovery {
    let replayed = 0;
    for (const spool of deadSpools(this.path, isAlive)) {
      this.db.transaction(() => {
        for (const call of spool.calls) {
          this.apply(call, spool.owner);
          replayed += 1;
        }
      })();
      // After the commit: a crash right here replays the file once more (a duplicate row, never a lost one).
      unlinkSync(spool.file);
    }
    return { replayed, interrupted: this.closeInterrupted(isAlive) };
  }

  /**
   * For a short-lived process (the CLI), which has no store thread: makes the call now, or,
   * when another process holds the lock, appends it to this process's spool, which the next
   * process to open the store writes. Returns the spool file, or undefined when written.
   */
  writeOrSpool(call: SpooledCall): string | undefined {
    try {
      this.apply(call, this.owner);
      return undefined;
    } catch (err) {
      if (!isBusyError(err) || this.path === ':memory:') throw err;
      return appendSpool(this.path, this.owner, call);
    }
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction of this store's connection: the store's thread
   * writes a burst's rows with one commit instead of one each (worker.ts). Static, so that it
   * is not one of the methods the store's thread answers for other threads.
   */
  static inTransaction<T>(store: Store, fn: () => T): T {
    return store.db.transaction(fn).immediate();
  }

  /** One spooled call; an unfinished row keeps the owner that spooled it. */
  private apply(call: SpooledCall, owner: string): void {
    if (call.method === 'addAudit') this.addAudit({ ...(call.args[0] as AuditEntry), owner: (call.args[0] as AuditEntry).owner ?? owner });
    else if (call.method === 'updateAudit') this.updateAudit(Number(call.args[0]), call.args[1] as AuditPatch);
    else this.recordRun(call.args[0] as Report, call.args[1] as AuditSource);
  }

  /** Closes the unfinished rows of processes that are gone; returns how many. */
  closeInterrupted(isAlive: (owner: string) => boolean = (o) => ownerAlive(o), nowMs: number = this.now()): number {
    const open = this.db.prepare("SELECT id, at_ms, owner FROM audit WHERE verdict IN ('queued', 'running')").all() as Pick<AuditDbRow, 'id' | 'at_ms' | 'owner'>[];
    const found = new Date(nowMs).toISOString();
    const close = this.db.prepare("UPDATE audit SET verdict = 'interrupted', reason = @reason WHERE id = @id AND verdict IN ('queued', 'running')");
    let closed = 0;
    this.db.transaction(() => {
      for (const row of open) {
        const owner = row.owner ?? null;
        if (owner === this.owner) continue;
        if (owner === null ? nowMs - row.at_ms < UNOWNED_OPEN_MS : isAlive(owner)) continue;
        const who = owner === null ? 'the process that ran it (not recorded)' : `process ${owner.split(':')[1] ?? '?'}`;
        closed += close.run({ id: row.id, reason: `interrupted: ${who} stopped before the check finished; found and closed at ${found}` }).changes;
      }
    })();
    return closed;
  }

  /** Deletes rows older than the retention period. */
  prune(nowMs: number = this.now()): { audit: number; runs: number } {
    this.lastPrune = nowMs;
    const cutoff = nowMs - this.retentionMs;
    const audit = this.db.prepare('DELETE FROM audit WHERE at_ms < ?').run(cutoff).changes;
    const runs = this.db.prepare('DELETE FROM runs WHERE at_ms < ?').run(cutoff).changes;
    return { audit, runs };
  }

  private maybePrune(): void {
    if (!this.side && this.now() - this.lastPrune >= PRUNE_EVERY_MS) this.prune();
  }
}
