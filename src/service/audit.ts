// What `sshcheck serve` adds around each request: the target policy's check of the typed
// target (a refusal is a 403 and starts nothing; the engine checks the resolved addresses
// again), and an audit row per request completed with the run's outcome. The chat user is
// known to the bot, which keeps its own audit log; here the requester is the bot's token.
// No probe runs unrecorded: a run starts only once its row is written; when the store
// cannot take it now (another process holds its lock), the request is refused (503) and the
// refusal itself is spooled and written later (src/store/spool.ts). Refusals are answered
// at once and written in the background (sent with others, see BACKGROUND): they probe nothing.
import type { Logger } from '../log.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { checkTyped } from '../policy/target-policy.js';
import { targetLabel } from '../target.js';
import type { CallHooks } from '../store/client.js';
import type { AuditEntry, AuditPatch, DenialReason } from '../store/store.js';
import type { CheckBody } from './request.js';
import type { RunRegistry, ServiceRun } from './runs.js';
import type { Admission } from './server.js';
import { verdictOf } from '../engine/report.js';
import { errorMessage } from '../errors.js';

/** The store calls admission makes (StoreClient, or a Store behind a promise in tests). */
export interface AuditWriter {
  addAudit(entry: AuditEntry, hooks?: CallHooks): Promise<number>;
  updateAudit(id: number, patch: AuditPatch, hooks?: CallHooks): Promise<void>;
}

/**
 * Rows nobody waits for (refusals, outcomes): sent to the store's thread with others, so that
 * a burst of refusals does not wake that thread once each (store/client.ts).
 */
const BACKGROUND: CallHooks = { background: true };

/** How long a request waits for its audit row before it is refused. */
export const DEFAULT_AUDIT_WAIT_MS = 2000;

export function serviceAdmission(options: {
  store: AuditWriter;
  policy: TargetPolicy;
  vantage: string;
  registry: () => RunRegistry;
  logger: Logger;
  auditWaitMs?: number;
}): (request: CheckBody) => { refused: string } | Admission {
  const { store, policy, vantage, logger } = options;
  const waitMs = options.auditWaitMs ?? DEFAULT_AUDIT_WAIT_MS;
  const failed = (err: unknown): void => {
    logger.error('audit log write failed', { error: errorMessage(err) });
  };
  return (request) => {
    const started = Date.now();
    const base = { atMs: started, source: 'service', action: 'check', target: targetLabel(request.target), host: request.target.host, port: request.target.port, bastion: vantage } as const;
    const denied = (denial: DenialReason, reason: string): void => {
      store.addAudit({ ...base, verdict: 'denied', denial, reason, durationMs: Date.now() - started }, BACKGROUND).catch(failed);
    };
    const refused = checkTyped(policy, request.target);
    if (refused) {
      denied('policy', refused.message);
      return { refused: refused.message };
    }
    let row: Promise<number> | undefined;
    const update = (patch: AuditPatch): void => {
      row?.then((id) => store.updateAudit(id, { ...patch, durationMs: Date.now() - started }, BACKGROUND)).catch(failed);
    };
    return {
      record() {
        return new Promise((resolve) => {
          let done = false;
          const once = (outcome: { ok: true } | { ok: false; reason: string }): void => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            if (!outcome.ok) {
              // The row lands later (spooled, or slow): it must then say the request was refused.
              update({ verdict: 'denied', denial: 'audit', reason: outcome.reason });
              logger.warn('request refused: its audit row cannot be written now', { target: base.target, reason: outcome.reason });
            }
            resolve(outcome);
          };
          const timer = setTimeout(() => once({ ok: false, reason: `the audit log did not answer within ${waitMs} ms` }), waitMs);
          row = store.addAudit({ ...base, verdict: 'running' }, { spooled: () => once({ ok: false, reason: 'the audit log is locked by another process' }) });
          row.then(
            () => once({ ok: true }),
            (err: unknown) => {
              failed(err);
              once({ ok: false, reason: `the audit log cannot be written (${errorMessage(err)})` });
            },
          );
        });
      },
      deny(reason: string) {
        if (row) update({ verdict: 'denied', denial: 'queue-full', reason });
        else denied('queue-full', reason);
      },
      follow(run: ServiceRun) {
        options.registry().subscribe(run, run.events.length, {
          event: () => undefined,
          end: (ended) => {
            if (ended.report) {
              const { report } = ended;
              update({ verdict: verdictOf(report.diagnosis.cause), cause: report.diagnosis.cause, addresses: report.target.addresses, reportId: report.id });
            } else if (ended.errorCode === 'E_POLICY') update({ verdict: 'denied', denial: 'policy', reason: ended.error ?? null });
            else update({ verdict: 'failed', reason: ended.error ?? null });
          },
        });
      },
    };
  };
}
