// The engine client for an engine service on a bastion (`sshcheck serve`): start or join
// the check with POST /v1/checks, then follow its Server-Sent Events until the report.
// Node's own fetch, with a deadline on every request and on silence in the stream; a
// broken stream is resumed with Last-Event-ID (a bounded number of times), so no event is
// lost or seen twice. Every failure becomes an error a person in the thread can act on:
// which bastion, at which URL, and what went wrong.
import type { ProgressEvent, Report } from '../engine/report.js';
import type { Target } from '../target.js';
import { formatTarget } from '../target.js';
import { SseDecoder } from '../service/sse.js';
import type { CheckOptions, CheckResult, EngineClient } from './engine-client.js';

export interface RemoteEngineOptions {
  /** The bastion's name in the routing config (what `via` names). */
  name: string;
  /** Base URL of its engine service. */
  url: string;
  token: string;
  /** One request, or the start of a stream, may take this long. */
  requestTimeoutMs?: number;
  /** A stream silent this long is treated as broken (the service sends a comment every 10 s). */
  idleTimeoutMs?: number;
  /** A whole check may take this long (a run's budget is 15 s plus extras). */
  checkTimeoutMs?: number;
  /** How many times in a row a broken stream is resumed before giving up. */
  maxResumes?: number;
  /** Wait before the first resume; doubled for each further one. */
  resumeDelayMs?: number;
  fetch?: typeof fetch;
}

export type RemoteErrorKind = 'unreachable' | 'unauthorized' | 'rejected' | 'busy' | 'stream-lost' | 'engine-failed' | 'protocol' | 'timeout' | 'aborted' | 'policy';

export class RemoteEngineError extends Error {
  constructor(
    readonly kind: RemoteErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RemoteEngineError';
  }
}

const MAX_JSON_BYTES = 1_048_576;
/** Report ids whose finish time is remembered (for the age of reused results). */
const MAX_REMEMBERED = 1000;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What went wrong in a fetch, in words: Node wraps the socket error in `cause`. */
export function describeFetchError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return err.message;
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      return typeof code === 'string' && !cause.message.includes(code) ? `${cause.message} (${code})` : cause.message;
    }
    return err.message;
  }
  return String(err);
}

type Attempt = { kind: 'finished'; report: Report } | { kind: 'broken'; reason: string; connected: boolean };

export class RemoteEngine implements EngineClient {
  readonly name: string;
  readonly url: string;
  private readonly token: string;
  private readonly requestTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly checkTimeoutMs: number;
  private readonly maxResumes: number;
  private readonly resumeDelayMs: number;
  private readonly fetch: typeof fetch;
  private readonly finished = new Map<string, number>();

  constructor(options: RemoteEngineOptions) {
    this.name = options.name;
    this.url = options.url.replace(/\/+$/, '');
    this.token = options.token;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.checkTimeoutMs = options.checkTimeoutMs ?? 120_000;
    this.maxResumes = options.maxResumes ?? 3;
    this.resumeDelayMs = options.resumeDelayMs ?? 200;
    this.fetch = options.fetch ?? fetch;
  }

  /** "bastion eu-1 (https://…)": how every message names this service. */
  private get label(): string {
    return `bastion ${this.name} (${this.url})`;
  }

  /**
   * When the run behind a report finished, in this process's clock, if this client has
   * seen it finish or been told its age. A replay of such a report is a reused result.
   */
  finishedAt(reportId: string): number | undefined {
    return this.finished.get(reportId);
  }

  private remember(reportId: string, at: number): void {
    this.finished.set(reportId, at);
    if (this.finished.size > MAX_REMEMBERED) this.finished.delete(this.finished.keys().next().value as string);
  }

