// Platforms deliver the same event more than once (Slack retries an event it thinks was not
// acknowledged in time; Socket Mode reconnects redeliver). The same id must never start a
// second run. Bounded in size and time.
export class RecentIds {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly max = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** True the first time an id is offered (within the TTL), false for repeats. */
  first(id: string): boolean {
    const t = this.now();
    const at = this.seen.get(id);
    if (at !== undefined && t - at < this.ttlMs) return false;
    this.seen.set(id, t);
    if (this.seen.size > this.max) {
      for (const [key, when] of this.seen) {
        if (this.seen.size <= this.max && t - when < this.ttlMs) break;
        this.seen.delete(key);
      }
    }
    return true;
  }
}
