// `sshcheck agent` at work: the bastion's engine served over NATS. The agent dials out to
// the broker, joins its bastion's queue group (so the agents of one bastion share checks
// and take over from each other), declares which targets it covers, and for each check:
// validates the body and applies the target policy here — a compromised bot cannot make
// the bastion probe outside it — then runs it on the same run/audit core as `sshcheck
// serve` (single flight, reuse, a bound on runs, an audit row), streaming every event and
// a heartbeat to the check's reply subject until the report.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../log.js';
import type { CheckBody } from '../service/request.js';
import { parseCheckBody, RequestError } from '../service/request.js';
import type { Admission } from '../service/server.js';
import type { RunRegistry, ServiceRun } from '../service/runs.js';
import { BusyError } from '../service/runs.js';
import type { AgentMessage, Declaration } from './protocol.js';
import { agentsSubject, ANNOUNCE_MS, BATCH_HEADER, checkSubject, DISCOVER_SUBJECT, encode, encodeDeclaration, HEARTBEAT_MS, MAX_BATCH_EVENTS, PING_HEADER, queueGroup } from './protocol.js';
import type { ProgressEvent } from '../engine/report.js';
import { errorMessage } from '../errors.js';

export interface AgentOptions {
  bastion: string;
  /** This agent's name among its bastion's agents (unique per bastion). */
  agent: string;
  coverage: { cidrs: string[]; suffixes: string[] };
  registry: RunRegistry;
  admit: (request: CheckBody) => { refused: string } | Admission;
  logger: Logger;
  heartbeatMs?: number;
  announceMs?: number;
  /** Called for an admitted check before its audit row is written (HistoryPrefetch.start). */
  prefetch?: (target: CheckBody['target']) => void;
  /** Log each check's stages at debug level (sshcheck agent --log-level debug). */
  trace?: boolean;
}

