// The history a run's ban heuristic reads (RunOptions.history), from the store: the newest
// healthy run of the same host and port from the same vantage within the window. Advisory:
// a store that cannot answer gives no history, never a failed check.
import type { RunHistory } from '../engine/checklist/assessment.js';
import type { Target } from '../engine/target.js';
import { DEFAULT_HEALTHY_WINDOW_MINUTES } from './config.js';
import type { Store } from './store.js';

export function recentHistory(
  store: Pick<Store, 'lastHealthy'>,
  target: Pick<Target, 'host' | 'port'>,
  vantage: string,
  windowMinutes: number = DEFAULT_HEALTHY_WINDOW_MINUTES,
  now: number = Date.now(),
): RunHistory | undefined {
  try {
    const row = store.lastHealthy(target.host, target.port, vantage, now - windowMinutes * 60_000);
    return row ? { lastHealthy: { at: row.at, ageMs: Math.max(0, now - row.atMs) } } : undefined;
  } catch {
    return undefined;
  }
}
