// Records the `ssh -vvv` fixtures of test/fixtures/openssh-verbose from real runs in the
// network lab (test/lab/lab.ts, /work/shared/design/lab.md). Run as root from the project
// root, after `npx tsc -p tsconfig.json`:
//
//   node dist/scripts/record-verbose-fixtures.js lab [--only healthy,rst] [--out DIR]
//
// `lab` builds a fresh lab for each case, sets up its fault, records it by running this
// script's `record` mode inside the lab's bastion namespace (which calls the real
// probeVerbose), and destroys the lab, also after a failure or Ctrl-C. Lab traffic stays in
// the namespaces: the bastion's only route leads to the lab router, which has no link to the
// real network.
//
// Other modes (used by `lab`, runnable by hand inside a bastion namespace):
//   record --case NAME --host H --port N --timeout S --out FILE [--hold yes]
//   record-keys --case NAME --host H --port N --verbosity v|vv --keys DIR --out FILE
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeVerbose } from '../src/engine/probes/openssh-verbose.js';
import { boundedSpawn } from '../src/engine/probes/spawn.js';
import { startClock } from '../src/engine/probes/context.js';
import type { ProbeContext } from '../src/engine/probes/context.js';
import type { TimedLine } from '../src/engine/observations.js';
import { ADDR, Lab, sh } from '../test/lab/lab.js';

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

function probeContext(budgetMs: number, signal: AbortSignal = new AbortController().signal): ProbeContext {
  return { now: startClock(), signal, deadlineMs: budgetMs };
}

// ---------------------------------------------------------------------------------------
// Modes that run inside the bastion namespace

/**
 * An unauthenticated connection that stays open and silent. Its sshd child has sent its
 * banner once the first data arrives, so sshd counts it against MaxStartups from then on.
 */
function holdConnection(host: string, port: number): Promise<Socket> {
  return new Promise((ok, fail) => {
    const socket = connect(port, host);
    const timer = setTimeout(() => {
      socket.destroy();
      fail(new Error(`no banner on the held connection to ${host}:${port}`));
    }, 5000);
    socket.once('data', () => {
      clearTimeout(timer);
      ok(socket);
    });
    // `on`, not `once`: a later reset of the held connection must not crash the recording.
    socket.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
  });
}

async function modeRecord(opts: Map<string, string>): Promise<void> {
  const timeoutS = Number(opts.get('timeout') ?? '3');
  const host = need(opts, 'host');
  const port = Number(need(opts, 'port'));
  const held = opts.get('hold') === 'yes' ? await holdConnection(host, port) : undefined;
  try {
    const ctx = probeContext((timeoutS * 3 + 10) * 1000);
    const obs = await probeVerbose({ host, port, user: 'sshcheck', connectTimeoutS: timeoutS }, ctx);
    if (obs.unavailable !== undefined) throw new Error(obs.unavailable);
    writeFixture(need(opts, 'out'), {
      case: need(opts, 'case'),
      description: opts.get('description') ?? '',
      command: obs.command,
      exitCode: obs.exitCode ?? null,
      lines: obs.lines,
    });
  } finally {
    held?.destroy();
  }
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
  const result = await boundedSpawn({ command: 'ssh', args: argv, ctx: probeContext(20_000), timeoutMs: 15_000 });
  writeFixture(need(opts, 'out'), {
    case: need(opts, 'case'),
    description: opts.get('description') ?? '',
    command: ['ssh', ...argv],
    exitCode: result.exitCode,
    lines: result.lines,
  });
}

// ---------------------------------------------------------------------------------------
// The lab side (root, outside the namespaces)

/** Keys the cases need besides the lab's own ed25519 host key, made once per run. */
interface Keys {
  rsaHostKey: string;
  /** A folder of id_1 … id_7 client keys. */
  clientKeys: string;
}

interface LabCase {
  name: string;
  description: string;
  /** Starts what listens on the target and sets the fault, in a fresh lab. */
  setup(lab: Lab, keys: Keys): Promise<unknown>;
  host?: string;
  timeoutS?: number;
  /** `ssh -v`/`-vv` with 7 keys instead of the probe. */
  verbosity?: 'v' | 'vv';
  /** Hold one silent connection to the target open while ssh runs. */
  hold?: boolean;
}