export class Agent {
  private readonly subs: Subscription[] = [];
  private announcer: ReturnType<typeof setInterval> | undefined;
  private stopping = false;
  private readonly tracing: boolean;
  /** Checks being streamed now, so a stop can wait for them. */
  private readonly streaming = new Set<Promise<void>>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: AgentOptions,
  ) {
    this.tracing = options.trace ?? false;
  }

  private declaration(up: boolean): Declaration {
    const { bastion, agent, coverage } = this.options;
    return { bastion, agent, cidrs: coverage.cidrs, suffixes: coverage.suffixes, up };
  }

  start(): void {
    const { bastion, agent } = this.options;
    const onCheck = (err: Error | null, msg: Msg): void => {
      if (err) return this.options.logger.error('subscription failed', { error: err.message });
      this.serve(msg).catch((e: unknown) => this.options.logger.error('serving a check failed', { error: errorMessage(e) }));
    };
    this.subs.push(this.nc.subscribe(checkSubject(bastion), { queue: queueGroup(bastion), callback: onCheck }));
    this.subs.push(this.nc.subscribe(checkSubject(bastion, agent), { callback: onCheck }));
    this.subs.push(this.nc.subscribe(DISCOVER_SUBJECT, { callback: (err, msg) => void (!err && msg.reply && msg.respond(encodeDeclaration(this.declaration(true)))) }));
    const announce = (): void => this.nc.publish(agentsSubject(bastion), encodeDeclaration(this.declaration(true)));
    announce();
    this.announcer = setInterval(announce, this.options.announceMs ?? ANNOUNCE_MS);
  }

  private send(msg: Msg, message: AgentMessage): void {
    try {
      msg.respond(encode(message));
    } catch (err) {
      // Closed or draining: the bot sees silence and retries elsewhere.
      this.options.logger.warn('reply failed', { error: errorMessage(err) });
    }
  }

  /**
   * At debug level, each stage of a check with a sub-millisecond wall-clock time, so a bench
   * on the same machine can line them up with the client's own (bench/nats-trace.ts).
   */
  private trace(msg: Msg, stage: string): void {
    if (this.tracing) this.options.logger.debug('check stage', { reply: msg.reply, stage, atMs: performance.timeOrigin + performance.now() });
  }

  private async serve(msg: Msg): Promise<void> {
    this.trace(msg, 'received');
    // A bot asking the broker whether this agent is still connected: nothing to answer.
    if (msg.headers?.has(PING_HEADER)) return;
    if (!msg.reply) return this.options.logger.warn('a check without a reply subject was ignored', { subject: msg.subject });
    if (this.stopping) return this.send(msg, { t: 'refused', code: 'stopping', message: `agent ${this.options.agent} is shutting down` });
    let request: CheckBody;
    try {
      request = parseCheckBody(new TextDecoder().decode(msg.data), undefined);
    } catch (err) {
      const message = err instanceof RequestError ? err.message : String(err);
      return this.send(msg, { t: 'refused', code: 'bad-request', message });
    }
    const admission = this.options.admit(request);
    if ('refused' in admission) return this.send(msg, { t: 'refused', code: 'policy', message: admission.refused });
    // A full agent answers at once, before the store is asked anything; an admitted check
    // holds its slot while its audit row is written (as serve does), so a burst is refused
    // here, not after a store round trip each.
    const slot = this.options.registry.reserve(request.target, request.from);
    if ('busy' in slot) {
      admission.deny(slot.busy.message);
      return this.send(msg, { t: 'refused', code: 'busy', message: slot.busy.message });
    }
    this.trace(msg, 'admitted');
    // Read while the audit row is written: the run core takes this answer (history-prefetch.ts).
    this.options.prefetch?.(request.target);
    // No check runs that cannot be recorded (the audit row is written first).
    let recorded;
    try {
      recorded = await admission.record();
    } finally {
      // Released right before start(), in the same tick: nobody else can take the slot between.
      slot.release();
    }
    this.trace(msg, 'recorded');
    if (!recorded.ok) return this.send(msg, { t: 'refused', code: 'audit', message: `${recorded.reason}, and this agent runs no check it cannot record: nothing was probed; try again shortly` });
    let started;
    try {
      started = this.options.registry.start(request.target, request.from);
    } catch (err) {
      admission.deny(errorMessage(err));
      if (err instanceof BusyError) return this.send(msg, { t: 'refused', code: 'busy', message: err.message });
      return this.send(msg, { t: 'failed', code: 'E_ENGINE', message: errorMessage(err) });
    }
    this.trace(msg, 'started');
    admission.follow(started.run);
    const accepted: AgentMessage = { t: 'accepted', agent: this.options.agent, bastion: this.options.bastion, outcome: started.outcome, ...(started.ageMs !== undefined ? { ageMs: started.ageMs } : {}) };
    // A run just started says so with its first events, milliseconds later, in the same write:
    // sent now, it woke the broker and the bot while the engine's process was being woken for
    // the run, on the same two cores. A joined or reused run says so at once.
    if (started.outcome !== 'started') this.send(msg, accepted);
    const streamed = this.stream(msg, started.run, started.outcome === 'started' ? accepted : undefined);
    this.streaming.add(streamed);
    void streamed.finally(() => this.streaming.delete(streamed));
  }

  /**
   * Every event of the run from its start, a heartbeat while it runs, then its end. To a bot
   * that asks for batches (BATCH_HEADER), the events the engine's process hands over
   * together (engine/outbox.ts) go as one message: one message each cost the agent and the
   * bot ~0.1 ms apiece, ~30 of them before a verdict.
   */
  private stream(msg: Msg, run: ServiceRun, acceptedLater?: AgentMessage): Promise<void> {
    const batched = msg.headers?.get(BATCH_HEADER) === '1';
    let accepted = acceptedLater;
    /** The deferred "accepted" goes before anything else this check is told. */
    const send = (message: AgentMessage): void => {
      if (accepted) {
        this.send(msg, accepted);
        accepted = undefined;
      }
      this.send(msg, message);
    };
    return new Promise<void>((resolve) => {
      const heartbeat = setInterval(() => send({ t: 'heartbeat', agent: this.options.agent }), this.options.heartbeatMs ?? HEARTBEAT_MS);
      let batch: { seq: number; events: ProgressEvent[] } | undefined;
      // What is published goes out when the code that published it is done (the client
      // writes at the end of the microtask queue); no flush: its PING and the broker's PONG
      // were two more wake-ups per event on two cores, and nothing here blocks the loop long
      // since the probes' fork/exec moved to the engine's process.
      const sent = (events: readonly ProgressEvent[]): void => {
        for (const e of events) this.trace(msg, `sent ${e.type}`);
      };
      const sendBatch = (): void => {
        if (!batch) return;
        const { seq, events } = batch;
        batch = undefined;
        send(events.length === 1 ? { t: 'event', seq, event: events[0] as ProgressEvent } : { t: 'events', seq, events });
        sent(events);
      };
      const sendOne = (seq: number, event: ProgressEvent): void => {
        send({ t: 'event', seq, event });
        sent([event]);
      };
      this.options.registry.subscribe(run, 0, {
        event: (seq, event) => {
          if (!batched) return sendOne(seq, event);
          // The report goes alone: the largest message by far, and the last.
          if (event.type === 'run-finished') {
            sendBatch();
            return sendOne(seq, event);
          }
          if (batch && batch.events.length < MAX_BATCH_EVENTS) return void batch.events.push(event);
          sendBatch();
          batch = { seq, events: [event] };
          // Once the code that emitted them is done: the engine process's batch arrives in one go.
          queueMicrotask(sendBatch);
        },
        end: (ended) => {
          sendBatch();
          clearInterval(heartbeat);
          if (!ended.report) send({ t: 'failed', ...(ended.errorCode ? { code: ended.errorCode } : {}), message: ended.error ?? 'the run failed' });
          resolve();
        },
      });
    });
  }

  /** Stops taking checks, says so, lets running ones finish (bounded by the runs' budget), then unsubscribes. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.announcer);
    try {
      this.nc.publish(agentsSubject(this.options.bastion), encodeDeclaration(this.declaration(false)));
    } catch {
      // The broker is gone: the bots forget this agent when its declarations stop.
    }
    for (const sub of this.subs) sub.unsubscribe();
    await Promise.allSettled([...this.streaming]);
  }
}
