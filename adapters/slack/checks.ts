// Starts chat checks and keeps track of them: each runs the platform-neutral check flow
// detached from the Slack listener that asked for it (the listener has acknowledged and
// returns), and stop() can wait for the ones still posting.
import type { AdapterContext } from '../../src/chat/adapter.js';
import { runCheckFlow } from '../../src/chat/check-flow.js';
import type { ChatSurface } from '../../src/chat/check-flow.js';
import type { Ticket } from '../../src/chat/gate.js';
import type { Pacer } from '../../src/chat/pacer.js';
import { targetLabel } from '../../src/target.js';
import type { Target } from '../../src/target.js';
import { errorMessage } from '../../src/errors.js';

export interface CheckRequest {
  target: Target;
  /** `via <bastion>`: probe from that configured bastion. */
  via?: string;
  /** `from <address>`: the requester's address, checked against the target's bans. */
  from?: string;
  /** The requester as Slack shows them: a user mention the adapter built. */
  requester: string;
  /** Ids for the log (channel, user, how it was asked); never secrets. */
  origin: Record<string, string>;
  /** Builds the surface. A surface with `idle()` may still post after the flow ends; the check lasts until it is idle. */
  surface: () => ChatSurface & { idle?(): Promise<void> };
  /** The gate's admission: the check runs through it (queue slot, audit row). */
  ticket: Ticket;
}

export class CheckRunner {
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly ctx: AdapterContext,
    private readonly pacer: Pacer,
  ) {}

  get running(): number {
    return this.inflight.size;
  }

  start(request: CheckRequest): void {
    const { logger } = this.ctx;
    const target = targetLabel(request.target);
    logger.info('check requested', { target, ...(request.via !== undefined ? { via: request.via } : {}), ...request.origin });
    const surface = request.surface();
    const flow = runCheckFlow({
      surface,
      engine: request.ticket.wrap(this.ctx.engine),
      pacer: this.pacer,
      logger,
      target: request.target,
      vantage: this.ctx.vantage,
      requester: request.requester,
      ...(request.via !== undefined ? { via: request.via } : {}),
      ...(request.from !== undefined ? { from: request.from } : {}),
    })
      .then(async (report) => {
        await surface.idle?.();
        if (report) logger.info('check finished', { target, cause: report.diagnosis.cause, diagnosedMs: report.diagnosedMs, durationMs: report.durationMs, ...request.origin });
      })
      .catch((err: unknown) => {
        logger.error('check flow failed', { target, error: errorMessage(err), ...request.origin });
      })
      // A flow that never asked the engine (it failed first) must not keep its queue slot.
      .finally(() => request.ticket.cancel('the check flow ended before the check ran'));
    this.inflight.add(flow);
    void flow.finally(() => this.inflight.delete(flow));
  }

  /** Runs a detached task with this runner's engine (a fleet check); stop() waits for it like a check. */
  track(task: (engine: AdapterContext['engine']) => Promise<void>): void {
    const flow = task(this.ctx.engine).catch((err: unknown) => {
      this.ctx.logger.error('chat task failed', { error: errorMessage(err) });
    });
    this.inflight.add(flow);
    void flow.finally(() => this.inflight.delete(flow));
  }

  /** Waits for the checks in flight, at most `ms`; true when none is left. */
  async drain(ms: number): Promise<boolean> {
    if (this.inflight.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = Promise.allSettled([...this.inflight]).then(() => true);
    const result = await Promise.race([done, timeout]);
    clearTimeout(timer);
    return result && this.inflight.size === 0;
  }
}
