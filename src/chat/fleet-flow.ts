// A fleet check in chat, platform-neutral: the parent names the hosts and shows progress; once
// every host is checked it shows the summary first (hosts by cause, counted), then the thread
// gets one reply per host that is not healthy (grouped by cause), at most MAX_HOST_REPLIES,
// and one last reply listing the rest. Hosts are checked a few at a time through the same
// engine client as single checks (single flight, routing and reuse apply per host).
import type { Report } from '../engine/report.js';
import type { Target } from '../target.js';
import { formatTarget } from '../target.js';
import { summarize } from '../fleet/run.js';
import type { Logger } from '../log.js';
import type { EngineClient } from './engine-client.js';
import type { FleetHostView, FleetParentView } from './fleet-views.js';
import { hostView, initialFleetParent } from './fleet-views.js';
import type { Pacer } from './pacer.js';
import { errorMessage } from '../errors.js';

/** Hosts checked at once from chat: the bot serves other requests too. */
export const CHAT_FLEET_CONCURRENCY = 8;
/** Replies per fleet thread; the hosts beyond are listed in one more reply. */
export const MAX_HOST_REPLIES = 25;
/** Progress edits of the parent at most this often (they coalesce in the pacer anyway). */
const PROGRESS_EVERY_MS = 2000;

export interface FleetSurface {
  readonly channelKey: string;
  readonly replyChannelKey?: string;
  postParent(view: FleetParentView): Promise<void>;
  updateParent(view: FleetParentView): Promise<void>;
  /** One reply for a host that is not healthy. */
  postHost(host: FleetHostView): Promise<void>;
  /** One reply listing hosts left out by the reply cap: host and cause. */
  postRest(hosts: readonly FleetHostView[]): Promise<void>;
  /** Called when the first message could not be posted: one message with everything, if the platform has a way. */
  fallback?(view: FleetParentView, reason: string): Promise<void>;
}

export interface FleetFlowOptions {
  surface: FleetSurface;
  engine: EngineClient;
  pacer: Pacer;
  logger: Logger;
  targets: readonly Target[];
  label: string;
  vantage: string;
  requester: string;
  concurrency?: number;
}

export interface FleetFlowResult {
  reports: Report[];
  failed: number;
}

export async function runFleetFlow(options: FleetFlowOptions): Promise<FleetFlowResult> {
  const { surface, pacer, logger, targets } = options;
  const started = performance.now();
  let view = initialFleetParent(options.label, targets.length, options.vantage, options.requester);
  const parentKey = `fleet:${surface.channelKey}:${Math.random().toString(36).slice(2)}`;
  let broken: string | undefined;
  const posted = pacer.schedule(surface.channelKey, () => surface.postParent(view), { priority: 0 }).catch((err: unknown) => {
    broken = errorMessage(err);
    logger.warn('fleet parent failed', { channel: surface.channelKey, error: broken });
  });
  const sent: Array<Promise<void>> = [];
  const update = (): void => {
    const snapshot = view;
    sent.push(
      posted
        .then(() => (broken ? undefined : pacer.schedule(surface.channelKey, () => surface.updateParent(snapshot), { key: parentKey, priority: 0 })))
        .catch((err: unknown) => logger.warn('fleet parent update failed', { channel: surface.channelKey, error: errorMessage(err) })),
    );
  };

  const reports: Report[] = [];
  let failed = 0;
  let lastProgress = performance.now();
  let next = 0;
  const concurrency = Math.max(1, Math.min(options.concurrency ?? CHAT_FLEET_CONCURRENCY, targets.length));
  const worker = async (): Promise<void> => {
    for (;;) {
      const target = targets[next++];
      if (target === undefined) return;
      try {
        const { report } = await options.engine.check(target);
        reports.push(report);
      } catch (err) {
        failed += 1;
        logger.warn('fleet host failed', { target: formatTarget(target), error: errorMessage(err) });
      }
      view = { ...view, checked: reports.length + failed, summary: summarize(reports, failed, performance.now() - started, concurrency) };
      if (performance.now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = performance.now();
        update();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, () => worker()));

  // Replies in the order of the summary: the most frequent cause first, hosts in the order given.
  const order = new Map(view.summary.byCause.map((c, i) => [c.cause, i]));
  const bad = reports
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => r.diagnosis.cause !== 'healthy')
    .sort((a, b) => (order.get(a.r.diagnosis.cause) ?? 0) - (order.get(b.r.diagnosis.cause) ?? 0) || a.i - b.i)
    .map(({ r }) => hostView(r));
  const shown = bad.slice(0, MAX_HOST_REPLIES);
  const rest = bad.slice(MAX_HOST_REPLIES);
  view = { ...view, phase: 'finished', checked: reports.length + failed, summary: summarize(reports, failed, performance.now() - started, concurrency), notShown: rest.length };
  update();
  const replyKey = surface.replyChannelKey ?? surface.channelKey;
  await posted;
  if (broken) {
    await surface.fallback?.(view, broken).catch((err: unknown) => logger.warn('fleet fallback failed', { error: errorMessage(err) }));
  } else {
    for (const host of shown) {
      sent.push(pacer.schedule(replyKey, () => surface.postHost(host), { priority: 1 }).catch((err: unknown) => logger.warn('fleet reply failed', { host: host.host, error: errorMessage(err) })));
    }
    if (rest.length > 0) {
      sent.push(pacer.schedule(replyKey, () => surface.postRest(rest), { priority: 1 }).catch((err: unknown) => logger.warn('fleet reply failed', { error: errorMessage(err) })));
    }
  }
  await Promise.allSettled(sent);
  return { reports, failed };
}
