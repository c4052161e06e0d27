// Records the `ssh -vvv` fixtures of test/fixtures/openssh-verbose from real runs, in a
// network-namespace lab built as /work/shared/design/lab.md describes (suffix h2). Run as
// root from the project root, after `npx tsc -p tsconfig.json`:
//
//   node dist/scripts/record-verbose-fixtures.js lab [--only healthy,rst] [--out DIR]
//
// `lab` builds the namespaces, then for each case sets up one fault, records it by running
// this script's `record` mode inside the bastion namespace
// (`ip netns exec labbh2 node dist/scripts/record-verbose-fixtures.js record …`, which
// calls the real probeVerbose), undoes the fault, and finally tears everything down, also
// after a failure or Ctrl-C. Lab traffic stays in the namespaces: the bastion's only route
// leads to the lab router, which has no link to the real network.
//
// Other modes (used by `lab`, runnable by hand):
//   record --case NAME --host H --port N --timeout S --out FILE
//   record-keys --case NAME --host H --port N --verbosity v|vv --keys DIR --out FILE
//   serve-http PORT | serve-silent PORT      (tiny non-SSH servers for the target namespace)
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeVerbose } from '../src/engine/probes/openssh-verbose.js';
import { boundedSpawn } from '../src/engine/probes/spawn.js';
import { startClock } from '../src/engine/probes/context.js';
import type { ProbeContext } from '../src/engine/probes/context.js';
import type { TimedLine } from '../src/engine/observations.js';

const SFX = 'h2';
const NS = { b: `labb${SFX}`, r: `labr${SFX}`, t: `labt${SFX}` } as const;
const TARGET = '10.77.2.2';
const UNOWNED = '10.77.2.99';
const ROUTER_BASTION_SIDE = '10.77.1.1';
const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SCRIPT), '..', '..');
const DEFAULT_OUT = join(ROOT, 'test', 'fixtures', 'openssh-verbose');

// ---------------------------------------------------------------------------------------
// Small helpers

function args(argv: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a.startsWith('--')) {
      map.set(a.slice(2), argv[i + 1] ?? '');
      i++;
    }
  }
  return map;
}

function need(map: Map<string, string>, key: string): string {
  const v = map.get(key);
  if (v === undefined || v === '') throw new Error(`missing --${key}`);
  return v;
}

