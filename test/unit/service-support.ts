// Helpers for the service tests: a scripted engine (no probes), a service on a loopback
// port, and an HTTP client's requests. Not a test file itself.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { ProgressEvent, Report, StepId, StepReport } from '../../src/engine/report.js';
import { STEP_IDS, STEP_TITLES, stepNumber } from '../../src/engine/report.js';
import type { Target } from '../../src/target.js';
import { createLogger } from '../../src/log.js';
import type { Runner } from '../../src/service/runs.js';
import { createService } from '../../src/service/server.js';
import type { Service, ServiceOptions } from '../../src/service/server.js';
import { SseDecoder } from '../../src/service/sse.js';
import type { SseMessage } from '../../src/service/sse.js';
import { TokenSet } from '../../src/service/tokens.js';

export const TOKEN_A = 'token-a-0123456789abcdef';
export const TOKEN_B = 'token-b-0123456789abcdef';

const step = (id: StepId): StepReport => ({ id, n: stepNumber(id), title: STEP_TITLES[id], status: id === 'sshd' ? 'fail' : 'pass', summary: `${id} done`, evidence: [], durationMs: 1, manual: [] });

/** The events of one run, as the engine emits them, for a target. */
export function scriptedEvents(target: Target, vantage: string, id: string): ProgressEvent[] {
  const tr = { input: target.input, host: target.host, port: target.port, user: target.user, addresses: [target.host] };
  const diagnosis = { cause: 'port-closed' as const, step: 'sshd' as const, confidence: 'high' as const, summary: 'nothing listens', next: [], alternatives: [] };
  const report: Report = { schema: 'sshcheck/report@1', id, target: tr, vantage: { name: vantage }, startedAt: new Date().toISOString(), durationMs: 30, diagnosedMs: 20, steps: STEP_IDS.map(step), diagnosis };
  return [
    { type: 'run-started', id, target: tr, vantage: { name: vantage }, startedAt: report.startedAt, elapsedMs: 0 },
    ...STEP_IDS.map((s, i): ProgressEvent => ({ type: 'step-updated', step: step(s), elapsedMs: i + 1 })),
    { type: 'diagnosis', diagnosis, elapsedMs: 20 },
    { type: 'run-finished', report, elapsedMs: 30 },
  ];
}

export interface ScriptedRunner {
  runner: Runner;
  /** How many runs were started. */
  runs: () => number;
}

/** A runner that plays the script with a pause between events; `fail` makes it throw halfway. */
export function scriptedRunner(options: { gapMs?: number; vantage?: string; fail?: boolean } = {}): ScriptedRunner {
  let runs = 0;
  const runner: Runner = async (target, { onEvent, signal }) => {
    runs += 1;
    const events = scriptedEvents(target, options.vantage ?? 'test-bastion', `00000000-0000-4000-8000-${String(runs).padStart(12, '0')}`);
    for (const [i, e] of events.entries()) {
      if (options.fail && i === 5) throw new Error('scripted engine failure');
      if (options.gapMs && !signal.aborted) await new Promise((r) => setTimeout(r, options.gapMs));
      onEvent(e);
    }
    const last = events[events.length - 1];
    if (last?.type !== 'run-finished') throw new Error('script without report');
    return last.report;
  };
  return { runner, runs: () => runs };
}

export interface LoopbackService {
  service: Service;
  url: string;
  close(): Promise<void>;
}

export async function startLoopbackService(runner: Runner, extra: Partial<ServiceOptions> = {}): Promise<LoopbackService> {
  const service = createService({ runner, tokens: new TokenSet([TOKEN_A, TOKEN_B]), logger: createLogger({ level: 'error', write: () => undefined }), vantage: 'test-bastion', ...extra });
  await new Promise<void>((resolve) => service.server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = service.server.address() as AddressInfo;
  return { service, url: `http://127.0.0.1:${port}`, close: () => service.close() };
}

export function auth(token = TOKEN_A): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

export async function postCheck(url: string, body: unknown, headers: Record<string, string> = auth()): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}/v1/checks`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** The whole event stream of a check, as an HTTP script reads it (the stream ends with the run). */
export async function readEvents(url: string, headers: Record<string, string> = auth()): Promise<{ status: number; messages: SseMessage[] }> {
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) return { status: res.status, messages: [] };
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const decoder = new SseDecoder();
  return { status: 200, messages: decoder.push(await res.text()) };
}
