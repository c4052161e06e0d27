// Records the fixtures of test/fixtures/{ping,path,getent} from real runs of ping,
// traceroute, mtr and getent, in a network-namespace lab built as
// /work/shared/design/lab.md describes (suffix h3), with the exact argument lists the probes
// use. Run as root from the project root, after `npx tsc -p tsconfig.json`:
//
//   node dist/scripts/record-probe-fixtures.js all
//
// which is: `lab-up` (namespaces labbh3 / labrh3 / labth3, veths, IPv4 and IPv6, and
// /etc/netns/labbh3/{resolv.conf,hosts,nsswitch.conf}); then
// `ip netns exec labbh3 node dist/scripts/record-probe-fixtures.js record`; then `lab-down`,
// also after a failure or Ctrl-C. Each mode can be run by hand too:
//
//   record       (inside labbh3) starts the lab DNS server (`dns-server`, in labrh3) and a
//                banner listener (`listener`, in labth3) as children, sets up one fault at a
//                time in the target or router namespace, records, undoes the fault, and at
//                the end runs every probe once against the lab as an end-to-end check.
//   dns-server   (inside labrh3) a dns2 UDP server on 10.77.1.1:53 and [fd77:1::1]:53,
//                answering by name: *.lab.test → A 10.77.2.2 / AAAA fd77:2::2, nx.* →
//                NXDOMAIN, fail.* → SERVFAIL, refused.* → REFUSED, slow.* → no answer,
//                cname.* → CNAME chain, v4only.* → A only; PTR of the target.
//   listener     (inside labth3) a TCP server on port 22 that sends an SSH banner and closes.
//
// Safety: lab traffic never leaves the lab. The bastion's only route leads to the lab router,
// which has no link to the real network; `record` refuses to run outside labbh3 and every
// address it probes is a constant inside 10.77.0.0/16 or fd77::/16.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import dns2 from 'dns2';
import pingFactory from 'ping/lib/builder/factory.js';
import { boundedSpawn } from '../src/engine/probes/spawn.js';
import type { BoundedSpawnResult } from '../src/engine/probes/spawn.js';
import { startClock } from '../src/engine/probes/context.js';
import type { ProbeContext } from '../src/engine/probes/context.js';
import { pingArguments, probePing } from '../src/engine/probes/ping.js';
import { mtuPingArguments, probeMtu } from '../src/engine/probes/mtu.js';
import { mtrArguments, probePath, tracerouteArguments } from '../src/engine/probes/path.js';
import { probeDns, probePtr } from '../src/engine/probes/dns.js';
import { probeSystemResolve } from '../src/engine/probes/system-resolve.js';
import { probeTcp } from '../src/engine/probes/tcp.js';

