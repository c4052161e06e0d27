// What `sshcheck serve` adds around each request: the target policy's check of the typed
// target (a refusal is a 403 and starts nothing; the engine checks the resolved addresses
// again), and an audit row per request completed with the run's outcome. The chat user is
// known to the bot, which keeps its own audit log; here the requester is the bot's token.
import type { Logger } from '../log.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { checkTyped } from '../policy/target-policy.js';
import { targetLabel } from '../chat/views.js';
import type { Store } from '../store/store.js';
import type { CheckBody } from './request.js';
import type { RunRegistry, ServiceRun } from './runs.js';
import type { Admission } from './server.js';
import { verdictOf } from '../engine/report.js';

export function serviceAdmission(options: {
  store: Pick<Store, 'addAudit' | 'updateAudit'>;
  policy: TargetPolicy;
  vantage: string;
  registry: () => RunRegistry;
  logger: Logger;
}): (request: CheckBody) => { refused: string } | Admission {
  const { store, policy, vantage, logger } = options;
  const write = (what: () => unknown): void => {
    try {
      what();
    } catch (err) {
      logger.error('audit log write failed', { error: err instanceof Error ? err.message : String(err) });
    }
  };
  return (request) => {
    const started = Date.now();
    const base = { source: 'service', action: 'check', target: targetLabel(request.target), host: request.target.host, port: request.target.port, bastion: vantage } as const;
    const refused = checkTyped(policy, request.target);
    if (refused) {
      write(() => store.addAudit({ ...base, verdict: 'denied', denial: 'policy', reason: refused.message, durationMs: 0 }));
      return { refused: refused.message };
    }
    let id: number | undefined;
    write(() => (id = store.addAudit({ ...base, verdict: 'running' })));
    const update = (patch: Parameters<Store['updateAudit']>[1]): void => {
      if (id !== undefined) {
        const rowId = id;
        write(() => store.updateAudit(rowId, { ...patch, durationMs: Date.now() - started }));
      }
    };
    return {
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
      fail(reason: string) {
        update({ verdict: 'denied', denial: 'queue-full', reason });
      },
    };
  };
}