  async check(target: Target, options: CheckOptions = {}): Promise<CheckResult> {
    const deadline = AbortSignal.timeout(this.checkTimeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline;
    const what = `the check of ${formatTarget(target)}`;
    try {
      const started = await this.start(target, signal, options.from);
      if (started.ageMs !== undefined) options.onReused?.(started.ageMs);
      const report = await this.follow(started.id, what, signal, (event) => {
        // A reused result: remember when it really finished before anyone sees its events.
        if (event.type === 'run-started' && started.ageMs !== undefined) this.remember(event.id, started.at - started.ageMs);
        if (event.type === 'run-finished' && started.ageMs === undefined) this.remember(event.report.id, Date.now());
        options.onEvent?.(event);
      });
      return started.ageMs !== undefined ? { report, reusedAgeMs: started.ageMs } : { report };
    } catch (err) {
      if (err instanceof RemoteEngineError) throw err;
      if (options.signal?.aborted) throw new RemoteEngineError('aborted', `${this.label}: ${what} was cancelled`);
      if (deadline.aborted) throw new RemoteEngineError('timeout', `${this.label} did not finish ${what} in ${Math.round(this.checkTimeoutMs / 1000)} s`);
      throw err;
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  private timeoutSignal(signal: AbortSignal): AbortSignal {
    const timeout = AbortSignal.timeout(this.requestTimeoutMs);
    return AbortSignal.any([signal, timeout]);
  }

  /** The error for a refusal by the service, from its status and JSON error body. */
  private refusal(status: number, body: string, retryAfter: string | null): RemoteEngineError {
    let message = '';
    let code: unknown;
    try {
      const parsed = JSON.parse(body) as { error?: { message?: unknown; code?: unknown } };
      if (typeof parsed.error?.message === 'string') message = parsed.error.message.slice(0, 600);
      code = parsed.error?.code;
    } catch {
      message = body.slice(0, 120).replace(/\s+/g, ' ');
    }
    // The bastion's target policy refused the typed target: nothing was probed there.
    if (status === 403 && code === 'policy') return new RemoteEngineError('policy', `${this.label} refused the check: ${message || 'its target policy does not allow this target'}`, status);
    if (status === 401) return new RemoteEngineError('unauthorized', `${this.label} refused the bot's token (401): the token in the bot's config (token_env/token_file) must be one of the service's SSHCHECK_SERVICE_TOKENS_FILE`, status);
    if (status === 429) return new RemoteEngineError('busy', `${this.label} is busy: ${message || 'too many checks at once'}${retryAfter && !message ? ` (try again in ${retryAfter} s)` : ''}`, status);
    if (status >= 400 && status < 500) return new RemoteEngineError('rejected', `${this.label} refused the check (${status}): ${message || 'no reason given'}`, status);
    return new RemoteEngineError('engine-failed', `${this.label} failed (${status}): ${message || 'see the service log'}`, status);
  }

  private async start(target: Target, signal: AbortSignal, from?: string): Promise<{ id: string; ageMs?: number; at: number }> {
    let res: Response;
    try {
      res = await this.fetch(`${this.url}/v1/checks`, {
        method: 'POST',
        headers: this.headers({ 'Content-Type': 'application/json', Accept: 'application/json' }),
        // The service parses these with the same rules as the bot did: the same target.
        body: JSON.stringify({ target: target.input, port: target.port, user: target.user, ...(from !== undefined ? { from } : {}) }),
        signal: this.timeoutSignal(signal),
      });
    } catch (err) {
      if (signal.aborted) throw err;
      throw new RemoteEngineError('unreachable', `${this.label} is unreachable: ${describeFetchError(err)}`);
    }
    const at = Date.now();
    const text = await this.readText(res, signal);
    if (res.status !== 200 && res.status !== 202) throw this.refusal(res.status, text, res.headers.get('retry-after'));
    let body: { id?: unknown; outcome?: unknown; ageMs?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new RemoteEngineError('protocol', `${this.label} answered with something that is not an sshcheck service (no JSON): is the URL right?`);
    }
    if (typeof body.id !== 'string' || !UUID_RE.test(body.id)) throw new RemoteEngineError('protocol', `${this.label} answered without a check id: is the URL right?`);
    const reused = body.outcome === 'reused' && typeof body.ageMs === 'number' && body.ageMs >= 0;
    return reused ? { id: body.id, ageMs: body.ageMs as number, at } : { id: body.id, at };
  }

  private async readText(res: Response, signal: AbortSignal): Promise<string> {
    try {
      const length = Number(res.headers.get('content-length') ?? '0');
      if (length > MAX_JSON_BYTES) throw new RemoteEngineError('protocol', `${this.label} sent a ${length}-byte answer; at most ${MAX_JSON_BYTES} are read`);
      return await res.text();
    } catch (err) {
      if (err instanceof RemoteEngineError || signal.aborted) throw err;
      throw new RemoteEngineError('unreachable', `${this.label} is unreachable: the answer broke off (${describeFetchError(err)})`);
    }
  }

  private async follow(id: string, what: string, signal: AbortSignal, onEvent: (event: ProgressEvent) => void): Promise<Report> {
    const state = { last: 0 };
    let failures = 0;
    for (;;) {
      const before = state.last;
      const attempt = await this.streamOnce(id, state, signal, onEvent);
      if (attempt.kind === 'finished') return attempt.report;
      // Progress since the last break starts the count again: only breaks in a row count.
      failures = state.last > before ? 1 : failures + 1;
      if (failures > this.maxResumes) {
        const where = state.last > 0 ? `after ${state.last} events` : 'before any event';
        const tries = `${this.maxResumes} ${this.maxResumes === 1 ? 'attempt' : 'attempts'} to resume failed`;
        if (!attempt.connected) throw new RemoteEngineError('unreachable', `${this.label} is unreachable: ${attempt.reason}; ${what} was cut off ${where} (${tries})`);
        throw new RemoteEngineError('stream-lost', `${this.label}: the event stream of ${what} broke ${where} and could not be resumed (${tries}): ${attempt.reason}`);
      }
      await new Promise<void>((resolve) => {
        const onAbort = (): void => (clearTimeout(timer), resolve());
        const timer = setTimeout(() => (signal.removeEventListener('abort', onAbort), resolve()), this.resumeDelayMs * 2 ** (failures - 1));
        signal.addEventListener('abort', onAbort, { once: true });
      });
      if (signal.aborted) throw signal.reason;
    }
  }

  /** One connection to the event stream, from the event after state.last. */
  private async streamOnce(id: string, state: { last: number }, signal: AbortSignal, onEvent: (event: ProgressEvent) => void): Promise<Attempt> {
    const attempt = new AbortController();
    const both = AbortSignal.any([signal, attempt.signal]);
    let timer = setTimeout(() => attempt.abort(), this.requestTimeoutMs);
    let connected = false;
    let silentFor = this.requestTimeoutMs;
    try {
      let res: Response;
      try {
        res = await this.fetch(`${this.url}/v1/checks/${id}/events`, {
          headers: this.headers({ Accept: 'text/event-stream', ...(state.last > 0 ? { 'Last-Event-ID': String(state.last) } : {}) }),
          signal: both,
        });
      } catch (err) {
        if (signal.aborted) throw err;
        return { kind: 'broken', reason: attempt.signal.aborted ? `no answer in ${Math.round(this.requestTimeoutMs / 1000)} s` : describeFetchError(err), connected: false };
      }
      connected = true;
      if (res.status !== 200) {
        const text = await this.readText(res, signal);
        if (res.status === 404) throw new RemoteEngineError('stream-lost', `${this.label} no longer knows check ${id} (the service restarted?): its event stream cannot be resumed`, 404);
        if (res.status === 429 || res.status >= 500) return { kind: 'broken', reason: `the service answered ${res.status}`, connected };
        throw this.refusal(res.status, text, res.headers.get('retry-after'));
      }
      if (!res.body) return { kind: 'broken', reason: 'the service sent no event stream', connected };
      const decoder = new SseDecoder();
      const text = new TextDecoder();
      silentFor = this.idleTimeoutMs;
      clearTimeout(timer);
      timer = setTimeout(() => attempt.abort(), silentFor);
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => attempt.abort(), silentFor);
        for (const message of decoder.push(text.decode(chunk, { stream: true }))) {
          if (message.event === 'error') {
            let reason = message.data;
            let code: unknown;
            try {
              const parsed = JSON.parse(message.data) as { message?: unknown; code?: unknown };
              if (typeof parsed.message === 'string') reason = parsed.message;
              code = parsed.code;
            } catch {
              // not JSON: show it as sent
            }
            // The bastion's policy refused an address the name resolved to: nothing was probed.
            if (code === 'E_POLICY') throw new RemoteEngineError('policy', `${this.label}: ${reason.slice(0, 600)}`);
            throw new RemoteEngineError('engine-failed', `${this.label}: ${reason.slice(0, 300)}`);
          }
          const seq = Number(message.id);
          // A repeat of an event already seen (a server resending) is skipped; a gap cannot be repaired.
          if (!Number.isInteger(seq) || seq <= state.last) continue;
          if (seq !== state.last + 1) throw new RemoteEngineError('protocol', `${this.label} skipped events ${state.last + 1}-${seq - 1} of check ${id}`);
          let event: ProgressEvent;
          try {
            event = JSON.parse(message.data) as ProgressEvent;
          } catch {
            throw new RemoteEngineError('protocol', `${this.label} sent event ${seq} that is not JSON`);
          }
          if (typeof event !== 'object' || event === null || typeof event.type !== 'string') throw new RemoteEngineError('protocol', `${this.label} sent event ${seq} without a type`);
          state.last = seq;
          try {
            onEvent(event);
          } catch {
            // A failing renderer must not look like a broken stream (the engine does the same).
          }
          if (event.type === 'run-finished') return { kind: 'finished', report: event.report };
        }
      }
      return { kind: 'broken', reason: 'the stream ended before the report', connected };
    } catch (err) {
      if (err instanceof RemoteEngineError || signal.aborted) throw err;
      const reason = attempt.signal.aborted ? `no data for ${Math.round(silentFor / 1000)} s` : `the connection broke (${describeFetchError(err)})`;
      return { kind: 'broken', reason, connected };
    } finally {
      clearTimeout(timer);
      // Ends this connection (after a report, or a break); a no-op if already over.
      attempt.abort();
    }
  }
}
