// Recent runs of one host as a person reads them during an incident: "worked at 10:02,
// broken since 10:05 (port-filtered)", per login, port and bastion (port 22 closed and port
// 2222 working are two stories, never one), then the runs themselves. Pure: rows and
// a clock in, plain text lines out. The CLI prints them; the chat adapters put them in a code
// block (rows may hold text a server sent, so they are never shown as markup).
import type { RunRow } from './store.js';
import { duration } from '../engine/checklist/format.js';

export type TimeZoneMode = 'utc' | 'local';

export interface HistoryView {
  title: string;
  /** One line per user@host:port and bastion (vantage), which it names: works / broken since / worked at. */
  summary: string[];
  /** One line per run, newest first. */
  lines: string[];
}

export interface HistoryViewOptions {
  now: number;
  timeZone?: TimeZoneMode;
  /** Runs listed at most (the summary uses every row given). */
  limit?: number;
}

function parts(ms: number, tz: TimeZoneMode): { y: number; mo: number; d: number; h: number; mi: number } {
  const t = new Date(ms);
  return tz === 'utc'
    ? { y: t.getUTCFullYear(), mo: t.getUTCMonth(), d: t.getUTCDate(), h: t.getUTCHours(), mi: t.getUTCMinutes() }
    : { y: t.getFullYear(), mo: t.getMonth(), d: t.getDate(), h: t.getHours(), mi: t.getMinutes() };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** "10:02" today, "Nov 23 10:02" on another day, "2025-11-23 10:02" in another year. */
export function clockTime(ms: number, now: number, tz: TimeZoneMode = 'utc'): string {
  const at = parts(ms, tz);
  const today = parts(now, tz);
  const hm = `${pad(at.h)}:${pad(at.mi)}`;
  if (at.y === today.y && at.mo === today.mo && at.d === today.d) return hm;
  if (at.y === today.y) return `${MONTHS[at.mo] ?? '?'} ${at.d} ${hm}`;
  return `${at.y}-${pad(at.mo + 1)}-${pad(at.d)} ${hm}`;
}

/** "just now", "4 min ago", "3 h ago", "2 days ago". */
export function age(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} days ago`;
}

const seconds = duration;

/** The summary line of one bastion's runs, newest first. */
export function summarize(all: readonly RunRow[], now: number, tz: TimeZoneMode): string {
  // A run that stopped before its verdict says neither "works" nor "broken".
  const runs = all.filter((r) => r.cause !== 'undecided');
  const latest = runs[0];
  if (!latest) return all.length > 0 ? `no verdict yet: ${all.length === 1 ? 'the run' : `all ${all.length} runs`} stopped before a verdict` : 'no runs';
  const at = (r: RunRow): string => `${clockTime(r.atMs, now, tz)} (${age(r.atMs, now)})`;
  const healthy = (r: RunRow): boolean => r.cause === 'healthy';
  const streak: RunRow[] = [];
  for (const r of runs) {
    if (healthy(r) !== healthy(latest)) break;
    streak.push(r);
  }
  const first = streak[streak.length - 1] ?? latest;
  const before = runs[streak.length];
  const count = streak.length === 1 ? '1 run' : `${streak.length} runs`;
  if (healthy(latest)) {
    const since = streak.length > 1 ? `works since ${at(first)}, ${count}` : `works (checked ${at(latest)})`;
    return before ? `${since}; was broken at ${clockTime(before.atMs, now, tz)} (${before.cause})` : since;
  }
  const causes = first.cause === latest.cause ? latest.cause : `now ${latest.cause}, at first ${first.cause}`;
  const broken = `broken since ${at(first)}: ${causes}, ${count}`;
  return before ? `worked at ${clockTime(before.atMs, now, tz)}, ${broken}` : `${broken}; no healthy run in the history`;
}

/** user@host:port, an IPv6 host in brackets. */
function loginLabel(r: Pick<RunRow, 'user' | 'host' | 'port'>): string {
  return `${r.user}@${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
}

export function renderHistory(host: string, runs: readonly RunRow[], options: HistoryViewOptions): HistoryView {
  const tz = options.timeZone ?? 'utc';
  const sorted = [...runs].sort((a, b) => b.atMs - a.atMs);
  const zone = tz === 'utc' ? 'UTC' : 'local time';
  if (sorted.length === 0) return { title: `${host}: no runs recorded`, summary: [`nothing has checked ${host} within the store's retention period`], lines: [] };
  // Newest first within each series; the series in the order of their newest run.
  const series = new Map<string, RunRow[]>();
  for (const r of sorted) {
    const key = `${loginLabel(r)} from ${r.vantage}`;
    series.set(key, [...(series.get(key) ?? []), r]);
  }
  const summary = [...series].map(([key, rows]) => `${key}: ${summarize(rows, options.now, tz)}`);
  const shown = sorted.slice(0, options.limit ?? 10);
  const width = Math.min(30, Math.max(...shown.map((r) => r.vantage.length)));
  const lines = shown.map((r) => {
    const verdict = r.cause === 'healthy' ? 'healthy' : r.cause === 'undecided' ? 'undecided (stopped before a verdict)' : `${r.cause} (${r.confidence})`;
    const where = r.addresses.length > 0 ? `  ${r.addresses.slice(0, 2).join(' ')}` : '';
    return `${clockTime(r.atMs, options.now, tz).padStart(12)}  ${r.vantage.slice(0, 30).padEnd(width)}  ${loginLabel(r)}  ${verdict}  ${seconds(r.durationMs)}${where}`;
  });
  const more = sorted.length > shown.length ? `, the newest ${shown.length} of ${sorted.length}` : '';
  return { title: `${host}: ${sorted.length === 1 ? '1 run' : `${sorted.length} runs`} (times in ${zone}${more})`, summary, lines };
}