const SFX = 'h3';
const NS = { b: `labb${SFX}`, r: `labr${SFX}`, t: `labt${SFX}` } as const;
const LINK = { b: `b0${SFX}`, rb: `r0${SFX}`, rt: `r1${SFX}`, t: `t0${SFX}` } as const;
const BASTION = '10.77.1.2';
const ROUTER_B = '10.77.1.1';
const TARGET = '10.77.2.2';
const TARGET6 = 'fd77:2::2';
const ROUTER_B6 = 'fd77:1::1';
/** Lab addresses nothing owns: the router's ARP gets no answer (fresh ones, so no cached FAILED entry). */
const UNOWNED = { ping: '10.77.2.99', traceroute: '10.77.2.98', mtr: '10.77.2.97', tcp: '10.77.2.96' } as const;
/** A lab subnet the router has no route to. */
const NO_ROUTE = '10.77.3.5';
const NO_ROUTE6 = 'fd77:3::5';
const NOBODY = '65534';
const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SCRIPT), '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures');
const NETNS_DIR = '/etc/netns';
const builder = pingFactory.createBuilder('linux');
/** dns2 has these at runtime (Packet.RCODE) but not in its type declarations. */
const RCODE = { SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

// ---------------------------------------------------------------------------------------
// Helpers

function context(deadlineMs: number, signal: AbortSignal = new AbortController().signal): ProbeContext {
  return { now: startClock(), signal, deadlineMs };
}

async function run(command: string, args: string[], opts: { timeoutMs?: number; okToFail?: boolean; env?: Record<string, string> } = {}): Promise<BoundedSpawnResult> {
  const result = await boundedSpawn({ command, args, ctx: context(opts.timeoutMs ?? 20_000), ...(opts.env ? { env: opts.env } : {}) });
  if (!opts.okToFail && (result.exitCode !== 0 || result.spawnError !== undefined)) {
    throw new Error(`${command} ${args.join(' ')} failed (${String(result.exitCode ?? result.spawnError ?? result.signal)}): ${result.stderr.trim()}`);
  }
  return result;
}

const inNs = (ns: string, command: string, args: string[], okToFail = false): Promise<BoundedSpawnResult> =>
  run('ip', ['netns', 'exec', ns, command, ...args], { okToFail });

function isLabAddress(address: string): boolean {
  return address.startsWith('10.77.') || address.toLowerCase().startsWith('fd77:');
}

function assertLab(address: string): string {
  if (!isLabAddress(address)) throw new Error(`refusing to probe ${address}: not a lab address`);
  return address;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// lab-up / lab-down (root namespace)

async function labDown(): Promise<void> {
  for (const ns of Object.values(NS)) {
    // Processes still inside our namespaces are ours (dns-server, listener): end them by pid.
    const pids = await run('ip', ['netns', 'pids', ns], { okToFail: true });
    for (const pid of pids.stdout.split(/\s+/).filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    // Deleting a namespace destroys the veth ends inside it, and with them their peers.
    await run('ip', ['netns', 'del', ns], { okToFail: true });
    rmSync(join(NETNS_DIR, ns), { recursive: true, force: true });
  }
  try {
    rmdirSync(NETNS_DIR); // only when empty: other labs may use it
  } catch {
    // Not empty or not there.
  }
  const left = (await run('ip', ['netns', 'list'], { okToFail: true })).stdout;
  const ours = left.split('\n').filter((l) => Object.values(NS).some((ns) => l.split(' ')[0] === ns));
  if (ours.length > 0) throw new Error(`namespaces left behind: ${ours.join(', ')}`);
}

async function labUp(): Promise<void> {
  await labDown();
  const ip = (args: string[]): Promise<BoundedSpawnResult> => run('ip', args);
  for (const ns of Object.values(NS)) {
    await ip(['netns', 'add', ns]);
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    // No duplicate address detection on the lab links: a tentative link-local address delays
    // neighbour discovery by about a second after every link change.
    await inNs(ns, 'sysctl', ['-qw', 'net.ipv6.conf.default.accept_dad=0']);
  }
  await ip(['link', 'add', LINK.b, 'netns', NS.b, 'type', 'veth', 'peer', 'name', LINK.rb, 'netns', NS.r]);
  await ip(['link', 'add', LINK.t, 'netns', NS.t, 'type', 'veth', 'peer', 'name', LINK.rt, 'netns', NS.r]);
  const addrs: Array<[string, string, string]> = [
    [NS.b, LINK.b, '10.77.1.2/24'],
    [NS.r, LINK.rb, '10.77.1.1/24'],
    [NS.r, LINK.rt, '10.77.2.1/24'],
    [NS.t, LINK.t, '10.77.2.2/24'],
  ];
  const addrs6: Array<[string, string, string]> = [
    [NS.b, LINK.b, 'fd77:1::2/64'],
    [NS.r, LINK.rb, 'fd77:1::1/64'],
    [NS.r, LINK.rt, 'fd77:2::1/64'],
    [NS.t, LINK.t, 'fd77:2::2/64'],
  ];
  for (const [ns, dev, cidr] of addrs) await ip(['-n', ns, 'addr', 'add', cidr, 'dev', dev]);
  // nodad: the addresses are usable at once instead of after duplicate address detection.
  for (const [ns, dev, cidr] of addrs6) await ip(['-n', ns, 'addr', 'add', cidr, 'dev', dev, 'nodad']);
  for (const [ns, dev] of addrs) await ip(['-n', ns, 'link', 'set', dev, 'up']);
  await ip(['-n', NS.b, 'route', 'add', 'default', 'via', '10.77.1.1']);
  await ip(['-n', NS.t, 'route', 'add', 'default', 'via', '10.77.2.1']);
  await ip(['-n', NS.b, '-6', 'route', 'add', 'default', 'via', 'fd77:1::1']);
  await ip(['-n', NS.t, '-6', 'route', 'add', 'default', 'via', 'fd77:2::1']);
  await inNs(NS.r, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
  await inNs(NS.r, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  // Linux sends at most ~6 ICMP errors in a burst to one peer, then one a second: the
  // fixtures are recorded back to back, and each must show the error its fault produces.
  for (const ns of [NS.r, NS.t]) {
    await inNs(ns, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0']);
    await inNs(ns, 'sysctl', ['-qw', 'net.ipv6.icmp.ratelimit=0']);
  }

  // `ip netns exec labbh3` bind-mounts these over /etc/*: the bastion's resolver config.
  const etc = join(NETNS_DIR, NS.b);
  mkdirSync(etc, { recursive: true });
  writeFileSync(
    join(etc, 'resolv.conf'),
    `# sshcheck lab (${SFX})\nnameserver ${ROUTER_B}\nnameserver ${ROUTER_B6}\nsearch lab.test\noptions ndots:1 timeout:1 attempts:2\n`,
  );
  writeFileSync(join(etc, 'hosts'), `127.0.0.1 localhost\n${TARGET} target-hosts.lab.test target-hosts\n${TARGET6} target-hosts.lab.test target-hosts\n`);
  writeFileSync(join(etc, 'nsswitch.conf'), 'hosts: files dns\n');
}

async function all(): Promise<void> {
  let failed = false;
  const stop = (): void => {
    void labDown().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await labUp();
    const child = await boundedSpawn({
      command: 'ip',
      args: ['netns', 'exec', NS.b, process.execPath, SCRIPT, 'record'],
      ctx: context(600_000),
      maxBytes: 4 * 1024 * 1024,
      onLine: (line) => console.log(line.text),
    });
    if (child.exitCode !== 0) {
      failed = true;
      console.error(`record failed: exit ${String(child.exitCode ?? child.signal)}`);
    }
  } catch (err) {
    failed = true;
    console.error(err);
  } finally {
    await labDown();
    console.log(`lab torn down; ip netns list: ${(await run('ip', ['netns', 'list'], { okToFail: true })).stdout.trim().replace(/\n/g, ', ') || '(empty)'}`);
  }
  process.exitCode = failed ? 1 : 0;
}

// ---------------------------------------------------------------------------------------
// dns-server (labrh3) and listener (labth3)

function labAnswer(request: dns2.Packet): dns2.Packet | undefined {
  const { Packet } = dns2;
  const response = Packet.createResponseFromRequest(request);
  response.header.aa = 1;
  response.header.ra = 1;
  const q = request.questions[0];
  if (!q) return response;
  const name = q.name.toLowerCase();
  const first = name.split('.')[0] ?? '';
  const add = (owner: string, type: number, data: { address?: string; domain?: string }): void => {
    response.answers.push(new Packet.Resource({ name: owner, type, class: Packet.CLASS.IN, ttl: 60, ...data }));
  };

  if (q.type === Packet.TYPE.PTR) {
    if (name === '2.2.77.10.in-addr.arpa' || name.startsWith('2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.7.7.d.f')) {
      add(q.name, Packet.TYPE.PTR, { domain: 'target.lab.test' });
    } else {
      response.header.rcode = RCODE.NXDOMAIN;
    }
    return response;
  }
  if (!name.endsWith('.lab.test') || name.endsWith('.lab.test.lab.test')) {
    response.header.rcode = RCODE.NXDOMAIN;
    return response;
  }
  switch (first) {
    case 'slow':
      return undefined;
    case 'nx':
      response.header.rcode = RCODE.NXDOMAIN;
      return response;
    case 'fail':
      response.header.rcode = RCODE.SERVFAIL;
      return response;
    case 'refused':
      response.header.rcode = RCODE.REFUSED;
      return response;
    default:
      break;
  }
  let owner = q.name;
  if (first === 'cname') {
    for (const next of ['alias1.lab.test', 'www.lab.test']) {
      add(owner, Packet.TYPE.CNAME, { domain: next });
      owner = next;
    }
  }
  if (q.type === Packet.TYPE.A) add(owner, Packet.TYPE.A, { address: TARGET });
  if (q.type === Packet.TYPE.AAAA && first !== 'v4only') add(owner, Packet.TYPE.AAAA, { address: TARGET6 });
  return response;
}

async function dnsServer(): Promise<void> {
  const servers = [
    { type: 'udp4' as const, address: ROUTER_B },
    { type: 'udp6' as const, address: ROUTER_B6 },
  ];
  for (const { type, address } of servers) {
    const server = dns2.createUDPServer({ type });
    server.on('request', (request, send) => {
      const response = labAnswer(request);
      if (response) void send(response).catch(() => undefined);
    });
    await server.listen(53, address);
  }
  console.log('dns-server listening');
  // Never outlive the recording: the parent kills it by pid, lab-down kills whatever is left
  // in the namespace, and it stops by itself after 10 minutes anyway.
  setTimeout(() => process.exit(0), 600_000).unref();
}

async function listener(): Promise<void> {
  const handle = (socket: Socket): void => {
    socket.on('error', () => undefined);
    socket.end('SSH-2.0-OpenSSH_9.2p1 sshcheck-lab\r\n');
  };
  for (const host of [TARGET, TARGET6]) {
    await new Promise<void>((ok, fail) => {
      const server = createServer(handle);
      server.once('error', fail);
      server.listen(22, host, () => ok());
    });
  }
  console.log('listener listening');
  setTimeout(() => process.exit(0), 600_000).unref();
}

// ---------------------------------------------------------------------------------------
// record (labbh3)

interface ManifestEntry {
  file: string;
  case: string;
  command: string[];
  exitCode: number | null;
  durationMs: number;
  fault: string;
}

const manifests = new Map<string, ManifestEntry[]>();

async function record(
  dir: 'ping' | 'path' | 'getent',
  file: string,
  fault: string,
  command: string,
  args: string[],
  opts: { stdoutOnly?: boolean; env?: Record<string, string>; prefix?: string[] } = {},
): Promise<BoundedSpawnResult> {
  const target = args[args.length - 1] ?? '';
  if (dir !== 'getent') assertLab(target);
  const argv = [...(opts.prefix ?? []), command, ...args];
  const [cmd = command, ...rest] = argv;
  const result = await run(cmd, rest, { okToFail: true, timeoutMs: 30_000, ...(opts.env ? { env: opts.env } : {}) });
  // Text fixtures keep stdout and stderr interleaved as they arrived (what the probe parses);
  // JSON and getent fixtures keep stdout only.
  const text = opts.stdoutOnly ? result.stdout : result.lines.map((l) => l.text).join('\n') + '\n';
  mkdirSync(join(FIXTURES, dir), { recursive: true });
  writeFileSync(join(FIXTURES, dir, file), text);
  const entry: ManifestEntry = {
    file,
    case: file.replace(/\.(txt|json)$/, ''),
    command: [command, ...args],
    exitCode: result.exitCode,
    durationMs: Math.round(result.endedMs - result.startedMs),
    fault,
  };
  manifests.set(dir, [...(manifests.get(dir) ?? []), entry]);
  console.log(`recorded ${dir}/${file} (exit ${String(result.exitCode)}, ${entry.durationMs} ms)`);
  return result;
}

/** Runs `body` with a fault in place, and always undoes it. */
async function withFault(setup: Array<[string, string, string[]]>, undo: Array<[string, string, string[]]>, body: () => Promise<void>): Promise<void> {
  try {
    for (const [ns, cmd, args] of setup) await inNs(ns, cmd, args);
    await body();
  } finally {
    for (const [ns, cmd, args] of undo) await inNs(ns, cmd, args, true);
  }
}

const flushInput = (ns: string): Array<[string, string, string[]]> => [
  [ns, 'iptables', ['-F', 'INPUT']],
  [ns, 'ip6tables', ['-F', 'INPUT']],
];
/**
 * Back to MTU 1500. Below 1280 the kernel disables IPv6 on the link and drops its addresses,
 * and raising the MTU again does not bring them back: re-add the router's.
 */
const restoreMtu: Array<[string, string, string[]]> = [
  [NS.r, 'ip', ['link', 'set', LINK.rt, 'mtu', '1500']],
  [NS.r, 'ip', ['addr', 'replace', 'fd77:2::1/64', 'dev', LINK.rt, 'nodad']],
];
/** One unrecorded echo to each target address, so neighbour caches are warm before a recording. */
const warmUp = async (): Promise<void> => {
  for (const address of [TARGET, TARGET6]) await run('ping', ['-n', '-c', '1', '-W', '3', '--', assertLab(address)], { okToFail: true });
};
const flushPmtu = async (): Promise<void> => {
  await run('ip', ['route', 'flush', 'cache'], { okToFail: true });
  await run('ip', ['-6', 'route', 'flush', 'cache'], { okToFail: true });
};

async function recordPing(nocapDir: string): Promise<void> {
  const ping = (address: string, count: number, intervalS: number, waitS: number): string[] => pingArguments({ address, count, intervalS, waitS });
  await record('ping', 'reply.txt', 'none', 'ping', ping(TARGET, 3, 0.2, 1));
  await warmUp();
  await record('ping', 'reply-ipv6.txt', 'none', 'ping', ping(TARGET6, 3, 0.2, 1));
  await withFault([[NS.t, 'iptables', ['-A', 'INPUT', '-p', 'icmp', '-j', 'DROP']]], flushInput(NS.t), async () => {
    await record('ping', 'no-reply.txt', 'target: iptables -A INPUT -p icmp -j DROP', 'ping', ping(TARGET, 3, 0.2, 1));
  });
  await record('ping', 'host-unreachable.txt', `${UNOWNED.ping} is owned by nobody: the router's ARP fails`, 'ping', ping(UNOWNED.ping, 4, 1, 2));
  await record('ping', 'net-unreachable.txt', `the router has no route to ${NO_ROUTE}`, 'ping', ping(NO_ROUTE, 2, 0.2, 1));
  await record('ping', 'net-unreachable-ipv6.txt', `the router has no route to ${NO_ROUTE6}`, 'ping', ping(NO_ROUTE6, 2, 0.2, 1));
  const rejects: Array<[string, string]> = [
    ['packet-filtered.txt', 'icmp-admin-prohibited'],
    ['host-prohibited.txt', 'icmp-host-prohibited'],
    ['net-prohibited.txt', 'icmp-net-prohibited'],
    ['port-unreachable.txt', 'icmp-port-unreachable'],
  ];
  for (const [file, rejectWith] of rejects) {
    const rule = ['-A', 'INPUT', '-p', 'icmp', '-j', 'REJECT', '--reject-with', rejectWith];
    await withFault([[NS.t, 'iptables', rule]], flushInput(NS.t), async () => {
      await record('ping', file, `target: iptables ${rule.join(' ')}`, 'ping', ping(TARGET, 2, 0.2, 1));
    });
  }
  const rule6 = ['-A', 'INPUT', '-p', 'icmpv6', '--icmpv6-type', 'echo-request', '-j', 'REJECT', '--reject-with', 'icmp6-adm-prohibited'];
  await withFault([[NS.t, 'ip6tables', rule6]], flushInput(NS.t), async () => {
    await record('ping', 'admin-prohibited-ipv6.txt', `target: ip6tables ${rule6.join(' ')}`, 'ping', ping(TARGET6, 2, 0.2, 1));
  });
  const noDefault: Array<[string, string, string[]]> = [[NS.b, 'ip', ['route', 'del', 'default']]];
  const restoreDefault: Array<[string, string, string[]]> = [[NS.b, 'ip', ['route', 'replace', 'default', 'via', ROUTER_B]]];
  await withFault(noDefault, restoreDefault, async () => {
    await record('ping', 'local-no-route.txt', 'bastion: ip route del default', 'ping', ping(TARGET, 2, 0.2, 1));
    show('tcp with no route on the bastion', await probeTcp({ address: TARGET, port: 22 }, context(3000)));
  });
  const ttl1 = builder.getCommandArguments(TARGET, { numeric: true, timeout: 1, min_reply: 2, extra: ['-4', '-i', '0.2', '-t', '1', '--'] });
  await record('ping', 'ttl-exceeded.txt', 'ping -t 1: the router is the first hop', 'ping', ttl1);

  // Path MTU: the router's link to the target gets a small MTU. The first DF packet too big
  // gets "Frag needed" from the router; the kernel caches that path MTU, so the next one fails
  // locally with EMSGSIZE.
  await flushPmtu();
  await withFault([[NS.r, 'ip', ['link', 'set', LINK.rt, 'mtu', '1280']]], [[NS.r, 'ip', ['link', 'set', LINK.rt, 'mtu', '1500']]], async () => {
    await record('ping', 'packet-too-big-ipv6.txt', `router: ${LINK.rt} mtu 1280; DF ping6 of 1500 bytes`, 'ping', mtuPingArguments(TARGET6, 1500, 1));
    await record('ping', 'message-too-long-ipv6.txt', 'path MTU 1280 cached; DF ping6 of 1500 bytes again', 'ping', mtuPingArguments(TARGET6, 1500, 1));
  });
  await flushPmtu();
  await warmUp();
  await withFault([[NS.r, 'ip', ['link', 'set', LINK.rt, 'mtu', '1000']]], restoreMtu, async () => {
    await record('ping', 'frag-needed.txt', `router: ${LINK.rt} mtu 1000; DF ping of 1500 bytes`, 'ping', mtuPingArguments(TARGET, 1500, 1));
    await record('ping', 'message-too-long.txt', 'path MTU 1000 cached after frag-needed; DF ping of 1500 bytes again', 'ping', mtuPingArguments(TARGET, 1500, 1));
    await record('ping', 'mtu-fits.txt', `router: ${LINK.rt} mtu 1000; DF ping of 1000 bytes`, 'ping', mtuPingArguments(TARGET, 1000, 1));
  });
  await flushPmtu();
  await warmUp();

  // Unprivileged: a copy of ping without its file capability, run as nobody. The namespace's
  // ping_group_range is "1 0" (no ICMP datagram sockets), so ping cannot open any socket.
  await record('ping', 'no-permission.txt', 'ping without cap_net_raw, run as nobody', 'ping', ping(TARGET, 1, 0.2, 1), {
    prefix: ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'],
    env: { PATH: `${nocapDir}:/usr/sbin:/usr/bin:/sbin:/bin` },
  });
}

async function recordPath(): Promise<void> {
  const tr = (address: string, waitS = 1, port = 22): string[] => tracerouteArguments({ address, port, maxHops: 6, waitS });
  const mtr = (address: string, waitS = 1, port = 22): string[] => mtrArguments({ address, port, maxHops: 6, waitS });
  await record('path', 'traceroute-reached.txt', 'listener on port 22', 'traceroute', tr(TARGET));
  await record('path', 'traceroute-reached-ipv6.txt', 'listener on port 22', 'traceroute', tr(TARGET6));
  await record('path', 'traceroute-closed-port.txt', 'nothing listens on port 2222: RST', 'traceroute', tr(TARGET, 1, 2222));
  await record('path', 'mtr-reached.json', 'listener on port 22', 'mtr', mtr(TARGET), { stdoutOnly: true });
  const drop = ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP'];
  await withFault([[NS.t, 'iptables', drop]], flushInput(NS.t), async () => {
    await record('path', 'traceroute-silent-drop.txt', `target: iptables ${drop.join(' ')}`, 'traceroute', tr(TARGET));
    await record('path', 'mtr-silent-drop.json', `target: iptables ${drop.join(' ')}`, 'mtr', mtr(TARGET), { stdoutOnly: true });
  });
  const reject = ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'];
  await withFault([[NS.t, 'iptables', reject]], flushInput(NS.t), async () => {
    await record('path', 'traceroute-rejected.txt', `target: iptables ${reject.join(' ')}`, 'traceroute', tr(TARGET));
    await record('path', 'mtr-rejected.json', `target: iptables ${reject.join(' ')}`, 'mtr', mtr(TARGET), { stdoutOnly: true });
  });
  // ARP for an unowned address fails after ~3 s: wait long enough to see the router's !H.
  await record('path', 'traceroute-host-unreachable.txt', `${UNOWNED.traceroute} is owned by nobody`, 'traceroute', tr(UNOWNED.traceroute, 4));
  await record('path', 'mtr-host-unreachable.json', `${UNOWNED.mtr} is owned by nobody`, 'mtr', mtr(UNOWNED.mtr, 4), { stdoutOnly: true });
  await record('path', 'traceroute-net-unreachable.txt', `the router has no route to ${NO_ROUTE}`, 'traceroute', tr(NO_ROUTE));
  await record('path', 'mtr-net-unreachable.json', `the router has no route to ${NO_ROUTE}`, 'mtr', mtr(NO_ROUTE), { stdoutOnly: true });
  await record('path', 'traceroute-no-permission.txt', 'traceroute -T run as nobody', 'traceroute', tr(TARGET), {
    prefix: ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'],
  });
}

async function recordGetent(): Promise<void> {
  const cases: Array<[string, string, string]> = [
    ['answer.txt', 'www.lab.test', 'A and AAAA from the lab DNS server'],
    ['search.txt', 'www', 'single label: search domain lab.test applied'],
    ['cname.txt', 'cname.lab.test', 'CNAME chain cname → alias1 → www'],
    ['v4only.txt', 'v4only.lab.test', 'A only, AAAA NODATA'],
    ['hosts-file.txt', 'target-hosts', 'from /etc/hosts (bind-mounted from /etc/netns/labbh3/hosts)'],
    ['nxdomain.txt', 'nx.lab.test', 'NXDOMAIN'],
    ['servfail.txt', 'fail.lab.test', 'SERVFAIL'],
    ['timeout.txt', 'slow.lab.test', 'the server never answers (timeout:1 attempts:2, two servers)'],
  ];
  for (const [file, name, fault] of cases) {
    await record('getent', file, fault, 'getent', ['ahosts', '--', name], { stdoutOnly: true });
  }
}

function show(label: string, value: unknown): void {
  console.log(`smoke ${label}: ${JSON.stringify(value)}`);
}

/** Every probe once against the lab: an end-to-end check of the real code, printed, not saved. */
async function smoke(): Promise<void> {
  const ctx = (ms: number, abortAfterMs?: number): ProbeContext => {
    const controller = new AbortController();
    if (abortAfterMs !== undefined) setTimeout(() => controller.abort(), abortAfterMs).unref();
    return context(ms, controller.signal);
  };
  show('dns www', await probeDns({ name: 'www', queryTimeoutMs: 1000 }, ctx(5000)));
  show('dns cname', await probeDns({ name: 'cname.lab.test', queryTimeoutMs: 1000 }, ctx(5000)));
  show('dns nx', await probeDns({ name: 'nx', queryTimeoutMs: 1000 }, ctx(5000)));
  show('dns slow', await probeDns({ name: 'slow.lab.test', queryTimeoutMs: 600 }, ctx(5000)));
  show('ptr target', await probePtr({ address: TARGET6, role: 'target', resolvers: [ROUTER_B, ROUTER_B6], queryTimeoutMs: 1000 }, ctx(5000)));
  show('ptr bastion', await probePtr({ address: BASTION, role: 'bastion', resolvers: [ROUTER_B], queryTimeoutMs: 1000 }, ctx(5000)));
  show('resolve www', await probeSystemResolve({ name: 'www' }, ctx(5000)));
  show('resolve slow (deadline 1.5 s)', await probeSystemResolve({ name: 'slow.lab.test' }, ctx(1500)));
  const updates: number[] = [];
  const ping = await probePing({ address: TARGET, count: 3, intervalS: 0.2, waitS: 1 }, ctx(5000), (s) => updates.push(s.received));
  show('ping', { ...ping, updates });
  await flushPmtu();
  await withFault([[NS.r, 'ip', ['link', 'set', LINK.rt, 'mtu', '1000']]], restoreMtu, async () => {
    show('mtu (router link 1000)', await probeMtu({ address: TARGET, mtus: [1500, 1400, 1280, 1200, 1000, 800, 576], waitS: 1 }, ctx(5000)));
  });
  await flushPmtu();
  show('path', await probePath({ address: TARGET, port: 22, maxHops: 6, waitS: 1 }, ctx(10_000)));
  show('tcp connected', await probeTcp({ address: TARGET, port: 22 }, ctx(3000)));
  show('tcp refused', await probeTcp({ address: TARGET, port: 2222 }, ctx(3000)));
  show('tcp host-unreachable', await probeTcp({ address: UNOWNED.tcp, port: 22 }, ctx(8000)));
  show('tcp net-unreachable', await probeTcp({ address: NO_ROUTE, port: 22 }, ctx(3000)));
  const drop = ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP'];
  await withFault([[NS.t, 'iptables', drop]], flushInput(NS.t), async () => {
    show('tcp silent drop (deadline 1 s)', await probeTcp({ address: TARGET, port: 22 }, ctx(1000)));
  });
  const reject = ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'];
  await withFault([[NS.t, 'iptables', reject]], flushInput(NS.t), async () => {
    show('tcp admin-prohibited', await probeTcp({ address: TARGET, port: 22 }, ctx(3000)));
  });
}

async function startChild(ns: string, mode: string, ready: string, controller: AbortController): Promise<{ exited: Promise<BoundedSpawnResult> }> {
  let onReady: () => void = () => undefined;
  const isReady = new Promise<void>((ok) => (onReady = ok));
  const child = boundedSpawn({
    command: 'ip',
    args: ['netns', 'exec', ns, process.execPath, SCRIPT, mode],
    ctx: context(600_000, controller.signal),
    onLine: (line) => {
      if (line.text.includes(ready)) onReady();
      else console.log(`[${mode}] ${line.text}`);
    },
  });
  const started = await Promise.race([isReady.then(() => true), child.then(() => false), sleep(5000).then(() => false)]);
  if (!started) {
    controller.abort();
    throw new Error(`${mode} did not start in ${ns}`);
  }
  return { exited: child };
}

async function recordAll(): Promise<void> {
  // Refuse to run anywhere but in the lab's bastion namespace.
  const here = await run('ip', ['-o', 'addr', 'show', 'dev', LINK.b], { okToFail: true });
  if (!here.stdout.includes(BASTION)) throw new Error(`record must run inside ${NS.b} (ip netns exec ${NS.b} node ${SCRIPT})`);

  const controller = new AbortController();
  const nocapDir = mkdtempSync(join(tmpdir(), `sshcheck-nocap-${SFX}-`));
  const children: Array<Promise<BoundedSpawnResult>> = [];
  try {
    // A ping without its file capability, readable and runnable by nobody.
    chmodSync(nocapDir, 0o755);
    copyFileSync('/usr/bin/ping', join(nocapDir, 'ping'));
    chmodSync(join(nocapDir, 'ping'), 0o755);

    children.push((await startChild(NS.r, 'dns-server', 'dns-server listening', controller)).exited);
    children.push((await startChild(NS.t, 'listener', 'listener listening', controller)).exited);
    await sleep(200);

    await recordPing(nocapDir);
    await recordPath();
    await recordGetent();
    for (const [dir, entries] of manifests) {
      writeFileSync(join(FIXTURES, dir, 'manifest.json'), JSON.stringify({ recordedWith: 'scripts/record-probe-fixtures.ts', lab: `suffix ${SFX}`, entries }, null, 2) + '\n');
    }
    await smoke();
  } finally {
    controller.abort();
    await Promise.all(children);
    rmSync(nocapDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'record';
  switch (mode) {
    case 'all':
      return all();
    case 'lab-up':
      return labUp();
    case 'lab-down':
      return labDown();
    case 'record':
      return recordAll();
    case 'dns-server':
      return dnsServer();
    case 'listener':
      return listener();
    default:
      throw new Error(`unknown mode ${mode}: all | lab-up | lab-down | record | dns-server | listener`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exitCode = 1;
});
