// Chat platforms limit how fast a bot may post to one channel (Slack: about one message per
// second, with short bursts). The pacer runs a channel's operations one at a time through a
// token bucket, lets parent updates (the diagnosis) overtake step replies, and coalesces
// queued edits of the same message so that only the newest is sent.
//
// The platform counts requests when they arrive, and arrival jitters with the network and a
// busy event loop: a bucket clocked from when requests are sent lets a slow first request and
// a prompt fourth one land closer than the pace. So the bucket is clocked conservatively:
// from when each earlier request was answered (it arrived no later) to when the next one
// starts (it arrives no earlier).

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

/** Answers remembered per channel: windows longer than this many operations go unchecked. */
const HISTORY = 64;

class ChannelQueue {
  private readonly jobs: Job[] = [];
  /** When this channel's recent operations were answered, oldest first. */
  private readonly answered: number[] = [];
  private busy = false;
  private seq = 0;

  constructor(
    private readonly options: PacerOptions,
    private readonly onIdle: () => void,
  ) {}

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

  /**
   * The earliest start for the next operation: every run of k > burst operations ending with
   * it must span (k - burst) / perSecond seconds, measured from the answer to its first one.
   */
  private earliestStart(): number {
    const { burst, perSecond } = this.options;
    const n = this.answered.length;
    let earliest = 0;
    for (let i = 0; i < n; i++) {
      const k = n - i + 1;
      if (k > burst) earliest = Math.max(earliest, (this.answered[i] ?? 0) + ((k - burst) / perSecond) * 1000);
    }
    return earliest;
  }

  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.jobs.length > 0) {
        // Wait with the job still queued: an edit can replace it and a diagnosis overtake it.
        const wait = this.earliestStart() - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, Math.ceil(wait)));
        const job = this.jobs.shift();
        if (!job) break;
        try {
          await job.run();
          for (const w of job.waiters) w.resolve();
        } catch (err) {
          for (const w of job.waiters) w.reject(err);
        } finally {
          // A failed request was still counted by the platform.
          this.answered.push(performance.now());
          if (this.answered.length > HISTORY) this.answered.shift();
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
