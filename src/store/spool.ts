// Writes the store could not take when they were made (another process held the lock) are
// not dropped: each is appended, as one JSON line, to a spool file of this process next to
// the database (<db>-spool/<owner>.jsonl) and kept until it is written. The next process
// that opens the store replays the spool files of processes that are gone, in order, so a
// row survives a lock, an exit and a kill -9. One file per process: nobody truncates a file
// another process may still append to.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** The store methods whose calls are spooled: rows of the audit log and the history. */
export const SPOOLED_METHODS = ['addAudit', 'updateAudit', 'recordRun'] as const;
export type SpooledMethod = (typeof SPOOLED_METHODS)[number];

export interface SpooledCall {
  method: SpooledMethod;
  args: unknown[];
}

/** A spool file larger than this is not replayed (it is not ours, or something went badly wrong). */
export const MAX_SPOOL_BYTES = 64 * 1024 * 1024;

export function spoolDir(dbPath: string): string {
  return `${dbPath}-spool`;
}

function fileFor(owner: string): string {
  return `${owner.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl`;
}

export function isSpooledMethod(method: string): method is SpooledMethod {
  return (SPOOLED_METHODS as readonly string[]).includes(method);
}

/** Appends one call to this owner's spool file and syncs it: once this returns, the row is on disk. */
export function appendSpool(dbPath: string, owner: string, call: SpooledCall): string {
  return appendSpoolCalls(dbPath, owner, [call]);
}

/** Appends calls, in order, with one write and one sync: a burst met by a lock is spooled at the cost of one row. */
export function appendSpoolCalls(dbPath: string, owner: string, calls: readonly SpooledCall[]): string {
  const dir = spoolDir(dbPath);
  if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
  const file = join(dir, fileFor(owner));
  const fd = openSync(file, 'a', 0o600);
  try {
    writeSync(fd, calls.map((call) => `${JSON.stringify({ owner, ...call })}\n`).join(''));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return file;
}

/** This owner's spool is fully written into the database: the file goes. */
export function clearSpool(dbPath: string, owner: string): void {
  try {
    unlinkSync(join(spoolDir(dbPath), fileFor(owner)));
  } catch {
    // Nothing was spooled.
  }
}

export interface SpoolFile {
  file: string;
  owner: string;
  calls: SpooledCall[];
  /** Lines that were not a call (a torn last line after a crash): skipped. */
  skipped: number;
}

/** The spool files of owners that are gone (isAlive false), parsed. */
export function deadSpools(dbPath: string, isAlive: (owner: string) => boolean): SpoolFile[] {
  const dir = spoolDir(dbPath);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.jsonl'));
  } catch {
    return [];
  }
  const spools: SpoolFile[] = [];
  for (const name of names.sort()) {
    const file = join(dir, name);
    try {
      if (statSync(file).size > MAX_SPOOL_BYTES) continue;
      const calls: SpooledCall[] = [];
      let owner: string | undefined;
      let skipped = 0;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          const parsed = JSON.parse(line) as { owner?: unknown; method?: unknown; args?: unknown };
          if (typeof parsed.owner === 'string' && typeof parsed.method === 'string' && isSpooledMethod(parsed.method) && Array.isArray(parsed.args)) {
            owner = parsed.owner;
            calls.push({ method: parsed.method, args: parsed.args as unknown[] });
          } else skipped += 1;
        } catch {
          skipped += 1;
        }
      }
      // A file without one whole line is being written right now, or is not ours: left alone.
      if (owner !== undefined && !isAlive(owner)) spools.push({ file, owner, calls, skipped });
    } catch {
      // Unreadable: left for an operator (the path is in the log of whoever spooled it).
    }
  }
  return spools;
}
