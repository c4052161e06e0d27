// A real nats-server (Debian's package) for tests: its own port on loopback (or an address
// in a lab namespace), its own directory, started and stopped by the test, never the
// packaged service on 4222. stop() then start() is a broker restart on the same port.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NATS_SERVER = '/usr/sbin/nats-server';

/** Why nats-server tests cannot run here, or undefined. */
export function natsUnavailable(): string | undefined {
  if (!existsSync(NATS_SERVER)) return `${NATS_SERVER} is not installed (apt-get install nats-server)`;
  const r = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  return r.status === 0 ? undefined : `${NATS_SERVER} --version failed: ${r.stderr}`;
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface BrokerOptions {
  host?: string;
  port?: number;
  /** Configuration text (the port and host are given on the command line). */
  config?: string;
  env?: Record<string, string>;
  /** JetStream with a store under the broker's temporary directory. */
  jetstream?: boolean;
  /** Run it in a network namespace (ip netns exec). */
  netns?: string;
}

export class TestBroker {
  readonly dir: string;
  private child: ChildProcess | undefined;
  private log = '';

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly options: BrokerOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'sshcheck-nats-'));
    if (options.config !== undefined) writeFileSync(join(this.dir, 'nats.conf'), options.config, { mode: 0o600 });
  }

  static async start(options: BrokerOptions = {}): Promise<TestBroker> {
    const host = options.host ?? '127.0.0.1';
    const broker = new TestBroker(host, options.port ?? (await freePort(host)), options);
    await broker.start();
    return broker;
  }

  get url(): string {
    return `nats://${this.host}:${this.port}`;
  }

  get output(): string {
    return this.log;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const args = [...(this.options.config !== undefined ? ['-c', join(this.dir, 'nats.conf')] : []), '-a', this.host, '-p', String(this.port), ...(this.options.jetstream ? ['-js', '-sd', join(this.dir, 'js')] : [])];
    const [cmd, argv] = this.options.netns ? ['ip', ['netns', 'exec', this.options.netns, NATS_SERVER, ...args]] : [NATS_SERVER, args];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin', ...this.options.env } });
    this.child = child;
    const started = this.log.length;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start: ${this.log.slice(-800)}`)), 10_000);
      const onData = (d: Buffer): void => {
        this.log += d.toString();
        if (this.log.slice(started).includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stderr?.on('data', onData);
      child.stdout?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}: ${this.log.slice(-800)}`));
      });
    });
  }

  /** Stops the server (SIGTERM, then SIGKILL after 2 s); resolves when it is gone. */
  stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
    });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `cond` every 50 ms until it holds; rejects naming `what` after `timeoutMs`. */
export function waitFor(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) return resolve();
      if (Date.now() > end) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 50);
    };
    tick();
  });
}
