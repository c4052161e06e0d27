// Starting the bot's chat adapters one by one, and keeping them started: an adapter that
// cannot start is named with what failed (the network, or a credential the platform
// rejected) and the URL it tried; one that failed for a reason that can pass (a network
// error, a timeout) is retried with backoff while the others run. One that stops working
// after it started (its connection closed for good: ChatAdapter.onLost) is stopped and
// started anew the same way. `hopeless` lists the failures once no adapter is running and
// none will be retried; `whenHopeless` resolves then.
import type { ChatAdapter } from '../chat/adapter.js';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';

/** One adapter as the bot starts it: created afresh for every attempt. */
export interface AdapterSlot {
  name: string;
  /** The API it talks to, for start-up errors. */
  url: string;
  create(): ChatAdapter;
}

export type StartFailureKind = 'rejected' | 'unreachable';

/** A credential the platform answered "no" to does not get better by retrying; everything else may. */
export function startFailureKind(err: unknown): StartFailureKind {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const { code, status } = e as { code?: unknown; status?: unknown };
    if (code === 'slack_webapi_platform_error' || code === 'TokenInvalid' || status === 401 || status === 403) return 'rejected';
  }
  return 'unreachable';
}

interface Entry {
  slot: AdapterSlot;
  adapter?: ChatAdapter;
  state: 'starting' | 'running' | 'retrying' | 'failed';
  attempts: number;
  /** Failures (starts, losses) since it last ran for a while: the backoff's exponent. */
  streak: number;
  runningSince?: number;
  timer?: NodeJS.Timeout;
  lastError?: string;
}

export class AdapterSupervisor {
  private readonly entries: Entry[];
  private stopped = false;
  private readonly retryFirstMs: number;
  private readonly retryMaxMs: number;
  private readonly hopelessWaiters: Array<(failures: string[]) => void> = [];

  constructor(
    slots: readonly AdapterSlot[],
    private readonly logger: Logger,
    private readonly options: { retryFirstMs?: number; retryMaxMs?: number; vantage?: string } = {},
  ) {
    this.entries = slots.map((slot) => ({ slot, state: 'starting', attempts: 0, streak: 0 }));
    this.retryFirstMs = options.retryFirstMs ?? 5000;
    this.retryMaxMs = options.retryMaxMs ?? 300_000;
  }

  /** Each adapter's state, for logs and tests. */
  get states(): Record<string, Entry['state']> {
    return Object.fromEntries(this.entries.map((e) => [e.slot.name, e.state]));
  }

  /** Undefined while an adapter runs or will be retried; else why none can run, one line each. */
  get hopeless(): string[] | undefined {
    if (this.entries.some((e) => e.state !== 'failed')) return undefined;
    return this.entries.map((e) => `${e.slot.name}: ${e.lastError ?? 'did not start'}`);
  }

  /** Resolves, with `hopeless`, once no adapter runs and none will be retried (never if one keeps running). */
  whenHopeless(): Promise<string[]> {
    const now = this.hopeless;
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => this.hopelessWaiters.push(resolve));
  }

  /** The first attempt of every adapter, at once; resolves when each has started or failed once. */
  async start(): Promise<void> {
    await Promise.all(this.entries.map((e) => this.attempt(e)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const e of this.entries) clearTimeout(e.timer);
    await Promise.allSettled(this.entries.flatMap((e) => (e.adapter ? [e.adapter.stop()] : [])));
  }

  private async attempt(entry: Entry): Promise<void> {
    if (this.stopped) return;
    entry.attempts += 1;
    entry.state = 'starting';
    const adapter = entry.slot.create();
    entry.adapter = adapter;
    try {
      await adapter.start();
      if (this.stopped) return;
      entry.state = 'running';
      entry.runningSince = Date.now();
      adapter.onLost?.((err) => void this.lost(entry, adapter, err));
      this.logger.info('adapter started', { adapter: entry.slot.name, vantage: this.options.vantage ?? null, attempt: entry.attempts });
    } catch (err) {
      const kind = startFailureKind(err);
      const message = errorMessage(err);
      await adapter.stop().catch(() => undefined);
      entry.adapter = undefined;
      if (this.stopped) return;
      const delay = this.backoff(entry);
      entry.lastError = `${kind === 'rejected' ? 'its credentials were rejected' : `${entry.slot.url} could not be reached`}: ${message}`;
      if (kind === 'rejected') {
        entry.state = 'failed';
        this.logger.error('adapter failed to start: credentials rejected, not retried', { adapter: entry.slot.name, url: entry.slot.url, error: message });
        this.checkHopeless();
        return;
      }
      entry.state = 'retrying';
      this.logger.error('adapter failed to start: its API could not be reached; retrying', { adapter: entry.slot.name, url: entry.slot.url, error: message, attempt: entry.attempts, retryInMs: delay });
      entry.timer = setTimeout(() => void this.attempt(entry), delay);
    }
  }

  /** A running adapter stopped working for good: stop it, start a new one after the backoff. */
  private async lost(entry: Entry, adapter: ChatAdapter, err: Error): Promise<void> {
    if (this.stopped || entry.adapter !== adapter || entry.state !== 'running') return;
    // One that ran a good while starts its backoff afresh; one that keeps falling over waits longer each time.
    if (Date.now() - (entry.runningSince ?? 0) >= this.retryMaxMs) entry.streak = 0;
    const delay = this.backoff(entry);
    entry.state = 'retrying';
    entry.adapter = undefined;
    entry.lastError = `it stopped working after it started: ${err.message}`;
    this.logger.error('adapter stopped working; restarting it', { adapter: entry.slot.name, url: entry.slot.url, error: err.message, retryInMs: delay });
    await adapter.stop().catch((stopErr: unknown) => this.logger.warn('stopping the failed adapter failed', { adapter: entry.slot.name, error: errorMessage(stopErr) }));
    if (this.stopped) return;
    entry.timer = setTimeout(() => void this.attempt(entry), delay);
  }

  /** The wait before the next attempt: doubling from retryFirstMs up to retryMaxMs. */
  private backoff(entry: Entry): number {
    entry.streak += 1;
    return Math.min(this.retryMaxMs, this.retryFirstMs * 2 ** (entry.streak - 1));
  }

  private checkHopeless(): void {
    const failures = this.hopeless;
    if (!failures) return;
    for (const resolve of this.hopelessWaiters.splice(0)) resolve(failures);
  }
}
