// serve logs one line per request at info (its default level). Each line was a write(2) of
// its own to stderr, which under systemd or a supervisor is a pipe (synchronous in Node on
// Linux), and each write wakes the reader: under a burst of 300 requests, 300 syscalls and
// wake-ups on a loaded 2-core machine, on the thread that answers the requests. Here the
// lines of one turn of the event loop go out as one write at its end (setImmediate), in
// order. Nothing is held longer than that turn, and flush() writes what is waiting at once
// (on stop, and on process exit, so a crash's last lines are not lost with it).

export interface TurnWriter {
  /** Queues a line (with its newline) for the end of this turn. */
  write: (line: string) => void;
  /** Writes what is queued now; nothing when nothing is. */
  flush: () => void;
}

export function turnWriter(out: (text: string) => void): TurnWriter {
  let lines: string[] = [];
  let pending: NodeJS.Immediate | undefined;
  const flush = (): void => {
    if (pending) clearImmediate(pending);
    pending = undefined;
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    out(text);
  };
  return {
    write: (line) => {
      lines.push(line);
      pending ??= setImmediate(flush);
    },
    flush,
  };
}

/**
 * This process's stderr through a TurnWriter (serve, agent): what is queued is also written
 * when the process exits; `end` writes it now and lets go of that exit hook.
 */
export function stderrLines(): { write: (line: string) => void; end: () => void } {
  const lines = turnWriter((text) => process.stderr.write(text));
  process.on('exit', lines.flush);
  return {
    write: lines.write,
    end: () => {
      lines.flush();
      process.off('exit', lines.flush);
    },
  };
}
