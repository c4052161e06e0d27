// Messages across a channel to another thread or process, sent in batches: each message sent
// alone costs serialising and a write here, a wake-up and a read there, and on two cores the
// other side's work competes with this side's. An urgent message goes once the code that made
// it is done (a microtask: before the loop goes back to I/O), taking everything queued before
// it, in order; the rest may wait up to `delayMs` for company. Pure apart from the clock,
// which tests replace.

export interface OutboxClock {
  /** Runs fn once the current code is done (queueMicrotask). */
  soon(fn: () => void): void;
  /** Runs fn after ms, unless cancelled. */
  later(fn: () => void, ms: number): () => void;
}

const LOOP_CLOCK: OutboxClock = {
  soon: (fn) => queueMicrotask(fn),
  later: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

export interface OutboxOptions<T> {
  urgent: (message: T) => boolean;
  /** How long a message that is not urgent may wait. */
  delayMs: number;
  clock?: OutboxClock;
}

/** Returns the function that queues a message; `send` gets each batch, never an empty one. */
export function coalescingOutbox<T>(send: (batch: readonly T[]) => void, options: OutboxOptions<T>): (message: T) => void {
  const clock = options.clock ?? LOOP_CLOCK;
  let queued: T[] = [];
  let soon = false;
  let cancelLater: (() => void) | undefined;
  const flush = (): void => {
    soon = false;
    cancelLater?.();
    cancelLater = undefined;
    if (queued.length === 0) return;
    const batch = queued;
    queued = [];
    send(batch);
  };
  return (message) => {
    queued.push(message);
    if (options.urgent(message)) {
      if (!soon) clock.soon(flush);
      soon = true;
    } else cancelLater ??= clock.later(flush, options.delayMs);
  };
}
