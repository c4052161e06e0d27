// Chat watches, the I/O half (the pure half is watch.ts): each watch re-checks its target on a
// timer through the same gate as a typed /sshcheck (permission, policy, rate limits, the
// queue, one audit row per check) and the same engine client (single flight, the connection
// budget: a reused result is said as such on the parent), posts in its thread only when the
// diagnosis changes, keeps the parent showing the current state and since when, and keeps
// itself in the store so that a restarted bot takes it up again — or, when it cannot, says in
// the thread that it stopped. Platforms plug in a WatchPoster; they only render and post.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Target } from '../target.js';
import type { WatchRow } from '../store/store.js';
import type { WatchStore } from '../store/watch-store.js';
import type { ChatGate } from './admission.js';
import type { EngineClient } from './engine-client.js';
import type { GateActor, Ticket } from './gate.js';
import type { Platform } from './permissions.js';
import { decodeRerun, encodeRerun } from './rerun.js';
import { targetKey } from './shared-runs.js';
import { targetLabel } from '../target.js';
import type { ActiveWatch, ClockText, StopReason, WatchLimits, WatchProgress, WatchView } from './watch.js';
import { changeText, expired, nextDueMs, observe, skipped, startProgress, stopText, utcClock, WATCH_LIMITS, watchRefusal } from './watch.js';
import type { WatchCommand } from './watch-grammar.js';
import { errorMessage } from '../errors.js';

/** Where a watch posts: the conversation, and the platform's ids of its parent and thread. */
export interface WatchPlace {
  workspace: string | null;
  channel: string;
  parentRef: string | null;
  threadRef: string | null;
}

/** What a platform adapter gives the runner: posting, and who the gate sees for a watch's checks. */
export interface WatchPoster {
  /** Posts the parent message; returns the ids to reach it (and its thread) again, also after a restart. */
  postParent(place: Pick<WatchPlace, 'workspace' | 'channel'>, view: WatchView): Promise<{ parentRef: string; threadRef?: string }>;
  updateParent(place: WatchPlace, view: WatchView): Promise<void>;
  /** One message in the watch's thread (a change, the end). */
  postInThread(place: WatchPlace, text: string): Promise<void>;
  /** The requester as the gate sees them (user groups looked up as for a typed command). */
  actor(who: { workspace: string | null; channel: string; user: string }): GateActor;
}

export interface WatchRequest {
  platform: Platform;
  workspace: string | null;
  channel: string;
  user: string;
  /** The requester as the platform shows them. */
  requester: string;
  command: Extract<WatchCommand, { kind: 'watch' }>;
}

export type WatchStart = { kind: 'started'; id: string } | { kind: 'refused'; message: string };

export interface WatchRunnerOptions {
  store: WatchStore;
  gate: ChatGate;
  engine: EngineClient;
  /** The bastion named in views when a watch has no `via`. */
  vantage: string;
  logger: Logger;
  limits?: WatchLimits;
  now?: () => number;
  clock?: ClockText;
}

interface Running {
  id: string;
  platform: Platform;
  place: WatchPlace;
  user: string;
  requester: string;
  target: Target;
  via?: string;
  from?: string;
  bastion: string;
  progress: WatchProgress;
  timer?: NodeJS.Timeout;
  /** The check in flight, if any: stop() waits for it. */
  busy?: Promise<void>;
  /** No more checks (stopping, or the runner closed). */
  stopped: boolean;
  /** Its end is being recorded and posted: once. */
  ending?: boolean;
}


export class WatchRunner {
  private readonly watches = new Map<string, Running>();
  private readonly posters = new Map<Platform, WatchPoster>();
  private readonly limits: WatchLimits;
  private readonly now: () => number;
  private readonly clock: ClockText;
  private closed = false;

  constructor(private readonly options: WatchRunnerOptions) {
    this.limits = options.limits ?? WATCH_LIMITS;
    this.now = options.now ?? (() => Date.now());
    this.clock = options.clock ?? utcClock;
  }

  get active(): number {
    return this.watches.size;
  }

  /** The grammar's limits (a test's shorter interval reaches the parser through this). */
  get watchLimits(): WatchLimits {
    return this.limits;
  }

  /** An adapter that started: its watches can post. Then resume() takes up its stored ones. */
  register(platform: Platform, poster: WatchPoster): void {
    this.posters.set(platform, poster);
  }