async function makeKeys(dir: string): Promise<Keys> {
  const keys: Keys = { rsaHostKey: join(dir, 'hostkey_rsa'), clientKeys: join(dir, 'keys') };
  await sh('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', keys.rsaHostKey]);
  mkdirSync(keys.clientKeys);
  for (let i = 1; i <= 7; i++) await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `key${i}`, '-f', join(keys.clientKeys, `id_${i}`)]);
  return keys;
}

/** A rule on the target's INPUT chain for the SSH port. */
const filterPort = (lab: Lab, ...rule: string[]): Promise<unknown> => lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', '22', ...rule);

/** The router's link to the bastion gets a small MTU and the "fragmentation needed" errors are dropped. */
async function mtuBlackhole(lab: Lab): Promise<void> {
  await lab.exec(lab.router, 'ip', ['link', 'set', 'r0', 'mtu', '1000']);
  await lab.iptables(lab.router, '-A', 'OUTPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP');
}

function cases(): LabCase[] {
  const sshd = (lab: Lab): Promise<unknown> => lab.startSshd();
  const withSshd =
    (fault: (lab: Lab) => Promise<unknown>) =>
    async (lab: Lab): Promise<void> => {
      await lab.startSshd();
      await fault(lab);
    };
  const tooManyKeys = 'with 7 keys (IdentitiesOnly, -i ×7) against sshd';
  return [
    {
      name: 'healthy',
      description: 'sshd answers; strict host key checking against an empty known_hosts, so ssh stops after the key exchange (Host key verification failed)',
      setup: sshd,
    },
    { name: 'silent-drop', description: 'target: iptables -A INPUT -p tcp --dport 22 -j DROP', setup: withSshd((lab) => filterPort(lab, '-j', 'DROP')) },
    {
      name: 'rst',
      description: 'target: iptables -A INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset',
      setup: withSshd((lab) => filterPort(lab, '-j', 'REJECT', '--reject-with', 'tcp-reset')),
    },
    {
      name: 'icmp-admin-prohibited',
      description: 'target: iptables -A INPUT -p tcp --dport 22 -j REJECT --reject-with icmp-admin-prohibited',
      setup: withSshd((lab) => filterPort(lab, '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited')),
    },
    {
      name: 'icmp-port-unreachable',
      description: 'target: iptables -A INPUT -p tcp --dport 22 -j REJECT --reject-with icmp-port-unreachable',
      setup: withSshd((lab) => filterPort(lab, '-j', 'REJECT', '--reject-with', 'icmp-port-unreachable')),
    },
    { name: 'sshd-stopped', description: 'nothing listens on port 22', setup: () => Promise.resolve() },
    {
      name: 'host-unreachable',
      description: `${ADDR.nobody}: an address in the target subnet nothing owns; the router's ARP fails (~3 s) and it sends ICMP host unreachable`,
      setup: sshd,
      host: ADDR.nobody,
      timeoutS: 6,
    },
    {
      name: 'tcp-wrappers',
      description: 'target: /etc/hosts.deny "sshd: ALL" (libwrap refuses, sleeps 5 s, the connection is reset); ConnectTimeout=8',
      setup: (lab) => lab.startSshd({ hostsDeny: 'sshd: ALL\n' }),
      timeoutS: 8,
    },
    {
      name: 'tcp-wrappers-short-timeout',
      description: 'as tcp-wrappers, with ConnectTimeout=3: the client gives up on the banner before the reset',
      setup: (lab) => lab.startSshd({ hostsDeny: 'sshd: ALL\n' }),
      timeoutS: 3,
    },
    {
      name: 'mtu-blackhole',
      description: 'router: r0 (bastion side) mtu 1000, ICMP fragmentation-needed dropped in OUTPUT; the server KEXINIT never arrives',
      setup: withSshd(mtuBlackhole),
    },
    { name: 'not-ssh-http', description: 'an HTTP server on port 22 (answers the SSH identification line with 400 Bad Request)', setup: (lab) => lab.startTcpService('http') },
    { name: 'banner-timeout', description: 'a TCP server on port 22 that accepts and never sends anything', setup: (lab) => lab.startTcpService('silent') },
    {
      name: 'kex-no-match',
      description: 'sshd KexAlgorithms diffie-hellman-group1-sha1 (not offered by the OpenSSH 9 client)',
      setup: (lab) => lab.startSshd({ config: ['KexAlgorithms diffie-hellman-group1-sha1'] }),
    },
    {
      name: 'hostkey-no-match',
      description: 'sshd offering only its RSA host key with HostKeyAlgorithms ssh-rsa (SHA-1 signatures, off by default in the client)',
      setup: (lab, keys) => lab.startSshd({ config: [`HostKey ${keys.rsaHostKey}`, 'HostKeyAlgorithms ssh-rsa'] }),
    },
    {
      name: 'resolve-failure',
      description: `bastion resolv.conf: nameserver ${ADDR.routerBastionSide} (nothing listens on port 53 there)`,
      setup: async (lab) => {
        await lab.startSshd();
        lab.writeEtc(lab.bastion, 'resolv.conf', `nameserver ${ADDR.routerBastionSide}\noptions timeout:1 attempts:1\n`);
      },
      host: 'db-3.sshcheck.test',
    },
    {
      name: 'maxstartups',
      description: 'sshd MaxStartups 1:100:1 with one unauthenticated connection held open (connected, silent): sshd refuses the next one',
      setup: (lab) => lab.startSshd({ config: ['MaxStartups 1:100:1'] }),
      hold: true,
    },
    {
      name: 'too-many-keys-v',
      description: `a user log: ssh -v ${tooManyKeys} MaxAuthTries 3`,
      setup: (lab) => lab.startSshd({ config: ['MaxAuthTries 3'] }),
      verbosity: 'v',
    },
    {
      name: 'too-many-keys-vv',
      description: `a user log: ssh -vv ${tooManyKeys} MaxAuthTries 3`,
      setup: (lab) => lab.startSshd({ config: ['MaxAuthTries 3'] }),
      verbosity: 'vv',
    },
    { name: 'too-many-keys-v-default', description: `a user log: ssh -v ${tooManyKeys} with the default MaxAuthTries 6`, setup: sshd, verbosity: 'v' },
  ];
}

