// More network segments on a lab's router, for tests with several machines: a second
// bastion, a chat bot. Additive to lab.ts (whose API other tests and scripts use): each
// segment is a namespace joined to the lab router by its own veth pair and subnet
// 10.77.<n>.0/24 (the router is .1, the segment's machine .2). The same safety rules hold:
// the only route leads to the lab router, names carry the lab's id (so sweepStaleLabs
// removes them after a crash), and everything is torn down, also on exit.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from './lab.js';
import { sh } from './lab.js';

export interface Segment {
  /** The namespace. */
  ns: string;
  /** The segment machine's address (10.77.<n>.2). */
  address: string;
  /** The router's address on this segment (10.77.<n>.1). */
  gateway: string;
}

export interface LabProcess {
  child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after a second; resolves when it is gone. */
  stop(): Promise<void>;
}

const live = new Set<LabSegments>();
let hooked = false;

function pidsIn(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .filter((p) => p !== process.pid);
  } catch {
    return [];
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 1000).unref();
  });
}

export class LabSegments {
  private readonly segments: Segment[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroyed = false;

  private constructor(private readonly lab: Lab) {}

  /** Adds one namespace per entry, e.g. { b2: 3, bot: 4 } for 10.77.3.0/24 and 10.77.4.0/24. */
  static async add(lab: Lab, wanted: Record<string, number>): Promise<{ segments: LabSegments; added: Record<string, Segment> }> {
    if (!hooked) {
      hooked = true;
      process.on('exit', () => {
        for (const s of live) s.destroySync();
      });
    }
    const segments = new LabSegments(lab);
    live.add(segments);
    const added: Record<string, Segment> = {};
    try {
      for (const [name, subnet] of Object.entries(wanted)) added[name] = await segments.build(name, subnet);
    } catch (err) {
      await segments.destroy();
      throw err;
    }
    return { segments, added };
  }

  private async build(name: string, subnet: number): Promise<Segment> {
    if (!Number.isInteger(subnet) || subnet < 3 || subnet > 250) throw new Error(`segment subnet ${subnet}: use 3-250 (1 and 2 are the lab's own)`);
    const base = this.lab.router.replace(/-r$/, '');
    const seg: Segment = { ns: `${base}-${name}`, address: `10.77.${subnet}.2`, gateway: `10.77.${subnet}.1` };
    // Interface names are per namespace; the router side needs one per segment.
    const [inner, outer] = [`s${subnet}`, `r${subnet}`];
    this.segments.push(seg);
    await sh('ip', ['netns', 'add', seg.ns]);
    await sh('ip', ['-n', seg.ns, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['link', 'add', inner, 'netns', seg.ns, 'type', 'veth', 'peer', 'name', outer, 'netns', this.lab.router]);
    await sh('ip', ['-n', seg.ns, 'addr', 'add', `${seg.address}/24`, 'dev', inner]);
    await sh('ip', ['-n', this.lab.router, 'addr', 'add', `${seg.gateway}/24`, 'dev', outer]);
    await sh('ip', ['-n', seg.ns, 'link', 'set', inner, 'up']);
    await sh('ip', ['-n', this.lab.router, 'link', 'set', outer, 'up']);
    await sh('ip', ['-n', seg.ns, 'route', 'add', 'default', 'via', seg.gateway]);
    // Like the lab's bastion: no resolver until a test configures one.
    this.lab.writeEtc(seg.ns, 'resolv.conf', '# sshcheck lab: no resolver\n');
    this.lab.writeEtc(seg.ns, 'hosts', '127.0.0.1 localhost\n');
    return seg;
  }

  /**
   * Starts a process in a namespace (any of the lab's or a segment's); resolves once its
   * stderr matches `ready`. Its environment is only what is given (plus PATH, HOME and a
   * store of its own in the lab's directory, so that nothing is written outside the lab).
   */
  start(ns: string, cmd: string, args: readonly string[], options: { ready: RegExp; env?: Record<string, string>; timeoutMs?: number }): Promise<LabProcess> {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', SSHCHECK_DB: join(this.lab.workDir, `store-${ns}.db`), ...options.env },
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const handle: LabProcess = {
      child,
      stderr: () => err,
      stop: async () => {
        await stopChild(child);
        this.children.delete(child);
      },
    };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${cmd} did not become ready in ${ns}: ${err.slice(-500)}`));
      }, options.timeoutMs ?? 10_000);
      const check = (): void => {
        if (options.ready.test(err)) {
          clearTimeout(timer);
          child.stderr.off('data', check);
          resolve(handle);
        }
      };
      child.stderr.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${cmd} exited with ${code} in ${ns}: ${err.slice(-500)}`));
      });
    });
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.children].map(stopChild));
    for (const seg of this.segments) {
      for (const pid of pidsIn(seg.ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await sh('ip', ['netns', 'del', seg.ns], { allowFail: true });
      rmSync(`/etc/netns/${seg.ns}`, { recursive: true, force: true });
    }
    live.delete(this);
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const child of this.children) child.kill('SIGKILL');
    for (const seg of this.segments) {
      for (const pid of pidsIn(seg.ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      try {
        execFileSync('ip', ['netns', 'del', seg.ns], { stdio: 'ignore' });
      } catch {
        // gone already
      }
      rmSync(`/etc/netns/${seg.ns}`, { recursive: true, force: true });
    }
  }
}
