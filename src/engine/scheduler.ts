// The probe scheduler of one run: what starts when, on which observation, with which
// deadline. start() puts the first probes on the wire (the handshake or the name lookups;
// the child processes queue behind them, child-queue.ts); step() is called on every look at
// the evidence and starts what it now calls for (a light run's extras, the path trace, the
// MTU sweep, the inside view); every probe writes its observation into `obs`, and a probe
// that throws writes one too, with the reason. The run (run.ts) judges; this only starts.
import type { Observations, VerboseObs } from './observations.js';
import type { Target } from '../target.js';
import type { ProbeContext } from './probes/context.js';
import type { Thresholds } from './checklist/thresholds.js';
import { probeDns, probePtr } from './probes/dns.js';
import { probeSystemResolve } from './probes/system-resolve.js';
import { probeHandshake } from './probes/ssh-handshake.js';
import { probeVerbose } from './probes/openssh-verbose.js';
import { probeSshConfig } from './probes/ssh-config.js';
import { probePing } from './probes/ping.js';
import { probeMtu } from './probes/mtu.js';
import { probePath } from './probes/path.js';
import { probeTcp } from './probes/tcp.js';
import { probeInside } from './probes/inside.js';
import type { RunConfig as EngineConfig } from './run-config.js';
import { loginFor, probeUserFor } from './run-config.js';
import type { RunConnections } from './connection-budget.js';
import type { ChildRank } from './child-queue.js';
import { ChildQueue } from './child-queue.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { checkAddresses, PolicyError } from '../policy/target-policy.js';
import { errorMessage } from '../errors.js';

const PATH_DELAY_MS = 100;
const INSIDE_WAIT_MS = 1000;
const MTU_SIZES = [1500, 1400, 1300, 1200, 1000, 800, 576];
/** How long each don't-fragment echo may take to come back, and what starting the sweep costs. */
const MTU_WAIT_S = 1;
const MTU_SWEEP_SLACK_MS = 300;
/**
 * With the path's round trip measured by ping at MTU_FAST_PATH_MS or less, each don't-fragment
 * echo gets MTU_FAST_WAIT_S instead of a second: its reply is back in that round trip, and the
 * window runs from ping's own send (a busy bastion that starts ping late does not shorten it;
 * a reply that arrives while ping waits for a CPU is read when it gets one). Six times the
 * slowest such path, and the blackhole's verdict no longer waits out a second of silence.
 */
const MTU_FAST_PATH_MS = 50;
const MTU_FAST_WAIT_S = 0.3;

/** The wait for each don't-fragment echo to `address` (see MTU_FAST_WAIT_S). */
export function mtuWaitS(obs: Observations, address: string): number {
  const rtts = obs.ping && obs.ping.address === address ? obs.ping.rttsMs : [];
  return rtts.length > 0 && Math.max(...rtts) <= MTU_FAST_PATH_MS ? MTU_FAST_WAIT_S : MTU_WAIT_S;
}
/**
 * Light runs: how long the in-process handshake may take to reach authentication before the
 * other probes start anyway. A LAN handshake takes tens of ms; 500 ms also covers a busy
 * bastion (a fleet check runs many at once), and every verdict that waits on ping or the
 * control port (port-filtered at 1.2 s, no-response at 3.6 s) still has their answers in time.
 */
export const LIGHT_GRACE_MS = 500;
const DEFAULT_MAX_ADDRESSES = 4;

