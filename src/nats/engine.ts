// The engine client that sends checks to bastion agents through NATS (the bot's and the
// CLI's remote path). A check goes to the bastion's queue group; the agent that takes it
// says so, streams the run's events as they happen and a heartbeat every second, all on
// the request's reply subject. Silence for DEAD_AFTER_MS means the agent is gone: the
// check is sent again, to another agent of the same bastion when one is known. Every
// failure is an engine failure that names the bastion and the broker — never a verdict.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { createInbox, headers } from '@nats-io/transport-node';
import { SshcheckError, errorMessage } from '../errors.js';
import type { ProgressEvent, Report } from '../engine/report.js';
import type { Target } from '../target.js';
import { formatTarget } from '../target.js';
import type { CheckOptions, CheckResult, EngineClient } from '../chat/engine-client.js';
import type { Route } from '../chat/routing.js';
import { targetKey } from '../chat/shared-runs.js';
import { AgentDirectory, preferredAgent } from './directory.js';
import type { StaticRoutes } from './directory.js';
import type { AgentMessage } from './protocol.js';
import { AGENTS_WILDCARD, BATCH_HEADER, checkSubject, DEAD_AFTER_MS, DISCOVER_SUBJECT, encode, parseAgentMessage, parseDeclaration, PING_HEADER, PING_WAIT_MS, SLOW_LIMIT_MS } from './protocol.js';

export type NatsFailure = 'no-agent' | 'agent-lost' | 'broker-unreachable' | 'policy' | 'refused' | 'busy' | 'failed' | 'protocol' | 'aborted' | 'timeout';

export class NatsEngineError extends SshcheckError {
  constructor(
    readonly kind: NatsFailure,
    message: string,
  ) {
    // A policy refusal is the target's fault (nothing was probed); the rest are the engine's.
    super(kind === 'policy' ? 'E_POLICY' : 'E_ENGINE', message);
    this.name = 'NatsEngineError';
  }
}

export interface NatsEngineOptions {
  /** The broker's URL, for messages. */
  url: string;
  routes?: StaticRoutes;
  directory?: AgentDirectory;
  /** An agent silent this long on a check is taken for dead (default DEAD_AFTER_MS). */
  deadAfterMs?: number;
  /** How long the first answer to a check may take before the bastion counts as silent. */
  acceptTimeoutMs?: number;
  /** A whole check may take this long. */
  checkTimeoutMs?: number;
  /** Sends of one check at most (the first and the retries on twins). */
  maxAttempts?: number;
}

/** Called when an agent died during a check, before the check is sent again (or given up). */
export type LostNotice = (text: string) => void;

/** `quiet`: the agent addressed by name had already left (the broker said so at once); nothing ran, nobody needs telling. */
/** Sends of one check at most, counting those to agents that had already left. */
const MAX_SENDS = 10;

/** `busy`: the agent addressed by name was full and started nothing; its twin may have room. */
type Attempt = { kind: 'done'; report: Report; reusedAgeMs?: number } | { kind: 'lost'; agent: string | undefined; reason: string; quiet?: boolean } | { kind: 'busy'; agent: string; error: NatsEngineError };