/** Runs this script's record mode inside the bastion namespace; killed when `signal` aborts. */
async function record(lab: Lab, c: LabCase, keys: Keys, out: string, signal: AbortSignal): Promise<void> {
  const file = join(out, `${c.name}.json`);
  const common = ['--case', c.name, '--description', c.description, '--host', c.host ?? ADDR.target, '--port', '22', '--out', file];
  const argv = c.verbosity
    ? ['record-keys', ...common, '--verbosity', c.verbosity, '--keys', keys.clientKeys]
    : ['record', ...common, '--timeout', String(c.timeoutS ?? 3), ...(c.hold ? ['--hold', 'yes'] : [])];
  const result = await boundedSpawn({
    command: 'ip',
    args: ['netns', 'exec', lab.bastion, process.execPath, SCRIPT, ...argv],
    ctx: probeContext(90_000, signal),
  });
  if (result.exitCode !== 0) throw new Error(`recording ${c.name} failed (exit ${String(result.exitCode ?? result.signal)}): ${result.stderr.trim()}`);
}

async function modeLab(opts: Map<string, string>): Promise<void> {
  const out = resolve(opts.get('out') ?? DEFAULT_OUT);
  const only = opts.get('only')?.split(',');
  const selected = cases().filter((c) => only === undefined || only.includes(c.name));
  const unknown = (only ?? []).filter((name) => !selected.some((c) => c.name === name));
  if (unknown.length > 0) throw new Error(`no such case: ${unknown.join(', ')}`);

  const scratch = mkdtempSync(join(tmpdir(), 'sshcheck-verbose-keys-'));
  const controller = new AbortController();
  let lab: Lab | undefined;
  // Ctrl-C: stop the recording, then take the lab down (a lab still being built is taken
  // down by Lab's exit hook).
  const onSignal = (): void => {
    controller.abort();
    void (lab?.destroy() ?? Promise.resolve()).finally(() => {
      rmSync(scratch, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const keys = await makeKeys(scratch);
    for (const c of selected) {
      lab = await Lab.create();
      try {
        await c.setup(lab, keys);
        const started = Date.now();
        await record(lab, c, keys, out, controller.signal);
        console.log(`${c.name}: recorded in ${Date.now() - started} ms`);
      } finally {
        await lab.destroy();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
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
    default:
      console.error('usage: record-verbose-fixtures.js lab [--only case,...] [--out DIR] | record … | record-keys …');
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
