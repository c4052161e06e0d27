// A real network on one machine (shared/design/lab.md): bastion, router and target network
// namespaces joined by veth pairs, a real sshd, real iptables, a dns2 resolver we control.
// Safety: the bastion's only route leads to the lab router, which has no link to the real
// network; names carry the creating process id so concurrent runs never collide and stale
// labs of dead runs are swept; everything is torn down, also after a failure.
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SSHD, keygen, sshdConfig } from '../support/openssh-server.js';

export const ADDR = {
  bastion: '10.77.1.2',
  routerBastionSide: '10.77.1.1',
  routerTargetSide: '10.77.2.1',
  target: '10.77.2.2',
  /** In the target subnet, owned by nobody: the router's ARP for it fails. */
  nobody: '10.77.2.99',
} as const;

/**
 * The fleet subnet: a block the lab router routes to the target namespace, which takes every
 * address in it as its own (a local route, "AnyIP"), so one sshd listening on 0.0.0.0 answers
 * on all of them without 16 000 interface addresses. 10.78.0.1 … 10.78.63.254, the host
 * addresses of 10.78.0.0/18 as `sshcheck 10.78.0.0/18` lists them.
 */
export const FLEET = { prefix: '10.78.0.0/18', max: 16382 } as const;

/** The n-th fleet address (1-based): 10.78.0.1, …, 10.78.0.255, 10.78.1.0, … */
export function fleetAddress(n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > FLEET.max) throw new Error(`fleet address ${n} is outside 1-${FLEET.max}`);
  return `10.78.${Math.floor(n / 256)}.${n % 256}`;
}

const PREFIX = 'sshcheck-';
/** How long a lab process may take to say it is ready: seconds on a machine shared with other jobs. */
const READY_MS = 15_000;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'bin', 'sshcheck.js');
const DNS_SERVER = fileURLToPath(new URL('./dns-server.js', import.meta.url));
const TCP_SERVICE = fileURLToPath(new URL('./tcp-service.js', import.meta.url));
const SSH_RESPONDER = fileURLToPath(new URL('../support/ssh-server-main.js', import.meta.url));

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function sh(cmd: string, args: readonly string[], opts: { allowFail?: boolean; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: opts.timeoutMs ?? 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      if (err && !opts.allowFail) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the network lab needs Linux network namespaces';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'the network lab needs root (ip netns, iptables)';
  for (const tool of ['/usr/sbin/ip', SSHD, '/usr/sbin/iptables']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr/sbin/', '/sbin/'))) return `the network lab needs ${tool} (apt-get install iproute2 openssh-server iptables)`;
  }
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces left by lab runs whose process is gone (a crashed earlier run). */
export function sweepStaleLabs(): void {
  let list: string;
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      try {
        execFileSync('ip', ['netns', 'del', name]);
      } catch {
        // already gone
      }
      rmSync(`/etc/netns/${name}`, { recursive: true, force: true });
    }
  }
}

let counter = 0;
const liveLabs = new Set<Lab>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test process dies without running its after() hooks.
  process.on('exit', () => {
    for (const lab of liveLabs) lab.destroySync();
  });
}

export interface SshdOptions {
  /** Extra sshd_config lines. */
  config?: string[];
  /** Written to the target's /etc/hosts.deny before sshd starts (TCP wrappers). */
  hostsDeny?: string;
  port?: number;
  /**
   * Also install the config as the target's /etc/ssh/sshd_config, so that `sshd -T` run in
   * the target (by a diagnostics login) reads the same configuration.
   */
  systemConfig?: boolean;
  /** Log to this file (sshd -E) instead of stderr: fail2ban and the inside view read it. */
  logFile?: string;
  /** Listen on every address of the target namespace (the fleet addresses too), not only ADDR.target. */
  listenAll?: boolean;
  /** Extra sshd command-line flags (the fleet bench's `-r`: no re-exec per connection). */
  flags?: string[];
}

export interface DnsRule {
  /** Exact name, without trailing dot ("db-3.lab.test"), or "*" for every other name. */
  name: string;
  action: 'answer' | 'nxdomain' | 'servfail' | 'refused' | 'drop';
  a?: string[];
  aaaa?: string[];
  ptr?: string;
  /** Answer with a CNAME to this name, then with that name's own rule (a chain ends after 8). */
  cname?: string;
  /**
   * DNS rebinding: after `after` queries of a type for this name have been answered, later
   * queries of that type get these records instead (a, aaaa) of the rule's own.
   */
  then?: { after: number; a?: string[]; aaaa?: string[] };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  wallMs: number;
}

export class Lab {
  readonly bastion: string;
  readonly router: string;
  readonly target: string;
  private readonly dir: string;
  private readonly children = new Set<ChildProcess>();
  /** Namespaces added beyond the three (more clients, more bastions), torn down with them. */
  private readonly extra: string[] = [];
  private readonly id: string;
  private destroyed = false;
  private fleetRouted = false;
  private teardown: Promise<void> | undefined;

