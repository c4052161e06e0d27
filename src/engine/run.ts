// One run of the probe engine for one target: start the probes at once, re-judge the
// checklist whenever an observation changes (and on a short tick, since waiting is itself
// evidence), emit progress events, settle the diagnosis as early as the evidence allows,
// then give slow extras a bounded grace and stop everything.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Observations } from './observations.js';
import type { Diagnosis, ProgressEvent, Report, StepId, StepReport, StepRunning, TargetReport } from './report.js';
import { hostKeyReport } from './checklist/host-key.js';
import { readKnownHosts } from './probes/known-hosts-file.js';
import { REPORT_SCHEMA, STEP_IDS, STEP_TITLES, stepNumber } from './report.js';
import { makeStep } from './checklist/steps/make.js';
import type { Target } from '../target.js';
import type { ProbeContext } from './probes/context.js';
import { startClock } from './probes/context.js';
import type { StepAssessment } from './checklist/assessment.js';
import { assessAll, stoppedSteps } from './checklist/assess.js';
import type { RunStop } from './checklist/diagnose.js';
import { diagnose, undecided } from './checklist/diagnose.js';
import { aliveServers } from './checklist/steps/dns.js';
import type { Thresholds } from './checklist/thresholds.js';
import { DEFAULT_THRESHOLDS } from './checklist/thresholds.js';
import { probeDns, probePtr } from './probes/dns.js';
import { probeSystemResolve } from './probes/system-resolve.js';
import { probeHandshake } from './probes/ssh-handshake.js';
import { probeVerbose } from './probes/openssh-verbose.js';
import { probeSshConfig } from './probes/ssh-config.js';
import { probePing } from './probes/ping.js';
import { probeMtu } from './probes/mtu.js';
import { probePath } from './probes/path.js';
import { probeTcp } from './probes/tcp.js';
import { parseResolvConf } from './probes/resolv-conf.js';
import { probeInside } from './probes/inside.js';
import type { RunConfig as EngineConfig } from './run-config.js';
import { loginFor, probeUserFor } from './run-config.js';
import { PROBE_CONNECTIONS, RunConnections, perRunLimit } from './connection-budget.js';
import type { BudgetRules, ConnectionLedger, Reservation } from './ledger.js';
import { DEFAULT_BUDGET_RULES, reusedReport } from './ledger.js';
import { SshcheckError } from '../errors.js';
import type { RunHistory } from './checklist/assessment.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { checkAddresses, checkTyped, PolicyError } from '../policy/target-policy.js';
import { measurements } from './measurements.js';

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
   * ended without reaching authentication, or made no progress for LIGHT_GRACE_MS, or no
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
const PATH_DELAY_MS = 100;
/** The first child process starts this long into the run: the SYN and the DNS query go first. */
const CHILDREN_AFTER_MS = 5;
/** While children are held back (see childrenHeldFor), how often to look again. */
const CHILDREN_RECHECK_MS = 5;
/** Which child process starts first when several wait: what verdicts wait on comes first. */
const CHILD_RANK = { resolve: 0, mtu: 1, verbose: 2, ping: 3, inside: 4, sshConfig: 5, path: 6 } as const;
type ChildRank = keyof typeof CHILD_RANK;
const INSIDE_WAIT_MS = 1000;
const MTU_SIZES = [1500, 1400, 1300, 1200, 1000, 800, 576];
/** How long each don't-fragment echo may take to come back, and what starting the sweep costs. */
const MTU_WAIT_S = 1;
const MTU_SWEEP_SLACK_MS = 300;
/**
 * Light runs: how long the in-process handshake may take to reach authentication before the
 * other probes start anyway. A LAN handshake takes tens of ms; 500 ms also covers a busy
 * bastion (a fleet check runs many at once), and every verdict that waits on ping or the
 * control port (port-filtered at 1.2 s, no-response at 3.6 s) still has their answers in time.
 */
export const LIGHT_GRACE_MS = 500;
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

/** The probes a run uses; tests replace one to see how the run meets its failure. */
const PROBES = {
  dns: probeDns,
  ptr: probePtr,
  resolve: probeSystemResolve,
  handshake: probeHandshake,
  verbose: probeVerbose,
  sshConfig: probeSshConfig,
  ping: probePing,
  mtu: probeMtu,
  path: probePath,
  tcp: probeTcp,
  inside: probeInside,
};
export type Probes = typeof PROBES;

