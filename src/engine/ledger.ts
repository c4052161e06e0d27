// The connection budget across runs: how many connections to a target's sshd this bastion may
// open within a sliding window, whoever runs the check (operators' CLI processes, the bot).
// The engine defines the interface and the arithmetic; the store keeps the rows (SQLite, so
// separate processes share them). When the budget is spent, a check gives the newest result
// again, with its age and why, instead of connecting.
//
// The default, 4 connections per 10 minutes per target and bastion, is what both defences a
// target may run allow with room to spare, even in their strictest stock settings:
// - fail2ban's sshd jail bans at maxretry 5 within findtime 10 min. In its `ddos` and
//   `aggressive` modes every connection that ends before authentication counts (in the default
//   `normal` mode sshcheck's connections, which send no user name, count for nothing): 4 stays
//   below 5 within any 10 minutes, whatever the mode.
// - OpenSSH 9.8+ PerSourcePenalties adds 1 s (`noauth`) per such connection, refuses the source
//   once more than 15 s (`min`) have accrued, and drains 1 s per second: 4 in a burst is 4 s.
import type { Report } from './report.js';

export interface BudgetRules {
  /** Connections to the target's sshd within the window (all runs, all processes). */
  connections: number;
  windowMs: number;
}

export const DEFAULT_BUDGET_RULES: Readonly<BudgetRules> = { connections: 4, windowMs: 10 * 60_000 };

/** Whose budget: connections from this bastion to this target (as typed: name or address). */
export interface LedgerKey {
  vantage: string;
  host: string;
  port: number;
  /** The requester's address (--from): a result checked for another requester is not reused. */
  from?: string;
}

/** A past or running check, as the ledger counts it. */
export interface LedgerEntry {
  atMs: number;
  /** Connections it may open (while running) or opened (once settled), per address at most. */
  connections: number;
}

export interface Reservation {
  /** Connections this run may open to each address (0: none, reuse). */
  granted: number;
  /** What the window holds (including this reservation), for reports. */
  spent: number;
  /** When granted is 0: the newest result to give instead, if one is kept. */
  reuse?: { report: Report; endedAtMs: number };
  /** When the window will have room for a full check again. */
  nextCheckAtMs?: number;
  /** Hand back what was used, and the report (kept for reuse). Never rejects. */
  settle(used: number, report: Report | undefined): Promise<void>;
}

/**
 * Implemented by the store. `reserve` must be atomic across processes: it counts the window
 * and writes this run's reservation in one transaction.
 */
export interface ConnectionLedger {
  reserve(key: LedgerKey, want: number, rules: BudgetRules, nowMs: number): Promise<Reservation>;
}

/** What the window allows a run that wants `want` connections. Pure. */
export function allowance(entries: readonly LedgerEntry[], rules: BudgetRules, want: number, nowMs: number): { granted: number; spent: number; nextCheckAtMs?: number } {
  const inWindow = entries.filter((e) => e.atMs > nowMs - rules.windowMs && e.atMs <= nowMs).sort((a, b) => a.atMs - b.atMs);
  const spent = inWindow.reduce((sum, e) => sum + e.connections, 0);
  const granted = Math.max(0, Math.min(want, rules.connections - spent));
  if (granted >= want) return { granted, spent: spent + granted };
  // Room for a full check once enough of the oldest entries have left the window.
  let freed = rules.connections - spent - granted;
  let nextCheckAtMs: number | undefined;
  for (const e of inWindow) {
    freed += e.connections;
    if (freed >= want) {
      nextCheckAtMs = e.atMs + rules.windowMs;
      break;
    }
  }
  return { granted, spent: spent + granted, ...(nextCheckAtMs !== undefined ? { nextCheckAtMs } : {}) };
}

/** "4 connections in 10 min" */
export function describeRules(rules: BudgetRules): string {
  const s = rules.windowMs / 1000;
  const window = s % 60 === 0 ? `${s / 60} min` : `${s} s`;
  return `${rules.connections} connection${rules.connections === 1 ? '' : 's'} in ${window}`;
}

/** The report of an earlier run, given again: same id and steps, with why and how old. */
export function reusedReport(stored: Report, endedAtMs: number, key: LedgerKey, rules: BudgetRules, nextCheckAtMs: number | undefined, nowMs: number): Report {
  const ageMs = Math.max(0, nowMs - endedAtMs);
  const next = nextCheckAtMs !== undefined ? `; the next check that connects can run in ${Math.ceil((nextCheckAtMs - nowMs) / 1000)} s` : '';
  return {
    ...stored,
    reused: {
      ageMs,
      reason: `the connection budget for ${key.host} from ${key.vantage} is spent (${describeRules(rules)}, so that this bastion never trips fail2ban or sshd's PerSourcePenalties): this is the result of the check ${Math.round(ageMs / 1000)} s ago${next}`,
      ...(nextCheckAtMs !== undefined ? { nextCheckAt: new Date(nextCheckAtMs).toISOString() } : {}),
    },
  };
}
