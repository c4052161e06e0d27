// What a CLI run adds around the engine: the target policy when the operator asked for one
// (--policy <file>, or `policy.cli: true` in the engine config), the history the ban
// heuristic reads, and one audit row plus one history row per run. An operator's diagnosis
// never fails because of the store: when it cannot be opened, stderr says why and the check
// goes on unrecorded.
import { hostname, userInfo } from 'node:os';
import type { EngineConfig } from '../engine/config.js';
import { loadEngineConfig } from '../engine/config.js';
import type { Report } from '../engine/report.js';
import type { RunOptions } from '../engine/run.js';
import type { Target } from '../engine/target.js';
import type { Store } from '../store/store.js';
import { isPolicyError } from '../policy/target-policy.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { defaultPolicy } from '../policy/target-policy.js';
import { targetLabel } from '../chat/views.js';
import { verdictOf } from '../engine/report.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The policy that fences this CLI run, or undefined (the operator's CLI is not fenced by default). */
export function cliPolicy(policyPath: string | undefined, config: EngineConfig | undefined): TargetPolicy | undefined {
  if (policyPath !== undefined) return loadEngineConfig(policyPath).policy ?? defaultPolicy();
  return config?.policy?.cli === true ? config.policy : undefined;
}

export interface PreparedRun {
  options: Pick<RunOptions, 'policy' | 'history' | 'ledger' | 'connectionBudget'>;
  /** Records the outcome (a report, or the error the run ended with) and closes the store. */
  done(result: { report: Report } | { error: unknown }): void;
}

function operator(env: Env): string {
  try {
    return env.SUDO_USER ?? userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

export async function prepareRun(
  target: Target,
  request: { policyPath?: string | undefined; vantage?: string | undefined },
  config: EngineConfig | undefined,
  env: Env,
  warn: (text: string) => void,
): Promise<PreparedRun> {
  const policy = cliPolicy(request.policyPath, config);
  const options: PreparedRun['options'] = policy ? { policy } : {};
  let store: Store | undefined;
  try {
    // Loaded here, not at start: the native module is only needed when a run is recorded.
    const [{ Store }, { storePath }] = await Promise.all([import('../store/store.js'), import('../store/paths.js')]);
    const { path } = storePath(config?.store, { env });
    store = Store.open(path, { ...(config?.store?.retentionDays !== undefined ? { retentionDays: config.store.retentionDays } : {}) });
    // The connection budget across runs: every CLI process and the bot count in this store.
    const { StoreConnectionLedger } = await import('../store/connection-ledger.js');
    options.ledger = new StoreConnectionLedger(store);
    if (config?.connectionBudget) options.connectionBudget = config.connectionBudget;
    const { recentHistory } = await import('../store/run-history.js');
    const history = recentHistory(store, target, request.vantage ?? hostname(), config?.store?.healthyWindowMinutes);
    if (history) options.history = history;
  } catch (err) {
    warn(`sshcheck: this run is not recorded: ${err instanceof Error ? err.message : String(err)}\n`);
    store = undefined;
  }
  const started = Date.now();
  let auditId: number | undefined;
  try {
    auditId = store?.addAudit({ source: 'cli', action: 'check', user: operator(env), target: targetLabel(target), host: target.host, port: target.port, bastion: request.vantage ?? hostname(), verdict: 'running' });
  } catch (err) {
    warn(`sshcheck: the audit log cannot be written: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return {
    options,
    done(result) {
      if (!store) return;
      try {
        const durationMs = Date.now() - started;
        if ('report' in result) {
          const { report } = result;
          store.recordRun(report, 'cli');
          if (auditId !== undefined) store.updateAudit(auditId, { verdict: verdictOf(report.diagnosis.cause), cause: report.diagnosis.cause, addresses: report.target.addresses, bastion: report.vantage.name, durationMs, reportId: report.id });
        } else if (auditId !== undefined) {
          const { error } = result;
          const message = error instanceof Error ? error.message : String(error);
          if (isPolicyError(error)) store.updateAudit(auditId, { verdict: 'denied', denial: 'policy', reason: message, addresses: 'denial' in error ? error.denial.addresses : [], durationMs });
          else store.updateAudit(auditId, { verdict: 'failed', reason: message, durationMs });
        }
      } catch (err) {
        warn(`sshcheck: the run could not be recorded: ${err instanceof Error ? err.message : String(err)}\n`);
      } finally {
        store.close();
      }
    },
  };
}
