// Threads the bot answered in that it did not start: an @mention in someone's incident
// thread puts the check's messages there, but Slack marks the thread's replies with the
// parent's author (parent_user_id), who is not the bot. Those threads are remembered here, so
// that a log pasted into them later is explained too. In memory, bounded in size and time: a
// restart forgets them (threads under the bot's own messages are always recognised).
export class BotThreads {
  private readonly threads = new Map<string, number>();

  constructor(
    private readonly ttlMs = 7 * 24 * 3600_000,
    private readonly max = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  remember(channel: string, threadTs: string): void {
    const key = `${channel}:${threadTs}`;
    // Re-inserted, so the map stays in the order threads were last used and the oldest go first.
    this.threads.delete(key);
    this.threads.set(key, this.now());
    for (const oldest of this.threads.keys()) {
      if (this.threads.size <= this.max) break;
      this.threads.delete(oldest);
    }
  }

  has(channel: string, threadTs: string): boolean {
    const key = `${channel}:${threadTs}`;
    const at = this.threads.get(key);
    if (at === undefined) return false;
    if (this.now() - at >= this.ttlMs) {
      this.threads.delete(key);
      return false;
    }
    return true;
  }
}
