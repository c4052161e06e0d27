// A real `sshcheck serve` child on a loopback port, with its own store and a policy that
// allows 127.0.0.1, for the tests of the service under faults (a locked store, kill -9).
// Not a test itself. Started and ended by its pid.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
export const SERVE_TOKEN = 'serve-test-token-0123456789abcdef';

/** A loopback port nobody listens on (bound, then closed). */
export function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ServeChild {
  child: ChildProcess;
  url: string;
  /** What it wrote on stderr so far (its log). */
  log: () => string;
  /** SIGTERM (or the given signal) to its pid, then waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** The engine config the children use: 127.0.0.1 allowed (loopback is denied by default). */
export function writeEngineConfig(dir: string): string {
  const path = join(dir, 'engine.yml');
  writeFileSync(path, 'policy:\n  allow: [127.0.0.1]\n');
  return path;
}

export async function startServe(dir: string, db: string, extraArgs: string[] = []): Promise<ServeChild> {
  const port = await closedPort();
  const env = { PATH: process.env.PATH ?? '', HOME: dir, SSHCHECK_DB: db, SSHCHECK_SERVICE_TOKENS: SERVE_TOKEN, SSHCHECK_ENGINE_CONFIG: writeEngineConfig(dir) };
  const child = spawn(process.execPath, [CLI, 'serve', '--listen', `127.0.0.1:${port}`, '--vantage', 'lab-serve', ...extraArgs], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshcheck serve did not listen within 15 s: ${log}`)), 15_000);
    const poll = setInterval(() => {
      if (log.includes('"listening"') || log.includes('listening')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
      if (child.exitCode !== null) {
        clearInterval(poll);
        clearTimeout(timer);
        reject(new Error(`sshcheck serve exited ${child.exitCode}: ${log}`));
      }
    }, 20);
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid ?? -1, signal);
      await exited;
    },
  };
}

export async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/checks`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${SERVE_TOKEN}` }, body: JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: performance.now() - started };
}
