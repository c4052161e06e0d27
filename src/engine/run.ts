// One run of the probe engine for one target: start the probes at once (what starts when is
// the scheduler's, scheduler.ts), re-judge the checklist whenever an observation changes (and
// on a short tick, since waiting is itself evidence), emit progress events, settle the
// diagnosis as early as the evidence allows, then give slow extras a bounded grace and stop
// everything.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import type { Observations } from './observations.js';
import type { Diagnosis, ProgressEvent, Report, StepId, StepReport, StepRunning, TargetReport } from './report.js';
import { hostKeyReport } from './checklist/host-key.js';
import { readKnownHosts } from './probes/known-hosts-file.js';
import { REPORT_SCHEMA, STEP_IDS, STEP_TITLES, stepNumber } from './report.js';
import { makeStep } from './checklist/steps/make.js';
import type { Target } from '../target.js';
import { startClock } from './probes/context.js';
import type { AssessInput, StepAssessment } from './checklist/assessment.js';
import { assessAll, stoppedSteps } from './checklist/assess.js';
import type { RunStop } from './checklist/diagnose.js';
import { diagnose, undecided } from './checklist/diagnose.js';
import type { Thresholds } from './checklist/thresholds.js';
import { DEFAULT_THRESHOLDS } from './checklist/thresholds.js';
import { resolvConfNameservers } from './probes/dns.js';
import type { RunConfig as EngineConfig } from './run-config.js';
import { PROBE_CONNECTIONS, RunConnections, perRunLimit } from './connection-budget.js';
import type { BudgetRules, ConnectionLedger, Reservation } from './ledger.js';
import { DEFAULT_BUDGET_RULES, reusedReport } from './ledger.js';
import { SshcheckError } from '../errors.js';
import type { RunHistory } from './checklist/assessment.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { checkTyped, PolicyError } from '../policy/target-policy.js';
import { measurements } from './measurements.js';
import type { Probes } from './scheduler.js';
import { errorText, ProbeScheduler, PROBES } from './scheduler.js';

export interface RunOptions {
  /** Where the probes run, as reports name it (default: this machine's host name). */
  vantage?: string;
  /** Hard limit for the whole run. */
  budgetMs?: number;
  /** How long slow probes (path, ping, ssh -vvv) may go on after the diagnosis is settled. */
  extrasMs?: number;
  signal?: AbortSignal;
  onEvent?: (event: ProgressEvent) => void;
  thresholds?: Partial<Thresholds>;
  resolvConfPath?: string;
  dnsPort?: number;
  /** A port probed next to the SSH port, to tell "a rule on port 22" from "drops everything". */
  controlPort?: number;
  /** At most this many resolved addresses are probed. */
  maxAddresses?: number;
  /** The bastion's engine config: diagnostics logins for the inside view. */
  config?: EngineConfig;
  /** The requester's address, checked against bans and host rules from the inside. */
  from?: string;
  /**
   * A login name the operator gave (-l, user@host): the handshake's `none` request may send
   * it. Without it only a name known to exist is sent (config.probeUserFor), or none at all.
   */
  probeUser?: string;
  /**
   * Which targets may be probed. When given, nothing touches the target until every address
   * the probes could use (getaddrinfo's and DNS's answers) is allowed; a refusal ends the run
   * with a PolicyError (E_POLICY) and nothing probed. ssh -vvv then connects to the checked
   * address, so nothing resolves the name again (DNS rebinding cannot get around it).
   */
  policy?: TargetPolicy;
  /**
   * The connection budget across runs (ledger.ts), shared by every process on this bastion
   * through the store. Absent: only the per-run limit holds. When the budget is spent the run
   * connects to nothing and returns the newest kept result with `reused` set, or throws
   * E_BUDGET when none is kept.
   */
  ledger?: ConnectionLedger;
  /** The budget's size and window (default DEFAULT_BUDGET_RULES). */
  connectionBudget?: BudgetRules;
  /** What the store knows about earlier runs of this target from this vantage (step 10 uses it). */
  history?: RunHistory;
  /**
   * Where the run reports what went wrong inside it (a probe that threw, the engine failing
   * while judging). Default: one line on stderr. Never the report's stdout.
   */
  log?: (message: string, err?: unknown) => void;
  /** Replaces some of the probes (tests). */
  probes?: Partial<Probes>;
  /**
   * A light run, for fleet checks: the child processes (ssh -G, ssh -vvv, ping, the path trace)
   * and the control-port connect start only when the in-process handshake shows trouble (it
   * ended without reaching authentication, or made no progress for LIGHT_GRACE_MS (scheduler.ts), or no
   * address is known by then). A host whose handshake reaches authentication
   * at once is healthy on the in-process evidence alone; its ssh -vvv step says it was skipped.
   */
  light?: boolean;
}

