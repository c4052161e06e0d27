// A liveness probe for the burst benchmark, in a process of its own: it polls GET /healthz
// every 50 ms on a new connection each time (as a kubelet does), so what it measures is the
// service's answer, not the burst client's own event loop. Bounded: it stops on SIGTERM or
// after --max-seconds, then prints its latencies (ms, Infinity for a failed poll) as JSON.
// Loopback only: it refuses any other URL.
// Usage: node dist/bench/healthz-poller.js --url http://127.0.0.1:PORT [--max-seconds 120]
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { isMain } from './stats.js';

/**
 * One GET on a fresh connection, through node:http: its status, body and latency (ms);
 * undefined when it failed or took over timeoutMs. Not fetch(): undici parses HTTP with a
 * WebAssembly llhttp whose optimising compile, on a background thread, took 120-225 ms of
 * CPU in the burst client right after its first /metrics read, inside the timed burst on a
 * two-core machine (perf: v8::internal::compiler::LinearScanAllocator on a client thread).
 */
export function getOnce(url: URL, timeoutMs: number): Promise<{ status: number; body: string; ms: number } | undefined> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
      res.once('error', () => resolve(undefined));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(undefined));
    req.end();
  });
}

/** One GET /healthz on a fresh connection: its latency in ms, Infinity when it failed or took over timeoutMs. */
export async function pollOnce(url: URL, timeoutMs: number): Promise<number> {
  const answer = await getOnce(url, timeoutMs);
  return answer?.status === 200 ? answer.ms : Infinity;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { url: { type: 'string' }, 'max-seconds': { type: 'string' } } });
  const url = new URL('/healthz', values.url ?? '');
  if (url.hostname !== '127.0.0.1' || url.protocol !== 'http:') throw new Error(`the poller only polls http://127.0.0.1 (got ${url.origin})`);
  const deadline = performance.now() + Math.min(600, Number(values['max-seconds'] ?? '120')) * 1000;
  const latencies: number[] = [];
  let polling = true;
  process.once('SIGTERM', () => (polling = false));
  while (polling && performance.now() < deadline) {
    latencies.push(await pollOnce(url, 60_000));
    await new Promise((r) => setTimeout(r, 50));
  }
  process.stdout.write(`${JSON.stringify(latencies.map((ms) => (Number.isFinite(ms) ? ms : null)))}\n`);
}