  /**
   * A new watch: the caps, then the gate for its first check (a refusal posts nothing), then
   * the parent, the row, and the first check at once.
   */
  async start(request: WatchRequest): Promise<WatchStart> {
    const poster = this.posters.get(request.platform);
    if (!poster || this.closed) return { kind: 'refused', message: 'Watches are not available right now (the bot is starting or stopping). Nothing is watched.' };
    const { command } = request;
    const bastion = command.via ?? this.options.vantage;
    const key = targetKey(command.target, command.from);
    const refusal = watchRefusal(this.activeList(), { channel: `${request.platform}:${request.channel}`, bastion, key }, this.limits);
    if (refusal !== undefined) return { kind: 'refused', message: `${refusal.charAt(0).toUpperCase()}${refusal.slice(1)} Nothing new is watched.` };
    const actor = poster.actor({ workspace: request.workspace, channel: request.channel, user: request.user });
    const decision = await this.options.gate.admit({ actor, action: 'check', target: command.target, ...(command.via !== undefined ? { via: command.via } : {}), ...(command.from !== undefined ? { from: command.from } : {}) });
    if (decision.kind !== 'admitted') return { kind: 'refused', message: decision.kind === 'denied' ? decision.message : 'Nothing is watched.' };
    const id = randomUUID();
    const watch: Running = {
      id,
      platform: request.platform,
      place: { workspace: request.workspace, channel: request.channel, parentRef: null, threadRef: null },
      user: request.user,
      requester: request.requester,
      target: command.target,
      ...(command.via !== undefined ? { via: command.via } : {}),
      ...(command.from !== undefined ? { from: command.from } : {}),
      bastion,
      progress: startProgress(this.now(), command.everyMs, command.forMs),
      stopped: false,
    };
    try {
      await this.options.store.addWatch({
        id,
        platform: request.platform,
        workspace: request.workspace,
        channel: request.channel,
        user: request.user,
        requester: request.requester,
        command: encodeRerun(command),
        host: command.target.host,
        port: command.target.port,
        bastion,
        everyMs: command.everyMs,
        startedMs: watch.progress.startedMs,
        endsMs: watch.progress.endsMs,
        parentRef: null,
        threadRef: null,
        progress: JSON.stringify(watch.progress),
      });
      const refs = await poster.postParent(watch.place, this.view(watch));
      watch.place = { ...watch.place, parentRef: refs.parentRef, threadRef: refs.threadRef ?? null };
      await this.options.store.updateWatch(id, { parentRef: refs.parentRef, ...(refs.threadRef !== undefined ? { threadRef: refs.threadRef } : {}) });
    } catch (err) {
      decision.ticket.cancel('the watch could not be started');
      await this.options.store.stopWatch(id, this.now(), `could not start: ${errorMessage(err)}`).catch(() => undefined);
      this.options.logger.error('watch could not be started', { channel: request.channel, target: key, error: errorMessage(err) });
      return { kind: 'refused', message: `The watch could not be started (${errorMessage(err)}). Nothing is watched.` };
    }
    this.watches.set(id, watch);
    this.options.logger.info('watch started', { id, platform: request.platform, channel: request.channel, user: request.user, target: key, everyMs: command.everyMs, forMs: command.forMs });
    this.run(watch, decision.ticket);
    return { kind: 'started', id };
  }

  /** /sshcheck unwatch: stops this channel's watches of host:port; how many. */
  async unwatch(platform: Platform, channel: string, host: string, port: number, by: string): Promise<number> {
    const mine = [...this.watches.values()].filter((w) => w.platform === platform && w.place.channel === channel && w.target.host === host && w.target.port === port);
    await Promise.all(mine.map((w) => this.stop(w, { kind: 'stopped', by })));
    return mine.length;
  }

  /** The Stop button: the watch with this id, when it runs in this channel. False: nothing to stop. */
  async stopById(platform: Platform, channel: string, id: string, by: string): Promise<boolean> {
    const watch = this.watches.get(id);
    if (!watch || watch.platform !== platform || watch.place.channel !== channel) return false;
    await this.stop(watch, { kind: 'stopped', by });
    return true;
  }

