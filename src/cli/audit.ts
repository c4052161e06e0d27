// `sshcheck audit [--since <time>] [--json]`: the audit log, oldest first: who asked for
// which target from where, what was resolved and probed, and how it ended (or why it was
// refused). --json exports JSON lines, one row per line, for a SIEM or jq.
import { parseArgs } from 'node:util';
import { SshcheckError, isSshcheckError } from '../errors.js';
import { printable } from '../target.js';
import { duration } from '../engine/checklist/format.js';
import type { AuditRow } from '../store/store.js';
import type { CommandIo } from './history.js';
import { terminalSafe } from './history.js';
import { openStoreForReading, spoolNote } from './store-open.js';

type Env = Readonly<Record<string, string | undefined>>;

export const AUDIT_USAGE = `Usage: sshcheck audit [options]

Prints the audit log in the store: every request, allowed or denied, from chat, the
engine service and the CLI, oldest first.

Options:
      --since <time>  from this time on: 2026-11-24, 2026-11-24T10:00:00Z, or an age
                      such as 30m, 24h, 7d (default: everything kept)
      --limit <n>     rows at most (default 10000)
      --json          JSON lines, one row per line (for export)
  -h, --help          this help`;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30m", "24h", "7d", an ISO date or date-time: epoch milliseconds. Pure. */
export function parseSince(text: string, now: number): number {
  const age = /^([0-9]{1,6})([smhdw])$/.exec(text.trim());
  if (age) return now - Number(age[1]) * (UNITS[age[2] ?? 'd'] ?? 0);
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(text.trim())) {
    const ms = Date.parse(text.trim());
    if (Number.isFinite(ms)) return ms;
  }
  throw new SshcheckError('E_USAGE', `invalid --since "${printable(text, 40)}": give a date (2026-11-24), a date and time (2026-11-24T10:00:00Z) or an age (30m, 24h, 7d)`);
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : duration(ms);
}

/** One line per row, for a terminal. */
export function auditLine(row: AuditRow): string {
  const where = [row.workspace, row.channel].filter((x) => x !== null).join('/') || '-';
  const outcome = row.verdict === 'denied' ? `denied (${row.denial ?? '?'}): ${row.reason ?? ''}` : row.verdict === 'failed' ? `failed: ${row.reason ?? ''}` : row.cause !== null ? `${row.verdict} ${row.cause}` : row.verdict;
  const addresses = row.addresses.length > 0 ? `[${row.addresses.join(' ')}]` : '[]';
  return [row.at, row.source, where, row.user ?? '-', row.action, row.target, addresses, row.bastion ?? '-', outcome, seconds(row.durationMs), row.reportId ?? '-'].join('  ');
}

export function runAudit(argv: readonly string[], env: Env, io: CommandIo): number {
  let values;
  try {
    ({ values } = parseArgs({ args: [...argv], allowPositionals: false, strict: true, options: { since: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    io.stderr(`sshcheck audit: ${printable((err as Error).message.replace(/\s+/g, ' '), 300)}\n\n${AUDIT_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(`${AUDIT_USAGE}\n`);
    return 0;
  }
  try {
    const sinceMs = values.since !== undefined ? parseSince(values.since, Date.now()) : 0;
    const limitText = values.limit ?? '10000';
    if (!/^[0-9]{1,7}$/.test(limitText) || Number(limitText) < 1) throw new SshcheckError('E_USAGE', `invalid --limit "${printable(limitText, 20)}": give a positive number`);
    const opened = openStoreForReading(env);
    if ('missing' in opened) {
      io.stderr(`sshcheck audit: ${opened.missing}\n`);
      return 0;
    }
    const { store } = opened;
    const note = spoolNote(store.path);
    if (note !== undefined) io.stderr(`sshcheck audit: ${note}\n`);
    try {
      const rows = store.audit({ sinceMs, limit: Number(limitText) });
      io.stdout(rows.map((r) => (values.json ? JSON.stringify(r) : terminalSafe(auditLine(r)))).map((l) => `${l}\n`).join(''));
      return 0;
    } finally {
      store.close();
    }
  } catch (err) {
    if (isSshcheckError(err)) {
      io.stderr(`sshcheck audit: ${err.message}\n`);
      return err.code === 'E_STORE' ? 3 : 2;
    }
    throw err;
  }
}