export const DEFAULT_BUDGET_MS = 15_000;
export const DEFAULT_EXTRAS_MS = 3_000;
/** Re-judging on a tick turns "still no answer" into evidence at the right moment. */
const TICK_MS = 20;
/** Probes must be done a little before the budget so the final report fits in it. */
const DEADLINE_MARGIN_MS = 150;
/**
 * Light runs re-judge on a 100 ms tick (and on every observation, as all runs do): a fleet
 * check runs dozens of checks at once, and the 20 ms tick of each, re-judging all ten steps,
 * alone kept a bastion core busy; the CPU it took made the runs slower, which made them tick
 * longer. Only verdicts that wait on silence (port-filtered, kex-stall) settle up to 100 ms later.
 */
const LIGHT_TICK_MS = 100;

/**
 * The most connections a run opens to the SSH port of one address without a diagnostics
 * login: the in-process handshake and ssh -vvv (to the first address only). Servers with
 * fail2ban or OpenSSH penalties punish clients that connect and leave, so this stays small
 * and fixed; RunConnections (connection-budget.ts) enforces it, and one more for a login.
 */
export const SSH_CONNECTIONS_PER_RUN = PROBE_CONNECTIONS;

const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';

/**
 * resolv.conf's nameservers, read at most once a second per path: a fleet check starts hundreds
 * of runs a second and each read cost the event loop an open, a stat, a read and a close
 * (about a millisecond per run there); an edit of the file is still seen within a second.
 */
const RESOLVERS_FRESH_MS = 1000;
const resolversRead = new Map<string, { atMs: number; nameservers: string[] }>();

function readResolvers(path: string): string[] {
  const now = performance.now();
  const cached = resolversRead.get(path);
  if (cached && now - cached.atMs < RESOLVERS_FRESH_MS) return cached.nameservers;
  const nameservers = resolvConfNameservers(path);
  if (resolversRead.size > 16) resolversRead.clear();
  resolversRead.set(path, { atMs: now, nameservers });
  return nameservers;
}

/**
 * Why the caller aborted the run: a signal's name given as the abort reason (the CLI passes
 * "SIGINT"/"SIGTERM") reads as a signal, anything else as a cancellation.
 */
export function stopFromSignal(signal: AbortSignal | undefined): RunStop {
  const reason: unknown = signal?.reason;
  if (typeof reason === 'string' && /^SIG[A-Z0-9]+$/.test(reason)) return { by: 'signal', detail: reason };
  if (typeof reason === 'string' && reason.length > 0) return { by: 'abort', detail: reason.slice(0, 200) };
  if (reason instanceof Error && reason.name !== 'AbortError') return { by: 'abort', detail: reason.message.slice(0, 200) };
  return { by: 'abort' };
}

function publicStep(a: StepAssessment, durationMs: number): StepReport | StepRunning {
  const base = { id: a.id, n: stepNumber(a.id), title: STEP_TITLES[a.id] };
  if (a.status === 'running') return { ...base, status: 'running', summary: a.summary };
  return { ...base, status: a.status, summary: a.summary, evidence: a.evidence, durationMs: Math.round(durationMs), manual: a.manual };
}

/** What makes a step worth re-sending: its status, words and evidence, not its timings. */
function stepSignature(a: StepAssessment): string {
  if (a.status === 'running') return `running:${a.summary.replace(/[0-9.]+ ?(ms|s)\b/g, '')}`;
  return JSON.stringify([a.status, a.summary, a.evidence]);
}

/** Sends a step's update only when it changed (stepSignature), and remembers when each settled. */
class StepPublisher {
  private readonly settledAt = new Map<StepId, number>();
  private readonly sent = new Map<StepId, string>();

  /**
   * `listening` false (no onEvent: a fleet check's hosts): only when each step settled is kept.
   * Building and comparing every step's public form on every look was a tenth of a fleet
   * check's CPU, for events nobody receives.
   */
  constructor(
    private readonly emit: (event: ProgressEvent) => void,
    private readonly listening: boolean,
  ) {}