  /**
   * After a (re)start of `platform`'s adapter: its stored watches are taken up where they
   * were. One whose end passed while the bot was down, or that cannot be read back, is
   * stopped, and its thread says so.
   */
  async resume(platform: Platform): Promise<{ resumed: number; stopped: number }> {
    const poster = this.posters.get(platform);
    if (!poster) return { resumed: 0, stopped: 0 };
    let resumed = 0;
    let stopped = 0;
    const rows = (await this.options.store.activeWatches()).filter((r) => r.platform === platform && !this.watches.has(r.id));
    for (const row of rows) {
      const restored = this.restore(row);
      const now = this.now();
      const place: WatchPlace = { workspace: row.workspace, channel: row.channel, parentRef: row.parentRef, threadRef: row.threadRef };
      const why =
        typeof restored === 'string'
          ? restored
          : row.parentRef === null
            ? 'its first message was never posted'
            : expired(restored.progress, now)
              ? `the bot was down when its ${this.clock(restored.progress.endsMs)} end came`
              : undefined;
      if (why !== undefined || typeof restored === 'string') {
        stopped += 1;
        await this.options.store.stopWatch(row.id, now, `not resumed: ${why ?? 'unreadable'}`).catch((err: unknown) => this.options.logger.warn('watch stop not recorded', { id: row.id, error: errorMessage(err) }));
        if (row.parentRef !== null) {
          const progress = typeof restored === 'string' ? startProgress(row.startedMs, row.everyMs, row.endsMs - row.startedMs) : restored.progress;
          const text = stopText({ kind: 'lost', why: `the bot restarted and could not take it up again (${why ?? 'unreadable'})` }, progress, now, this.clock);
          await poster.postInThread(place, text).catch((err: unknown) => this.options.logger.warn('watch stop message failed', { id: row.id, error: errorMessage(err) }));
          if (typeof restored !== 'string') await poster.updateParent(place, { ...this.view(restored), stopped: text }).catch(() => undefined);
        }
        this.options.logger.info('watch not resumed', { id: row.id, why });
        continue;
      }
      this.watches.set(restored.id, restored);
      resumed += 1;
      this.options.logger.info('watch resumed', { id: restored.id, channel: row.channel, target: targetKey(restored.target, restored.from) });
      await poster.updateParent(place, this.view(restored)).catch((err: unknown) => this.options.logger.warn('watch parent update failed', { id: row.id, error: errorMessage(err) }));
      this.schedule(restored);
    }
    return { resumed, stopped };
  }

  /**
   * Shutdown: timers cleared, checks in flight finished; the watches stay in the store as they
   * are, for the next start to resume.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.watches.values()) {
      w.stopped = true;
      if (w.timer) clearTimeout(w.timer);
    }
    await Promise.allSettled([...this.watches.values()].flatMap((w) => (w.busy ? [w.busy] : [])));
    this.watches.clear();
  }

  private restore(row: WatchRow): Running | string {
    const decoded = decodeRerun(row.command);
    if (decoded.kind !== 'check') return 'its target could not be read back';
    let progress: WatchProgress;
    try {
      const parsed = JSON.parse(row.progress) as Partial<WatchProgress>;
      if (typeof parsed.startedMs !== 'number' || typeof parsed.endsMs !== 'number' || typeof parsed.everyMs !== 'number' || typeof parsed.checks !== 'number' || typeof parsed.changes !== 'number') return 'its progress could not be read back';
      progress = parsed as WatchProgress;
    } catch {
      return 'its progress could not be read back';
    }
    return {
      id: row.id,
      platform: row.platform,
      place: { workspace: row.workspace, channel: row.channel, parentRef: row.parentRef, threadRef: row.threadRef },
      user: row.user,
      requester: row.requester,
      target: decoded.target,
      ...(decoded.via !== undefined ? { via: decoded.via } : {}),
      ...(decoded.from !== undefined ? { from: decoded.from } : {}),
      bastion: row.bastion,
      progress,
      stopped: false,
    };
  }

  private activeList(): ActiveWatch[] {
    return [...this.watches.values()].map((w) => ({ channel: `${w.platform}:${w.place.channel}`, bastion: w.bastion, key: targetKey(w.target, w.from) }));
  }

  private view(w: Running): WatchView {
    return { id: w.id, target: targetLabel(w.target), bastion: w.bastion, requester: w.requester, progress: w.progress };
  }

  private schedule(w: Running): void {
    if (w.stopped) return;
    const now = this.now();
    const due = nextDueMs(w.progress, now);
    // No check starts after the end: the timer then fires at the end, to stop it.
    const at = Math.min(due, w.progress.endsMs);
    w.timer = setTimeout(() => {
      w.timer = undefined;
      if (expired(w.progress, this.now())) void this.stop(w, { kind: 'expired' });
      else this.run(w);
    }, Math.max(0, at - now));
  }

  /** One check of the watch (with the first check's ticket, or through the gate now), then the next. */
  private run(w: Running, ticket?: Ticket): void {
    const task = this.check(w, ticket)
      .catch((err: unknown) => this.options.logger.error('watch check failed', { id: w.id, error: errorMessage(err) }))
      .finally(() => {
        w.busy = undefined;
        this.schedule(w);
      });
    w.busy = task;
  }

