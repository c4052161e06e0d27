// How the chat layer gets a check done. By default the engine runs in this process; with a
// broker, src/nats sends each check to the agents of a bastion. Either way: events from the
// start of the run, then the report.
import type { ProgressEvent, Report } from '../engine/report.js';
import type { RunHistory } from '../engine/checklist/assessment.js';
import type { RunOptions } from '../engine/run.js';
import { run } from '../engine/run.js';
import type { Target } from '../target.js';

export interface CheckResult {
  report: Report;
  /** Set when an earlier run's result was reused: how old it was. */
  reusedAgeMs?: number;
}

export interface CheckOptions {
  onEvent?: (event: ProgressEvent) => void;
  /** Called before the events of a reused result are replayed: how old that result is. */
  onReused?: (ageMs: number) => void;
  signal?: AbortSignal;
  /** Run the probes on this configured bastion rather than the one the routing rules pick. */
  via?: string;
  /** The requester's address, checked against the target's bans and host rules. */
  from?: string;
  /**
   * Something the requester should know while the check goes on, that is neither an event
   * nor a failure: a bastion's agent died and the check was sent to its twin.
   */
  onNotice?: (text: string) => void;
}

export interface EngineClient {
  check(target: Target, options?: CheckOptions): Promise<CheckResult>;
  /**
   * The bastions `via` may name. Engines without this property run the probes themselves
   * and cannot honour `via` (pass it to parseChatCommand's `bastions` to check early).
   */
  readonly bastions?: readonly string[];
}

/** `policy`: the chat paths always pass one (sshcheck bot does): the engine fences every resolved address. */
export type EngineDefaults = Pick<RunOptions, 'vantage' | 'budgetMs' | 'extrasMs' | 'thresholds' | 'resolvConfPath' | 'dnsPort' | 'config' | 'policy' | 'ledger' | 'connectionBudget'>;

export interface InProcessOptions {
  /** What the store knows about a target from this bastion, looked up per check (the ban heuristic). */
  history?: (target: Target) => RunHistory | undefined;
}

/** The embedded default: the probes run on this machine. */
export class InProcessEngine implements EngineClient {
  constructor(
    private readonly defaults: EngineDefaults = {},
    private readonly extra: InProcessOptions = {},
  ) {}

  async check(target: Target, options: CheckOptions = {}): Promise<CheckResult> {
    const history = this.extra.history?.(target);
    const report = await run(target, {
      ...this.defaults,
      ...(history ? { history } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.from !== undefined ? { from: options.from } : {}),
    });
    // A spent connection budget gives an earlier result: the thread says how old, and why.
    return report.reused ? { report, reusedAgeMs: report.reused.ageMs } : { report };
  }
}