  publish(steps: StepAssessment[], now: number): void {
    for (const step of steps) {
      if (step.settled && !this.settledAt.has(step.id)) this.settledAt.set(step.id, now);
      if (!this.listening) continue;
      const signature = stepSignature(step);
      if (this.sent.get(step.id) === signature) continue;
      this.sent.set(step.id, signature);
      this.emit({ type: 'step-updated', step: this.shown(step, now), elapsedMs: now });
    }
  }

  /** The step as events and the report show it: its duration runs until it settled (else `now`). */
  shown(step: StepAssessment, now: number): StepReport | StepRunning {
    return publicStep(step, this.settledAt.get(step.id) ?? now);
  }
}

/** What every look at the evidence shares: the target, the observations, the thresholds, from and history. */
type Judging = Omit<AssessInput, 'now' | 'final'>;
type Outcome = { steps: StepAssessment[]; final: Diagnosis };
type ProblemLog = (message: string, err?: unknown) => void;

/** The diagnosis settled in time: every step decides with what it has. */
function settledOutcome(judging: Judging, vantage: string, end: number, lastSteps: StepAssessment[] | undefined, logProblem: ProblemLog): Outcome {
  try {
    const steps = assessAll({ ...judging, now: end, final: true });
    return { steps, final: diagnose(steps, judging.target, vantage, true).diagnosis };
  } catch (err) {
    logProblem(`the engine failed while judging: ${errorText(err)}`, err);
    return stoppedOutcome(judging, { by: 'engine-error', detail: errorText(err) }, end, lastSteps, logProblem);
  }
}

/**
 * The run stopped before the diagnosis settled. The steps are judged as they stood, without
 * the final pass (which would force verdicts from silences that did not last long enough);
 * what was still running is listed as pending and skipped.
 */
function stoppedOutcome(judging: Judging, why: RunStop, end: number, lastSteps: StepAssessment[] | undefined, logProblem: ProblemLog): Outcome {
  const { target, obs, thresholds } = judging;
  let steps: StepAssessment[];
  try {
    steps = assessAll({ ...judging, now: end, final: false });
  } catch (err) {
    if (why.by !== 'engine-error') {
      logProblem(`the engine failed while judging: ${errorText(err)}`, err);
      why = { by: 'engine-error', detail: errorText(err) };
    }
    steps = lastSteps ?? STEP_IDS.map((id) => makeStep({ target, obs, now: end, final: false, thresholds }, id, { settled: false, status: 'running', summary: 'not judged' }));
  }
  const final = undecided(steps, target, why, end);
  return { steps: stoppedSteps(steps, 'the run stopped before this step settled'), final };
}

/** Where a run's own problems go: the caller's log, else one line on stderr; never fatal. */
function problemLog(log: RunOptions['log']): ProblemLog {
  return (message, err) => {
    try {
      if (log) log(message, err);
      else process.stderr.write(`sshcheck: ${message}\n`);
    } catch {
      // Logging must not end the run.
    }
  };
}