  private async check(w: Running, first?: Ticket): Promise<void> {
    const poster = this.posters.get(w.platform);
    if (!poster || w.stopped) {
      first?.cancel('the watch stopped');
      return;
    }
    let ticket = first;
    if (!ticket) {
      const decision = await this.options.gate.admit({ actor: poster.actor({ workspace: w.place.workspace, channel: w.place.channel, user: w.user }), action: 'check', target: w.target, ...(w.via !== undefined ? { via: w.via } : {}), ...(w.from !== undefined ? { from: w.from } : {}) });
      if (decision.kind === 'denied') {
        // Who may probe what changed: the watch ends. Too often or too busy now: this check waits for the next turn.
        if (decision.reason === 'permission' || decision.reason === 'policy') {
          await this.stop(w, { kind: 'refused', message: decision.message }, true);
          return;
        }
        w.progress = skipped(w.progress, this.now(), decision.message);
        await this.saveAndShow(w, poster);
        return;
      }
      if (decision.kind !== 'admitted') return;
      ticket = decision.ticket;
    }
    let sharedAgeMs: number | undefined;
    try {
      const result = await ticket.wrap(this.options.engine).check(w.target, { ...(w.via !== undefined ? { via: w.via } : {}), ...(w.from !== undefined ? { from: w.from } : {}), onReused: (age) => (sharedAgeMs = age) });
      if (w.stopped) return;
      const seen = observe(w.progress, result.report, this.now(), result.report.reused ? undefined : (result.reusedAgeMs ?? sharedAgeMs));
      w.progress = seen.progress;
      if (seen.kind === 'change') {
        this.options.logger.info('watch saw a change', { id: w.id, from: seen.change.from?.cause, to: seen.change.to.cause });
        await poster.postInThread(w.place, changeText(seen.change, this.clock)).catch((err: unknown) => this.options.logger.warn('watch change message failed', { id: w.id, error: errorMessage(err) }));
      }
    } catch (err) {
      ticket.cancel('the watch check failed');
      if (w.stopped) return;
      w.progress = skipped(w.progress, this.now(), `the check itself failed (${errorMessage(err)})`);
    }
    await this.saveAndShow(w, poster);
  }

  private async saveAndShow(w: Running, poster: WatchPoster): Promise<void> {
    await this.options.store.updateWatch(w.id, { progress: JSON.stringify(w.progress) }).catch((err: unknown) => this.options.logger.warn('watch progress not recorded', { id: w.id, error: errorMessage(err) }));
    if (!w.stopped) await poster.updateParent(w.place, this.view(w)).catch((err: unknown) => this.options.logger.warn('watch parent update failed', { id: w.id, error: errorMessage(err) }));
  }

  /** Ends a watch: no more checks, the row closed, the thread told, the parent shows the end. */
  private async stop(w: Running, reason: StopReason, fromCheck = false): Promise<void> {
    if (w.ending) return;
    w.ending = true;
    w.stopped = true;
    if (w.timer) clearTimeout(w.timer);
    // A check in flight finishes first (unless this stop comes from that check).
    if (!fromCheck) await w.busy?.catch(() => undefined);
    this.watches.delete(w.id);
    const now = this.now();
    const text = stopText(reason, w.progress, now, this.clock);
    await this.options.store.stopWatch(w.id, now, `${reason.kind}: ${text}`).catch((err: unknown) => this.options.logger.warn('watch stop not recorded', { id: w.id, error: errorMessage(err) }));
    await this.options.store.updateWatch(w.id, { progress: JSON.stringify(w.progress) }).catch(() => undefined);
    this.options.logger.info('watch stopped', { id: w.id, reason: reason.kind, checks: w.progress.checks, changes: w.progress.changes });
    const poster = this.posters.get(w.platform);
    if (!poster) return;
    await poster.postInThread(w.place, text).catch((err: unknown) => this.options.logger.warn('watch stop message failed', { id: w.id, error: errorMessage(err) }));
    await poster.updateParent(w.place, { ...this.view(w), stopped: text }).catch((err: unknown) => this.options.logger.warn('watch parent update failed', { id: w.id, error: errorMessage(err) }));
  }
}
