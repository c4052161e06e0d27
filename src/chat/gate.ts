// The one door every chat request goes through, on both platforms, before anything runs:
// who asks (permissions) → what they ask for (the target policy, on the typed target; the
// engine checks the resolved addresses again) → how often (rate limits) → when (the
// concurrency cap and its queue). Every request, let in or not, gets one audit row, and a
// check's row is completed with its outcome. The adapters show `message` to the requester
// only; nothing is probed for a refused request.
import type { Logger } from '../log.js';
import { isPolicyError } from '../policy/target-policy.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { checkTyped, refusedHosts } from '../policy/target-policy.js';
import type { Report } from '../engine/report.js';
import type { Target } from '../target.js';
import type { AuditEntry, AuditPatch, AuditSource, DenialReason, RunRow } from '../store/store.js';
import type { CallHooks } from '../store/client.js';
import type { CheckOptions, CheckResult, EngineClient } from './engine-client.js';
import type { Acquired, LimitsConfig, RateVerdict, Slot } from './limits.js';
import { CheckQueue, DEFAULT_LIMITS, RateLimiter, retryText } from './limits.js';
import type { PermissionsConfig, Platform } from './permissions.js';
import { checkPermission, needsGroups } from './permissions.js';
import { targetKey } from './shared-runs.js';
import { targetLabel } from '../target.js';
import { verdictOf } from '../engine/report.js';
import { errorMessage } from '../errors.js';

/**
 * The store calls the gate makes: the bot's store thread (StoreClient), so that a lock held
 * by another process never stops the bot's event loop; a synchronous Store fits as well
 * (tests, tools).
 */
export interface GateStore {
  addAudit(entry: AuditEntry, hooks?: CallHooks): number | Promise<number>;
  updateAudit(id: number, patch: AuditPatch): void | Promise<void>;
  recordRun(report: Report, source: AuditSource): void | Promise<void>;
  runsFor(host: string, options?: { port?: number; limit?: number; sinceMs?: number }): RunRow[] | Promise<RunRow[]>;
}

/** How long a check waits for its first audit row before it is refused (nothing probed). */
export const DEFAULT_AUDIT_WAIT_MS = 2000;

export interface GateActor {
  platform: Platform;
  /** Slack team id / Discord guild id. */
  workspace?: string;
  channel?: string;
  user: string;
  /** The requester's Slack user groups or Discord roles; asked only when the permissions need them. */
  groups?: () => Promise<readonly string[]>;
}

export interface GateRequest {
  actor: GateActor;
  action: 'check' | 'history';
  target: Target;
  via?: string;
  from?: string;
}

export interface Ticket {
  /** 0: the check runs at once; n: it waits, n = 1 being next. */
  readonly position: number;
  /** It joined a check of the same target already running or waiting. */
  readonly joined: boolean;
  /** What to tell the requester while it waits (undefined when it runs at once). */
  readonly queueMessage: string | undefined;
  /** The engine to run this check with: waits for the slot, records the outcome, frees the slot. */
  wrap(engine: EngineClient): EngineClient;
  /** Frees the slot if the check never ran (idempotent; harmless after a run). */
  cancel(reason?: string): void;
}

/** An admitted fleet: `wrap` gives the engine its hosts run through; `finish` frees the slot. */
export interface FleetTicket {
  readonly position: number;
  readonly queueMessage: string | undefined;
  wrap(engine: EngineClient): EngineClient;
  /** Frees the fleet's slot (idempotent): call it when the fleet is done or abandoned. */
  finish(): void;
}

export type FleetDecision = { kind: 'denied'; reason: DenialReason; message: string; retryAfterMs?: number } | { kind: 'admitted'; ticket: FleetTicket };

export type GateDecision =
  | { kind: 'denied'; reason: DenialReason; message: string; retryAfterMs?: number }
  | { kind: 'admitted'; ticket: Ticket }
  | { kind: 'history'; runs: RunRow[]; available: boolean };