  private constructor(id: string) {
    this.id = id;
    this.bastion = `${PREFIX}${id}-b`;
    this.router = `${PREFIX}${id}-r`;
    this.target = `${PREFIX}${id}-t`;
    this.dir = mkdtempSync(join(tmpdir(), `${PREFIX}lab-`));
  }

  static async create(): Promise<Lab> {
    const why = labUnavailable();
    if (why) throw new Error(why);
    sweepStaleLabs();
    installExitHook();
    const lab = new Lab(`${process.pid}-${++counter}`);
    liveLabs.add(lab);
    try {
      await lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private async build(): Promise<void> {
    const { bastion: b, router: r, target: t } = this;
    for (const ns of [b, r, t]) {
      await sh('ip', ['netns', 'add', ns]);
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await sh('ip', ['link', 'add', 'b0', 'netns', b, 'type', 'veth', 'peer', 'name', 'r0', 'netns', r]);
    await sh('ip', ['link', 'add', 't0', 'netns', t, 'type', 'veth', 'peer', 'name', 'r1', 'netns', r]);
    await sh('ip', ['-n', b, 'addr', 'add', `${ADDR.bastion}/24`, 'dev', 'b0']);
    await sh('ip', ['-n', r, 'addr', 'add', `${ADDR.routerBastionSide}/24`, 'dev', 'r0']);
    await sh('ip', ['-n', r, 'addr', 'add', `${ADDR.routerTargetSide}/24`, 'dev', 'r1']);
    await sh('ip', ['-n', t, 'addr', 'add', `${ADDR.target}/24`, 'dev', 't0']);
    for (const [ns, dev] of [[b, 'b0'], [r, 'r0'], [r, 'r1'], [t, 't0']] as const) await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    await sh('ip', ['-n', b, 'route', 'add', 'default', 'via', ADDR.routerBastionSide]);
    await sh('ip', ['-n', t, 'route', 'add', 'default', 'via', ADDR.routerTargetSide]);
    await sh('ip', ['netns', 'exec', r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // Until a test configures DNS, the bastion resolves nothing (no resolver = no leak).
    this.writeEtc(b, 'resolv.conf', '# sshcheck lab: no resolver\n');
    this.writeEtc(b, 'hosts', '127.0.0.1 localhost\n');
    // Only files and DNS: an nsswitch with mdns or systemd-resolved could resolve outside the lab.
    this.writeEtc(b, 'nsswitch.conf', 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n');
  }

  /** Files under /etc/netns/<ns>/ are bind-mounted over /etc/ for commands run in <ns>. */
  writeEtc(ns: string, file: string, content: string): void {
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/${file}`, content);
  }

  removeEtc(ns: string, file: string): void {
    rmSync(`/etc/netns/${ns}/${file}`, { force: true });
  }

  exec(ns: string, cmd: string, args: readonly string[], opts: { allowFail?: boolean } = {}): Promise<ExecResult> {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], opts);
  }

  iptables(ns: string, ...args: string[]): Promise<ExecResult> {
    return this.exec(ns, 'iptables', args);
  }

  private startChild(ns: string, cmd: string, args: readonly string[], readyPattern?: RegExp): Promise<ChildProcess> {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`${cmd} did not start: ${out}`)), READY_MS);
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (!readyPattern || readyPattern.test(out)) {
          clearTimeout(timer);
          resolve(child);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${cmd} exited with ${code}: ${out}`));
      });
      if (!readyPattern) {
        clearTimeout(timer);
        resolve(child);
      }
    });
  }

  private namespaces(): string[] {
    return [...this.extra, this.bastion, this.router, this.target];
  }

