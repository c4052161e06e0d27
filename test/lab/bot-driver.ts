// The bot side of the service lab test and benchmark, run inside a lab namespace:
//   node bot-driver.js <config.yml | ->
// With a config it routes through RoutedEngine (as `sshcheck bot` does); with "-" it runs
// the engine in process (InProcessEngine, the embedded default). It reads one JSON command
// per line on stdin and answers each with one JSON line on stdout, tagged with its id, so a
// test can drive many checks at once. Tokens come from the environment the config names.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { runCheckFlow } from '../../src/chat/check-flow.js';
import type { ChatSurface } from '../../src/chat/check-flow.js';
import type { EngineClient } from '../../src/chat/engine-client.js';
import { InProcessEngine } from '../../src/chat/engine-client.js';
import { Pacer } from '../../src/chat/pacer.js';
import { RemoteEngine } from '../../src/chat/remote-engine.js';
import { RoutedEngine } from '../../src/chat/routing.js';
import { loadRoutingConfig } from '../../src/chat/routing-config.js';
import type { RoutingConfig } from '../../src/chat/routing-config.js';
import type { ParentView } from '../../src/chat/views.js';
import type { ProgressEvent, StepReport } from '../../src/engine/report.js';
import { parseTarget } from '../../src/target.js';
import { createLogger } from '../../src/log.js';
import { SseDecoder } from '../../src/service/sse.js';

export type DriverCommand =
  | { id: number; op: 'flow'; target: string; via?: string }
  | { id: number; op: 'remote'; bastion: string; target: string; count: number }
  | { id: number; op: 'http'; method: 'GET' | 'POST'; url: string; token?: string; body?: string; contentType?: string }
  | { id: number; op: 'sse-resume'; url: string; token: string; dropAfter: number }
  | { id: number; op: 'time'; target: string; runs: number };

const configPath = process.argv[2] ?? '-';
const logger = createLogger({ name: 'bot-driver', level: 'warn' });
let config: RoutingConfig | undefined;
let engine: EngineClient;
if (configPath === '-') {
  engine = new InProcessEngine({ vantage: process.env.SSHCHECK_VANTAGE ?? 'in-process', extrasMs: 0 });
} else {
  config = loadRoutingConfig(readFileSync(configPath, 'utf8'), configPath, { env: process.env, readFile: (p) => readFileSync(p, 'utf8') });
  // No bot-side reuse: every check goes to a service, so the tests see what the services do.
  engine = new RoutedEngine(config, { reuseMs: 0, client: { resumeDelayMs: 100, maxResumes: 2, requestTimeoutMs: 3000 } });
}

/** A ChatSurface that records what a thread would show. */
class RecordingSurface implements ChatSurface {
  readonly channelKey = 'lab';
  readonly parents: ParentView[] = [];
  readonly steps: string[] = [];
  postParent(view: ParentView): Promise<void> {
    this.parents.push(view);
    return Promise.resolve();
  }
  updateParent(view: ParentView): Promise<void> {
    this.parents.push(view);
    return Promise.resolve();
  }
  postStep(step: StepReport): Promise<void> {
    this.steps.push(step.id);
    return Promise.resolve();
  }
  updateStep(): Promise<void> {
    return Promise.resolve();
  }
  fallback(view: ParentView, reason: string): Promise<void> {
    this.parents.push({ ...view, error: view.error ?? reason });
    return Promise.resolve();
  }
}

function vantageFor(target: string, via?: string): string {
  if (!(engine instanceof RoutedEngine)) return process.env.SSHCHECK_VANTAGE ?? 'in-process';
  try {
    return engine.route(parseTarget(target), via).bastion;
  } catch {
    return 'unrouted';
  }
}

async function flow(cmd: Extract<DriverCommand, { op: 'flow' }>): Promise<Record<string, unknown>> {
  const surface = new RecordingSurface();
  const target = parseTarget(cmd.target);
  const started = performance.now();
  const report = await runCheckFlow({
    surface,
    engine,
    pacer: new Pacer({ burst: 1000, perSecond: 10_000 }),
    logger,
    target,
    vantage: vantageFor(cmd.target, cmd.via),
    requester: 'lab',
    ...(cmd.via !== undefined ? { via: cmd.via } : {}),
  });
  const last = surface.parents[surface.parents.length - 1];
  return {
    ms: Math.round(performance.now() - started),
    report: report ? { id: report.id, vantage: report.vantage.name, cause: report.diagnosis.cause, diagnosedMs: report.diagnosedMs } : null,
    parent: last ? { phase: last.phase, vantage: last.vantage, error: last.error ?? null, reusedAgeMs: last.reusedAgeMs ?? null } : null,
    parents: surface.parents.length,
    steps: surface.steps,
  };
}

