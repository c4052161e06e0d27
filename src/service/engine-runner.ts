// The run core shared by `sshcheck serve` and `sshcheck agent`: the engine on this bastion,
// fenced by its target policy, with the store's history for the ban heuristic, and every
// finished run recorded. One definition, so the HTTP API and the NATS agent cannot drift.
import { run } from '../engine/run.js';
import type { RunOptions } from '../engine/run.js';
import type { Report } from '../engine/report.js';
import type { Target } from '../target.js';
import type { EngineConfig } from '../config/engine-config.js';
import type { Logger } from '../log.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { recentHistoryAsync } from '../store/run-history.js';
import type { StoreClient } from '../store/client.js';
import type { Runner } from './runs.js';
import { errorMessage } from '../errors.js';

/** What the shared core passes to the engine, in process or on the probe thread (engine/threaded.ts). */
export type EngineRunOptions = Pick<RunOptions, 'vantage' | 'budgetMs' | 'policy' | 'onEvent' | 'signal' | 'history' | 'config' | 'from'>;

/**
 * The runner of serve and agent. `probe` runs the engine (default: in this thread).
 */
export function engineRunner(options: { store: Pick<StoreClient, 'lastHealthy' | 'recordRun'>; vantage: string; budgetMs: number; policy: TargetPolicy; engineConfig: EngineConfig | undefined; logger: Logger; engine?: Runner; probe?: (target: Target, options: EngineRunOptions) => Promise<Report> }): Runner {
  const probe = options.probe ?? run;
  const { store, vantage, budgetMs, policy, engineConfig, logger } = options;
  const historyWindow = engineConfig?.store?.healthyWindowMinutes;
  const engine: Runner =
    options.engine ??
    (async (target, o) => {
      const history = await recentHistoryAsync(store, target, vantage, historyWindow);
      return probe(target, { vantage, budgetMs, policy, onEvent: o.onEvent, signal: o.signal, ...(history ? { history } : {}), ...(engineConfig ? { config: engineConfig } : {}), ...(o.from !== undefined ? { from: o.from } : {}) });
    });
  // Every finished run is kept for history (and the ban heuristic of later runs).
  return async (target, o) => {
    const report = await engine(target, o);
    // The store's own thread writes it; a failure is logged, never a lost report.
    store.recordRun(report, 'service', { background: true }).catch((err: unknown) => logger.error('recording the run failed', { error: errorMessage(err) }));
    return report;
  };
}
