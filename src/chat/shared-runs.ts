// Single flight and short reuse: during an incident twenty people type the same command.
// Concurrent checks of the same target join one run (a late joiner first gets every event
// so far), and a result a few seconds old is replayed with its age instead of probing the
// target again — which also keeps the bastion from tripping fail2ban or sshd penalties.
import type { ProgressEvent, Report } from '../engine/report.js';
import type { Target } from '../target.js';
import type { CheckOptions, CheckResult, EngineClient } from './engine-client.js';

interface Flight {
  events: ProgressEvent[];
  listeners: Set<(e: ProgressEvent) => void>;
  /** Everyone following the flight hears its notices (an agent lost and the check resent). */
  notices: Set<(text: string) => void>;
  done: Promise<Report>;
}

interface Finished {
  events: ProgressEvent[];
  report: Report;
  at: number;
}

export interface SharedRunsOptions {
  /** How long a finished result is reused. */
  reuseMs: number;
  now?: () => number;
}

export function targetKey(target: Target, from?: string): string {
  return `${target.user}@${target.host}:${target.port}${from !== undefined ? ` from ${from}` : ''}`;
}

export class SharedRuns implements EngineClient {
  private readonly flights = new Map<string, Flight>();
  private readonly finished = new Map<string, Finished>();
  private readonly now: () => number;
  /** How many checks were answered by each path, for metrics and tests. */
  readonly counts = { runs: 0, joined: 0, reused: 0 };

  constructor(
    private readonly inner: EngineClient,
    private readonly options: SharedRunsOptions,
  ) {
    this.now = options.now ?? (() => Date.now());
  }

  async check(target: Target, options: CheckOptions = {}): Promise<CheckResult> {
    const key = targetKey(target, options.from);
    const recent = this.finished.get(key);
    // reuseMs 0 means never: not even a result from this very millisecond.
    if (recent && this.options.reuseMs > 0 && this.now() - recent.at <= this.options.reuseMs) {
      this.counts.reused += 1;
      const ageMs = this.now() - recent.at;
      options.onReused?.(ageMs);
      for (const e of recent.events) options.onEvent?.(e);
      return { report: recent.report, reusedAgeMs: ageMs };
    }
    const flight = this.flights.get(key);
    if (flight) {
      this.counts.joined += 1;
      for (const e of flight.events) options.onEvent?.(e);
      if (options.onEvent) flight.listeners.add(options.onEvent);
      if (options.onNotice) flight.notices.add(options.onNotice);
      try {
        return { report: await flight.done };
      } finally {
        if (options.onEvent) flight.listeners.delete(options.onEvent);
        if (options.onNotice) flight.notices.delete(options.onNotice);
      }
    }
    this.counts.runs += 1;
    const started: Flight = { events: [], listeners: new Set(options.onEvent ? [options.onEvent] : []), notices: new Set(options.onNotice ? [options.onNotice] : []), done: Promise.resolve(undefined as never) };
    started.done = this.inner
      .check(target, {
        ...(options.via !== undefined ? { via: options.via } : {}),
        ...(options.from !== undefined ? { from: options.from } : {}),
        onEvent: (e) => {
          started.events.push(e);
          for (const l of started.listeners) l(e);
        },
        onNotice: (text) => {
          for (const n of started.notices) n(text);
        },
      })
      .then((r) => r.report);
    this.flights.set(key, started);
    try {
      const report = await started.done;
      this.finished.set(key, { events: started.events, report, at: this.now() });
      this.prune();
      return { report };
    } finally {
      this.flights.delete(key);
    }
  }

  private prune(): void {
    const cutoff = this.now() - this.options.reuseMs;
    for (const [key, f] of this.finished) if (f.at < cutoff) this.finished.delete(key);
  }
}
