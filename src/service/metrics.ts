// The service's metrics in the Prometheus text exposition format (version 0.0.4), written
// by hand: four families do not justify a client library. Pure apart from the counters'
// own state; render() is what GET /metrics returns.
// Format: https://prometheus.io/docs/instrumenting/exposition_formats/
import { CAUSES } from '../engine/report.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Why a request was turned away (the `reason` label). */
export const REJECT_REASONS = ['unauthorized', 'invalid', 'too_large', 'busy', 'not_found', 'policy', 'audit'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** How a POST /v1/checks was answered (the `outcome` label). */
export const CHECK_OUTCOMES = ['started', 'joined', 'reused'] as const;

/** Run durations from a TCP reset (~20 ms) to a full budget (15 s and more). */
export const DURATION_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 15, 30] as const;

/**
 * Admission times, from a POST /v1/checks's arrival (its headers parsed) to its answer handed
 * to the kernel: a refusal takes well under a millisecond of the service's own time, an
 * admitted request waits for its audit row (up to DEFAULT_AUDIT_WAIT_MS). The goal is 100 ms.
 */
export const ADMISSION_BUCKETS_S = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

/** The answers admission itself gives (a result, a run, refusals: policy, busy, audit), exported from the start; others appear when they happen. */
export const ADMISSION_STATUSES = [200, 202, 403, 429, 503] as const;

/** A label value as the format wants it: backslash, double quote and newline escaped. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function number(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

class LabeledCounter {
  private readonly values = new Map<string, number>();

  constructor(known: readonly string[]) {
    // Known label values start at 0, so a rate() over them works before the first event.
    for (const k of known) this.values.set(k, 0);
  }

  inc(label: string, by = 1): void {
    this.values.set(label, (this.values.get(label) ?? 0) + by);
  }

  get(label: string): number {
    return this.values.get(label) ?? 0;
  }

  entries(): Array<[string, number]> {
    return [...this.values.entries()];
  }
}

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(private readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    this.sum += value;
    this.count += 1;
    this.buckets.forEach((le, i) => {
      if (value <= le) this.counts[i] = (this.counts[i] ?? 0) + 1;
    });
  }

  /** Its sample lines; `labels` (already escaped, such as 'status="429"') go on every one. */
  lines(name: string, labels = ''): string[] {
    const sep = labels === '' ? '' : ',';
    const own = labels === '' ? '' : `{${labels}}`;
    const out = this.buckets.map((le, i) => `${name}_bucket{${labels}${sep}le="${number(le)}"} ${this.counts[i] ?? 0}`);
    out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${this.count}`, `${name}_sum${own} ${number(Math.round(this.sum * 1e6) / 1e6)}`, `${name}_count${own} ${this.count}`);
    return out;
  }
}

/** What the event loop's delay looked like since the start (perf_hooks' IntervalHistogram, in ns). */
export interface LoopDelaySource {
  percentile(p: number): number;
  readonly max: number;
  readonly mean: number;
  readonly count: number;
}

/** The delay summary's quantiles: the median, the tail, and the worst (1). */
const LOOP_DELAY_QUANTILES = [0.5, 0.99, 1] as const;

/** Summary lines of the event loop's delay, in seconds: how long a request or /healthz could wait for this thread. */
export function loopDelayLines(name: string, source: LoopDelaySource): string[] {
  const s = (ns: number): string => number(Number.isFinite(ns) ? Math.round(ns / 1e3) / 1e6 : 0);
  const count = Number.isFinite(source.count) ? source.count : 0;
  return [
    ...LOOP_DELAY_QUANTILES.map((q) => `${name}{quantile="${q}"} ${count === 0 ? 0 : s(q === 1 ? source.max : source.percentile(q * 100))}`),
    `${name}_sum ${count === 0 ? 0 : s(source.mean * count)}`,
    `${name}_count ${count}`,
  ];
}

export class ServiceMetrics {
  /** Finished runs by diagnosis cause; "engine-error" when the engine itself failed, "policy-refused" when the target policy refused a resolved address. */
  readonly runs = new LabeledCounter([...CAUSES, 'engine-error', 'policy-refused']);
  readonly checks = new LabeledCounter(CHECK_OUTCOMES);
  readonly rejected = new LabeledCounter(REJECT_REASONS);
  private readonly duration = new Histogram(DURATION_BUCKETS_S);
  private readonly diagnosed = new Histogram(DURATION_BUCKETS_S);
  /** By answer status: a 429's time and a 202's (which waits for its audit row) are different things. */
  private readonly admission = new Map<number, Histogram>(ADMISSION_STATUSES.map((status) => [status, new Histogram(ADMISSION_BUCKETS_S)]));
  inFlight = 0;
  streams = 0;
  /** The service's event loop, when it is monitored (serve): what a burst costs /healthz and admission. */
  loopDelay: LoopDelaySource | undefined;

  runFinished(cause: string, durationMs: number, diagnosedMs?: number): void {
    this.runs.inc(cause);
    this.duration.observe(durationMs / 1000);
    if (diagnosedMs !== undefined) this.diagnosed.observe(diagnosedMs / 1000);
  }

  /** A POST /v1/checks answered with `status`, `seconds` after it arrived. */
  answered(status: number, seconds: number): void {
    let histogram = this.admission.get(status);
    if (!histogram) this.admission.set(status, (histogram = new Histogram(ADMISSION_BUCKETS_S)));
    histogram.observe(seconds);
  }

  render(): string {
    const lines: string[] = [];
    const family = (name: string, type: string, help: string, body: string[]): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...body);
    };
    family('sshcheck_runs_total', 'counter', 'Probe runs finished, by diagnosis cause.', this.runs.entries().map(([k, v]) => `sshcheck_runs_total{cause="${escapeLabel(k)}"} ${v}`));
    family('sshcheck_checks_total', 'counter', 'Check requests accepted, by how they were answered (a new run, joined a running one, reused a recent result).', this.checks.entries().map(([k, v]) => `sshcheck_checks_total{outcome="${escapeLabel(k)}"} ${v}`));
    family('sshcheck_run_duration_seconds', 'histogram', 'Duration of probe runs, start to report.', this.duration.lines('sshcheck_run_duration_seconds'));
    family('sshcheck_run_diagnosis_seconds', 'histogram', 'Time from the start of a run to its diagnosis.', this.diagnosed.lines('sshcheck_run_diagnosis_seconds'));
    family('sshcheck_admission_seconds', 'histogram', 'Time from a POST /v1/checks request\'s arrival (headers read) to its answer (202, 200, 429, 403, 503, 4xx) handed to the kernel: what this service adds to a client\'s wait.', [...this.admission.entries()].sort(([a], [b]) => a - b).flatMap(([status, h]) => h.lines('sshcheck_admission_seconds', `status="${status}"`)));
    family('sshcheck_runs_in_flight', 'gauge', 'Probe runs going on now.', [`sshcheck_runs_in_flight ${this.inFlight}`]);
    family('sshcheck_event_streams', 'gauge', 'Event streams (SSE) open now.', [`sshcheck_event_streams ${this.streams}`]);
    family('sshcheck_requests_rejected_total', 'counter', 'Requests turned away, by reason.', this.rejected.entries().map(([k, v]) => `sshcheck_requests_rejected_total{reason="${escapeLabel(k)}"} ${v}`));
    if (this.loopDelay) family('sshcheck_event_loop_delay_seconds', 'summary', 'How late the service thread ran its timers since the start: the wait any request or /healthz could meet.', loopDelayLines('sshcheck_event_loop_delay_seconds', this.loopDelay));
    return `${lines.join('\n')}\n`;
  }
}
