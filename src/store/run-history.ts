// The history a run's ban heuristic reads (RunOptions.history), from the store: the newest
// healthy run of the same host and port from the same vantage within the window. Advisory:
// a store that cannot answer (in time) gives no history, never a failed or delayed check.
import type { RunHistory } from '../engine/checklist/assessment.js';
import type { Target } from '../target.js';
import { DEFAULT_HEALTHY_WINDOW_MINUTES } from './config.js';
import type { RunRow, Store } from './store.js';

function fromRow(row: RunRow | undefined, now: number): RunHistory | undefined {
  return row ? { lastHealthy: { at: row.at, ageMs: Math.max(0, now - row.atMs) } } : undefined;
}

export function recentHistory(
  store: Pick<Store, 'lastHealthy'>,
  target: Pick<Target, 'host' | 'port'>,
  vantage: string,
  windowMinutes: number = DEFAULT_HEALTHY_WINDOW_MINUTES,
  now: number = Date.now(),
): RunHistory | undefined {
  try {
    return fromRow(store.lastHealthy(target.host, target.port, vantage, now - windowMinutes * 60_000), now);
  } catch {
    return undefined;
  }
}

/** The same from the store's thread (client.ts), given up after `waitMs`. */
export async function recentHistoryAsync(
  store: { lastHealthy: (host: string, port: number, vantage: string, sinceMs: number) => Promise<RunRow | undefined> },
  target: Pick<Target, 'host' | 'port'>,
  vantage: string,
  windowMinutes: number = DEFAULT_HEALTHY_WINDOW_MINUTES,
  waitMs = 500,
  now: number = Date.now(),
): Promise<RunHistory | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const row = await Promise.race([
      store.lastHealthy(target.host, target.port, vantage, now - windowMinutes * 60_000),
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), waitMs);
      }),
    ]);
    return fromRow(row, now);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