  /** One more namespace of this lab (loopback up), torn down with the others. */
  async addNamespace(suffix: string): Promise<string> {
    if (!/^[a-z0-9]{1,8}$/.test(suffix)) throw new Error(`bad namespace suffix ${suffix}`);
    const ns = `${PREFIX}${this.id}-${suffix}`;
    await sh('ip', ['netns', 'add', ns]);
    this.extra.push(ns);
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /** Starts a process in a lab namespace that is killed with the lab. */
  spawnTracked(ns: string, cmd: string, args: readonly string[], readyPattern?: RegExp): Promise<ChildProcess> {
    return this.startChild(ns, cmd, args, readyPattern);
  }

  /** A private directory of this lab (removed with it). */
  get workDir(): string {
    return this.dir;
  }

  /** A real sshd in the target namespace, listening on the target address. */
  async startSshd(opts: SshdOptions = {}): Promise<{ stop(): Promise<void>; log: string }> {
    const key = join(this.dir, 'hostkey');
    if (!existsSync(key)) keygen(key);
    const port = opts.port ?? 22;
    const cfg = join(this.dir, `sshd_config_${port}`);
    const log = join(this.dir, `sshd_${port}.log`);
    // sshd keeps the first value it reads for a keyword: the scenario's lines go first.
    writeFileSync(cfg, sshdConfig({ listen: opts.listenAll ? '0.0.0.0' : ADDR.target, port, hostKeys: [key], dir: this.dir, ...(opts.config ? { settings: opts.config } : {}) }));
    mkdirSync('/run/sshd', { recursive: true });
    if (opts.hostsDeny !== undefined) this.writeEtc(this.target, 'hosts.deny', opts.hostsDeny);
    if (opts.systemConfig) {
      mkdirSync(`/etc/netns/${this.target}/ssh`, { recursive: true });
      writeFileSync(`/etc/netns/${this.target}/ssh/sshd_config`, readFileSync(cfg));
    }
    const logArgs = opts.logFile ? ['-E', opts.logFile] : ['-e'];
    if (opts.logFile) writeFileSync(opts.logFile, '');
    const child = await this.startChild(this.target, SSHD, ['-D', ...(opts.flags ?? []), ...logArgs, '-f', cfg], opts.logFile ? undefined : /Server listening on/);
    if (opts.logFile) await waitForText(opts.logFile, /Server listening on/, 5000);
    // The bind mount stays in force for the running sshd (lab.md); later processes get a clean /etc.
    if (opts.hostsDeny !== undefined) this.removeEtc(this.target, 'hosts.deny');
    return {
      log,
      stop: async () => {
        await killChild(child);
        this.children.delete(child);
      },
    };
  }

  /** A dns2 resolver in the router namespace at 10.77.1.1:53, listed in the bastion's resolv.conf. */
  async startDns(rules: DnsRule[], resolv = { search: ['lab.test'] }): Promise<{ setRules(rules: DnsRule[]): void; queries(): Record<string, number> }> {
    const zone = join(this.dir, 'zone.json');
    writeFileSync(zone, JSON.stringify(rules));
    await this.startChild(this.router, process.execPath, [DNS_SERVER, zone, ADDR.routerBastionSide], /listening/);
    this.writeEtc(this.bastion, 'resolv.conf', `nameserver ${ADDR.routerBastionSide}\nsearch ${resolv.search.join(' ')}\n`);
    return {
      setRules: (next) => writeFileSync(zone, JSON.stringify(next)),
      // "name TYPE" → queries answered so far (the server writes them next to the zone).
      queries: () => {
        try {
          return JSON.parse(readFileSync(`${zone}.queries.json`, 'utf8')) as Record<string, number>;
        } catch {
          return {};
        }
      },
    };
  }

  /**
   * The single-process SSH server of test/support/ssh-server.ts (validated against the real
   * OpenSSH client in test/lab/ssh-servers.test.ts) on the target, in `normal` mode: a key
   * exchange and a `none` login refused, at a fraction of sshd's cost per connection (no fork,
   * no privilege separation). With `listenAll` it answers on every address of the fleet block.
   */
  async startSshResponder(opts: { listenAll?: boolean; port?: number } = {}): Promise<{ stop(): Promise<void> }> {
    const child = await this.startChild(this.target, process.execPath, [SSH_RESPONDER, 'normal', opts.listenAll ? '0.0.0.0' : ADDR.target, String(opts.port ?? 22)], /listening/);
    return {
      stop: async () => {
        await killChild(child);
        this.children.delete(child);
      },
    };
  }

  /** A TCP service on the target that is not sshd: an HTTP server, or one that never speaks. */
  async startTcpService(kind: 'http' | 'silent', port = 22): Promise<void> {
    await this.startChild(this.target, process.execPath, [TCP_SERVICE, kind, ADDR.target, String(port)], /listening/);
  }

  /**
   * Makes the fleet block the target's (every address in it local there, routed to it by the
   * lab router) and returns its first `count` addresses; an sshd started with `listenAll`
   * answers on all of them. Other addresses of the block answer as well.
   */
  async addFleetAddresses(count: number): Promise<string[]> {
    if (!Number.isInteger(count) || count < 1 || count > FLEET.max) throw new Error(`fleet size must be 1-${FLEET.max}`);
    if (!this.fleetRouted) {
      await sh('ip', ['-n', this.target, 'route', 'add', 'local', FLEET.prefix, 'dev', 'lo']);
      await sh('ip', ['-n', this.router, 'route', 'add', FLEET.prefix, 'via', ADDR.target]);
      this.fleetRouted = true;
    }
    return Array.from({ length: count }, (_, i) => fleetAddress(i + 1));
  }

  /**
   * Random packet loss on the lab router (this kernel has no netem): every forwarded packet,
   * and the lab resolver's own DNS traffic (it runs in the router namespace, so its packets
   * are not forwarded), is dropped with this probability, in each direction.
   */
  async setLoss(probability: number): Promise<void> {
    if (!(probability > 0 && probability < 1)) throw new Error('loss probability must be between 0 and 1');
    const p = probability.toFixed(4);
    const drop = ['-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP'];
    await this.iptables(this.router, '-A', 'FORWARD', ...drop);
    // The lab resolver runs on the router: its queries and answers cross no FORWARD chain.
    // Answers are dropped as they reach the bastion, not in the router's OUTPUT chain, where
    // a DROP fails the resolver's own send (EPERM) instead of losing the packet on the wire.
    await this.iptables(this.router, '-A', 'INPUT', '-p', 'udp', '--dport', '53', ...drop);
    await this.iptables(this.bastion, '-A', 'INPUT', '-p', 'udp', '--sport', '53', ...drop);
  }

  /**
   * Runs any command in a lab namespace and times it (whole-process wall time), with a hard
   * limit; stdin is closed. For baselines and benchmarks.
   */
  runTimed(ns: string, cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<CliRun & { killed: boolean }> {
    const started = performance.now();
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', LC_ALL: 'C' } });
      this.children.add(child);
      let stdout = '';
      let stderr = '';
      let killed = false;
      // Bounded: output beyond 4 MiB is dropped.
      child.stdout.on('data', (d: Buffer) => (stdout.length < 4 << 20 ? (stdout += d.toString()) : undefined));
      child.stderr.on('data', (d: Buffer) => (stderr.length < 4 << 20 ? (stderr += d.toString()) : undefined));
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ code, stdout, stderr, wallMs: performance.now() - started, killed });
      });
    });
  }

  /**
   * Like runTimed, with stdout written to a file instead of kept in memory (a 10 000-host
   * fleet's JSON is tens of MB); stderr is kept up to 64 KiB. For benchmarks.
   */
  runToFile(ns: string, cmd: string, args: readonly string[], stdoutFile: string, timeoutMs: number): Promise<{ code: number | null; stderr: string; wallMs: number; killed: boolean }> {
    const started = performance.now();
    const fd = openSync(stdoutFile, 'w');
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', fd, 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', LC_ALL: 'C', SSHCHECK_DB: join(this.dir, 'bench.db') } });
      closeSync(fd);
      this.children.add(child);
      let stderr = '';
      let killed = false;
      child.stderr?.on('data', (d: Buffer) => (stderr.length < 64 << 10 ? (stderr += d.toString()) : undefined));
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ code, stderr, wallMs: performance.now() - started, killed });
      });
    });
  }

  /**
   * Runs the real CLI from the bastion namespace. `store` names its own store file: the
   * connection budget across runs lives there, so a test that checks one target several times
   * for other reasons gives each check a store of its own. `cli`: another build's
   * bin/sshcheck.js (the bench's before figures).
   */
  runCli(args: readonly string[], timeoutMs = 30_000, store = 'sshcheck', cli = CLI): Promise<CliRun> {
    const started = performance.now();
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', this.bastion, process.execPath, cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', SSHCHECK_DB: join(this.dir, `${store}.db`) } });
      this.children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (code) => {
        clearTimeout(timer);
        this.children.delete(child);
        resolve({ code, stdout, stderr, wallMs: performance.now() - started });
      });
    });
  }

  /** Tears the lab down; a second call (a Ctrl-C handler during teardown) waits for the same teardown. */
  destroy(): Promise<void> {
    this.teardown ??= this.tearDown();
    return this.teardown;
  }

  private async tearDown(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all([...this.children].map(killChild));
    for (const ns of this.namespaces()) {
      killProcessesIn(ns);
      await sh('ip', ['netns', 'del', ns], { allowFail: true });
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    rmSync(this.dir, { recursive: true, force: true });
    liveLabs.delete(this);
  }

  /** Synchronous teardown for process exit, when no event loop is left to await in. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const child of this.children) child.kill('SIGKILL');
    for (const ns of this.namespaces()) {
      killProcessesIn(ns);
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // gone already
      }
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Processes still inside a lab namespace are the lab's own but not its children: sshd's
 * per-connection children (libwrap's 5 s sleep, a held pre-auth connection) and what a killed
 * recorder left behind. Deleting the namespace would not end them.
 */
function killProcessesIn(ns: string): void {
  let pids: string;
  try {
    pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return;
  }
  for (const pid of pids.split('\n').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

async function waitForText(file: string, pattern: RegExp, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (pattern.test(readFileSync(file, 'utf8'))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${file} never showed ${String(pattern)}`);
}

function killChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    // `ip netns exec` execs the command itself, so the signal reaches sshd / node directly.
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 1000).unref();
  });
}
