// How much the chat may ask of a bastion: token buckets per person and for everyone, and a
// cap on checks running at once with a bounded FIFO queue behind it. Nobody is dropped
// silently: a refusal says when to try again, a queued check says its place. Requests for a
// target already running or waiting join it (they share one run) instead of taking a slot.
// The clock is injected; nothing here does I/O.

export interface BucketConfig {
  /** Checks that may be started at once from a full bucket. */
  burst: number;
  /** Checks the bucket regains per minute. */
  perMinute: number;
}

export interface LimitsConfig {
  perUser: BucketConfig;
  global: BucketConfig;
  /** Checks running at once. */
  concurrent: number;
  /** Checks waiting at most; more are refused with a retry time. */
  queue: number;
  /** What one check takes, for the retry time of a refusal when the queue is full. */
  runEstimateMs: number;
}

export const DEFAULT_LIMITS: LimitsConfig = {
  perUser: { burst: 5, perMinute: 2 },
  global: { burst: 30, perMinute: 30 },
  concurrent: 4,
  queue: 20,
  // A run's budget (15 s) and the chat's extras (5 s).
  runEstimateMs: 20_000,
};

export type Take = { ok: true } | { ok: false; retryAfterMs: number };

export class TokenBucket {
  private level: number;
  private at: number;

  constructor(
    private readonly config: BucketConfig,
    private readonly now: () => number,
  ) {
    this.level = config.burst;
    this.at = now();
  }

  private refill(): void {
    const t = this.now();
    this.level = Math.min(this.config.burst, this.level + ((t - this.at) * this.config.perMinute) / 60_000);
    this.at = t;
  }

  get tokens(): number {
    this.refill();
    return this.level;
  }

  /** True when the bucket is full again (an idle person's bucket can be forgotten). */
  get full(): boolean {
    return this.tokens >= this.config.burst;
  }

  /** How long until one token is there (0 when one is). */
  waitMs(): number {
    this.refill();
    if (this.level >= 1) return 0;
    // Rounded to microseconds first: floating-point dust must not add a millisecond.
    return Math.ceil(Math.round((((1 - this.level) * 60_000) / this.config.perMinute) * 1000) / 1000);
  }

  take(): Take {
    this.refill();
    if (this.level >= 1) {
      this.level -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: this.waitMs() };
  }

  refund(): void {
    this.refill();
    this.level = Math.min(this.config.burst, this.level + 1);
  }
}

export type RateVerdict = { ok: true } | { ok: false; scope: 'user' | 'global'; retryAfterMs: number };

/** A bucket per person and one for everyone; a check takes a token from both or from neither. */
export class RateLimiter {
  private readonly users = new Map<string, TokenBucket>();
  private readonly everyone: TokenBucket;

  constructor(
    private readonly config: Pick<LimitsConfig, 'perUser' | 'global'>,
    private readonly now: () => number,
  ) {
    this.everyone = new TokenBucket(config.global, now);
  }

  private bucket(user: string): TokenBucket {
    let b = this.users.get(user);
    if (!b) {
      // Full buckets carry no state worth keeping: forget them before the map grows.
      if (this.users.size >= 10_000) for (const [key, old] of this.users) if (old.full) this.users.delete(key);
      b = new TokenBucket(this.config.perUser, this.now);
      this.users.set(user, b);
    }
    return b;
  }

  take(user: string): RateVerdict {
    const mine = this.bucket(user);
    const userWait = mine.waitMs();
    if (userWait > 0) return { ok: false, scope: 'user', retryAfterMs: userWait };
    const globalWait = this.everyone.waitMs();
    if (globalWait > 0) return { ok: false, scope: 'global', retryAfterMs: globalWait };
    mine.take();
    this.everyone.take();
    return { ok: true };
  }

  /** Gives the tokens back (the check was refused later, e.g. the queue was full). */
  refund(user: string): void {
    this.bucket(user).refund();
    this.everyone.refund();
  }
}

export interface Slot {
  readonly key: string;
  /** Resolves when the check may run; rejects when the queue is closed while it waits. */
  readonly ready: Promise<void>;
  /** 0 while running; n while waiting, n = 1 being next. */
  position(): number;
  /** Frees the slot (idempotent). */
  release(): void;
}

export type Acquired = { kind: 'slot'; slot: Slot; position: number; joined: boolean } | { kind: 'full'; running: number; waiting: number; retryAfterMs: number };

interface Entry {
  key: string;
  holders: number;
  state: 'running' | 'waiting';
  ready: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class CheckQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly waitingOrder: Entry[] = [];
  private runningCount = 0;
  private closed = false;

  constructor(private readonly config: Pick<LimitsConfig, 'concurrent' | 'queue' | 'runEstimateMs'>) {}

  get running(): number {
    return this.runningCount;
  }

  get waiting(): number {
    return this.waitingOrder.length;
  }

  acquire(key: string): Acquired {
    const existing = this.entries.get(key);
    if (existing && !this.closed) {
      existing.holders += 1;
      const slot = this.slot(existing);
      return { kind: 'slot', slot, position: slot.position(), joined: true };
    }
    if (this.closed || (this.runningCount >= this.config.concurrent && this.waitingOrder.length >= this.config.queue)) {
      const rounds = Math.ceil((this.waitingOrder.length + 1) / Math.max(1, this.config.concurrent));
      return { kind: 'full', running: this.runningCount, waiting: this.waitingOrder.length, retryAfterMs: rounds * this.config.runEstimateMs };
    }
    let resolve: () => void = () => undefined;
    let reject: (err: Error) => void = () => undefined;
    const ready = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A waiter that is never awaited (its check was cancelled) must not become an unhandled rejection.
    ready.catch(() => undefined);
    const entry: Entry = { key, holders: 1, state: 'waiting', ready, resolve, reject };
    this.entries.set(key, entry);
    if (this.runningCount < this.config.concurrent) {
      entry.state = 'running';
      this.runningCount += 1;
      resolve();
    } else {
      this.waitingOrder.push(entry);
    }
    const slot = this.slot(entry);
    return { kind: 'slot', slot, position: slot.position(), joined: false };
  }

  /** Refuses new checks and fails the waiting ones (shutdown). Running ones finish. */
  close(reason = 'the bot is stopping'): void {
    this.closed = true;
    for (const entry of this.waitingOrder.splice(0)) {
      this.entries.delete(entry.key);
      entry.reject(new Error(reason));
    }
  }

  private slot(entry: Entry): Slot {
    let released = false;
    return {
      key: entry.key,
      ready: entry.ready,
      position: () => (entry.state === 'running' ? 0 : this.waitingOrder.indexOf(entry) + 1),
      release: () => {
        if (released) return;
        released = true;
        entry.holders -= 1;
        if (entry.holders > 0) return;
        if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
        if (entry.state === 'waiting') {
          const i = this.waitingOrder.indexOf(entry);
          if (i >= 0) this.waitingOrder.splice(i, 1);
          return;
        }
        this.runningCount -= 1;
        this.promote();
      },
    };
  }

  private promote(): void {
    while (this.runningCount < this.config.concurrent && this.waitingOrder.length > 0) {
      const next = this.waitingOrder.shift();
      if (!next) break;
      next.state = 'running';
      this.runningCount += 1;
      next.resolve();
    }
  }
}

/** "24 s", "2 min": how a retry time reads. Rounded up: "try again in 0 s" helps nobody. */
export function retryText(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  if (s < 90) return `${s} s`;
  return `${Math.ceil(s / 60)} min`;
}