export interface GateOptions {
  policy: TargetPolicy;
  /** Undefined: no permissions section, everyone may run checks. */
  permissions?: PermissionsConfig;
  limits?: LimitsConfig;
  /** The audit log and history; without one nothing is recorded (tests of other things). */
  store?: GateStore;
  logger?: Logger;
  now?: () => number;
  /** How long a Slack user group lookup may take before the request is refused. */
  groupsTimeoutMs?: number;
  /** History rows shown per request. */
  historyLimit?: number;
  /** How long a check's first audit row (and a history read) may take before the request is refused (default DEFAULT_AUDIT_WAIT_MS). */
  auditWaitMs?: number;
}

/** Why a check's first row is not written: a refusal, with `busy` when another process holds the lock (it passes). */
interface RowRefused {
  reason: string;
  busy: boolean;
}

const NOTHING = 'Nothing was checked.';

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}


export class Gate {
  private readonly limits: LimitsConfig;
  private readonly rate: RateLimiter;
  private readonly queue: CheckQueue;
  private readonly now: () => number;

  constructor(private readonly options: GateOptions) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.now = options.now ?? (() => Date.now());
    this.rate = new RateLimiter(this.limits, this.now);
    this.queue = new CheckQueue(this.limits);
  }

  get running(): number {
    return this.queue.running;
  }

  get waiting(): number {
    return this.queue.waiting;
  }

  /** Shutdown: refuse new checks, fail the waiting ones. */
  close(): void {
    this.queue.close();
  }

  async admit(request: GateRequest): Promise<GateDecision> {
    const { actor, target } = request;
    const started = this.now();
    const row = auditRow(actor, target, request.action, request.via, started);
    const deny = (reason: DenialReason, message: string, retryAfterMs?: number, addresses: readonly string[] = []): GateDecision => {
      this.record(() => this.options.store?.addAudit({ ...row, verdict: 'denied', denial: reason, reason: message, addresses, durationMs: this.now() - started }));
      this.options.logger?.info('chat request refused', { platform: actor.platform, user: actor.user, channel: actor.channel, target: row.target, reason });
      return { kind: 'denied', reason, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    };

    // 1. Who asks.
    const refusal = await this.permitted(actor);
    if (refusal !== undefined) return deny('permission', refusal);

    // History reads the store only: no probing, no limits.
    if (request.action === 'history') {
      const store = this.options.store;
      let runs: RunRow[] = [];
      let available = store !== undefined;
      if (store) {
        try {
          runs = await withTimeout(Promise.resolve(store.runsFor(target.host, { limit: this.options.historyLimit ?? 50 })), this.auditWaitMs);
        } catch (err) {
          available = false;
          this.options.logger?.error('history read failed', { error: errorMessage(err) });
        }
      }
      this.record(() => store?.addAudit({ ...row, verdict: 'shown', durationMs: this.now() - started }));
      return { kind: 'history', runs, available };
    }

    // 2. What they ask for: the typed target (an IP literal, or a name's domain).
    const refused = checkTyped(this.options.policy, target);
    if (refused) return deny('policy', refused.message, undefined, refused.addresses);

    // 3. How often.
    const rateKey = `${actor.platform}:${actor.workspace ?? ''}:${actor.user}`;
    const rate = this.rate.take(rateKey);
    if (!rate.ok) return deny('rate-limit', this.rateRefusal(rate), rate.retryAfterMs);

    // 4. When: a slot now, a place in the queue, or a refusal with a retry time.
    const acquired = this.queue.acquire(`${request.via ?? ''}|${targetKey(target, request.from)}`);
    if (acquired.kind === 'full') {
      this.rate.refund(rateKey);
      return deny('queue-full', queueFullRefusal(acquired), acquired.retryAfterMs);
    }
    const { slot, position, joined } = acquired;
    // An audit log that cannot be written (now) means an unrecorded probe: refuse instead.
    const first = await this.firstRow({ ...row, verdict: position > 0 ? 'queued' : 'running' }, started);
    if (typeof first !== 'number' && first !== undefined) {
      slot.release();
      this.rate.refund(rateKey);
      return { kind: 'denied', reason: 'audit', message: auditRefusal(first) };
    }
    const auditId = first;
    const queueMessage =
      position === 0
        ? undefined
        : `You are number ${position} in the queue (sshcheck runs ${this.limits.concurrent} ${this.limits.concurrent === 1 ? 'check' : 'checks'} at once): yours starts as soon as ${position === 1 ? 'one finishes' : `${position} finish`}.${joined ? ' It joins the same check someone else asked for.' : ''}`;
    this.options.logger?.info('chat request admitted', { platform: actor.platform, user: actor.user, channel: actor.channel, target: row.target, position, joined });
    return { kind: 'admitted', ticket: this.ticket(slot, position, joined, queueMessage, auditId, started, actor.platform) };
  }

  private rateRefusal(rate: Extract<RateVerdict, { ok: false }>): string {
    const { perUser, global } = this.limits;
    return rate.scope === 'user'
      ? `You have started ${perUser.burst} checks in a short time, the most sshcheck runs for one person (then ${perUser.perMinute} a minute): try again in ${retryText(rate.retryAfterMs)}. ${NOTHING}`
      : `sshcheck is at its limit for everyone (${global.burst} checks, then ${global.perMinute} a minute): try again in ${retryText(rate.retryAfterMs)}. ${NOTHING}`;
  }

  /** Undefined when `actor` may run sshcheck, else what to tell them. */
  private async permitted(actor: GateActor): Promise<string | undefined> {
    const requester = { platform: actor.platform, user: actor.user, ...(actor.workspace !== undefined ? { workspace: actor.workspace } : {}), ...(actor.channel !== undefined ? { channel: actor.channel } : {}) };
    let groups: readonly string[] = [];
    if (needsGroups(this.options.permissions, requester)) {
      try {
        groups = actor.groups ? await withTimeout(actor.groups(), this.options.groupsTimeoutMs ?? 1500) : [];
      } catch (err) {
        return `Your ${actor.platform === 'slack' ? 'user groups' : 'roles'} could not be looked up (${errorMessage(err)}), and only members of some may run sshcheck. Try again; if it keeps failing, tell the bot's admin. ${NOTHING}`;
      }
    }
    const permitted = checkPermission(this.options.permissions, requester, groups);
    // The message ends with a config path: no full stop right after it (chat would fold it into the path).
    return permitted.allowed ? undefined : `${capitalize(permitted.message)} (nothing was checked)`;
  }

  /**
   * A fleet check (several hosts in one command) through the same door: the requester's
   * permission once; every host's typed target against the policy (one refused host refuses
   * the command: nothing is probed); one rate-limit token, as for one command; one slot of
   * the concurrency cap for the whole fleet, which runs its hosts a few at a time inside it.
   * Every host gets its own audit row, written when its check starts and completed with its
   * outcome, and its run goes into the history like a single check's.
   */
  async admitFleet(request: { actor: GateActor; targets: readonly Target[] }): Promise<FleetDecision> {
    const { actor, targets } = request;
    const started = this.now();
    const rowFor = (target: Target) => auditRow(actor, target, 'check', undefined, started);
    const deny = (reason: DenialReason, message: string, retryAfterMs?: number): FleetDecision => {
      for (const t of targets) this.record(() => this.options.store?.addAudit({ ...rowFor(t), verdict: 'denied', denial: reason, reason: message, durationMs: this.now() - started }));
      this.options.logger?.info('chat fleet request refused', { platform: actor.platform, user: actor.user, channel: actor.channel, hosts: targets.length, reason });
      return { kind: 'denied', reason, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    };

    const refusal = await this.permitted(actor);
    if (refusal !== undefined) return deny('permission', refusal);

    const refused = targets.flatMap((t) => checkTyped(this.options.policy, t) ?? []);
    if (refused.length > 0) {
      return deny('policy', `${refused.length} of the ${targets.length} hosts may not be probed from this bot: ${refusedHosts(refused)}. ${NOTHING}`);
    }

    const rateKey = `${actor.platform}:${actor.workspace ?? ''}:${actor.user}`;
    const rate = this.rate.take(rateKey);
    if (!rate.ok) return deny('rate-limit', this.rateRefusal(rate), rate.retryAfterMs);
    // A key of its own: a fleet never joins another check.
    const acquired = this.queue.acquire(`fleet|${started}|${Math.random()}`);
    if (acquired.kind === 'full') {
      this.rate.refund(rateKey);
      return deny('queue-full', queueFullRefusal(acquired), acquired.retryAfterMs);
    }
    const { slot, position } = acquired;
    const queueMessage = position === 0 ? undefined : `You are number ${position} in the queue (sshcheck runs ${this.limits.concurrent} ${this.limits.concurrent === 1 ? 'check' : 'checks'} at once): your hosts are checked as soon as ${position === 1 ? 'one finishes' : `${position} finish`}.`;
    this.options.logger?.info('chat fleet request admitted', { platform: actor.platform, user: actor.user, channel: actor.channel, hosts: targets.length, position });
    let open = true;
    return {
      kind: 'admitted',
      ticket: {
        position,
        queueMessage,
        wrap: (engine: EngineClient): EngineClient => ({
          ...(engine.bastions !== undefined ? { bastions: engine.bastions } : {}),
          check: async (target: Target, options?: CheckOptions): Promise<CheckResult> => {
            if (!open) throw new Error('this fleet ticket is finished');
            await slot.ready;
            const hostStarted = this.now();
            // As for a single check: no audit row, no probe.
            const auditId = await this.firstRow({ ...rowFor(target), verdict: 'running' }, hostStarted);
            if (typeof auditId !== 'number' && auditId !== undefined) throw new Error(auditRefusal(auditId));
            try {
              const result = await engine.check(target, options);
              this.finished(auditId, { report: result.report }, hostStarted, actor.platform);
              return result;
            } catch (err) {
              this.finished(auditId, { error: err }, hostStarted, actor.platform);
              throw err;
            }
          },
        }),
        finish: () => {
          open = false;
          slot.release();
        },
      },
    };
  }

  /** Completes a check's audit row with its outcome, and records its run in the history. */
  private finished(auditId: number | undefined, result: { report?: Report; error?: unknown }, started: number, platform: Platform): void {
    const durationMs = this.now() - started;
    const update = (patch: AuditPatch): void => {
      if (auditId !== undefined) this.record(() => this.options.store?.updateAudit(auditId, patch));
    };
    const { report, error } = result;
    if (report) {
      update({ verdict: verdictOf(report.diagnosis.cause), cause: report.diagnosis.cause, addresses: report.target.addresses, bastion: report.vantage.name, durationMs, reportId: report.id });
      this.record(() => this.options.store?.recordRun(report, platform));
    } else if (isPolicyError(error)) {
      // Also a bastion agent's refusal (NatsEngineError, E_POLICY): nothing was probed there.
      update({ verdict: 'denied', denial: 'policy', reason: error.message, addresses: 'denial' in error ? error.denial.addresses : [], durationMs });
    } else {
      update({ verdict: 'failed', reason: errorMessage(error), durationMs });
    }
  }

  private ticket(slot: Slot, position: number, joined: boolean, queueMessage: string | undefined, auditId: number | undefined, started: number, platform: Platform): Ticket {
    let state: 'waiting' | 'running' | 'done' = 'waiting';
    const update = (patch: AuditPatch): void => {
      if (auditId !== undefined) this.record(() => this.options.store?.updateAudit(auditId, patch));
    };
    const finish = (result: { report?: Report; error?: unknown }): void => {
      state = 'done';
      slot.release();
      this.finished(auditId, result, started, platform);
    };
    return {
      position,
      joined,
      queueMessage,
      wrap: (engine: EngineClient): EngineClient => ({
        ...(engine.bastions !== undefined ? { bastions: engine.bastions } : {}),
        check: async (target: Target, options?: CheckOptions): Promise<CheckResult> => {
          if (state !== 'waiting') throw new Error('this ticket was used already');
          try {
            await slot.ready;
          } catch (err) {
            finish({ error: err });
            throw err;
          }
          state = 'running';
          if (position > 0) update({ verdict: 'running' });
          try {
            const result = await engine.check(target, options);
            finish({ report: result.report });
            return result;
          } catch (err) {
            finish({ error: err });
            throw err;
          }
        },
      }),
      cancel: (reason?: string) => {
        if (state !== 'waiting') return;
        state = 'done';
        slot.release();
        update({ verdict: 'cancelled', reason: reason ?? 'the check did not start', durationMs: this.now() - started });
      },
    };
  }

  private get auditWaitMs(): number {
    return this.options.auditWaitMs ?? DEFAULT_AUDIT_WAIT_MS;
  }

  /**
   * A check's first audit row: its id once written (undefined without a store), or why it
   * cannot be written now: the store failed, another process holds its lock (the row is
   * spooled and lands later), or it took longer than auditWaitMs. A row that lands after
   * its request was refused is corrected to say so.
   */
  private firstRow(entry: AuditEntry, started: number): Promise<number | RowRefused | undefined> {
    const store = this.options.store;
    if (!store) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let outcome: number | RowRefused | undefined;
      const settle = (value: number | RowRefused): void => {
        if (outcome !== undefined) return;
        outcome = value;
        clearTimeout(timer);
        if (typeof value !== 'number') this.options.logger?.error('audit log write failed; request refused', { target: entry.target, error: value.reason });
        resolve(value);
      };
      const timer = setTimeout(() => settle({ reason: `the audit log did not answer within ${this.auditWaitMs} ms`, busy: true }), this.auditWaitMs);
      let written: Promise<number>;
      try {
        written = Promise.resolve(store.addAudit(entry, { spooled: () => settle({ reason: 'the audit log is locked by another process', busy: true }) }));
      } catch (err) {
        written = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      written.then(
        (id) => {
          const refused = outcome !== undefined && typeof outcome !== 'number' ? outcome : undefined;
          settle(id);
          // Written after all, late: the row must say the request was refused.
          if (refused) this.record(() => store.updateAudit(id, { verdict: 'denied', denial: 'audit', reason: refused.reason, durationMs: this.now() - started }));
        },
        (err: unknown) => settle({ reason: errorMessage(err), busy: (err as { busy?: unknown }).busy === true }),
      );
    });
  }

  /** A store write that fails (now or later) is logged; only the first row of a check is a precondition. */
  private record(write: () => unknown): void {
    const failed = (err: unknown): void => this.options.logger?.error('audit log write failed', { error: errorMessage(err) });
    try {
      const written = write();
      if (written instanceof Promise) written.catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}

/** The request's part of an audit row: who asked, where, for what. */
function auditRow(actor: GateActor, target: Target, action: GateRequest['action'], via: string | undefined, atMs: number) {
  return {
    atMs,
    source: actor.platform,
    action,
    workspace: actor.workspace ?? null,
    channel: actor.channel ?? null,
    user: actor.user,
    target: targetLabel(target),
    host: target.host,
    port: target.port,
    bastion: via ?? null,
  } as const;
}

/** What a requester is told when their check's audit row cannot be written. */
function auditRefusal(refused: RowRefused): string {
  return refused.busy
    ? `The audit log cannot be written now (${refused.reason}), and sshcheck runs no check it cannot record: try again in a moment; if it keeps happening, tell the bot's admin. ${NOTHING}`
    : `The audit log cannot be written (${refused.reason}), and sshcheck runs no check it cannot record: tell the bot's admin. ${NOTHING}`;
}

function queueFullRefusal(full: Extract<Acquired, { kind: 'full' }>): string {
  return `sshcheck is busy: ${full.running} checks are running and ${full.waiting} are waiting, the most it queues. Try again in about ${retryText(full.retryAfterMs)}. ${NOTHING}`;
}

/** A sentence start; "sshcheck" keeps its lower case. */
function capitalize(text: string): string {
  return text.length > 0 && !text.startsWith('sshcheck') ? `${text.charAt(0).toUpperCase()}${text.slice(1)}` : text;
}
