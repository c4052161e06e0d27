// The engine's ConnectionLedger (src/engine/ledger.ts) on the SQLite store: every process on
// the bastion that checks a target (operators' CLI runs, the bot, the service) counts its
// connections in the same table, so the budget holds across them. Async on the engine's
// side, whatever the store does underneath.
import type { BudgetRules, ConnectionLedger, LedgerKey, Reservation } from '../engine/ledger.js';
import { allowance } from '../engine/ledger.js';
import type { Report } from '../engine/report.js';
import { REPORT_SCHEMA } from '../engine/report.js';
import type { Store } from './store.js';

/** The largest report kept for reuse; a bigger one is not kept (a check then connects, budget allowing). */
const MAX_REPORT_CHARS = 512 * 1024;

function parseReport(text: string): Report | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<Report>;
    return parsed.schema === REPORT_SCHEMA && typeof parsed.id === 'string' && Array.isArray(parsed.steps) ? (parsed as Report) : undefined;
  } catch {
    return undefined;
  }
}

export class StoreConnectionLedger implements ConnectionLedger {
  constructor(private readonly store: Pick<Store, 'reserveConnections' | 'settleConnections'>) {}

  reserve(key: LedgerKey, want: number, rules: BudgetRules, nowMs: number): Promise<Reservation> {
    let decided: ReturnType<typeof allowance> = { granted: 0, spent: 0 };
    const row = this.store.reserveConnections(key, nowMs - rules.windowMs, nowMs, (entries) => {
      decided = allowance(entries, rules, want, nowMs);
      return decided.granted;
    });
    const reuse = row.reuse ? parseReport(row.reuse.report) : undefined;
    const id = row.id;
    return Promise.resolve({
      granted: decided.granted,
      spent: decided.spent,
      ...(decided.nextCheckAtMs !== undefined ? { nextCheckAtMs: decided.nextCheckAtMs } : {}),
      ...(reuse && row.reuse ? { reuse: { report: reuse, endedAtMs: row.reuse.endedMs } } : {}),
      settle: (used: number, report: Report | undefined): Promise<void> => {
        if (id === undefined) return Promise.resolve();
        try {
          const json = report && !report.reused ? JSON.stringify(report) : undefined;
          this.store.settleConnections(id, used, json !== undefined && json.length <= MAX_REPORT_CHARS ? json : undefined, Date.now());
        } catch {
          // The reservation stays as granted: the budget counts more than was used, never less.
        }
        return Promise.resolve();
      },
    });
  }
}
