// One chat-driven check, platform-neutral: run (or join) the check, and mirror its progress
// into a thread through a ChatSurface — the parent first, a reply per step in checklist
// order, the parent updated with the diagnosis as soon as it is known — paced per channel.
// When the thread cannot be used, everything goes into one fallback message that says why.
import { randomUUID } from 'node:crypto';
import { SshcheckError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Report, StepReport } from '../engine/report.js';
import type { Target } from '../target.js';
import type { EngineClient } from './engine-client.js';
import type { Pacer } from './pacer.js';
import { ThreadPlan } from './thread-plan.js';
import type { ThreadOp } from './thread-plan.js';
import type { ParentView } from './views.js';
import { initialParent } from './views.js';

/** A failure the surface understands: 'cannot-post' means the thread is not usable at all. */
export class SurfaceError extends Error {
  constructor(
    readonly kind: 'cannot-post' | 'failed',
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SurfaceError';
  }
}

export interface ChatSurface {
  /** Messages to one channel share a pace. */
  readonly channelKey: string;
  /**
   * The pace key for step replies, when they go somewhere with a limit of its own (a Discord
   * thread is a channel of its own). Replies still always follow the parent.
   */
  readonly replyChannelKey?: string;
  postParent(view: ParentView): Promise<void>;
  updateParent(view: ParentView): Promise<void>;
  postStep(step: StepReport): Promise<void>;
  updateStep(step: StepReport): Promise<void>;
  /** The run's report, as soon as it exists (before the final parent update is scheduled). */
  receiveReport?(report: Report): void;
  /** The thread could not be used: one message with everything (the report, when the run got that far), and the reason. */
  fallback(view: ParentView, reason: string, report?: Report): Promise<void>;
}

export interface CheckFlowOptions {
  surface: ChatSurface;
  engine: EngineClient;
  pacer: Pacer;
  logger: Logger;
  target: Target;
  vantage: string;
  /** The requester as the platform shows them (a mention, or a name). */
  requester: string;
  /** `via <bastion>` from the command: the bastion to probe from. */
  via?: string;
  /** `from <address>` from the command: the requester's address, checked against bans. */
  from?: string;
}

export async function runCheckFlow(options: CheckFlowOptions): Promise<Report | undefined> {
  const { surface, pacer, logger } = options;
  const plan = new ThreadPlan(initialParent(options.target, options.vantage, options.requester));
  const sent: Array<Promise<void>> = [];
  let parentPosted: Promise<void> | undefined;
  let broken: string | undefined;
  /** Identifies this thread's messages in the pacer, so edits coalesce only with their own. */
  const parentKey = `${surface.channelKey}:${randomUUID()}`;

  const fail = (err: unknown, what: string): void => {
    const message = errorMessage(err);
    if (err instanceof SurfaceError && err.kind === 'cannot-post') {
      broken ??= message;
    } else if (what === 'parent') {
      broken ??= `posting the first message failed: ${message}`;
    }
    logger.warn('chat operation failed', { what, channel: surface.channelKey, error: message });
  };

  let reusedAgeMs: number | undefined;
  let notice: string | undefined;
  const replyKey = surface.replyChannelKey ?? surface.channelKey;
  /**
   * Replies need the parent (their thread hangs off it). On the parent's own queue they
   * follow it anyway; on a queue of their own they wait for it, in the order scheduled.
   */
  const afterParent = (run: () => Promise<void>): Promise<void> => {
    if (replyKey === surface.channelKey || !parentPosted) return run();
    return parentPosted.then(run, () => undefined);
  };
  const schedule = (op: ThreadOp): void => {
    if (broken) return;
    let task: Promise<void>;
    switch (op.op) {
      case 'parent': {
        const reused: ParentView = reusedAgeMs === undefined || op.view.reusedAgeMs !== undefined ? op.view : { ...op.view, reusedAgeMs };
        const view: ParentView = notice === undefined ? reused : { ...reused, notice };
        if (!parentPosted) {
          parentPosted = pacer.schedule(surface.channelKey, () => surface.postParent(view), { priority: 0 });
          task = parentPosted.catch((err: unknown) => fail(err, 'parent'));
        } else {
          const posted = parentPosted.then(() => true, () => false);
          const update = async (): Promise<void> => {
            if ((await posted) && !broken) await surface.updateParent(view);
          };
          // Queued updates of the parent coalesce: only the newest state is sent.
          task = pacer.schedule(surface.channelKey, update, { key: `parent:${parentKey}`, priority: 0 }).catch((err: unknown) => fail(err, 'parent update'));
        }
        break;
      }
      case 'reply':
        task = afterParent(() => pacer.schedule(replyKey, () => (broken ? Promise.resolve() : surface.postStep(op.step)), { priority: 1 })).catch((err: unknown) => fail(err, `step ${op.step.id}`));
        break;
      case 'reply-update':
        task = afterParent(() => pacer.schedule(replyKey, () => (broken ? Promise.resolve() : surface.updateStep(op.step)), { key: `${parentKey}:${op.step.id}`, priority: 1 })).catch((err: unknown) =>
          fail(err, `step ${op.step.id} update`),
        );
        break;
    }
    sent.push(task);
  };

  let report: Report | undefined;
  let engineError: string | undefined;
  try {
    if (options.via !== undefined && options.engine.bastions === undefined) {
      throw new SshcheckError('E_USAGE', `this bot runs the probes itself and has no bastions configured: drop "via ${options.via}", or list bastions in the file SSHCHECK_CONFIG names`);
    }
    const result = await options.engine.check(options.target, {
      ...(options.via !== undefined ? { via: options.via } : {}),
      ...(options.from !== undefined ? { from: options.from } : {}),
      onReused: (ageMs) => (reusedAgeMs = ageMs),
      onNotice: (text) => {
        notice = text;
        schedule({ op: 'parent', view: plan.parent });
      },
      onEvent: (event) => {
        if (event.type === 'run-finished') surface.receiveReport?.(event.report);
        for (const op of plan.push(event)) schedule(op);
      },
    });
    report = result.report;
  } catch (err) {
    engineError = errorMessage(err);
    logger.error('check failed', { target: plan.parent.target, error: engineError });
  }
  await Promise.allSettled(sent);

  if (engineError !== undefined) {
    const view: ParentView = { ...plan.parent, phase: 'failed', error: engineError, ...(notice !== undefined ? { notice } : {}) };
    if (parentPosted && !broken) await surface.updateParent(view).catch((err: unknown) => fail(err, 'parent update'));
    else await surface.fallback(view, broken ?? 'the check failed before anything was posted', report).catch((err: unknown) => fail(err, 'fallback'));
    return undefined;
  }
  if (broken) {
    const reused = reusedAgeMs === undefined ? plan.parent : { ...plan.parent, reusedAgeMs };
    const view = notice === undefined ? reused : { ...reused, notice };
    await surface.fallback(view, broken, report).catch((err: unknown) => {
      logger.error('fallback message failed too', { channel: surface.channelKey, error: errorMessage(err) });
    });
  }
  return report;
}
