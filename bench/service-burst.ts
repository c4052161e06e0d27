// `sshcheck serve` under a burst: 300 distinct check requests at once (127.0.0.1 on 300
// ports, loopback only) against a real `sshcheck serve` child with its own store, while
// /healthz is polled every 50 ms. Measures how fast each POST is answered (202 started, or
// 429 busy: admission) and /healthz's latency. Bounded: one burst, then the service is
// stopped by its pid. `--root <dir>` runs another checkout's build (the before figures).
// `--target 127.0.0.2` (refused by the bench's policy: 403, nothing runs) measures the HTTP
// path alone on the same machine.
// Usage: node dist/bench/service-burst.js [--requests 300] [--root <dir>] [--json <file>] [--target <ip>]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closedPort } from '../test/support/serve-child.js';
import { isMain, quantile, secs, worst } from './stats.js';

const TOKEN = 'bench-burst-token-0123456789abcdef';

export interface BurstResult {
  requests: number;
  statuses: Record<string, number>;
  admission: { p50: number; p99: number; worst: number };
  busy: { count: number; p50: number; p99: number; worst: number };
  healthz: { count: number; errors: number; p50: number; p99: number; worst: number };
  wallMs: number;
}

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await f();
  return { value, ms: performance.now() - started };
}

export async function burst(options: { requests: number; root: string; target?: string }): Promise<BurstResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-burst-'));
  const port = await closedPort();
  writeFileSync(join(dir, 'engine.yml'), 'policy:\n  allow: [127.0.0.1]\n');
  const cli = join(options.root, 'bin', 'sshcheck.js');
  const env = { PATH: process.env.PATH ?? '', HOME: dir, SSHCHECK_DB: join(dir, 'sshcheck.db'), SSHCHECK_SERVICE_TOKENS: TOKEN, SSHCHECK_ENGINE_CONFIG: join(dir, 'engine.yml') };
  const child = spawn(process.execPath, [cli, 'serve', '--listen', `127.0.0.1:${port}`, '--vantage', 'bench', '--log-level', 'warn', '--budget', '5'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  try {
    // Up when /healthz answers (at most 15 s).
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) break;
      } catch {
        if (i > 150) throw new Error('sshcheck serve did not come up in 15 s');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const targetPorts = Array.from({ length: options.requests }, (_, i) => 20_000 + i);
    const health: number[] = [];
    let healthErrors = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        // A failed poll (the service died, or did not answer in 60 s) counts as the whole wait.
        const { ms } = await timed(async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(60_000) })).arrayBuffer().catch(() => undefined)).catch(() => ({ ms: Infinity }));
        if (ms === Infinity) healthErrors += 1;
        health.push(ms);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const started = performance.now();
    const answers = await Promise.all(
      targetPorts.map((p) =>
        timed(async () => {
          try {
            const res = await fetch(`${url}/v1/checks`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ target: options.target ?? '127.0.0.1', port: p }), signal: AbortSignal.timeout(120_000) });
            await res.arrayBuffer();
            return res.status;
          } catch {
            return 'error';
          }
        }),
      ),
    );
    const wallMs = performance.now() - started;
    // Keep polling while the admitted runs finish (at most 10 s more).
    await new Promise((r) => setTimeout(r, 5000));
    polling = false;
    await poller;
    const statuses: Record<string, number> = {};
    for (const a of answers) statuses[a.value] = (statuses[a.value] ?? 0) + 1;
    const all = answers.map((a) => a.ms);
    const busy = answers.filter((a) => a.value === 429).map((a) => a.ms);
    return {
      requests: options.requests,
      statuses,
      admission: { p50: quantile(all, 0.5), p99: quantile(all, 0.99), worst: worst(all) },
      busy: { count: busy.length, p50: quantile(busy, 0.5), p99: quantile(busy, 0.99), worst: worst(busy) },
      healthz: { count: health.length, errors: healthErrors, p50: quantile(health, 0.5), p99: quantile(health, 0.99), worst: worst(health) },
      wallMs,
    };
  } finally {
    if (child.exitCode === null) process.kill(child.pid ?? -1, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export function burstLine(label: string, r: BurstResult): string {
  return `| ${label} | ${r.requests} | ${Object.entries(r.statuses).map(([s, n]) => `${n}× ${s}`).join(', ')} | ${secs(r.admission.p50)} / ${secs(r.admission.p99)} / ${secs(r.admission.worst)} | ${secs(r.busy.p99)} | ${secs(r.healthz.p50)} / ${secs(r.healthz.p99)} / ${secs(r.healthz.worst)} (${r.healthz.count} polls${r.healthz.errors > 0 ? `, ${r.healthz.errors} failed` : ''}) |`;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { requests: { type: 'string' }, root: { type: 'string' }, json: { type: 'string' }, label: { type: 'string' }, target: { type: 'string' } } });
  const requests = Math.min(1000, Math.max(1, Number(values.requests ?? '300')));
  const root = values.root ?? fileURLToPath(new URL('../../', import.meta.url));
  const result = await burst({ requests, root, ...(values.target !== undefined ? { target: values.target } : {}) });
  process.stdout.write(`${burstLine(values.label ?? root, result)}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, node: process.version, root, ...result }, null, 2)}\n`);
}