export async function run(target: Target, options: RunOptions = {}): Promise<Report> {
  // Under a target policy a refused literal address or name ends the run before it starts.
  const typedDenial = options.policy ? checkTyped(options.policy, target) : undefined;
  if (typedDenial) throw new PolicyError(typedDenial);
  const clock = startClock();
  const startedAt = new Date();
  const id = randomUUID();
  const vantage = options.vantage ?? hostname();
  const th: Thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const extrasMs = options.extrasMs ?? DEFAULT_EXTRAS_MS;
  const deadlineMs = budgetMs - DEADLINE_MARGIN_MS;
  const controller = new AbortController();
  // Every probe (and every child of the MTU sweep) listens on this one signal.
  setMaxListeners(256, controller.signal);
  const onOuterAbort = (): void => controller.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) controller.abort();

  const emit = (event: ProgressEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // A failing renderer must not stop the probes; it sees the final report anyway.
    }
  };

  // The budget across runs first: a spent budget means nothing touches the target. It counts
  // the connections that leave without logging in (what fail2ban and PerSourcePenalties
  // count); a diagnostics login authenticates, so it comes on top, once per run.
  const withLogin = (options.config?.diagnostics.length ?? 0) > 0;
  const want = PROBE_CONNECTIONS;
  const reservation = options.ledger ? await reserve(options.ledger, target, vantage, options, want) : undefined;
  if (reservation && reservation.granted === 0) {
    options.signal?.removeEventListener('abort', onOuterAbort);
    return replayReused(reservation, target, vantage, options, emit);
  }
  const obs: Observations = { ptr: [], handshakes: [] };
  // Every connection to sshd is taken from here first (connection-budget.ts).
  const connections = new RunConnections(Math.min(want, reservation?.granted ?? want) + (withLogin ? perRunLimit(true) - PROBE_CONNECTIONS : 0));
  const settle = async (report: Report | undefined): Promise<void> => {
    // A login that got in left authenticated; every other connection is charged (a failed login too).
    const loggedIn = obs.inside?.state === 'done' && obs.inside.login === 'ok' ? obs.inside.address : undefined;
    const unauthenticated = Object.entries(connections.spent()).map(([address, list]) => list.length - (address === loggedIn && list.includes('login') ? 1 : 0));
    await reservation?.settle(Math.max(0, ...unauthenticated), report);
  };
  if (options.config?.knownHosts) obs.knownHosts = await readKnownHosts(options.config.knownHosts);
  if (!options.config || options.config.diagnostics.length === 0) obs.inside = { state: 'none', reason: 'no diagnostics login is configured (see the engine config)' };
  // What the steps get besides the observations and the clock: the requester's address and the history.
  const judging: Judging = { target, obs, thresholds: th, ...(options.from !== undefined ? { from: options.from } : {}), ...(options.history ? { history: options.history } : {}) };
  const publisher = new StepPublisher(emit, options.onEvent !== undefined);
  const logProblem = problemLog(options.log);
  let emittedDiagnosis: Diagnosis | undefined;
  let diagnosedMs: number | undefined;
  let wake: (() => void) | undefined;

  const targetReport = (): TargetReport => ({
    input: target.input,
    host: target.host,
    port: target.port,
    user: target.user,
    addresses: obs.handshakes.map((h) => h.address),
  });
  // Reverse lookups go to the same resolvers the name lookups use.
  const configuredResolvers = readResolvers(options.resolvConfPath ?? DEFAULT_RESOLV_CONF);

  emit({ type: 'run-started', id, target: targetReport(), vantage: { name: vantage }, startedAt: startedAt.toISOString(), elapsedMs: 0 });
  for (const stepId of STEP_IDS) emit({ type: 'step-updated', step: { id: stepId, n: stepNumber(stepId), title: STEP_TITLES[stepId], status: 'running' }, elapsedMs: 0 });

  const scheduler = new ProbeScheduler({
    target,
    obs,
    probes: { ...PROBES, ...options.probes },
    clock,
    signal: controller.signal,
    budgetMs,
    deadlineMs,
    thresholds: th,
    connections,
    configuredResolvers,
    options,
    changed: () => wake?.(),
    log: logProblem,
  });
  scheduler.start();
  // The in-process probes' first packets (the DNS queries, the SYN) leave once their sockets'
  // connects complete, a few process.nextTick turns after start(); the first look at the
  // evidence, cold in a fresh process, took 1 to 3 ms and held them back. Nothing can be
  // settled before they leave, so the first look waits for them.
  await new Promise<void>((resolve) => setImmediate(resolve));

  // --- judge until settled, then until the extras are done or out of time -------------------
  // Set when the loop ends before the diagnosis settled: the report is then "undecided".
  let stop: RunStop | undefined;
  let lastSteps: StepAssessment[] | undefined;
  /** One look at everything observed so far: start what the evidence calls for, publish, settle. */
  const judge = (now: number): void => {
    scheduler.step();
    const assessed = assessAll({ ...judging, now, final: false });
    lastSteps = assessed;
    publisher.publish(assessed, now);
    if (emittedDiagnosis === undefined) {
      const state = diagnose(assessed, target, vantage, false);
      if (state.settled) {
        emittedDiagnosis = state.diagnosis;
        diagnosedMs = now;
        emit({ type: 'diagnosis', diagnosis: state.diagnosis, elapsedMs: now });
      }
    }
  };

  for (;;) {
    if (scheduler.policyError) break;
    const now = clock();
    if (scheduler.handshakeFailure !== undefined && emittedDiagnosis === undefined) {
      stop = { by: 'engine-error', detail: scheduler.handshakeFailure };
      break;
    }
    try {
      judge(now);
    } catch (err) {
      // A bug in judging must not cost the person their report: it ends the run undecided.
      stop = { by: 'engine-error', detail: errorText(err) };
      logProblem(`the engine failed while judging: ${errorText(err)}`, err);
      break;
    }
    const extrasOver = diagnosedMs !== undefined && (scheduler.idle() || now >= diagnosedMs + extrasMs);
    if (extrasOver) break;
    if (controller.signal.aborted) {
      if (emittedDiagnosis === undefined) stop = stopFromSignal(options.signal);
      break;
    }
    if (now >= deadlineMs) {
      if (emittedDiagnosis === undefined) stop = { by: 'budget', budgetMs };
      break;
    }
    await new Promise<void>((resolve) => {
      // The tick resolves through setImmediate, i.e. after the event loop's I/O phase: on a
      // busy bastion a late tick would otherwise judge "nothing answered for 3.6 s" before
      // reading the ICMP host-unreachable the kernel already holds for the socket. Silence is
      // judged only after everything that did arrive has been read.
      const timer = setTimeout(() => setImmediate(resolve), options.light === true ? LIGHT_TICK_MS : TICK_MS);
      wake = () => {
        clearTimeout(timer);
        setImmediate(resolve);
      };
    });
    wake = undefined;
  }

  scheduler.close();
  controller.abort();
  await scheduler.settled();
  options.signal?.removeEventListener('abort', onOuterAbort);
  // Only resolvers were asked: the target itself was never touched.
  if (scheduler.policyError) {
    await settle(undefined);
    throw scheduler.policyError;
  }

  const end = clock();
  const outcome = stop ? stoppedOutcome(judging, stop, end, lastSteps, logProblem) : settledOutcome(judging, vantage, end, lastSteps, logProblem);
  const final = outcome.final;
  publisher.publish(outcome.steps, end);
  if (emittedDiagnosis === undefined || emittedDiagnosis.cause !== final.cause) {
    diagnosedMs ??= end;
    emit({ type: 'diagnosis', diagnosis: final, elapsedMs: end });
  }
  const report: Report = {
    schema: REPORT_SCHEMA,
    id,
    target: targetReport(),
    vantage: { name: vantage },
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(end),
    diagnosedMs: Math.round(diagnosedMs ?? end),
    steps: outcome.steps.map((s) => publisher.shown(s, end) as StepReport),
    diagnosis: final,
    measurements: measurements(obs),
    outcome: final.cause === 'undecided' ? 'undecided' : 'diagnosed',
    ...hostKeyReport(obs),
  };
  await settle(report);
  emit({ type: 'run-finished', report, elapsedMs: end });
  return report;
}

