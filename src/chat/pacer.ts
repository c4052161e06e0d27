// Chat platforms limit how fast a bot may post to one channel (Slack: about one message per
// second, with short bursts). The pacer runs a channel's operations one at a time through a
// token bucket, lets parent updates (the diagnosis) overtake step replies, and coalesces
// queued edits of the same message so that only the newest is sent.

export interface PacerOptions {
  /** Operations allowed at once after a quiet period. */
  burst: number;
  /** Sustained operations per second. */
  perSecond: number;
}

interface Job {
  key: string | undefined;
  priority: number;
  seq: number;
  run: () => Promise<void>;
  waiters: Array<{ resolve: () => void; reject: (err: unknown) => void }>;
}

class ChannelQueue {
  private readonly jobs: Job[] = [];
  private tokens: number;
  private refilledAt = performance.now();
  private busy = false;
  private seq = 0;

  constructor(
    private readonly options: PacerOptions,
    private readonly onIdle: () => void,
  ) {
    this.tokens = options.burst;
  }

  get idle(): boolean {
    return !this.busy && this.jobs.length === 0;
  }

  enqueue(key: string | undefined, priority: number, run: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => {
      const pending = key === undefined ? undefined : this.jobs.find((j) => j.key === key);
      if (pending) {
        // A newer version of a queued edit replaces it; both callers learn when it is sent.
        pending.run = run;
        pending.waiters.push({ resolve, reject });
        return;
      }
      this.jobs.push({ key, priority, seq: this.seq++, run, waiters: [{ resolve, reject }] });
      this.jobs.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      void this.drain();
    });
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.options.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.options.perSecond);
    this.refilledAt = now;
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        const job = this.jobs.shift();
        if (!job) break;
        this.refill();
        if (this.tokens < 1) {
          await new Promise((r) => setTimeout(r, ((1 - this.tokens) / this.options.perSecond) * 1000));
          this.refill();
        }
        this.tokens -= 1;
        try {
          await job.run();
          for (const w of job.waiters) w.resolve();
        } catch (err) {
          for (const w of job.waiters) w.reject(err);
        }
      }
    } finally {
      this.busy = false;
      if (this.jobs.length === 0) this.onIdle();
    }
  }
}

export class Pacer {
  private readonly channels = new Map<string, ChannelQueue>();

  constructor(private readonly options: PacerOptions) {}

  /**
   * Runs `run` in the channel's queue. `key` names the message an edit targets: a queued edit
   * with the same key is replaced. Lower `priority` goes first.
   */
  schedule(channel: string, run: () => Promise<void>, options: { key?: string; priority?: number } = {}): Promise<void> {
    let queue = this.channels.get(channel);
    if (!queue) {
      // An idle channel is forgotten only once its bucket would be full again, so that a
      // pause between two bursts does not hand out a fresh burst early.
      const refillMs = (this.options.burst / this.options.perSecond) * 1000;
      const created = new ChannelQueue(this.options, () => {
        setTimeout(() => {
          if (created.idle && this.channels.get(channel) === created) this.channels.delete(channel);
        }, refillMs).unref();
      });
      queue = created;
      this.channels.set(channel, queue);
    }
    return queue.enqueue(options.key, options.priority ?? 1, run);
  }
}
