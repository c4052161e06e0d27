// The ban heuristic's history read, started while the audit row is written. Both are round
// trips to the store's thread; one after the other they were two of the NATS path's stages
// on the way to a check's first event (bench/nats-overhead.ts --trace). The agent starts the
// read as soon as a check is admitted; the run core's own read (service/engine-runner.ts)
// then takes that answer instead of asking again. Nothing is probed earlier: the run still
// starts only once its audit row is written.
import type { Target } from '../target.js';
import type { RunRow } from '../store/store.js';

type LastHealthy = (host: string, port: number, vantage: string, sinceMs: number) => Promise<RunRow | undefined>;

/** An early read older than this is not used (the run it was for was refused, or never started). */
const KEEP_MS = 2_000;

interface Early {
  atMs: number;
  sinceMs: number;
  row: Promise<RunRow | undefined>;
}

export class HistoryPrefetch {
  private readonly early = new Map<string, Early>();

  constructor(
    private readonly read: LastHealthy,
    private readonly vantage: string,
    private readonly windowMinutes: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the read for a check that may run soon. */
  start(target: Pick<Target, 'host' | 'port'>): void {
    const now = this.now();
    for (const [key, e] of this.early) if (now - e.atMs > KEEP_MS) this.early.delete(key);
    const sinceMs = now - this.windowMinutes * 60_000;
    const row = this.read(target.host, target.port, this.vantage, sinceMs);
    // Its failure is the consumer's to see (an advisory read: no history); never unhandled.
    row.catch(() => undefined);
    this.early.set(`${target.host}\n${target.port}`, { atMs: now, sinceMs, row });
  }

  /** The store's lastHealthy, answered by an early read of the same question when there is one. */
  readonly lastHealthy: LastHealthy = (host, port, vantage, sinceMs) => {
    const key = `${host}\n${port}`;
    const e = this.early.get(key);
    if (e && vantage === this.vantage && this.now() - e.atMs <= KEEP_MS && Math.abs(e.sinceMs - sinceMs) <= KEEP_MS) {
      this.early.delete(key);
      return e.row;
    }
    return this.read(host, port, vantage, sinceMs);
  };
}