/** The probes a run uses; tests replace one to see how the run meets its failure. */
export const PROBES = {
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

/** What of the run's options decides what starts (RunOptions in run.ts says what each means). */
export interface ScheduleOptions {
  light?: boolean;
  policy?: TargetPolicy;
  config?: EngineConfig;
  probeUser?: string;
  controlPort?: number;
  maxAddresses?: number;
  dnsPort?: number;
  resolvConfPath?: string;
}

export interface SchedulerDeps {
  target: Target;
  /** Written by the probes, read by the rules here and by the run's judging. */
  obs: Observations;
  probes: Probes;
  /** The run's clock: ms since it started. */
  clock: () => number;
  /** Every probe (and every child of the MTU sweep) listens on this one signal. */
  signal: AbortSignal;
  budgetMs: number;
  /** Run-relative time by which every probe must be done. */
  deadlineMs: number;
  thresholds: Thresholds;
  /** Every connection to sshd is taken from here first (connection-budget.ts). */
  connections: RunConnections;
  /** resolv.conf's nameservers, for reverse lookups until the DNS probe has read its own. */
  configuredResolvers: string[];
  options: ScheduleOptions;
  /** An observation changed (or a probe ended): the run should look again. */
  changed: () => void;
  log: (message: string, err?: unknown) => void;
}

/** How a probe's error reads in an observation and in the log: one line, bounded. */
export function errorText(err: unknown): string {
  return errorMessage(err).replace(/\s+/g, ' ').slice(0, 300);
}

export class ProbeScheduler {
  /** Set when the policy refused an address the name resolved to: nothing touched the target. */
  policyError: PolicyError | undefined;
  /** Set when the in-process handshake probe threw: nothing can be judged without it. */
  handshakeFailure: string | undefined;

  private readonly target: Target;
  private readonly obs: Observations;
  private readonly probes: Probes;
  private readonly clock: () => number;
  private readonly th: Thresholds;
  private readonly options: ScheduleOptions;
  private readonly connections: RunConnections;
  private readonly changed: () => void;
  private readonly log: (message: string, err?: unknown) => void;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly children: ChildQueue;
  private readonly verboseTimeoutS: number;

  // For a name, no child starts while the DNS probe runs, for at most dnsDeadAfterMs: "no
  // resolver answers" is judged over that window, and spawns holding the event loop inside it
  // (or starving a slow resolver on the same machine) turned a resolver that answered late
  // into dns-timeout on a busy bastion. The probe asks every search-list name at once, so it
  // is done one round trip after a resolver answers; a spawn let in at the first answer (20 to
  // 120 ms of the event loop) held back the next one and the NXDOMAIN or SERVFAIL verdict
  // that the answers alone settle.
  private dnsStartedAt: number | undefined;

  // Light runs hold the child processes back until the handshake shows trouble (RunOptions.light).
  private extrasStarted: boolean;
  private extrasSkipped = false;
  private readonly deferred: Array<() => void> = [];

  private readonly probed = new Set<string>();
  private bastionPtrStarted = false;
  private mtuStarted = false;
  private pathStarted = false;
  private verboseWanted = false;
  private verboseStarted = false;
  private verboseRetried = false;

  // Under a policy, a name's addresses are probed only once getaddrinfo and DNS have both
  // answered and every address either gave is allowed; a refusal stops the run.
  private fence: Set<string> | undefined;

  constructor(private readonly deps: SchedulerDeps) {
    this.target = deps.target;
    this.obs = deps.obs;
    this.probes = deps.probes;
    this.clock = deps.clock;
    this.th = deps.thresholds;
    this.options = deps.options;
    this.connections = deps.connections;
    this.changed = deps.changed;
    this.log = deps.log;
    this.children = new ChildQueue(deps.clock, this.childrenHeldFor, (err) => this.log(`recording a probe that never started failed: ${errorText(err)}`, err));
    this.verboseTimeoutS = Math.max(1, Math.min(Math.ceil(this.th.bannerTimeoutMs / 1000), Math.floor(deps.budgetMs / 1000) - 1));
    this.extrasStarted = this.options.light !== true;
    this.fence = this.options.policy && this.target.kind !== 'name' ? new Set([this.target.host]) : undefined;
  }

  /** The first probes: ssh -G and ssh -vvv (queued), then the name lookups or the handshake. */
  start(): void {
    const { obs, target, clock, th } = this;
    this.extra(() => {
      const configStarted = clock();
      this.child('sshConfig', 'ssh -G', () => this.probes.sshConfig({ host: target.host, port: target.port }, this.ctx()).then((o) => (obs.sshConfig = o)), (why) => {
        obs.sshConfig = { state: 'done', startedMs: configStarted, endedMs: clock(), unavailable: why };
      });
      this.startVerbose();
    });
    if (target.kind === 'name') {
      const resolveStarted = clock();
      this.child('resolve', 'getaddrinfo', () => this.probes.resolve({ name: target.host }, this.ctx()).then((o) => ((obs.resolve = o), this.considerAddresses())), (why) => {
        obs.resolve = { state: 'done', startedMs: resolveStarted, endedMs: clock(), name: target.host, addresses: [], error: { kind: 'failed', detail: why }, unavailable: why };
        this.considerAddresses();
      });
      const dnsStarted = clock();
      this.dnsStartedAt = dnsStarted;
      this.track(
        'DNS',
        () =>
          this.probes
            .dns({ name: target.host, queryTimeoutMs: th.dnsSlowAfterMs, ...this.dnsPortOption(), ...(this.options.resolvConfPath ? { resolvConfPath: this.options.resolvConfPath } : {}) }, this.ctx(), (s) => {
              obs.dns = s;
              this.considerAddresses();
              this.changed();
            })
            .then((o) => ((obs.dns = o), this.considerAddresses())),
        (why) => {
          obs.dns = { resolvers: [], search: [], ndots: 1, candidates: [], queries: [], startedMs: dnsStarted, ...obs.dns, state: 'done', endedMs: clock(), configNote: why, unavailable: why };
          this.considerAddresses();
        },
      );
    } else {
      this.probeAddress(target.host, true);
    }
  }

  /**
   * One look at the evidence: start what it now calls for. Each rule reads the run's clock
   * itself, at the moment it decides.
   */
  step(): void {
    this.maybeRetryVerbose();
    this.maybeStartExtras();
    this.maybeStartPath();
    this.maybeStartMtuSweep();
    this.maybeStartInside();
  }

  /** Nothing is running and nothing waits to start. */
  idle(): boolean {
    return this.pending.size === 0 && this.children.length === 0;
  }

  /** Probes running, and child processes waiting to start. */
  counts(): { running: number; waiting: number } {
    return { running: this.pending.size, waiting: this.children.length };
  }

  /** Nothing new starts; what never started says so in its observation, instead of staying unknown. */
  close(): void {
    this.children.close();
  }

  /** Every probe started has ended (the run aborts them first). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  // --- tracking ---------------------------------------------------------------------------
  private ctx(): ProbeContext {
    return { now: this.clock, signal: this.deps.signal, deadlineMs: this.deps.deadlineMs };
  }

  // A probe that throws is a bug or an unforeseen system error: it is logged, and its
  // observation is completed with the reason (`fail`), so its step names the error instead
  // of waiting for an answer that will never come.
  private track(name: string, start: () => Promise<unknown>, fail: (why: string) => void): void {
    let p: Promise<unknown>;
    try {
      p = start();
    } catch (err) {
      p = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const tracked = p
      .catch((err: unknown) => {
        const why = `the ${name} probe failed: ${errorText(err)}`;
        this.log(why, err);
        try {
          fail(why);
        } catch (again) {
          this.log(`recording that ${name} failed failed too: ${errorText(again)}`, again);
        }
      })
      .finally(() => {
        this.pending.delete(tracked);
        this.changed();
      });
    this.pending.add(tracked);
  }

  /** A child process: queued (child-queue.ts), then tracked; `skipped` if the run ends first. */
  private child(rank: ChildRank, name: string, start: () => Promise<unknown>, fail: (why: string) => void, skipped: (why: string) => void = fail): void {
    this.children.add(
      rank,
      () => this.track(name, start, fail),
      () => skipped(`not run: the run ended before ${name} started`),
    );
  }

  private readonly childrenHeldFor = (): number => {
    if (this.dnsStartedAt === undefined || this.obs.dns?.state === 'done') return 0;
    return Math.max(0, this.dnsStartedAt + this.th.dnsDeadAfterMs - this.clock());
  };

  private failPtr(index: number, why: string): void {
    const ptr = this.obs.ptr[index];
    if (ptr) this.obs.ptr[index] = { ...ptr, state: 'done', endedMs: this.clock(), unavailable: why };
  }

  // --- light runs -------------------------------------------------------------------------
  private extra(start: () => void): void {
    if (this.extrasStarted) start();
    else if (!this.extrasSkipped) this.deferred.push(start);
  }

  private maybeStartExtras(): void {
    const { obs, clock } = this;
    if (this.extrasStarted || this.extrasSkipped) return;
    const h = obs.handshakes[0];
    // 'complete': the handshake reached authentication (or, with no user name to send, the
    // ssh-userauth service).
    if (h?.end?.kind === 'complete') {
      this.extrasSkipped = true;
      this.deferred.length = 0;
      const why = 'skipped in a fleet check: the in-process handshake reached authentication';
      obs.verbose = { state: 'done', startedMs: clock(), endedMs: clock(), unavailable: why, command: [], lines: [], parsed: { phases: [] } };
      return;
    }
    // Trouble is a handshake that ended short of authentication, or one that made no progress
    // (no connect, no next phase) for LIGHT_GRACE_MS: a slow but advancing handshake on a busy
    // bastion is not, and starting ssh -vvv for it would only make the bastion busier.
    const progressAt = h ? Math.max(h.startedMs, h.tcp.atMs ?? 0, ...Object.values(h.at).filter((t): t is number => t !== undefined)) : 0;
    if (h ? h.end === undefined && clock() - progressAt < LIGHT_GRACE_MS : clock() < LIGHT_GRACE_MS) return;
    this.extrasStarted = true;
    for (const start of this.deferred.splice(0)) start();
  }

  // --- addresses --------------------------------------------------------------------------
  // Reverse lookups go to the same resolvers the name lookups use.
  private resolvers(): string[] {
    return this.obs.dns?.resolvers ?? this.deps.configuredResolvers;
  }

  private dnsPortOption(): { port?: number } {
    return this.options.dnsPort !== undefined ? { port: this.options.dnsPort } : {};
  }

  private dnsAnswers(): string[] {
    return (this.obs.dns?.queries ?? []).filter((q) => q.outcome === 'answer' && (q.type === 'A' || q.type === 'AAAA')).flatMap((q) => q.answers);
  }

  private probeAddress(address: string, primary: boolean): void {
    const { obs, target, clock, th, options } = this;
    if (this.probed.has(address) || this.probed.size >= (options.maxAddresses ?? DEFAULT_MAX_ADDRESSES)) return;
    if (options.policy && !this.fence?.has(address)) return;
    if (this.connections.take(address, 'handshake') !== undefined) return;
    this.probed.add(address);
    const index = obs.handshakes.length;
    obs.handshakes.push({ state: 'running', startedMs: clock(), address, port: target.port, tcp: {}, at: {}, preBanner: { lines: 0, bytes: 0, sample: [] }, bytesIn: 0, bytesOut: 0 });
    const onHandshake = (snap: (typeof obs.handshakes)[number]): void => {
      obs.handshakes[index] = snap;
      if (!this.bastionPtrStarted && snap.tcp.localAddress && this.resolvers().length > 0) {
        this.bastionPtrStarted = true;
        const ptrIndex = obs.ptr.length;
        const local = snap.tcp.localAddress;
        obs.ptr.push({ state: 'running', startedMs: clock(), address: local, role: 'bastion', queries: [] });
        this.track('reverse DNS', () => this.probes.ptr({ address: local, role: 'bastion', resolvers: this.resolvers(), queryTimeoutMs: th.dnsSlowAfterMs, ...this.dnsPortOption() }, this.ctx()).then((o) => (obs.ptr[ptrIndex] = o)), (why) => this.failPtr(ptrIndex, why));
      }
      this.changed();
    };
    const user = probeUserFor(options.config, target, [address], options.probeUser);
    this.track('ssh-handshake', () => this.probes.handshake({ address, port: target.port, ...(user !== undefined ? { user } : {}) }, this.ctx(), onHandshake).then(onHandshake), (why) => {
      this.handshakeFailure ??= why;
      const h = obs.handshakes[index];
      if (h) obs.handshakes[index] = { ...h, state: 'done', endedMs: clock(), unavailable: why };
    });
    if (!primary) return;
    this.extra(() => {
      const pingStarted = clock();
      this.child('ping', 'ping', () => this.probes.ping({ address, count: 3, intervalS: 0.2, waitS: 1 }, this.ctx(), (s) => ((obs.ping = s), this.changed())).then((o) => (obs.ping = o)), (why) => {
        obs.ping = { address, transmitted: 0, received: 0, rttsMs: [], errors: [], startedMs: pingStarted, ...obs.ping, state: 'done', endedMs: clock(), unavailable: why };
      });
      const controlPort = options.controlPort ?? (target.port === 1 ? 2 : 1);
      const controlStarted = clock();
      this.track('control-port', () => this.probes.tcp({ address, port: controlPort }, this.ctx()).then((o) => (obs.control = o)), (why) => {
        obs.control = { state: 'done', startedMs: controlStarted, endedMs: clock(), address, port: controlPort, outcome: 'error', errno: why, unavailable: why };
      });
    });
    if (target.kind !== 'name' && this.resolvers().length > 0) this.startTargetPtr(address);
  }

  private startTargetPtr(address: string): void {
    const { obs, clock } = this;
    const ptrIndex = obs.ptr.length;
    obs.ptr.push({ state: 'running', startedMs: clock(), address, role: 'target', queries: [] });
    this.track('reverse DNS', () => this.probes.ptr({ address, role: 'target', resolvers: this.resolvers(), queryTimeoutMs: this.th.dnsSlowAfterMs, ...this.dnsPortOption() }, this.ctx()).then((o) => (obs.ptr[ptrIndex] = o)), (why) => this.failPtr(ptrIndex, why));
  }

  // --- the target policy's fence ----------------------------------------------------------
  private raiseFence(): boolean {
    const { obs, options, target } = this;
    if (!options.policy || this.policyError || obs.resolve?.state !== 'done' || obs.dns?.state !== 'done') return false;
    const all = [...obs.resolve.addresses, ...this.dnsAnswers()];
    const denial = checkAddresses(options.policy, target, all);
    if (denial) {
      this.policyError = new PolicyError(denial);
      this.changed();
      return false;
    }
    this.fence = new Set(all);
    if (this.verboseWanted) this.startVerbose();
    return true;
  }

  /** Which addresses to probe: what ssh would use first, then DNS's own if they differ. */
  private considerAddresses(): void {
    const { obs } = this;
    if (this.options.policy && !this.fence && !this.raiseFence()) return;
    const fromSystem = obs.resolve?.state === 'done' ? obs.resolve.addresses : undefined;
    const fromDns = this.dnsAnswers();
    if (fromSystem && fromSystem.length > 0) {
      fromSystem.forEach((a, i) => this.probeAddress(a, i === 0 && obs.handshakes.length === 0));
      for (const a of fromDns) if (!fromSystem.includes(a)) this.probeAddress(a, false);
    } else if (fromDns.length > 0) {
      // getaddrinfo failed or is stuck on a dead resolver; DNS itself has addresses: probe
      // them so the report can say whether the host works once the name is fixed.
      const waited = this.clock() - (obs.resolve?.startedMs ?? 0);
      if (fromSystem || waited >= this.th.dnsDeadAfterMs) fromDns.forEach((a) => this.probeAddress(a, obs.handshakes.length === 0));
    }
  }

  // --- ssh -vvv ---------------------------------------------------------------------------
  // Without a policy ssh -vvv resolves the name itself, as `ssh host` does. Under one it waits
  // for the fence and connects to the checked address ssh would pick, the name being only
  // its HostKeyAlias.
  private startVerbose(firstTry?: VerboseObs['firstTry']): void {
    const { obs, target, clock, options } = this;
    this.verboseWanted = true;
    if (this.verboseStarted) return;
    let host = target.host;
    let alias: string | undefined;
    if (options.policy && target.kind === 'name') {
      if (!this.fence) return;
      const first = (obs.resolve?.state === 'done' ? obs.resolve.addresses[0] : undefined) ?? this.dnsAnswers()[0];
      if (first === undefined) {
        this.verboseStarted = true;
        obs.verbose = { state: 'done', startedMs: clock(), endedMs: clock(), unavailable: 'not run: under the target policy ssh -vvv connects only to a checked address, and the name resolved to none', command: [], lines: [], parsed: { phases: [] } };
        return;
      }
      host = first;
      alias = target.host;
    }
    this.verboseStarted = true;
    const refused = this.connections.take(options.policy && target.kind === 'name' ? host : target.kind === 'name' ? undefined : target.host, 'ssh -vvv');
    if (refused !== undefined) {
      obs.verbose = { state: 'done', startedMs: clock(), endedMs: clock(), unavailable: refused, command: [], lines: [], parsed: { phases: [] } };
      return;
    }
    const verboseStartedMs = clock();
    this.child(
      'verbose',
      'ssh -vvv',
      () =>
        this.probes
          .verbose({ host, port: target.port, user: target.user, connectTimeoutS: this.verboseTimeoutS, ...(alias !== undefined ? { hostKeyAlias: alias } : {}) }, this.ctx(), (s) => ((obs.verbose = firstTry ? { ...s, firstTry } : s), this.changed()))
          .then((o) => (obs.verbose = firstTry ? { ...o, firstTry } : o)),
      (why) => {
        obs.verbose = { state: 'done', startedMs: verboseStartedMs, endedMs: clock(), unavailable: why, command: [], lines: [], parsed: { phases: [] }, ...(firstTry ? { firstTry } : {}) };
      },
    );
  }

  // ssh's own lookup said the name does not exist while getaddrinfo (getent, the same
  // resolver configuration) found it: one of the two lookups met a lost answer or a resolver
  // that flapped. ssh is asked once more, so that the verdict rests on what ssh does and not
  // on a single lookup the rest of the evidence contradicts.
  private maybeRetryVerbose(): void {
    const { obs } = this;
    const first = obs.verbose;
    if (this.verboseRetried || first?.state !== 'done') return;
    const stop = first.parsed.stop;
    if (stop?.kind !== 'resolve-failed' || obs.resolve?.state !== 'done' || obs.resolve.addresses.length === 0) return;
    this.verboseRetried = true;
    this.verboseStarted = false;
    // The first try connected nowhere: its connection is given back for the second.
    this.connections.giveBack('ssh -vvv');
    const firstTry = { line: stop.line, endedMs: first.endedMs ?? this.clock() };
    // Until the second try says anything, the first one's failure no longer stands.
    obs.verbose = { state: 'running', startedMs: this.clock(), command: first.command, lines: [], parsed: { phases: [] }, firstTry };
    this.startVerbose(firstTry);
  }

  // --- what waits on the handshake --------------------------------------------------------
  // The path trace sends SYNs to the same port; started together with the real SYN they
  // use up the target's ICMP error rate limit and hide an immediate reject for a second.
  private maybeStartPath(): void {
    const { obs, target, clock } = this;
    const h = obs.handshakes[0];
    if (this.pathStarted || !this.extrasStarted || !h || (h.tcp.outcome === undefined && clock() - h.startedMs < PATH_DELAY_MS)) return;
    this.pathStarted = true;
    const pathStartedMs = clock();
    this.child('path', 'path', () => this.probes.path({ address: h.address, port: target.port, maxHops: 16, waitS: 1 }, this.ctx()).then((o) => (obs.path = o)), (why) => {
      obs.path = { state: 'done', startedMs: pathStartedMs, endedMs: clock(), tool: null, address: h.address, port: target.port, hops: [], reached: false, unavailable: why };
    });
  }

  // The inside view: one login, once the outside probes show the way. It waits for the
  // in-process handshake to finish (a server with MaxStartups 1 drops one of two concurrent
  // pre-auth connections); on a login port of its own it waits at most a second for that.
  private maybeStartInside(): void {
    const { obs, target, clock, options } = this;
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
    const verboseBusy = this.verboseStarted && obs.verbose?.state !== 'done' && h.end !== undefined && clock() - h.end.atMs < INSIDE_WAIT_MS;
    if ((h.end === undefined && (!ownPort || clock() - h.startedMs < INSIDE_WAIT_MS)) || verboseBusy) {
      obs.inside = { state: 'planned', user: login.user };
      return;
    }
    if (!ownPort && h.end?.kind !== 'complete') {
      obs.inside = { state: 'none', reason: `the bastion cannot get through to port ${port} either, so it cannot log in there` };
      return;
    }
    const refused = this.connections.take(h.address, 'login');
    if (refused !== undefined) {
      obs.inside = { state: 'none', reason: refused };
      return;
    }
    const insideStarted = clock();
    obs.inside = { state: 'running', startedMs: insideStarted, user: login.user, address: h.address, port };
    this.child(
      'inside',
      'inside',
      () => this.probes.inside({ login, address: h.address, port, hostKeyAlias: target.host, mayRetry: () => this.connections.take(h.address, 'login retry') }, this.ctx()).then((o) => (obs.inside = o)),
      (why) => {
        obs.inside = { state: 'done', startedMs: insideStarted, endedMs: clock(), user: login.user, address: h.address, port, login: 'failed', loginDetail: why, unavailable: why };
      },
      // A login that never started did not fail: there is simply no inside view.
      (why) => (obs.inside = { state: 'none', reason: why }),
    );
  }

  // The don't-fragment sweep starts when the handshake stops advancing: after the banner, when
  // the key exchange stalls; before it, when TCP connected but no banner came. A banner lost
  // once on a lossy path is resent by the server's kernel merged with the queued KEXINIT into
  // one full-size segment (Linux collapses retransmissions), which an MTU blackhole eats every
  // time: the banner never arrives although sshd sent it, and only the sweep can tell.
  private maybeStartMtuSweep(): void {
    const { obs, clock, th } = this;
    const h = obs.handshakes[0];
    if (this.mtuStarted || !h || h.at.newkeys !== undefined || h.end !== undefined) return;
    if (h.at.banner === undefined) {
      // Only total silence: a peer that sends other bytes reaches us, and its banner problem is its own.
      if (h.tcp.outcome !== 'connected' || h.tcp.atMs === undefined || h.bytesIn > 0 || clock() - h.tcp.atMs < th.mtuSweepNoBannerMs) return;
    } else if (clock() - Math.max(h.at.banner, h.at.kexinit ?? 0, h.at['kex-reply'] ?? 0) < th.mtuSweepAfterMs) {
      return;
    }
    // A sweep that cannot finish before the run's deadline would only hold up its end.
    const waitS = mtuWaitS(obs, h.address);
    if (clock() + waitS * 1000 + MTU_SWEEP_SLACK_MS > this.deps.deadlineMs) return;
    this.mtuStarted = true;
    const mtuStartedMs = clock();
    this.child('mtu', 'mtu', () => this.probes.mtu({ address: h.address, mtus: MTU_SIZES, waitS }, this.ctx()).then((o) => (obs.mtu = o)), (why) => {
      obs.mtu = { state: 'done', startedMs: mtuStartedMs, endedMs: clock(), address: h.address, probes: [], unavailable: why };
    });
  }
}
