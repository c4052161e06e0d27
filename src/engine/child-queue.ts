// Child processes (getent, ssh -vvv, ping, ssh -G, the path trace, the MTU sweep, the
// login) cost the event loop tens of ms each to spawn (posix_spawn of a large parent, more
// on a busy bastion). Spawned in the same turn as the in-process probes, they came before
// the SYN and the DNS query went out, and a reset that arrived in 0.1 ms was read only
// after three spawns. They queue here instead, most awaited first, and start one per timer
// turn once the in-process probes are on the wire, so that whatever arrives between two
// spawns is read and judged in between. The queue counts as pending work.

/** The first child process starts this long into the run: the SYN and the DNS query go first. */
export const CHILDREN_AFTER_MS = 5;
/** While children are held back (see `heldFor`), how often to look again. */
const CHILDREN_RECHECK_MS = 5;
/** Which child process starts first when several wait: what verdicts wait on comes first. */
export const CHILD_RANK = { resolve: 0, mtu: 1, verbose: 2, ping: 3, inside: 4, sshConfig: 5, path: 6 } as const;
export type ChildRank = keyof typeof CHILD_RANK;

interface Waiting {
  rank: number;
  start: () => void;
  skip: () => void;
}

export class ChildQueue {
  private readonly waiting: Waiting[] = [];
  /** The next start is on its way: this timer, then (once it fired) the two setImmediate turns after it. */
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * @param clock the run's clock (ms since it started)
   * @param heldFor how much longer no child may start (0: they may)
   * @param onSkipError a `skip` that threw while the queue closed
   */
  constructor(
    private readonly clock: () => number,
    private readonly heldFor: () => number,
    private readonly onSkipError: (err: unknown) => void,
  ) {}

  /** Children waiting to start. */
  get length(): number {
    return this.waiting.length;
  }

  /** Queues a child behind those of a lower or equal rank; `skip` runs if the queue closes first. */
  add(rank: ChildRank, start: () => void, skip: () => void): void {
    if (this.closed) return;
    const at = this.waiting.findIndex((c) => c.rank > CHILD_RANK[rank]);
    this.waiting.splice(at < 0 ? this.waiting.length : at, 0, { rank: CHILD_RANK[rank], start, skip });
    this.timer ??= setTimeout(this.startNext, Math.max(0, CHILDREN_AFTER_MS - this.clock()));
  }

  /** The run is over: what never started says so (its `skip`), instead of staying unknown. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const c of this.waiting.splice(0)) {
      try {
        c.skip();
      } catch (err) {
        this.onSkipError(err);
      }
    }
  }

  private readonly startNext = (): void => {
    const held = this.heldFor();
    if (held > 0 && !this.closed) {
      this.timer = setTimeout(this.startNext, Math.min(held, CHILDREN_RECHECK_MS));
      return;
    }
    // Timers run before the event loop reads sockets: a reset or an ICMP error that came in
    // while the loop was busy (a cold first look at the evidence takes milliseconds) was read
    // only after the spawn, tens of ms later. Two turns of setImmediate let that turn's I/O
    // be read and the run look at it (its wake-up runs in between) before the child starts.
    setImmediate(() => setImmediate(this.spawnNext));
  };

  private readonly spawnNext = (): void => {
    this.timer = undefined;
    const next = this.closed ? undefined : this.waiting.shift();
    next?.start();
    if (this.waiting.length > 0 && !this.closed) this.timer = setTimeout(this.startNext, 0);
  };
}