async function readResolvers(path: string): Promise<string[]> {
  try {
    return parseResolvConf(await readFile(path, 'utf8')).nameservers;
  } catch {
    return [];
  }
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

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').slice(0, 300);
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
  const probes: Probes = { ...PROBES, ...options.probes };
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
  // What the steps get besides the observations: the requester's address and the history.
  const fromOption = { ...(options.from !== undefined ? { from: options.from } : {}), ...(options.history ? { history: options.history } : {}) };
  const pending = new Set<Promise<unknown>>();
  const settledAt = new Map<StepId, number>();
  const sent = new Map<StepId, string>();
  let emittedDiagnosis: Diagnosis | undefined;
  let diagnosedMs: number | undefined;
  let wake: (() => void) | undefined;

  const ctx = (): ProbeContext => ({ now: clock, signal: controller.signal, deadlineMs: budgetMs - DEADLINE_MARGIN_MS });
  const changed = (): void => wake?.();
  // A probe that throws is a bug or an unforeseen system error: it is logged, and its
  // observation is completed with the reason (`fail`), so its step names the error instead
  // of waiting for an answer that will never come.
  const track = (name: string, start: () => Promise<unknown>, fail: (why: string) => void): void => {
    let p: Promise<unknown>;
    try {
      p = start();
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const tracked = p
      .catch((err: unknown) => {
        const why = `the ${name} probe failed: ${errorText(err)}`;
        logProblem(why, err);
        try {
          fail(why);
        } catch (again) {
          logProblem(`recording that ${name} failed failed too: ${errorText(again)}`, again);
        }
      })
      .finally(() => {
        pending.delete(tracked);
        changed();
      });
    pending.add(tracked);
  };
  // Child processes (getent, ssh -vvv, ping, ssh -G, the path trace, the MTU sweep, the
  // login) cost the event loop tens of ms each to spawn (posix_spawn of a large parent, more
  // on a busy bastion). Spawned in the same turn as the in-process probes, they came before
  // the SYN and the DNS query went out, and a reset that arrived in 0.1 ms was read only
  // after three spawns. They queue here instead, most awaited first, and start one per timer
  // turn once the in-process probes are on the wire, so that whatever arrives between two
  // spawns is read and judged in between. The queue counts as pending work.
  const children: Array<{ rank: number; start: () => void; skip: () => void }> = [];
  let childTimer: NodeJS.Timeout | undefined;
  let childrenClosed = false;
  // For a name, no child starts while the resolvers have not answered and have not yet been
  // silent for dnsDeadAfterMs: "no resolver answers" is judged over that window, and spawns
  // holding the event loop inside it (or starving a slow resolver on the same machine) turned
  // a resolver that answered late into dns-timeout on a busy bastion.
  let dnsStartedAt: number | undefined;
  const childrenHeldFor = (): number => {
    if (dnsStartedAt === undefined || obs.dns?.state === 'done' || aliveServers(obs).size > 0) return 0;
    return Math.max(0, dnsStartedAt + th.dnsDeadAfterMs - clock());
  };
  const startNextChild = (): void => {
    childTimer = undefined;
    const held = childrenHeldFor();
    if (held > 0 && !childrenClosed) {
      childTimer = setTimeout(startNextChild, Math.min(held, CHILDREN_RECHECK_MS));
      return;
    }
    const next = childrenClosed ? undefined : children.shift();
    next?.start();
    if (children.length > 0 && !childrenClosed) childTimer = setTimeout(startNextChild, 0);
  };
  const child = (rank: ChildRank, name: string, start: () => Promise<unknown>, fail: (why: string) => void, skipped: (why: string) => void = fail): void => {
    if (childrenClosed) return;
    const at = children.findIndex((c) => c.rank > CHILD_RANK[rank]);
    children.splice(at < 0 ? children.length : at, 0, { rank: CHILD_RANK[rank], start: () => track(name, start, fail), skip: () => skipped(`not run: the run ended before ${name} started`) });
    childTimer ??= setTimeout(startNextChild, Math.max(0, CHILDREN_AFTER_MS - clock()));
  };
  /** The run is over: what never started says so in its observation, instead of staying unknown. */
  const closeChildren = (): void => {
    childrenClosed = true;
    if (childTimer) clearTimeout(childTimer);
    for (const c of children.splice(0)) {
      try {
        c.skip();
      } catch (err) {
        logProblem(`recording a probe that never started failed: ${errorText(err)}`, err);
      }
    }
  };
  /** Set when the in-process handshake probe threw: nothing can be judged without it. */
  let handshakeFailure: string | undefined;
  const failPtr = (index: number, why: string): void => {
    const ptr = obs.ptr[index];
    if (ptr) obs.ptr[index] = { ...ptr, state: 'done', endedMs: clock(), unavailable: why };
  };

  const targetReport = (): TargetReport => ({
    input: target.input,
    host: target.host,
    port: target.port,
    user: target.user,
    addresses: obs.handshakes.map((h) => h.address),
  });

  // --- probes -----------------------------------------------------------------------------
  // Light runs hold the child processes back until the handshake shows trouble (RunOptions.light).
  let extrasStarted = options.light !== true;
  let extrasSkipped = false;
  const deferred: Array<() => void> = [];
  const extra = (start: () => void): void => {
    if (extrasStarted) start();
    else if (!extrasSkipped) deferred.push(start);
  };
  const maybeStartExtras = (): void => {
    if (extrasStarted || extrasSkipped) return;
    const h = obs.handshakes[0];
    // 'complete': the handshake reached authentication (or, with no user name to send, the
    // ssh-userauth service).
    if (h?.end?.kind === 'complete') {
      extrasSkipped = true;
      deferred.length = 0;
      const why = 'skipped in a fleet check: the in-process handshake reached authentication';
      obs.verbose = { state: 'done', startedMs: clock(), endedMs: clock(), unavailable: why, command: [], lines: [], parsed: { phases: [] } };
      return;
    }
    // Trouble is a handshake that ended short of authentication, or one that made no progress
    // (no connect, no next phase) for LIGHT_GRACE_MS: a slow but advancing handshake on a busy
    // bastion is not, and starting ssh -vvv for it would only make the bastion busier.
    const progressAt = h ? Math.max(h.startedMs, h.tcp.atMs ?? 0, ...Object.values(h.at).filter((t): t is number => t !== undefined)) : 0;
    if (h ? h.end === undefined && clock() - progressAt < LIGHT_GRACE_MS : clock() < LIGHT_GRACE_MS) return;
    extrasStarted = true;
    for (const start of deferred.splice(0)) start();
  };
  const probed = new Set<string>();
  let bastionPtrStarted = false;
  let mtuStarted = false;
  // Reverse lookups go to the same resolvers the name lookups use.
  const configured = await readResolvers(options.resolvConfPath ?? DEFAULT_RESOLV_CONF);
  const resolvers = (): string[] => obs.dns?.resolvers ?? configured;

  const probeAddress = (address: string, primary: boolean): void => {
    if (probed.has(address) || probed.size >= (options.maxAddresses ?? 4)) return;
    if (options.policy && !fence?.has(address)) return;
    if (connections.take(address, 'handshake') !== undefined) return;
    probed.add(address);
    const index = obs.handshakes.length;
    obs.handshakes.push({ state: 'running', startedMs: clock(), address, port: target.port, tcp: {}, at: {}, preBanner: { lines: 0, bytes: 0, sample: [] }, bytesIn: 0, bytesOut: 0 });
    const onHandshake = (snap: (typeof obs.handshakes)[number]): void => {
      obs.handshakes[index] = snap;
      if (!bastionPtrStarted && snap.tcp.localAddress && resolvers().length > 0) {
        bastionPtrStarted = true;
        const ptrIndex = obs.ptr.length;
        const local = snap.tcp.localAddress;
        obs.ptr.push({ state: 'running', startedMs: clock(), address: local, role: 'bastion', queries: [] });
        track('reverse DNS', () => probes.ptr({ address: local, role: 'bastion', resolvers: resolvers(), queryTimeoutMs: th.dnsSlowAfterMs, ...dnsPortOption() }, ctx()).then((o) => (obs.ptr[ptrIndex] = o)), (why) => failPtr(ptrIndex, why));
      }
      changed();
    };
    const user = probeUserFor(options.config, target, [address], options.probeUser);
    track('ssh-handshake', () => probes.handshake({ address, port: target.port, ...(user !== undefined ? { user } : {}) }, ctx(), onHandshake).then(onHandshake), (why) => {
      handshakeFailure ??= why;
      const h = obs.handshakes[index];
      if (h) obs.handshakes[index] = { ...h, state: 'done', endedMs: clock(), unavailable: why };
    });
    if (!primary) return;
    extra(() => {
      const pingStarted = clock();
      child('ping', 'ping', () => probes.ping({ address, count: 3, intervalS: 0.2, waitS: 1 }, ctx(), (s) => ((obs.ping = s), changed())).then((o) => (obs.ping = o)), (why) => {
        obs.ping = { address, transmitted: 0, received: 0, rttsMs: [], errors: [], startedMs: pingStarted, ...obs.ping, state: 'done', endedMs: clock(), unavailable: why };
      });
      const controlPort = options.controlPort ?? (target.port === 1 ? 2 : 1);
      const controlStarted = clock();
      track('control-port', () => probes.tcp({ address, port: controlPort }, ctx()).then((o) => (obs.control = o)), (why) => {
        obs.control = { state: 'done', startedMs: controlStarted, endedMs: clock(), address, port: controlPort, outcome: 'error', errno: why, unavailable: why };
      });
    });
    if (target.kind !== 'name' && resolvers().length > 0) startTargetPtr(address);
  };

  const dnsPortOption = (): { port?: number } => (options.dnsPort !== undefined ? { port: options.dnsPort } : {});
  const startTargetPtr = (address: string): void => {
    const ptrIndex = obs.ptr.length;
    obs.ptr.push({ state: 'running', startedMs: clock(), address, role: 'target', queries: [] });
    track('reverse DNS', () => probes.ptr({ address, role: 'target', resolvers: resolvers(), queryTimeoutMs: th.dnsSlowAfterMs, ...dnsPortOption() }, ctx()).then((o) => (obs.ptr[ptrIndex] = o)), (why) => failPtr(ptrIndex, why));
  };

  const dnsAnswers = (): string[] => (obs.dns?.queries ?? []).filter((q) => q.outcome === 'answer' && (q.type === 'A' || q.type === 'AAAA')).flatMap((q) => q.answers);

  // --- the target policy's fence ------------------------------------------------------------
  // Under a policy, a name's addresses are probed only once getaddrinfo and DNS have both
  // answered and every address either gave is allowed; a refusal stops the run (below).
  let fence: Set<string> | undefined = options.policy && target.kind !== 'name' ? new Set([target.host]) : undefined;
  let policyError: PolicyError | undefined;
  const raiseFence = (): boolean => {
    if (!options.policy || policyError || obs.resolve?.state !== 'done' || obs.dns?.state !== 'done') return false;
    const all = [...obs.resolve.addresses, ...dnsAnswers()];
    const denial = checkAddresses(options.policy, target, all);
    if (denial) {
      policyError = new PolicyError(denial);
      changed();
      return false;
    }
    fence = new Set(all);
    if (verboseWanted) startVerbose();
    return true;
  };

  /** Which addresses to probe: what ssh would use first, then DNS's own if they differ. */
  const considerAddresses = (): void => {
    if (options.policy && !fence && !raiseFence()) return;
    const fromSystem = obs.resolve?.state === 'done' ? obs.resolve.addresses : undefined;
    const fromDns = dnsAnswers();
    if (fromSystem && fromSystem.length > 0) {
      fromSystem.forEach((a, i) => probeAddress(a, i === 0 && obs.handshakes.length === 0));
      for (const a of fromDns) if (!fromSystem.includes(a)) probeAddress(a, false);
    } else if (fromDns.length > 0) {
      // getaddrinfo failed or is stuck on a dead resolver; DNS itself has addresses: probe
      // them so the report can say whether the host works once the name is fixed.
      const waited = clock() - (obs.resolve?.startedMs ?? 0);
      if (fromSystem || waited >= th.dnsDeadAfterMs) fromDns.forEach((a) => probeAddress(a, obs.handshakes.length === 0));
    }
  };

  // The path trace sends SYNs to the same port; started together with the real SYN they
  // use up the target's ICMP error rate limit and hide an immediate reject for a second.
  let pathStarted = false;
  const maybeStartPath = (): void => {
    const h = obs.handshakes[0];
    if (pathStarted || !extrasStarted || !h || (h.tcp.outcome === undefined && clock() - h.startedMs < PATH_DELAY_MS)) return;
    pathStarted = true;
    const pathStartedMs = clock();
    child('path', 'path', () => probes.path({ address: h.address, port: target.port, maxHops: 16, waitS: 1 }, ctx()).then((o) => (obs.path = o)), (why) => {
      obs.path = { state: 'done', startedMs: pathStartedMs, endedMs: clock(), tool: null, address: h.address, port: target.port, hops: [], reached: false, unavailable: why };
    });
  };

  // The inside view: one login, once the outside probes show the way. It waits for the
  // in-process handshake to finish (a server with MaxStartups 1 drops one of two concurrent
  // pre-auth connections); on a login port of its own it waits at most a second for that.
  const maybeStartInside = (): void => {
    const current = obs.inside;
    if (current !== undefined && current.state !== 'planned') return;
    const h = obs.handshakes[0];
    if (!h) return;
    const login = options.config ? loginFor(options.config, target, obs.handshakes.map((x) => x.address)) : undefined;
    if (!login) {
      obs.inside = { state: 'none', reason: options.config ? 'no diagnostics login is configured for this target' : 'no diagnostics login is configured (see the engine config)' };
      return;
    }
    const port = login.port ?? target.port;
    const ownPort = port !== target.port;
    // ssh -vvv is a pre-auth connection to the same sshd too: the login waits a moment for it
    // as well, so that it is not the one MaxStartups drops (a retry would cost a connection).
    const verboseBusy = verboseStarted && obs.verbose?.state !== 'done' && h.end !== undefined && clock() - h.end.atMs < INSIDE_WAIT_MS;
    if ((h.end === undefined && (!ownPort || clock() - h.startedMs < INSIDE_WAIT_MS)) || verboseBusy) {
      obs.inside = { state: 'planned', user: login.user };
      return;
    }
    if (!ownPort && h.end?.kind !== 'complete') {
      obs.inside = { state: 'none', reason: `the bastion cannot get through to port ${port} either, so it cannot log in there` };
      return;
    }
    const refused = connections.take(h.address, 'login');
    if (refused !== undefined) {
      obs.inside = { state: 'none', reason: refused };
      return;
    }
    const insideStarted = clock();
    obs.inside = { state: 'running', startedMs: insideStarted, user: login.user, address: h.address, port };
    child(
      'inside',
      'inside',
      () => probes.inside({ login, address: h.address, port, hostKeyAlias: target.host, mayRetry: () => connections.take(h.address, 'login retry') }, ctx()).then((o) => (obs.inside = o)),
      (why) => {
        obs.inside = { state: 'done', startedMs: insideStarted, endedMs: clock(), user: login.user, address: h.address, port, login: 'failed', loginDetail: why, unavailable: why };
      },
      // A login that never started did not fail: there is simply no inside view.
      (why) => (obs.inside = { state: 'none', reason: why }),
    );
  };

  // The don't-fragment sweep starts when the handshake stops advancing: after the banner, when
  // the key exchange stalls; before it, when TCP connected but no banner came. A banner lost
  // once on a lossy path is resent by the server's kernel merged with the queued KEXINIT into
  // one full-size segment (Linux collapses retransmissions), which an MTU blackhole eats every
  // time: the banner never arrives although sshd sent it, and only the sweep can tell.
  const maybeStartMtuSweep = (): void => {
    const h = obs.handshakes[0];
    if (mtuStarted || !h || h.at.newkeys !== undefined || h.end !== undefined) return;
    if (h.at.banner === undefined) {
      // Only total silence: a peer that sends other bytes reaches us, and its banner problem is its own.
      if (h.tcp.outcome !== 'connected' || h.tcp.atMs === undefined || h.bytesIn > 0 || clock() - h.tcp.atMs < th.mtuSweepNoBannerMs) return;
    } else if (clock() - Math.max(h.at.banner, h.at.kexinit ?? 0, h.at['kex-reply'] ?? 0) < th.mtuSweepAfterMs) {
      return;
    }
    // A sweep that cannot finish before the run's deadline would only hold up its end.
    if (clock() + MTU_WAIT_S * 1000 + MTU_SWEEP_SLACK_MS > budgetMs - DEADLINE_MARGIN_MS) return;
    mtuStarted = true;
    const mtuStartedMs = clock();
    child('mtu', 'mtu', () => probes.mtu({ address: h.address, mtus: MTU_SIZES, waitS: MTU_WAIT_S }, ctx()).then((o) => (obs.mtu = o)), (why) => {
      obs.mtu = { state: 'done', startedMs: mtuStartedMs, endedMs: clock(), address: h.address, probes: [], unavailable: why };
    });
  };

  // --- the end of a run -----------------------------------------------------------------------
  const logProblem = (message: string, err?: unknown): void => {
    try {
      if (options.log) options.log(message, err);
      else process.stderr.write(`sshcheck: ${message}\n`);
    } catch {
      // Logging must not end the run.
    }
  };
  /** The diagnosis settled in time: every step decides with what it has. */
  const settledOutcome = (end: number): { steps: StepAssessment[]; final: Diagnosis } => {
    try {
      const steps = assessAll({ target, obs, now: end, final: true, thresholds: th, ...fromOption });
      return { steps, final: diagnose(steps, target, vantage, true).diagnosis };
    } catch (err) {
      logProblem(`the engine failed while judging: ${errorText(err)}`, err);
      return stoppedOutcome({ by: 'engine-error', detail: errorText(err) }, end);
    }
  };
  /**
   * The run stopped before the diagnosis settled. The steps are judged as they stood, without
   * the final pass (which would force verdicts from silences that did not last long enough);
   * what was still running is listed as pending and skipped.
   */
  const stoppedOutcome = (why: RunStop, end: number): { steps: StepAssessment[]; final: Diagnosis } => {
    let steps: StepAssessment[];
    try {
      steps = assessAll({ target, obs, now: end, final: false, thresholds: th, ...fromOption });
    } catch (err) {
      if (why.by !== 'engine-error') {
        logProblem(`the engine failed while judging: ${errorText(err)}`, err);
        why = { by: 'engine-error', detail: errorText(err) };
      }
      steps = lastSteps ?? STEP_IDS.map((id) => makeStep({ target, obs, now: end, final: false, thresholds: th }, id, { settled: false, status: 'running', summary: 'not judged' }));
    }
    const final = undecided(steps, target, why, end);
    return { steps: stoppedSteps(steps, 'the run stopped before this step settled'), final };
  };

  emit({ type: 'run-started', id, target: targetReport(), vantage: { name: vantage }, startedAt: startedAt.toISOString(), elapsedMs: 0 });
  for (const stepId of STEP_IDS) emit({ type: 'step-updated', step: { id: stepId, n: stepNumber(stepId), title: STEP_TITLES[stepId], status: 'running' }, elapsedMs: 0 });

  const verboseTimeoutS = Math.max(1, Math.min(Math.ceil(th.bannerTimeoutMs / 1000), Math.floor(budgetMs / 1000) - 1));
  // Without a policy ssh -vvv resolves the name itself, as `ssh host` does. Under one it waits
  // for the fence and connects to the checked address ssh would pick, the name being only
  // its HostKeyAlias.
  let verboseWanted = false;
  let verboseStarted = false;
  function startVerbose(): void {
    verboseWanted = true;
    if (verboseStarted) return;
    let host = target.host;
    let alias: string | undefined;
    if (options.policy && target.kind === 'name') {
      if (!fence) return;
      const first = (obs.resolve?.state === 'done' ? obs.resolve.addresses[0] : undefined) ?? dnsAnswers()[0];
      if (first === undefined) {
        verboseStarted = true;
        obs.verbose = { state: 'done', startedMs: clock(), endedMs: clock(), unavailable: 'not run: under the target policy ssh -vvv connects only to a checked address, and the name resolved to none', command: [], lines: [], parsed: { phases: [] } };
        return;
      }
      host = first;
      alias = target.host;
    }
    verboseStarted = true;
    const refused = connections.take(options.policy && target.kind === 'name' ? host : target.kind === 'name' ? undefined : target.host, 'ssh -vvv');
    if (refused !== undefined) {
      obs.verbose = { state: 'done', startedMs: clock(), endedMs: clock(), unavailable: refused, command: [], lines: [], parsed: { phases: [] } };
      return;
    }
    const verboseStartedMs = clock();
    child('verbose', 'ssh -vvv', () => probes.verbose({ host, port: target.port, user: target.user, connectTimeoutS: verboseTimeoutS, ...(alias !== undefined ? { hostKeyAlias: alias } : {}) }, ctx(), (s) => ((obs.verbose = s), changed())).then((o) => (obs.verbose = o)), (why) => {
      obs.verbose = { state: 'done', startedMs: verboseStartedMs, endedMs: clock(), unavailable: why, command: [], lines: [], parsed: { phases: [] } };
    });
  }
  extra(() => {
    const configStarted = clock();
    child('sshConfig', 'ssh -G', () => probes.sshConfig({ host: target.host, port: target.port }, ctx()).then((o) => (obs.sshConfig = o)), (why) => {
      obs.sshConfig = { state: 'done', startedMs: configStarted, endedMs: clock(), unavailable: why };
    });
    startVerbose();
  });
  if (target.kind === 'name') {
    const resolveStarted = clock();
    child('resolve', 'getaddrinfo', () => probes.resolve({ name: target.host }, ctx()).then((o) => ((obs.resolve = o), considerAddresses())), (why) => {
      obs.resolve = { state: 'done', startedMs: resolveStarted, endedMs: clock(), name: target.host, addresses: [], error: { kind: 'failed', detail: why }, unavailable: why };
      considerAddresses();
    });
    const dnsStarted = clock();
    dnsStartedAt = dnsStarted;
    track(
      'DNS',
      () =>
        probes
          .dns({ name: target.host, queryTimeoutMs: th.dnsSlowAfterMs, ...dnsPortOption(), ...(options.resolvConfPath ? { resolvConfPath: options.resolvConfPath } : {}) }, ctx(), (s) => {
            obs.dns = s;
            considerAddresses();
            changed();
          })
          .then((o) => ((obs.dns = o), considerAddresses())),
      (why) => {
        obs.dns = { resolvers: [], search: [], ndots: 1, candidates: [], queries: [], startedMs: dnsStarted, ...obs.dns, state: 'done', endedMs: clock(), configNote: why, unavailable: why };
        considerAddresses();
      },
    );
  } else {
    probeAddress(target.host, true);
  }

  // --- judge until settled, then until the extras are done or out of time -------------------
  const publish = (steps: StepAssessment[], now: number): void => {
    for (const step of steps) {
      if (step.settled && !settledAt.has(step.id)) settledAt.set(step.id, now);
      const signature = stepSignature(step);
      if (sent.get(step.id) === signature) continue;
      sent.set(step.id, signature);
      emit({ type: 'step-updated', step: publicStep(step, settledAt.get(step.id) ?? now), elapsedMs: now });
    }
  };

  // Set when the loop ends before the diagnosis settled: the report is then "undecided".
  let stop: RunStop | undefined;
  let lastSteps: StepAssessment[] | undefined;
  /** One look at everything observed so far: start what the evidence calls for, publish, settle. */
  const judge = (now: number): void => {
    maybeStartExtras();
    maybeStartPath();
    maybeStartMtuSweep();
    maybeStartInside();
    const steps = assessAll({ target, obs, now, final: false, thresholds: th, ...fromOption });
    lastSteps = steps;
    publish(steps, now);
    if (emittedDiagnosis === undefined) {
      const state = diagnose(steps, target, vantage, false);
      if (state.settled) {
        emittedDiagnosis = state.diagnosis;
        diagnosedMs = now;
        emit({ type: 'diagnosis', diagnosis: state.diagnosis, elapsedMs: now });
      }
    }
  };

  for (;;) {
    if (policyError) break;
    const now = clock();
    if (handshakeFailure !== undefined && emittedDiagnosis === undefined) {
      stop = { by: 'engine-error', detail: handshakeFailure };
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
    const extrasOver = diagnosedMs !== undefined && ((pending.size === 0 && children.length === 0) || now >= diagnosedMs + extrasMs);
    if (extrasOver) break;
    if (controller.signal.aborted) {
      if (emittedDiagnosis === undefined) stop = stopFromSignal(options.signal);
      break;
    }
    if (now >= budgetMs - DEADLINE_MARGIN_MS) {
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

  closeChildren();
  controller.abort();
  await Promise.allSettled([...pending]);
  options.signal?.removeEventListener('abort', onOuterAbort);
  // Only resolvers were asked: the target itself was never touched.
  if (policyError) {
    await settle(undefined);
    throw policyError;
  }

  const end = clock();
  const { steps, final } = stop ? stoppedOutcome(stop, end) : settledOutcome(end);
  publish(steps, end);
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
    steps: steps.map((s) => publicStep(s, settledAt.get(s.id) ?? end) as StepReport),
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
