// What a chat fleet check shows, independent of any platform's markup: the parent (what is
// checked, progress, then the summary: hosts by cause, counted) and one reply per host that is
// not healthy. Adapters render these to Block Kit or Discord markdown. Pure.
import type { Cause, Confidence, Report, StepId } from '../engine/report.js';
import type { FleetSummary } from '../fleet/run.js';
import { summarize } from '../fleet/run.js';

export interface FleetParentView {
  /** The hosts as the person asked for them ("db-[1-40]"), already bounded. */
  label: string;
  hosts: number;
  vantage: string;
  requester: string;
  phase: 'running' | 'finished';
  checked: number;
  /** Hosts by cause so far (final once finished). */
  summary: FleetSummary;
  /** Hosts not healthy whose reply was left out (over the per-thread cap): they are listed in one last reply. */
  notShown: number;
}

export interface FleetHostView {
  host: string;
  address?: string;
  cause: Cause;
  step: StepId | null;
  confidence: Confidence;
  summary: string;
  /** The first next steps (at most three). */
  next: string[];
}

export function initialFleetParent(label: string, hosts: number, vantage: string, requester: string): FleetParentView {
  return { label, hosts, vantage, requester, phase: 'running', checked: 0, summary: summarize([], 0, 0, 0), notShown: 0 };
}

export function hostView(report: Report): FleetHostView {
  const t = report.target;
  const address = t.addresses[0];
  return {
    host: t.port === 22 ? t.host : `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`,
    ...(address !== undefined && address !== t.host ? { address } : {}),
    cause: report.diagnosis.cause,
    step: report.diagnosis.step,
    confidence: report.diagnosis.confidence,
    summary: report.diagnosis.summary,
    next: report.diagnosis.next.slice(0, 3),
  };
}

/** The requester's private word that a fleet was taken: how many hosts, from where, the queue. */
export function fleetAckText(fleet: { targets: readonly unknown[]; label: string }, vantage: string, notice?: string): string {
  return `Checking ${fleet.targets.length} hosts (${fleet.label}) from ${vantage}…${notice !== undefined ? `\n${notice}` : ''}`;
}

/** "db-[1-40]", or the first few targets and how many more: what the parent names. */
export function fleetLabel(patterns: readonly string[], max = 120): string {
  const joined = patterns.join(', ');
  if (joined.length <= max) return joined;
  let out = '';
  let shown = 0;
  for (const p of patterns) {
    if (out.length + p.length + 2 > max - 20) break;
    out = out === '' ? p : `${out}, ${p}`;
    shown += 1;
  }
  return `${out} and ${patterns.length - shown} more`;
}