/** This run's reservation; a ledger that fails leaves only the per-run limit (the check goes on). */
async function reserve(ledger: ConnectionLedger, target: Target, vantage: string, options: RunOptions, want: number): Promise<Reservation | undefined> {
  const key = { vantage, host: target.host, port: target.port, ...(options.from !== undefined ? { from: options.from } : {}) };
  try {
    return await ledger.reserve(key, want, options.connectionBudget ?? DEFAULT_BUDGET_RULES, Date.now());
  } catch {
    return undefined;
  }
}

/** A spent budget: the newest kept result, replayed as events, with why and how old it is. */
function replayReused(reservation: Reservation, target: Target, vantage: string, options: RunOptions, emit: (event: ProgressEvent) => void): Report {
  const rules = options.connectionBudget ?? DEFAULT_BUDGET_RULES;
  const key = { vantage, host: target.host, port: target.port };
  if (!reservation.reuse) {
    const next = reservation.nextCheckAtMs !== undefined ? `; the next check that connects can run in ${Math.ceil((reservation.nextCheckAtMs - Date.now()) / 1000)} s` : '';
    throw new SshcheckError('E_BUDGET', `not checked: the connection budget for ${target.host} from ${vantage} is spent and no earlier result is kept to give instead${next}`);
  }
  const report = reusedReport(reservation.reuse.report, reservation.reuse.endedAtMs, key, rules, reservation.nextCheckAtMs, Date.now());
  emit({ type: 'run-started', id: report.id, target: report.target, vantage: report.vantage, startedAt: report.startedAt, elapsedMs: 0 });
  for (const step of report.steps) emit({ type: 'step-updated', step, elapsedMs: step.durationMs });
  emit({ type: 'diagnosis', diagnosis: report.diagnosis, elapsedMs: report.diagnosedMs });
  emit({ type: 'run-finished', report, elapsedMs: report.durationMs });
  return report;
}