function run(cmd: string, argv: string[], okToFail = false): string {
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    if (okToFail) return '';
    throw err;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Fixture {
  case: string;
  description: string;
  command: string[];
  exitCode: number | null;
  lines: TimedLine[];
}

function writeFixture(file: string, fixture: Fixture): void {
  mkdirSync(dirname(file), { recursive: true });
  const lines = fixture.lines.map((l) => ({ t: Math.round(l.t), text: l.text }));
  writeFileSync(file, `${JSON.stringify({ ...fixture, lines }, null, 2)}\n`);
}

function probeContext(budgetMs: number): ProbeContext {
  return { now: startClock(), signal: new AbortController().signal, deadlineMs: budgetMs };
}

// ---------------------------------------------------------------------------------------
// Modes that run inside a namespace

async function modeRecord(opts: Map<string, string>): Promise<void> {
  const timeoutS = Number(opts.get('timeout') ?? '3');
  const ctx = probeContext((timeoutS * 3 + 10) * 1000);
  const obs = await probeVerbose({ host: need(opts, 'host'), port: Number(need(opts, 'port')), user: 'sshcheck', connectTimeoutS: timeoutS }, ctx);
  if (obs.unavailable !== undefined) throw new Error(obs.unavailable);
  writeFixture(need(opts, 'out'), {
    case: need(opts, 'case'),
    description: opts.get('description') ?? '',
    command: obs.command,
    exitCode: obs.exitCode ?? null,
    lines: obs.lines,
  });
}

/** A person's own `ssh -v` with many keys: what "Too many authentication failures" looks like. */
async function modeRecordKeys(opts: Map<string, string>): Promise<void> {
  const dir = need(opts, 'keys');
  const keys = readdirSync(dir)
    .filter((f) => /^id_\d+$/.test(f))
    .sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
  const verbosity = opts.get('verbosity') === 'vv' ? '-vv' : '-v';
  const argv = [
    verbosity,
    '-F',
    '/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    ...keys.flatMap((k) => ['-i', join(dir, k)]),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=3',
    '-p',
    need(opts, 'port'),
    '-l',
    'sshcheck',
    '--',
    need(opts, 'host'),
  ];
  const ctx = probeContext(20_000);
  const result = await boundedSpawn({ command: 'ssh', args: argv, ctx, timeoutMs: 15_000 });
  writeFixture(need(opts, 'out'), {
    case: need(opts, 'case'),
    description: opts.get('description') ?? '',
    command: ['ssh', ...argv],
    exitCode: result.exitCode,
    lines: result.lines,
  });
}

/** A web server on the SSH port: answers ssh's identification line with HTTP 400. */
function modeServeHttp(port: number): void {
  const server = createHttpServer((_req, res) => res.end('hello\n'));
  server.listen(port, '0.0.0.0', () => console.log('listening'));
}

/** Accepts connections and never says anything: the client waits for a banner. */
function modeServeSilent(port: number): void {
  const held: Socket[] = [];
  const server = createNetServer((socket) => {
    held.push(socket);
    socket.on('error', () => undefined);
  });
  server.listen(port, '0.0.0.0', () => console.log('listening'));
}

// ---------------------------------------------------------------------------------------
// The lab (root, outside the namespaces)

interface Server {
  child: ChildProcess;
  name: string;
}

type TargetServer = { kind: 'sshd'; config?: string[]; hostKey?: 'ed25519' | 'rsa' } | { kind: 'http' } | { kind: 'silent' } | { kind: 'none' };

interface LabCase {
  name: string;
  description: string;
  server: TargetServer;
  host?: string;
  timeoutS?: number;
  /** `ssh -v`/`-vv` with 7 keys instead of the probe. */
  keys?: 'v' | 'vv';
  setup?: () => void;
  undo?: () => void;
}

class Lab {
  readonly dir = mkdtempSync(join(tmpdir(), `sshcheck-lab-${SFX}-`));
  private server: Server | undefined;
  private readonly children = new Set<ChildProcess>();
  private torn = false;

  build(): void {
    const existing = run('ip', ['netns', 'list']);
    for (const ns of Object.values(NS)) {
      if (new RegExp(`^${ns}\\b`, 'm').test(existing)) throw new Error(`namespace ${ns} already exists: another run is active, or clean it up first`);
    }
    for (const ns of Object.values(NS)) {
      run('ip', ['netns', 'add', ns]);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // Created under suffixed names, renamed inside the namespaces, so that two labs built
    // at the same time never race for the same name.
    run('ip', ['link', 'add', `b0${SFX}`, 'netns', NS.b, 'type', 'veth', 'peer', 'name', `r0${SFX}`, 'netns', NS.r]);
    run('ip', ['link', 'add', `t0${SFX}`, 'netns', NS.t, 'type', 'veth', 'peer', 'name', `r1${SFX}`, 'netns', NS.r]);
    run('ip', ['-n', NS.b, 'link', 'set', `b0${SFX}`, 'name', 'b0']);
    run('ip', ['-n', NS.r, 'link', 'set', `r0${SFX}`, 'name', 'r0']);
    run('ip', ['-n', NS.r, 'link', 'set', `r1${SFX}`, 'name', 'r1']);
    run('ip', ['-n', NS.t, 'link', 'set', `t0${SFX}`, 'name', 't0']);
    run('ip', ['-n', NS.b, 'addr', 'add', '10.77.1.2/24', 'dev', 'b0']);
    run('ip', ['-n', NS.r, 'addr', 'add', '10.77.1.1/24', 'dev', 'r0']);
    run('ip', ['-n', NS.r, 'addr', 'add', '10.77.2.1/24', 'dev', 'r1']);
    run('ip', ['-n', NS.t, 'addr', 'add', '10.77.2.2/24', 'dev', 't0']);
    for (const [ns, dev] of [
      [NS.b, 'b0'],
      [NS.r, 'r0'],
      [NS.r, 'r1'],
      [NS.t, 't0'],
    ] as const) {
      run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    run('ip', ['-n', NS.b, 'route', 'add', 'default', 'via', '10.77.1.1']);
    run('ip', ['-n', NS.t, 'route', 'add', 'default', 'via', '10.77.2.1']);
    run('ip', ['netns', 'exec', NS.r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);

    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(this.dir, 'hostkey_ed25519')]);
    run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', join(this.dir, 'hostkey_rsa')]);
    mkdirSync(join(this.dir, 'keys'));
    for (let i = 1; i <= 7; i++) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `key${i}`, '-f', join(this.dir, 'keys', `id_${i}`)]);
    writeFileSync(join(this.dir, 'authorized_keys'), '');
    mkdirSync('/run/sshd', { recursive: true });
  }

  private track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  private async stopServer(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
    s.child.kill('SIGKILL');
    await Promise.race([exited, sleep(3000)]);
  }

  private async waitFor(check: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 60; i++) {
      if (check()) return;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  async ensureServer(want: TargetServer, name: string): Promise<void> {
    await this.stopServer();
    if (want.kind === 'none') return;
    let child: ChildProcess;
    if (want.kind === 'sshd') {
      const key = want.hostKey ?? 'ed25519';
      const config = [
        'Port 22',
        `HostKey ${join(this.dir, `hostkey_${key}`)}`,
        `PidFile ${join(this.dir, `sshd-${name}.pid`)}`,
        `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
        'UsePAM no',
        'StrictModes no',
        ...(want.config ?? []),
      ];
      const cfg = join(this.dir, `sshd-${name}.conf`);
      const log = join(this.dir, `sshd-${name}.log`);
      writeFileSync(cfg, `${config.join('\n')}\n`);
      writeFileSync(log, '');
      // -D keeps sshd in the foreground, so this process holds its pid and can end it.
      child = this.track(spawn('ip', ['netns', 'exec', NS.t, '/usr/sbin/sshd', '-D', '-f', cfg, '-E', log], { stdio: 'ignore' }));
      await this.waitFor(() => readFileSync(log, 'utf8').includes('Server listening on'), `sshd ${name}`);
    } else {
      const mode = want.kind === 'http' ? 'serve-http' : 'serve-silent';
      child = this.track(spawn('ip', ['netns', 'exec', NS.t, process.execPath, SCRIPT, mode, '22'], { stdio: ['ignore', 'pipe', 'inherit'] }));
      let ready = false;
      child.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('listening')) ready = true;
      });
      await this.waitFor(() => ready, `${mode} server`);
    }
    this.server = { child, name };
  }

  /**
   * Runs this script's record mode inside the bastion namespace. Asynchronously, so that a
   * Ctrl-C reaches the handler that tears the lab down while a case is being recorded.
   */
  async record(c: LabCase, out: string): Promise<void> {
    const file = join(out, `${c.name}.json`);
    const common = ['--case', c.name, '--description', c.description, '--host', c.host ?? TARGET, '--port', '22', '--out', file];
    const argv = c.keys
      ? ['record-keys', ...common, '--verbosity', c.keys, '--keys', join(this.dir, 'keys')]
      : ['record', ...common, '--timeout', String(c.timeoutS ?? 3)];
    const child = this.track(spawn('ip', ['netns', 'exec', NS.b, process.execPath, SCRIPT, ...argv], { stdio: ['ignore', 'inherit', 'pipe'] }));
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const code = await new Promise<number | null>((r) => child.once('close', (exitCode) => r(exitCode)));
    clearTimeout(timer);
    if (code !== 0) throw new Error(`recording ${c.name} failed (exit ${String(code)}): ${stderr.trim()}`);
  }

  teardown(): void {
    if (this.torn) return;
    this.torn = true;
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    // Anything still running in the lab namespaces was started by this run (per-connection
    // sshd children): end those processes by pid before the namespaces go.
    for (const ns of Object.values(NS)) {
      for (const pid of run('ip', ['netns', 'pids', ns], true).split('\n').filter((p) => /^\d+$/.test(p))) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of Object.values(NS)) {
      run('ip', ['netns', 'del', ns], true);
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function cases(): LabCase[] {
  const sshd: TargetServer = { kind: 'sshd' };
  const filter = (rule: string[]): Pick<LabCase, 'setup' | 'undo'> => ({
    setup: () => run('ip', ['netns', 'exec', NS.t, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', ...rule]),
    undo: () => run('ip', ['netns', 'exec', NS.t, 'iptables', '-D', 'INPUT', '-p', 'tcp', '--dport', '22', ...rule], true),
  });
  const wrappers = `/etc/netns/${NS.t}`;
  const resolver = `/etc/netns/${NS.b}`;
  return [
    { name: 'healthy', description: 'sshd answers; no authentication offered, so it ends at Permission denied', server: sshd },
    { name: 'silent-drop', description: 'target: iptables -A INPUT -p tcp --dport 22 -j DROP', server: sshd, ...filter(['-j', 'DROP']) },
    { name: 'rst', description: 'target: iptables -A INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset', server: sshd, ...filter(['-j', 'REJECT', '--reject-with', 'tcp-reset']) },
    {
      name: 'icmp-admin-prohibited',
      description: 'target: iptables -A INPUT -p tcp --dport 22 -j REJECT --reject-with icmp-admin-prohibited',
      server: sshd,
      ...filter(['-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited']),
    },
    {
      name: 'icmp-port-unreachable',
      description: 'target: iptables -A INPUT -p tcp --dport 22 -j REJECT --reject-with icmp-port-unreachable',
      server: sshd,
      ...filter(['-j', 'REJECT', '--reject-with', 'icmp-port-unreachable']),
    },
    { name: 'sshd-stopped', description: 'nothing listens on port 22', server: { kind: 'none' } },
    {
      name: 'host-unreachable',
      description: `${UNOWNED}: an address in the target subnet nothing owns; the router's ARP fails (~3 s) and it sends ICMP host unreachable`,
      server: sshd,
      host: UNOWNED,
      timeoutS: 6,
    },
    {
      name: 'tcp-wrappers',
      description: 'target: /etc/hosts.deny "sshd: ALL" (libwrap refuses, sleeps 5 s, the connection is reset); ConnectTimeout=8',
      server: sshd,
      timeoutS: 8,
      // Written before sshd starts: `ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc.
      setup: () => {
        mkdirSync(wrappers, { recursive: true });
        writeFileSync(join(wrappers, 'hosts.deny'), 'sshd: ALL\n');
      },
      undo: () => rmSync(wrappers, { recursive: true, force: true }),
    },
    {
      name: 'tcp-wrappers-short-timeout',
      description: 'as tcp-wrappers, with ConnectTimeout=3: the client gives up on the banner before the reset',
      server: sshd,
      timeoutS: 3,
      setup: () => {
        mkdirSync(wrappers, { recursive: true });
        writeFileSync(join(wrappers, 'hosts.deny'), 'sshd: ALL\n');
      },
      undo: () => rmSync(wrappers, { recursive: true, force: true }),
    },
    {
      name: 'mtu-blackhole',
      description: 'router: r0 (bastion side) mtu 1000, ICMP fragmentation-needed dropped in OUTPUT; the server KEXINIT never arrives',
      server: sshd,
      setup: () => {
        run('ip', ['-n', NS.r, 'link', 'set', 'r0', 'mtu', '1000']);
        run('ip', ['netns', 'exec', NS.r, 'iptables', '-A', 'OUTPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP']);
      },
      undo: () => {
        run('ip', ['-n', NS.r, 'link', 'set', 'r0', 'mtu', '1500'], true);
        run('ip', ['netns', 'exec', NS.r, 'iptables', '-D', 'OUTPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP'], true);
      },
    },
    { name: 'not-ssh-http', description: 'an HTTP server on port 22 (answers the SSH identification line with 400 Bad Request)', server: { kind: 'http' } },
    { name: 'banner-timeout', description: 'a TCP server on port 22 that accepts and never sends anything', server: { kind: 'silent' } },
    {
      name: 'kex-no-match',
      description: 'sshd KexAlgorithms diffie-hellman-group1-sha1 (not offered by the OpenSSH 9 client)',
      server: { kind: 'sshd', config: ['KexAlgorithms diffie-hellman-group1-sha1'] },
    },
    {
      name: 'hostkey-no-match',
      description: 'sshd with only an RSA host key and HostKeyAlgorithms ssh-rsa (SHA-1 signatures, off by default in the client)',
      server: { kind: 'sshd', hostKey: 'rsa', config: ['HostKeyAlgorithms ssh-rsa'] },
    },
    {
      name: 'resolve-failure',
      description: `bastion resolv.conf: nameserver ${ROUTER_BASTION_SIDE} (nothing listens on port 53 there)`,
      server: sshd,
      host: 'db-3.sshcheck.test',
      setup: () => {
        mkdirSync(resolver, { recursive: true });
        writeFileSync(join(resolver, 'resolv.conf'), `nameserver ${ROUTER_BASTION_SIDE}\noptions timeout:1 attempts:1\n`);
      },
      undo: () => rmSync(resolver, { recursive: true, force: true }),
    },
    {
      name: 'too-many-keys-v',
      description: 'a user log: ssh -v with 7 keys (IdentitiesOnly, -i ×7) against sshd MaxAuthTries 3',
      server: { kind: 'sshd', config: ['MaxAuthTries 3'] },
      keys: 'v',
    },
    {
      name: 'too-many-keys-vv',
      description: 'a user log: ssh -vv with 7 keys (IdentitiesOnly, -i ×7) against sshd MaxAuthTries 3',
      server: { kind: 'sshd', config: ['MaxAuthTries 3'] },
      keys: 'vv',
    },
    {
      name: 'too-many-keys-v-default',
      description: 'a user log: ssh -v with 7 keys (IdentitiesOnly, -i ×7) against sshd with the default MaxAuthTries 6',
      server: { kind: 'sshd' },
      keys: 'v',
    },
  ];
}

async function modeLab(opts: Map<string, string>): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the lab needs root (network namespaces, iptables, sshd)');
  if (!existsSync(SCRIPT)) throw new Error(`run the compiled script (${SCRIPT})`);
  const out = resolve(opts.get('out') ?? DEFAULT_OUT);
  const only = opts.get('only')?.split(',');
  const lab = new Lab();
  const onSignal = (): void => {
    lab.teardown();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    lab.build();
    for (const c of cases()) {
      if (only !== undefined && !only.includes(c.name)) continue;
      // Setup first: TCP wrappers must be in place before sshd starts.
      c.setup?.();
      try {
        await lab.ensureServer(c.server, c.name);
        const started = Date.now();
        await lab.record(c, out);
        console.log(`${c.name}: recorded in ${Date.now() - started} ms`);
      } finally {
        c.undo?.();
      }
    }
  } finally {
    lab.teardown();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

async function main(): Promise<void> {
  const [mode, ...rest] = process.argv.slice(2);
  const opts = args(rest);
  switch (mode) {
    case 'lab':
      return modeLab(opts);
    case 'record':
      return modeRecord(opts);
    case 'record-keys':
      return modeRecordKeys(opts);
    case 'serve-http':
      return modeServeHttp(Number(rest[0] ?? '22'));
    case 'serve-silent':
      return modeServeSilent(Number(rest[0] ?? '22'));
    default:
      console.error('usage: record-verbose-fixtures.js lab [--only case,...] [--out DIR] | record … | record-keys … | serve-http PORT | serve-silent PORT');
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
