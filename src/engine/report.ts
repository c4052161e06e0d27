// The public report contract (shared/design/report-contract.md). Other tools parse the
// JSON form: fields are added, never renamed or removed; REPORT_SCHEMA changes only with
// a breaking change.

import type { Measurements } from './measurements.js';

export const REPORT_SCHEMA = 'sshcheck/report@1';

export const STEP_IDS = [
  'connectivity',
  'verbose',
  'firewall',
  'sshd',
  'dns',
  'tcp-wrappers',
  'vpn-proxy',
  'auth',
  'load',
  'bans',
] as const;
export type StepId = (typeof STEP_IDS)[number];

export const STEP_TITLES: Readonly<Record<StepId, string>> = {
  connectivity: 'Basic network connectivity',
  verbose: 'Where the SSH handshake stops',
  firewall: 'Firewalls and security groups',
  sshd: 'The SSH daemon',
  dns: 'DNS resolution',
  'tcp-wrappers': 'TCP wrappers and host rules',
  'vpn-proxy': 'VPN, proxy and path MTU',
  auth: 'Keys and authentication delays',
  load: 'Server load and resources',
  bans: 'Fail2Ban, DenyHosts, sshd penalties',
};

export type StepStatus = 'pass' | 'warn' | 'fail' | 'skip';
export type Confidence = 'high' | 'medium' | 'low';

export const CAUSES = [
  'healthy',
  'dns-nxdomain',
  'dns-servfail',
  'dns-timeout',
  'dns-mismatch',
  'host-unreachable',
  'no-response',
  'port-filtered',
  'port-rejected',
  'port-closed',
  'banner-timeout',
  'connection-closed',
  'not-ssh',
  'kex-stall',
  'kex-failed',
  'auth-slow',
  'server-overloaded',
  'banned',
  'server-dropped',
  'protocol-violation',
  'host-key-forged',
  'host-key-changed',
  'post-auth',
  // Not a verdict: the run ended (signal, budget, abort, engine error) before its evidence settled.
  'undecided',
  'auth-denied',
  'proxy-failed',
] as const;
export type Cause = (typeof CAUSES)[number];
/** Causes a step can name: every cause except "no problem" and "no verdict". */
export type ProblemCause = Exclude<Cause, 'healthy' | 'undecided'>;

/** Whether the run reached a verdict (`diagnosed`) or ended before its evidence settled. */
export type Outcome = 'diagnosed' | 'undecided';

/**
 * Why a run ended before its diagnosis settled: a signal (SIGINT/SIGTERM), the run's
 * budget spent, its caller aborting it for another reason, the engine itself failing, or
 * (fleet) a verdict withheld because it rested on timing measured while the bastion itself
 * was saturated, on the first look and on a second one.
 */
export type StopReason = 'signal' | 'budget' | 'abort' | 'engine-error' | 'withheld';

/** A step still undecided when the run stopped, and what it was waiting for. */
export interface PendingStep {
  step: StepId;
  waitingFor: string;
}

/** Which probe produced a piece of evidence. */
export type ProbeId =
  | 'resolver'
  | 'dns'
  | 'icmp'
  | 'tcp'
  | 'ssh-handshake'
  | 'openssh-verbose'
  | 'path'
  | 'mtu'
  | 'ssh-config'
  | 'inside'
  | 'engine';

export interface Evidence {
  probe: ProbeId;
  detail: string;
  /** Raw lines a person may want verbatim (the ssh -vvv phase list): render preformatted. */
  lines?: string[];
}

/** A check the bastion cannot make from outside: the command to run by hand, and where. */
export interface ManualCheck {
  command: string;
  where: 'target' | 'requester';
  why: string;
}

export interface StepReport {
  id: StepId;
  n: number;
  title: string;
  status: StepStatus;
  summary: string;
  evidence: Evidence[];
  /** Time from the start of the run until this step settled. */
  durationMs: number;
  manual: ManualCheck[];
}

export interface Alternative {
  cause: ProblemCause;
  step: StepId;
  confidence: Confidence;
}

export interface Diagnosis {
  cause: Cause;
  step: StepId | null;
  confidence: Confidence;
  summary: string;
  next: string[];
  alternatives: Alternative[];
  /** Only when cause is "undecided": why the run stopped. */
  stoppedBy?: StopReason;
  /** Only when cause is "undecided": the signal name (SIGINT, SIGTERM) or the engine's error, when known. */
  stopDetail?: string;
  /** Only when cause is "undecided": the steps that had not settled, in checklist order. */
  pending?: PendingStep[];
}

export interface TargetReport {
  input: string;
  host: string;
  port: number;
  user: string;
  addresses: string[];
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  id: string;
  target: TargetReport;
  vantage: { name: string };
  startedAt: string;
  durationMs: number;
  /** Time from the start of the run until the diagnosis was settled. */
  diagnosedMs: number;
  steps: StepReport[];
  diagnosis: Diagnosis;
  /** The numbers behind the evidence, for scripts (measurements.ts, docs/report.md). */
  measurements?: Measurements;
  /**
   * Added to report@1, set on every report the engine makes: "undecided" exactly when
   * diagnosis.cause is "undecided". (Optional in the type only for reports made elsewhere.)
   */
  outcome?: Outcome;
  /**
   * Set when this report is an earlier run's result, given again instead of connecting to the
   * target: the connection budget for the target from this bastion was spent (ledger.ts).
   */
  reused?: ReusedResult;
  /**
   * The host key the SSH port presented, when the key exchange got that far: its type and
   * fingerprint as ssh prints them (`SHA256:` + unpadded base64), for history to compare.
   * `verified` is false when its signature over the exchange did not verify.
   */
  hostKey?: HostKeyReport;
}

export interface ReusedResult {
  /** How old the result is (from the end of the run that produced it). */
  ageMs: number;
  /** Why nothing was probed this time, in words. */
  reason: string;
  /** When a check may connect again (ISO 8601). */
  nextCheckAt?: string;
}

export interface HostKeyReport {
  type: string;
  sha256: string;
  /** The CA that signed a host certificate. */
  caSha256?: string;
  verified: boolean;
}

export interface StepRunning {
  id: StepId;
  n: number;
  title: string;
  status: 'running';
  /** What the step is waiting for, when known. */
  summary?: string;
}

export type ProgressEvent =
  | { type: 'run-started'; id: string; target: TargetReport; vantage: { name: string }; startedAt: string; elapsedMs: number }
  | { type: 'step-updated'; step: StepReport | StepRunning; elapsedMs: number }
  | { type: 'diagnosis'; diagnosis: Diagnosis; elapsedMs: number }
  | { type: 'run-finished'; report: Report; elapsedMs: number };

/** How a stored or audited run reads: a verdict either way, or none. */
export function verdictOf(cause: Cause): 'healthy' | 'problem' | 'undecided' {
  return cause === 'healthy' ? 'healthy' : cause === 'undecided' ? 'undecided' : 'problem';
}

export function stepNumber(id: StepId): number {
  return STEP_IDS.indexOf(id) + 1;
}
