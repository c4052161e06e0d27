// What a CLI run adds around the engine: the target policy when the operator asked for one
// (--policy <file>, or `policy.cli: true` in the engine config), the history the ban
// heuristic reads, and one audit row plus one history row per run. An operator's diagnosis
// never fails or waits because of the store: when another process holds its lock, stderr
// says so at once, the check goes on, and its rows are spooled to disk and written by the
// next process that opens the store (src/store/spool.ts); when it cannot be opened at all,
// stderr says why and the check goes on unrecorded.
import { hostname, userInfo } from 'node:os';
import type { EngineConfig } from '../config/engine-config.js';
import { loadEngineConfig } from '../config/engine-config.js';
import type { Report } from '../engine/report.js';
import type { RunOptions } from '../engine/run.js';
import type { Target } from '../target.js';
import type { AuditEntry, AuditPatch, Store } from '../store/store.js';
import { isPolicyError } from '../policy/target-policy.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { defaultPolicy } from '../policy/target-policy.js';
import { targetLabel } from '../target.js';
import { verdictOf } from '../engine/report.js';
import { errorMessage } from '../errors.js';

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
    // A short wait: a store another process holds locked must not delay the diagnosis.
    store = Store.open(path, { busyTimeoutMs: CLI_BUSY_MS, ...(config?.store?.retentionDays !== undefined ? { retentionDays: config.store.retentionDays } : {}) });
    recoverQuietly(store);
    // The connection budget across runs: every CLI process and the bot count in this store.
    const { StoreConnectionLedger } = await import('../store/connection-ledger.js');
    options.ledger = new StoreConnectionLedger(store);
    if (config?.connectionBudget) options.connectionBudget = config.connectionBudget;
    const { recentHistory } = await import('../store/run-history.js');
    const history = recentHistory(store, target, request.vantage ?? hostname(), config?.store?.healthyWindowMinutes);
    if (history) options.history = history;
  } catch (err) {
    warn(`sshcheck: this run is not recorded: ${errorMessage(err)}\n`);
    store = undefined;
  }
  const started = Date.now();
  const bastion = request.vantage ?? hostname();
  const entry: AuditEntry = { atMs: started, source: 'cli', action: 'check', user: operator(env), target: targetLabel(target), host: target.host, port: target.port, bastion, verdict: 'running' };
  let auditId: number | undefined;
  let spooled = false;
  const spool = (call: Parameters<Store['writeOrSpool']>[0]): void => {
    const file = store?.writeOrSpool(call);
    if (file !== undefined && !spooled) warn(`sshcheck: the store ${store?.path ?? ''} is locked by another process: this run is recorded when it is free (kept meanwhile in ${file})\n`);
    if (file !== undefined) spooled = true;
  };
  try {
    auditId = store?.addAudit(entry);
  } catch (err) {
    const { isBusyError } = await import('../store/store.js');
    if (isBusyError(err)) warn(`sshcheck: the store ${store?.path ?? ''} is locked by another process: diagnosing anyway; this run is recorded when the store is free\n`);
    else warn(`sshcheck: the audit log cannot be written: ${errorMessage(err)}\n`);
    spooled = isBusyError(err);
  }
  return {
    options,
    done(result) {
      if (!store) return;
      try {
        const durationMs = Date.now() - started;
        let patch: AuditPatch;
        if ('report' in result) {
          const { report } = result;
          spool({ method: 'recordRun', args: [report, 'cli'] });
          patch = { verdict: verdictOf(report.diagnosis.cause), cause: report.diagnosis.cause, addresses: report.target.addresses, bastion: report.vantage.name, durationMs, reportId: report.id };
        } else {
          const { error } = result;
          const message = errorMessage(error);
          patch = isPolicyError(error) ? { verdict: 'denied', denial: 'policy', reason: message, addresses: 'denial' in error ? error.denial.addresses : [], durationMs } : { verdict: 'failed', reason: message, durationMs };
        }
        // The first row was written: complete it. It was not (locked): one finished row now.
        if (auditId !== undefined) spool({ method: 'updateAudit', args: [auditId, patch] });
        else if (spooled) spool({ method: 'addAudit', args: [{ ...entry, ...patch, addresses: patch.addresses ?? [] }] });
      } catch (err) {
        warn(`sshcheck: the run could not be recorded: ${errorMessage(err)}\n`);
      } finally {
        store.close();
      }
    },
  };
}

/** How long a CLI run waits for another process's lock on the store before it spools its rows. */
const CLI_BUSY_MS = 50;

/** Best effort: rows crashed processes left are closed by whoever opens the store next. */
function recoverQuietly(store: Store): void {
  try {
    store.recover();
  } catch {
    // Locked or unreadable: the next opener does it.
  }
}