async function remote(cmd: Extract<DriverCommand, { op: 'remote' }>): Promise<Record<string, unknown>> {
  const b = config?.bastions.find((x) => x.name === cmd.bastion);
  if (!b) throw new Error(`no bastion ${cmd.bastion}`);
  const client = new RemoteEngine({ name: b.name, url: b.url, token: b.token });
  const target = parseTarget(cmd.target);
  const results = await Promise.allSettled(Array.from({ length: Math.min(cmd.count, 50) }, () => client.check(target)));
  return { results: results.map((r) => (r.status === 'fulfilled' ? { id: r.value.report.id, vantage: r.value.report.vantage.name, cause: r.value.report.diagnosis.cause } : { error: String(r.reason) })) };
}

async function http(cmd: Extract<DriverCommand, { op: 'http' }>): Promise<Record<string, unknown>> {
  const res = await fetch(cmd.url, {
    method: cmd.method,
    headers: { ...(cmd.token !== undefined ? { Authorization: `Bearer ${cmd.token}` } : {}), ...(cmd.body !== undefined ? { 'Content-Type': cmd.contentType ?? 'application/json' } : {}) },
    ...(cmd.body !== undefined ? { body: cmd.body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), wwwAuthenticate: res.headers.get('www-authenticate'), contentType: res.headers.get('content-type'), body: text };
}

/** Reads a stream until `stop` says so or it ends; returns the ids read. */
async function readStream(url: string, token: string, lastEventId: string | undefined, stop: (ids: string[]) => boolean): Promise<{ ids: string[]; types: string[]; lastEventId: string | undefined }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) }, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(20_000)]) });
  const decoder = new SseDecoder();
  const text = new TextDecoder();
  const ids: string[] = [];
  const types: string[] = [];
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      for (const m of decoder.push(text.decode(chunk, { stream: true }))) {
        ids.push(m.id ?? '');
        types.push((JSON.parse(m.data) as ProgressEvent).type);
      }
      // Drop the connection mid-stream, as a network hiccup would.
      if (stop(ids)) {
        controller.abort();
        break;
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
  return { ids, types, lastEventId: decoder.lastEventId };
}

async function sseResume(cmd: Extract<DriverCommand, { op: 'sse-resume' }>): Promise<Record<string, unknown>> {
  const first = await readStream(cmd.url, cmd.token, undefined, (ids) => ids.length >= cmd.dropAfter);
  const second = await readStream(cmd.url, cmd.token, first.lastEventId, () => false);
  const full = await readStream(cmd.url, cmd.token, undefined, () => false);
  return { first: first.ids, second: second.ids, full: full.ids, types: [...first.types, ...second.types], fullTypes: full.types };
}

/** Sequential checks of one target: the time from asking to the diagnosis, as a thread sees it. */
async function time(cmd: Extract<DriverCommand, { op: 'time' }>): Promise<Record<string, unknown>> {
  const target = parseTarget(cmd.target);
  const runs: Array<{ toDiagnosisMs: number; diagnosedMs: number; totalMs: number; cause: string; vantage: string }> = [];
  for (let i = 0; i < Math.min(cmd.runs, 100); i++) {
    const started = performance.now();
    let diagnosisAt: number | undefined;
    const result = await engine.check(target, { onEvent: (e) => e.type === 'diagnosis' && (diagnosisAt ??= performance.now()) });
    const end = performance.now();
    runs.push({ toDiagnosisMs: (diagnosisAt ?? end) - started, diagnosedMs: result.report.diagnosedMs, totalMs: end - started, cause: result.report.diagnosis.cause, vantage: result.report.vantage.name });
  }
  return { runs };
}

async function handle(cmd: DriverCommand): Promise<Record<string, unknown>> {
  switch (cmd.op) {
    case 'flow':
      return flow(cmd);
    case 'remote':
      return remote(cmd);
    case 'http':
      return http(cmd);
    case 'sse-resume':
      return sseResume(cmd);
    case 'time':
      return time(cmd);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let cmd: DriverCommand;
  try {
    cmd = JSON.parse(line) as DriverCommand;
  } catch {
    return;
  }
  handle(cmd).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: cmd.id, ok: true, ...result })}\n`),
    (err: unknown) => process.stdout.write(`${JSON.stringify({ id: cmd.id, ok: false, error: err instanceof Error ? err.message : String(err) })}\n`),
  );
});
lines.on('close', () => process.exit(0));
process.stderr.write('driver ready\n');