export class NatsEngine implements EngineClient {
  readonly directory: AgentDirectory;
  private readonly routes: StaticRoutes;
  private readonly deadAfterMs: number;
  private readonly acceptTimeoutMs: number;
  private readonly checkTimeoutMs: number;
  private readonly maxAttempts: number;
  private watching: Subscription | undefined;
  /** Between a lost broker connection and its return: silence then is the broker's, not an agent's. */
  private disconnected = false;
  /** Called on each lost agent (the bot logs it; the CLI prints it). */
  onLost: LostNotice | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsEngineOptions,
  ) {
    this.directory = options.directory ?? new AgentDirectory();
    this.routes = options.routes ?? { bastions: [], rules: [] };
    this.deadAfterMs = options.deadAfterMs ?? DEAD_AFTER_MS;
    this.acceptTimeoutMs = options.acceptTimeoutMs ?? 3_000;
    this.checkTimeoutMs = options.checkTimeoutMs ?? 120_000;
    this.maxAttempts = options.maxAttempts ?? 2;
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnecting') this.disconnected = true;
        else if (s.type === 'reconnect') this.disconnected = false;
      }
    })();
  }

  /** The bastions `via` may name: the config's and every one an agent declared. */
  get bastions(): readonly string[] {
    return [...new Set([...this.routes.bastions, ...this.directory.bastions()])].sort();
  }

  /**
   * Follows the agents' declarations, and asks all of them to declare themselves now (the
   * answers arrive within a moment; `wait` waits that long for them).
   */
  async watchAgents(wait = 0): Promise<void> {
    if (!this.watching) {
      this.watching = this.nc.subscribe(AGENTS_WILDCARD, { callback: (err, msg) => void (!err && this.declared(msg)) });
    }
    const inbox = createInbox();
    const answers = this.nc.subscribe(inbox, { callback: (err, msg) => void (!err && !msg.headers?.hasError && this.declared(msg)) });
    this.nc.publish(DISCOVER_SUBJECT, '', { reply: inbox });
    await new Promise((resolve) => setTimeout(resolve, Math.max(wait, 0)));
    // Late answers still arrive on the wildcard (agents re-declare every few seconds).
    setTimeout(() => answers.unsubscribe(), 2_000).unref();
  }

  private declared(msg: Msg): void {
    try {
      this.directory.update(parseDeclaration(msg.data));
    } catch {
      // Not an agent of this protocol: ignored rather than trusted.
    }
  }

  route(target: Target, via?: string): Route {
    return this.directory.route(this.routes, target, via);
  }

  private label(bastion: string): string {
    return `bastion ${bastion} (through the broker at ${this.options.url})`;
  }

  async check(target: Target, options: CheckOptions = {}): Promise<CheckResult> {
    const { bastion } = this.route(target, options.via);
    const deadline = AbortSignal.timeout(this.checkTimeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    const what = `the check of ${formatTarget(target)}`;
    const lost = new Set<string>();
    const full = new Set<string>();
    const key = targetKey(target, options.from);
    for (let attempt = 1, sends = 0; sends < MAX_SENDS; sends++) {
      // To the agent every replica would pick for this target (their single flights meet
      // there), then to a twin; with none known, to the queue group (the broker dropped a
      // dead agent's subscription when its connection broke).
      const agent = preferredAgent(this.directory.agents(bastion).filter((a) => !lost.has(a) && !full.has(a)), key);
      const result = await this.attempt(bastion, agent, target, options, signal, what);
      if (result.kind === 'done') return result.reusedAgeMs !== undefined ? { report: result.report, reusedAgeMs: result.reusedAgeMs } : { report: result.report };
      if (result.kind === 'busy') {
        // The agents of a bastion share its work: a full one's twin takes the check. Every
        // replica asks the same agents in the same order, so single flight still meets there.
        full.add(result.agent);
        if (!this.directory.agents(bastion).some((a) => !lost.has(a) && !full.has(a))) throw result.error;
        continue;
      }
      if (result.agent !== undefined) lost.add(result.agent);
      if (result.quiet) continue;
      // With the broker gone, another agent would not hear the check either.
      const last = attempt >= this.maxAttempts || this.brokerDown();
      const text = `${this.label(bastion)}: ${result.reason}${last ? '' : '; sending the check to another agent of the bastion'}`;
      this.onLost?.(text);
      // The thread hears it now, not only when the retry ends (the failure says it anyway).
      if (!last) options.onNotice?.(text);
      if (last) throw new NatsEngineError(this.brokerDown() ? 'broker-unreachable' : 'agent-lost', `${text}; ${what} was given up after ${attempt} ${attempt === 1 ? 'attempt' : 'attempts'}`);
      attempt += 1;
    }
    throw new NatsEngineError('no-agent', `${this.label(bastion)}: none of the agents it declared is connected to the broker (${[...lost].join(', ')})`);
  }

  /** Whether the broker connection is up now (it reconnects by itself after a loss). */
  get connected(): boolean {
    return !this.brokerDown();
  }

  private brokerDown(): boolean {
    return this.nc.isClosed() || this.disconnected;
  }

  private attempt(bastion: string, agent: string | undefined, target: Target, options: CheckOptions, signal: AbortSignal, what: string): Promise<Attempt> {
    const label = this.label(bastion);
    return new Promise<Attempt>((resolve, reject) => {
      let accepted: Extract<AgentMessage, { t: 'accepted' }> | undefined;
      let lastSeq = 0;
      let sub: Subscription | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      const finish = (fn: () => void): void => {
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        sub?.unsubscribe();
        fn();
      };
      const fail = (kind: NatsFailure, message: string): void => finish(() => reject(new NatsEngineError(kind, `${label}: ${message}`)));
      let silentSince: number | undefined;
      const silent = (): void => {
        // Before its answer too: an agent addressed by name that is connected but has not yet
        // said "accepted" is busy (a burst starving its loop), not gone.
        const agentName = accepted?.agent ?? agent;
        silentSince ??= Date.now() - this.deadAfterMs;
        // Heartbeats late: is the agent gone, or only slow (a loaded bastion starving its
        // event loop)? The broker knows whether its connection lives.
        if (agentName !== undefined && !this.brokerDown() && Date.now() - silentSince < SLOW_LIMIT_MS) {
          this.connectedAgent(bastion, agentName).then(
            (alive) => {
              if (settled) return;
              if (alive) return arm(this.deadAfterMs);
              const reason = `agent ${agentName} went silent for ${Math.round((Date.now() - (silentSince ?? Date.now())) / 100) / 10} s during ${what} (no heartbeat) and the broker has no connection for it: it died or lost the broker`;
              finish(() => resolve({ kind: 'lost', agent: agentName, reason }));
            },
            () => undefined,
          );
          return;
        }
        const down = this.brokerDown();
        const reason = down
          ? `the broker connection is down (${accepted ? `agent ${accepted.agent} was running ${what}` : `no agent took ${what}`})`
          : accepted
            ? `agent ${accepted.agent} went silent for ${Math.round((Date.now() - (silentSince ?? Date.now())) / 100) / 10} s during ${what} (no heartbeat), though the broker still had its connection`
            : `no agent answered ${what} within ${Math.round(this.acceptTimeoutMs / 100) / 10} s`;
        finish(() => resolve({ kind: 'lost', agent: accepted?.agent ?? agent, reason }));
      };
      const arm = (ms: number): void => {
        clearTimeout(timer);
        timer = setTimeout(silent, ms);
      };
      const onAbort = (): void => {
        if (options.signal?.aborted) fail('aborted', `${what} was cancelled`);
        else fail('timeout', `${what} did not finish in ${Math.round(this.checkTimeoutMs / 1000)} s`);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });

      /** Events first, first + 1, …: each once, in order (a redelivery is dropped); the report ends the check. */
      const received = (first: number, events: readonly ProgressEvent[]): void => {
        for (const [i, event] of events.entries()) {
          if (settled) return;
          if (first + i <= lastSeq) continue;
          lastSeq = first + i;
          options.onEvent?.(event);
          if (event.type === 'run-finished') {
            const report = event.report;
            const ageMs = accepted?.outcome === 'reused' ? accepted.ageMs : undefined;
            finish(() => resolve(ageMs !== undefined ? { kind: 'done', report, reusedAgeMs: ageMs } : { kind: 'done', report }));
          }
        }
      };
      const onMessage = (msg: Msg): void => {
        if (msg.headers?.hasError) {
          // The broker's own answer: 503 means nobody subscribes to the subject.
          if (msg.headers.code === 503 && agent !== undefined && !accepted) return finish(() => resolve({ kind: 'lost', agent, reason: `agent ${agent} is no longer connected`, quiet: true }));
          if (msg.headers.code === 503) return fail('no-agent', agent ? `agent ${agent} is no longer connected` : `no agent of this bastion is connected to the broker (start sshcheck agent --bastion ${bastion} there)`);
          return fail('protocol', `the broker answered ${msg.headers.code} ${msg.headers.description}`);
        }
        let message: AgentMessage;
        try {
          message = parseAgentMessage(msg.data);
        } catch (err) {
          return fail('protocol', errorMessage(err));
        }
        silentSince = undefined;
        arm(this.deadAfterMs);
        switch (message.t) {
          case 'accepted':
            if (!accepted && message.outcome === 'reused' && message.ageMs !== undefined) options.onReused?.(message.ageMs);
            accepted ??= message;
            return;
          case 'heartbeat':
            return;
          case 'event':
            return received(message.seq, [message.event]);
          case 'events':
            return received(message.seq, message.events);
          case 'refused':
            if (message.code === 'stopping') return finish(() => resolve({ kind: 'lost', agent: accepted?.agent ?? agent, reason: `the agent is stopping: ${message.message}` }));
            if (message.code === 'busy' && agent !== undefined) return finish(() => resolve({ kind: 'busy', agent, error: new NatsEngineError('busy', `${label}: refused ${what}: ${message.message}`) }));
            return fail(message.code === 'policy' ? 'policy' : message.code === 'busy' ? 'busy' : 'refused', `refused ${what}: ${message.message}`);
          case 'failed':
            if (message.code === 'E_POLICY') return fail('policy', message.message);
            return fail('failed', `${what} failed on the bastion: ${message.message}`);
        }
      };
      try {
        sub = this.nc.subscribe(createInbox(), { callback: (err, msg) => (err ? fail('protocol', err.message) : onMessage(msg)) });
        const body = { target: target.input, port: target.port, user: target.user, ...(options.from !== undefined ? { from: options.from } : {}) };
        const h = headers();
        h.set(BATCH_HEADER, '1');
        this.nc.publish(checkSubject(bastion, agent), encode(body), { reply: sub.getSubject(), headers: h });
      } catch (err) {
        return fail('broker-unreachable', `cannot send ${what}: ${errorMessage(err)}`);
      }
      arm(this.acceptTimeoutMs);
    });
  }

  /**
   * Whether the broker still has a connection for this agent: a ping on its own subject,
   * which it ignores; "no responders" (at once) means it has none. Resolves within PING_WAIT_MS.
   */
  private connectedAgent(bastion: string, agent: string): Promise<boolean> {
    return new Promise((resolve) => {
      const inbox = createInbox();
      const sub = this.nc.subscribe(inbox, { callback: (err, msg) => void (!err && msg.headers?.hasError && msg.headers.code === 503 && done(false)) });
      const timer = setTimeout(() => done(true), PING_WAIT_MS);
      const done = (alive: boolean): void => {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(alive);
      };
      const h = headers();
      h.set(PING_HEADER, '1');
      try {
        this.nc.publish(checkSubject(bastion, agent), '', { reply: inbox, headers: h });
      } catch {
        done(true);
      }
    });
  }

  /** Stops following declarations (the connection is the caller's to close). */
  close(): void {
    this.watching?.unsubscribe();
    this.watching = undefined;
  }
}
