// A liveness probe for the burst benchmark, in a process of its own: it polls GET /healthz
// every 50 ms on a new connection each time (as a kubelet does), so what it measures is the
// service's answer, not the burst client's own event loop. Bounded: it stops on SIGTERM or
// after --max-seconds, then prints its latencies (ms, Infinity for a failed poll) as JSON.
// Loopback only: it refuses any other URL.
// Usage: node dist/bench/healthz-poller.js --url http://127.0.0.1:PORT [--max-seconds 120]
import { request } from 'node:http';
import { parseArgs } from 'node:util';
import { isMain } from './stats.js';

/** One GET /healthz on a fresh connection: its latency in ms, Infinity when it failed or took over timeoutMs. */
export function pollOnce(url: URL, timeoutMs: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode === 200 ? performance.now() - started : Infinity));
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve(Infinity));
    req.end();
  });
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
