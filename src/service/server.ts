// `sshcheck serve`'s HTTP surface on node:http, no framework: six routes, SSE is plain
// text, and the dependency list stays short.
//   POST /v1/checks              start a check, or join/reuse one          (bearer token)
//   GET  /v1/checks/:id          its state, and the report once finished   (bearer token)
//   GET  /v1/checks/:id/events   its progress events as SSE, from the start or after Last-Event-ID
//   GET  /probe?target=db-3      one check, answered as Prometheus text    (bearer token)
//   GET  /healthz                liveness                                  (no token)
//   GET  /metrics                Prometheus text                           (no token)
// Every /v1 request is authenticated before anything else happens: no body is read, no
// run is looked up or started for a caller without a valid token.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { METRICS_CONTENT_TYPE, ServiceMetrics } from './metrics.js';
import type { RejectReason } from './metrics.js';
import { renderProbe } from './probe-metrics.js';
import type { ProbeBuild } from './probe-metrics.js';
import { MAX_BODY_BYTES, parseCheckBody, parseProbeQuery, RequestError } from './request.js';
import { BusyError, DEFAULT_REGISTRY_OPTIONS, RunRegistry } from './runs.js';
import type { Runner, RunRegistryOptions, ServiceRun, StartResult } from './runs.js';
import type { CheckBody } from './request.js';
import { heldUntilQuiet, QuietStart } from './quiet-start.js';
import type { QuietStartOptions } from './quiet-start.js';
import { encodeSse, encodeSseComment, encodeSseRetry, parseLastEventId } from './sse.js';
import type { TokenSet } from './tokens.js';
import { errorMessage } from '../errors.js';

export interface ServiceOptions {
  runner: Runner;
  tokens: TokenSet;
  logger: Logger;
  /** How reports from this service name their vantage (shown by /healthz). */
  vantage: string;
  registry?: Partial<RunRegistryOptions>;
  /** Event streams open at once at most (each is one connection). */
  maxStreams?: number;
  /** A comment line this often keeps idle streams (and the client's idle timer) alive. */
  heartbeatMs?: number;
  /** How long a client may take to send a request's headers (default DEFAULT_HEADERS_TIMEOUT_MS). */
  headersTimeoutMs?: number;
  version?: string;
  /**
   * Asked for every valid request before a run is started or joined: a refusal (the target
   * policy) is answered 403 and starts nothing; an admission records the request before its
   * run starts and follows the run it gets (the audit log). `sshcheck serve` always sets it.
   */
  admit?: (request: CheckBody) => { refused: string } | Admission;
  /**
   * When set, a new run's probes wait until a burst of requests has drained, bounded
   * (quiet-start.ts); its answer does not wait. `sshcheck serve` sets it.
   */
  quietStart?: QuietStartOptions;
}

export interface Admission {
  /** Writes the request's row; a run starts only when it is written (ok), else the request is refused. */
  record(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** The run this request started, joined or reused. */
  follow(run: ServiceRun): void;
  /** No run: the service was full. */
  deny(reason: string): void;
}

export interface Service {
  server: Server;
  registry: RunRegistry;
  metrics: ServiceMetrics;
  /** Stops accepting, stops the runs (their reports still reach open streams), ends the streams. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_STREAMS = 256;
/** A request's headers must arrive within this long; a connection that sends them slower is closed. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_HEARTBEAT_MS = 10_000;
/** How long a client should wait before reconnecting a broken stream. */
const SSE_RETRY_MS = 500;

/** POST /v1/checks's path, with or without a query. */
function isChecksUrl(url: string | undefined): boolean {
  return url === '/v1/checks' || (url?.startsWith('/v1/checks?') ?? false);
}

/** /healthz and /metrics, with or without a query. */
function isRoutineUrl(url: string | undefined): boolean {
  const path = url?.split('?', 1)[0];
  return path === '/healthz' || path === '/metrics';
}

const CHECK_PATH = /^\/v1\/checks\/([0-9a-f-]{36})$/;
const EVENTS_PATH = /^\/v1\/checks\/([0-9a-f-]{36})\/events$/;

interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: { code, message, ...(field !== undefined ? { field } : {}) } };
}

/** After a 413, the rest of a body is read and dropped for at most this long (and this much), so that the client, still sending, reads the answer instead of a reset. */
const DRAIN_MS = 2000;
const DRAIN_BYTES = 16 * 1024 * 1024;

/**
 * The body, up to `max` bytes; rejects with a 413 RequestError beyond that. A body that is
 * too large is not destroyed at once: its rest is drained (bounded) while the 413 is written.
 */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) {
      reject(new RequestError(413, undefined, `the body is ${declared} bytes; at most ${max} are accepted`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= max) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      drain(req);
      reject(new RequestError(413, undefined, `the body is over ${max} bytes; at most ${max} are accepted`));
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Reads and drops the rest of a refused body, then (or after DRAIN_MS / DRAIN_BYTES) closes the connection. */
function drain(req: IncomingMessage): void {
  let dropped = 0;
  const timer = setTimeout(() => req.socket.destroy(), DRAIN_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DRAIN_BYTES) req.socket.destroy();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/** What a client sees of a run: its state, and the report once there is one. */
export function runView(run: ServiceRun, now: number, withReport = true): Record<string, unknown> {
  return {
    id: run.id,
    state: run.state,
    target: { input: run.target.input, host: run.target.host, port: run.target.port, user: run.target.user },
    startedAt: new Date(run.startedAt).toISOString(),
    ...(run.finishedAt !== undefined ? { finishedAt: new Date(run.finishedAt).toISOString(), ageMs: now - run.finishedAt } : {}),
    events: run.events.length,
    links: { self: `/v1/checks/${run.id}`, events: `/v1/checks/${run.id}/events` },
    ...(run.report && withReport ? { report: run.report } : {}),
    ...(run.error !== undefined ? { error: run.error } : {}),
  };
}

export function createService(options: ServiceOptions): Service {
  const { logger, tokens } = options;
  const metrics = new ServiceMetrics();
  // The loop's own delay, in /metrics: a stall shows there, apart from any client's own.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  metrics.loopDelay = loopDelay;
  const quiet = options.quietStart ? new QuietStart(options.quietStart) : undefined;
  const registry = new RunRegistry(quiet ? heldUntilQuiet(options.runner, quiet) : options.runner, { ...DEFAULT_REGISTRY_OPTIONS, ...options.registry }, metrics, logger);
  const maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const streams = new Set<ServerResponse>();
  const build: ProbeBuild = { version: options.version ?? 'unknown', node: process.versions.node };
  let closing = false;

  const reject = (res: ServerResponse, reason: RejectReason, status: number, body: ErrorBody, headers: Record<string, string> = {}): void => {
    metrics.rejected.inc(reason);
    json(res, status, body, headers);
  };

  /**
   * A valid request's way to a run, shared by POST /v1/checks and GET /probe: the policy
   * (403), a full service (429), the audit row (503), then the registry's single flight.
   * Answers the refusals itself; `then` gets the run at once (in the same tick as the start:
   * an answer that says "running" must not race the run's end).
   */
  const admitAndStart = async (request: CheckBody, res: ServerResponse, then: (started: StartResult) => void | Promise<void>): Promise<void> => {
    if (closing) {
      json(res, 503, errorBody('stopping', 'this service is shutting down: try again in a moment'), { 'Retry-After': '2' });
      return;
    }
    const admission = options.admit?.(request);
    if (admission && 'refused' in admission) {
      reject(res, 'policy', 403, errorBody('policy', admission.refused, 'target'));
      return;
    }
    const busy = (err: BusyError): void => {
      admission?.deny(err.message);
      reject(res, 'busy', 429, errorBody('busy', err.message), { 'Retry-After': String(err.retryAfterS) });
    };
    // A full service answers at once, before the store is asked anything; an admitted request
    // holds its slot while its audit row is written, so a burst is refused here, not after.
    const slot = registry.reserve(request.target, request.from);
    if ('busy' in slot) return busy(slot.busy);
    let recorded;
    try {
      recorded = await admission?.record();
    } finally {
      // Released right before start(), in the same tick: nobody else can take the slot between.
      slot.release();
    }
    if (recorded && !recorded.ok) {
      reject(res, 'audit', 503, errorBody('audit', `${recorded.reason}, and this service runs no check it cannot record: nothing was probed; try again shortly`), { 'Retry-After': '5' });
      return;
    }
    let started;
    try {
      started = registry.start(request.target, request.from);
    } catch (err) {
      if (err instanceof BusyError) return busy(err);
      admission?.deny(errorMessage(err));
      throw err;
    }
    admission?.follow(started.run);
    return then(started);
  };

  const postCheck = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let request;
    try {
      request = parseCheckBody(await readBody(req, MAX_BODY_BYTES), req.headers['content-type']);
    } catch (err) {
      if (err instanceof RequestError) {
        const reason: RejectReason = err.status === 413 ? 'too_large' : 'invalid';
        // After a 413 the rest of the body is unread: the connection cannot be reused.
        reject(res, reason, err.status, errorBody(reason, err.message, err.field), err.status === 413 ? { Connection: 'close' } : {});
        return;
      }
      throw err;
    }
    await admitAndStart(request, res, (started) => {
      const { run, outcome } = started;
      // The report itself is fetched or streamed; this answer says which check to follow.
      const body = { ...runView(run, Date.now(), false), outcome, ...(started.ageMs !== undefined ? { ageMs: started.ageMs } : {}) };
      json(res, run.state === 'running' ? 202 : 200, body, { Location: `/v1/checks/${run.id}` });
    });
  };

  const streamEvents = (req: IncomingMessage, res: ServerResponse, run: ServiceRun): void => {
    const from = parseLastEventId(req.headers['last-event-id'] as string | undefined);
    if ('error' in from) {
      reject(res, 'invalid', 400, errorBody('invalid', from.error, 'Last-Event-ID'));
      return;
    }
    if (streams.size >= maxStreams) {
      reject(res, 'busy', 429, errorBody('busy', `${streams.size} event streams are open, the most this service serves: try again shortly`), { 'Retry-After': '1' });
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      // nginx and similar proxies buffer responses unless told not to.
      'X-Accel-Buffering': 'no',
    });
    res.write(encodeSseRetry(SSE_RETRY_MS));
    streams.add(res);
    metrics.streams = streams.size;
    const heartbeat = setInterval(() => res.write(encodeSseComment('keep-alive')), heartbeatMs);
    let unsubscribe = (): void => undefined;
    const cleanup = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      if (streams.delete(res)) metrics.streams = streams.size;
    };
    res.on('close', cleanup);
    unsubscribe = registry.subscribe(run, Math.min(from.after, run.events.length), {
      event: (seq, event) => {
        res.write(encodeSse({ id: seq, event: event.type, data: JSON.stringify(event) }));
      },
      end: (ended) => {
        // A policy refusal is not an engine failure: its message says what was refused and why.
        if (ended.state === 'failed' && ended.errorCode === 'E_POLICY') res.write(encodeSse({ event: 'error', data: JSON.stringify({ code: 'E_POLICY', message: ended.error ?? 'the target policy refused the target' }) }));
        else if (ended.state === 'failed') res.write(encodeSse({ event: 'error', data: JSON.stringify({ message: `the engine failed: ${ended.error ?? 'unknown error'}` }) }));
        res.end();
        cleanup();
      },
    });
  };

  /** Answers 401 and returns false unless the request carries a valid bearer token. */
  const authorized = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (tokens.verify(req.headers.authorization)) return true;
    const missing = req.headers.authorization === undefined;
    reject(res, 'unauthorized', 401, errorBody('unauthorized', missing ? 'send Authorization: Bearer <token>' : 'the token is not valid here (wrong, or rotated out)'), {
      'WWW-Authenticate': 'Bearer realm="sshcheck"',
      // The body of a rejected POST is never read: do not reuse the connection.
      ...(req.method === 'POST' ? { Connection: 'close' } : {}),
    });
    return false;
  };

  /**
   * GET /probe?target=…: blackbox_exporter's contract. One check, through the same policy,
   * limits, audit row and single flight as POST /v1/checks; the answer waits for the report
   * and is the report as Prometheus text. A run that ends without a verdict is a probe
   * failure (success 0, cause "undecided"), not an HTTP error.
   */
  const probe = async (req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> => {
    if (!authorized(req, res)) return;
    if (req.method !== 'GET') return json(res, 405, errorBody('method', 'use GET /probe?target=db-3'), { Allow: 'GET' });
    let request;
    try {
      request = parseProbeQuery(query);
    } catch (err) {
      if (err instanceof RequestError) return reject(res, 'invalid', err.status, errorBody('invalid', err.message, err.field));
      throw err;
    }
    await admitAndStart(request, res, (started) => answerProbe(res, started));
  };

  const answerProbe = async (res: ServerResponse, started: StartResult): Promise<void> => {
    const { run } = started;
    await run.done;
    // The scraper gave up (its scrape_timeout is shorter than the run): the run still finished for the others.
    if (res.destroyed) return;
    if (!run.report) {
      if (run.errorCode === 'E_POLICY') return reject(res, 'policy', 403, errorBody('policy', run.error ?? 'the target policy refused the target', 'target'));
      return json(res, 500, errorBody('engine', `the engine failed: ${run.error ?? 'unknown error'}`));
    }
    const text = renderProbe(run.report, build, started.ageMs ?? 0);
    res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
    res.end(text);
  };

  const handleV1 = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    if (!authorized(req, res)) return;
    if (path === '/v1/checks') {
      if (req.method !== 'POST') return json(res, 405, errorBody('method', 'use POST /v1/checks to start a check'), { Allow: 'POST' });
      return postCheck(req, res);
    }
    const m = CHECK_PATH.exec(path) ?? EVENTS_PATH.exec(path);
    if (!m) return reject(res, 'not_found', 404, errorBody('not_found', 'no such endpoint: POST /v1/checks, GET /v1/checks/:id, GET /v1/checks/:id/events'));
    if (req.method !== 'GET') return json(res, 405, errorBody('method', `use GET ${path}`), { Allow: 'GET' });
    const run = registry.get(m[1] ?? '');
    if (!run) return reject(res, 'not_found', 404, errorBody('not_found', `no check ${m[1] ?? ''} here: it never existed, or finished too long ago, or this service restarted since`));
    if (path.endsWith('/events')) return streamEvents(req, res, run);
    json(res, 200, runView(run, Date.now()));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://service.invalid');
    const path = url.pathname;
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      return json(res, closing ? 503 : 200, { status: closing ? 'stopping' : 'ok', vantage: options.vantage, runsInFlight: registry.inFlight, ...(options.version ? { version: options.version } : {}) });
    }
    if (path === '/metrics' && req.method === 'GET') {
      const text = metrics.render();
      res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
      res.end(text);
      return;
    }
    if (path === '/probe') return probe(req, res, url.searchParams);
    if (path === '/v1' || path.startsWith('/v1/')) return handleV1(req, res, path);
    json(res, 404, errorBody('not_found', 'no such endpoint: POST /v1/checks, GET /v1/checks/:id[/events], GET /probe?target=, GET /healthz, GET /metrics'));
  };

  const headersTimeoutMs = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  // Node checks headersTimeout/requestTimeout only every connectionsCheckingInterval (30 s by
  // default): half-sent headers would outlive the timeout by that much.
  const server = createServer({ connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.round(headersTimeoutMs / 4))) }, (req, res) => {
    const started = performance.now();
    const admission = req.method === 'POST' && isChecksUrl(req.url);
    // Liveness and scrapes are periodic and cheap: they do not hold a run's probes.
    if (quiet && !isRoutineUrl(req.url)) quiet.arrival();
    res.on('close', () => {
      const ms = performance.now() - started;
      // Answered (not a client that left first): the service's share of the admission wait.
      if (admission && res.writableFinished) metrics.answered(res.statusCode, ms / 1000);
      // Method, path and status only: headers (the token) are never logged.
      logger.info('request', { method: req.method, path: (req.url ?? '').slice(0, 200), status: res.statusCode, ms: Math.round(ms) });
    });
    handle(req, res).catch((err: unknown) => {
      logger.error('request failed', { path: (req.url ?? '').slice(0, 200), error: errorMessage(err) });
      if (!res.headersSent) json(res, 500, errorBody('internal', 'the service failed on this request; see its log'));
      else res.destroy();
    });
  });
  // Bounded request intake: slow or huge headers do not hold a connection forever. These
  // limit receiving the request only; an event stream's response may last as long as its run.
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = Math.max(headersTimeoutMs, 15_000);
  server.maxHeadersCount = 64;

  return {
    server,
    registry,
    metrics,
    close: async () => {
      closing = true;
      loopDelay.disable();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await registry.stopAll();
      for (const res of streams) res.end();
      server.closeIdleConnections();
      await closed;
    },
  };
}
