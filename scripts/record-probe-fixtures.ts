// Records the fixtures of test/fixtures/{ping,path,getent} from real runs of ping,
// traceroute, mtr and getent, in the network lab (test/lab/lab.ts,
// /work/shared/design/lab.md) with IPv6 added, using the exact argument lists the probes
// use. Run as root from the project root, after `npx tsc -p tsconfig.json`:
//
//   node dist/scripts/record-probe-fixtures.js all
//
// `all` builds the lab: Lab's namespaces plus IPv6 addresses and routes, no ICMP rate limit,
// an sshd on the target (IPv4 and IPv6), the lab resolver with the zone below, and the
// bastion's resolv.conf, hosts and nsswitch.conf. It then runs this script's `record` mode
// inside the bastion namespace, and destroys the lab, also after a failure or Ctrl-C.
//
//   record --bastion B --router R --target T --nocap DIR   (inside the bastion namespace B)
//                sets up one fault at a time in the target or router namespace, records,
//                undoes the fault, and at the end runs every probe once against the lab as
//                an end-to-end check (printed, not saved). DIR holds a ping without its
//                file capability (made by `all`).
//
// Safety: lab traffic never leaves the lab. The bastion's only routes lead to the lab router,
// which has no link to the real network; `record` refuses to run outside the bastion
// namespace it is given, and every address it probes is a constant inside 10.77.0.0/16 or
// fd77::/16.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boundedSpawn } from '../src/engine/probes/spawn.js';
import type { BoundedSpawnResult } from '../src/engine/probes/spawn.js';
import { startClock } from '../src/engine/probes/context.js';
import type { ProbeContext } from '../src/engine/probes/context.js';
import { echoArguments, pingArguments, probePing } from '../src/engine/probes/ping.js';
import { mtuPingArguments, probeMtu } from '../src/engine/probes/mtu.js';
import { mtrArguments, probePath, tracerouteArguments } from '../src/engine/probes/path.js';
import { probeDns, probePtr } from '../src/engine/probes/dns.js';
import { probeSystemResolve } from '../src/engine/probes/system-resolve.js';
import { probeTcp } from '../src/engine/probes/tcp.js';
import { ADDR, Lab } from '../test/lab/lab.js';
import type { DnsRule } from '../test/lab/lab.js';

const BASTION = ADDR.bastion;
const ROUTER_B = ADDR.routerBastionSide;
const TARGET = ADDR.target;
/** IPv6 next to Lab's IPv4: fd77:1::/64 between bastion and router, fd77:2::/64 to the target. */
const BASTION6 = 'fd77:1::2';
const ROUTER_B6 = 'fd77:1::1';
const ROUTER_T6 = 'fd77:2::1';
const TARGET6 = 'fd77:2::2';
/** Lab's links: bastion b0 — r0 router r1 — t0 target. */
const LINK = { b: 'b0', rb: 'r0', rt: 'r1', t: 't0' } as const;
/** Lab addresses nothing owns: the router's ARP gets no answer (fresh ones, so no cached FAILED entry). */
const UNOWNED = { ping: ADDR.nobody, traceroute: '10.77.2.98', mtr: '10.77.2.97', tcp: '10.77.2.96' } as const;
/** A lab subnet the router has no route to. */
const NO_ROUTE = '10.77.3.5';
const NO_ROUTE6 = 'fd77:3::5';
const NOBODY = '65534';
const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SCRIPT), '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures');
/** What the lab resolver answers (test/lab/dns-server.ts); names without a rule get NXDOMAIN. */
const ZONE: DnsRule[] = [
  { name: 'www.lab.test', action: 'answer', a: [TARGET], aaaa: [TARGET6] },
  { name: 'v4only.lab.test', action: 'answer', a: [TARGET] },
  { name: 'cname.lab.test', action: 'answer', cname: 'alias1.lab.test' },
  { name: 'alias1.lab.test', action: 'answer', cname: 'www.lab.test' },
  { name: 'nx.lab.test', action: 'nxdomain' },
  { name: 'fail.lab.test', action: 'servfail' },
  { name: 'slow.lab.test', action: 'drop' },
  { name: '2.2.77.10.in-addr.arpa', action: 'answer', ptr: 'target.lab.test' },
  { name: '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.7.7.d.f.ip6.arpa', action: 'answer', ptr: 'target.lab.test' },
  // The bastion has no PTR record.
  { name: '2.1.77.10.in-addr.arpa', action: 'nxdomain' },
];

/** The lab's namespaces, as `record` is told them. */
interface Names {
  bastion: string;
  router: string;
  target: string;
}

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
// The lab side (root, outside the namespaces): what Lab does not set up itself

/** IPv6 on Lab's links, with routes through the router. */
async function addIpv6(lab: Lab): Promise<void> {
  const links: Array<[string, string, string]> = [
    [lab.bastion, LINK.b, BASTION6],
    [lab.router, LINK.rb, ROUTER_B6],
    [lab.router, LINK.rt, ROUTER_T6],
    [lab.target, LINK.t, TARGET6],
  ];
  for (const [ns, dev, address] of links) {
    // No duplicate address detection: a tentative address delays neighbour discovery by about
    // a second after every link change (the MTU faults below take IPv6 down and up again).
    await lab.exec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', `net.ipv6.conf.${dev}.accept_dad=0`]);
    await lab.exec(ns, 'ip', ['addr', 'add', `${address}/64`, 'dev', dev, 'nodad']);
  }
  await lab.exec(lab.bastion, 'ip', ['-6', 'route', 'add', 'default', 'via', ROUTER_B6]);
  await lab.exec(lab.target, 'ip', ['-6', 'route', 'add', 'default', 'via', ROUTER_T6]);
  await lab.exec(lab.router, 'sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
  await untilNoTentative(lab);
}

/** Lab brought its links up with duplicate address detection on: their link-local addresses are usable ~1 s later. */
async function untilNoTentative(lab: Lab): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const shown = await Promise.all([lab.bastion, lab.router, lab.target].map((ns) => lab.exec(ns, 'ip', ['-6', 'addr', 'show', 'tentative'])));
    if (shown.every((r) => r.stdout.trim() === '')) return;
    await sleep(100);
  }
  throw new Error('lab IPv6 addresses still tentative after 4 s');
}

/**
 * Linux sends at most ~6 ICMP errors in a burst to one peer, then one a second: the fixtures
 * are recorded back to back, and each must show the error its fault produces. For IPv4 no
 * type is rate limited at all (icmp_ratemask=0), rather than limited at a rate of zero
 * (icmp_ratelimit=0): that empties, on every error sent, the per-source bucket from which the
 * router's "no route" errors are paid (one a second, burst 5, set machine-wide by
 * net.ipv4.route.error_cost), and net-unreachable then shows one error instead of two.
 */
async function noIcmpRateLimit(lab: Lab): Promise<void> {
  for (const ns of [lab.router, lab.target]) await lab.exec(ns, 'sysctl', ['-qw', 'net.ipv4.icmp_ratemask=0', 'net.ipv6.icmp.ratelimit=0']);
}

async function setUpLab(lab: Lab): Promise<void> {
  await addIpv6(lab);
  await noIcmpRateLimit(lab);
  // Something that answers SYNs on port 22, on both families.
  await lab.startSshd({ config: [`ListenAddress [${TARGET6}]:22`] });
  await lab.startDns(ZONE);
  // `ip netns exec <bastion>` bind-mounts these over /etc/*: the bastion's resolver config.
  lab.writeEtc(lab.bastion, 'resolv.conf', `# sshcheck lab\nnameserver ${ROUTER_B}\nsearch lab.test\noptions ndots:1 timeout:1 attempts:2\n`);
  lab.writeEtc(lab.bastion, 'hosts', `127.0.0.1 localhost\n${TARGET} target-hosts.lab.test target-hosts\n${TARGET6} target-hosts.lab.test target-hosts\n`);
  lab.writeEtc(lab.bastion, 'nsswitch.conf', 'hosts: files dns\n');
}

/**
 * A ping without its file capability, readable and runnable by nobody. Made here rather than
 * by `record`, so that it is removed even when `record` is killed.
 */
function nocapPing(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-nocap-'));
  chmodSync(dir, 0o755);
  copyFileSync('/usr/bin/ping', join(dir, 'ping'));
  chmodSync(join(dir, 'ping'), 0o755);
  return dir;
}

async function all(): Promise<void> {
  const controller = new AbortController();
  const nocapDir = nocapPing();
  let lab: Lab | undefined;
  // Ctrl-C: stop the recording, then take the lab down (a lab still being built is taken
  // down by Lab's exit hook).
  const onSignal = (): void => {
    controller.abort();
    void (lab?.destroy() ?? Promise.resolve()).finally(() => {
      rmSync(nocapDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let failed = false;
  try {
    lab = await Lab.create();
    await setUpLab(lab);
    const child = await boundedSpawn({
      command: 'ip',
      args: ['netns', 'exec', lab.bastion, process.execPath, SCRIPT, 'record', '--bastion', lab.bastion, '--router', lab.router, '--target', lab.target, '--nocap', nocapDir],
      ctx: context(600_000, controller.signal),
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
    await lab?.destroy();
    rmSync(nocapDir, { recursive: true, force: true });
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    console.log(`lab torn down; ip netns list: ${(await run('ip', ['netns', 'list'], { okToFail: true })).stdout.trim().replace(/\n/g, ', ') || '(empty)'}`);
  }
  process.exitCode = failed ? 1 : 0;
}

// ---------------------------------------------------------------------------------------
// record (inside the bastion namespace)

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
async function withFault(setup: Command[], undo: Command[], body: () => Promise<void>): Promise<void> {
  try {
    for (const [ns, cmd, args] of setup) await inNs(ns, cmd, args);
    await body();
  } finally {
    for (const [ns, cmd, args] of undo) await inNs(ns, cmd, args, true);
  }
}

type Command = [ns: string, cmd: string, args: string[]];

const flushInput = (ns: string): Command[] => [
  [ns, 'iptables', ['-F', 'INPUT']],
  [ns, 'ip6tables', ['-F', 'INPUT']],
];
/**
 * Back to MTU 1500. Below 1280 the kernel disables IPv6 on the link and drops its addresses,
 * and raising the MTU again does not bring them back: re-add the router's.
 */
const restoreMtu = (router: string): Command[] => [
  [router, 'ip', ['link', 'set', LINK.rt, 'mtu', '1500']],
  [router, 'ip', ['addr', 'replace', `${ROUTER_T6}/64`, 'dev', LINK.rt, 'nodad']],
];
/** One unrecorded echo to each target address, so neighbour caches are warm before a recording. */
const warmUp = async (): Promise<void> => {
  for (const address of [TARGET, TARGET6]) await run('ping', ['-n', '-c', '1', '-W', '3', '--', assertLab(address)], { okToFail: true });
};
/**
 * The router's ARP gives up after 3 probes at this interval. At the default 1000 ms it gives
 * up in the same millisecond as a 1 s ping sends its 4th echo, and whether that echo gets an
 * error too is a race; at 900 ms the 4th echo always starts a new resolution.
 */
const arpRetransMs = (router: string, ms: number): Command => [router, 'sysctl', ['-qw', `net.ipv4.neigh.${LINK.rt}.retrans_time_ms=${ms}`]];
const flushPmtu = async (): Promise<void> => {
  await run('ip', ['route', 'flush', 'cache'], { okToFail: true });
  await run('ip', ['-6', 'route', 'flush', 'cache'], { okToFail: true });
};

async function recordPing(ns: Names, nocapDir: string): Promise<void> {
  const ping = (address: string, count: number, intervalS: number, waitS: number): string[] => pingArguments({ address, count, intervalS, waitS });
  await record('ping', 'reply.txt', 'none', 'ping', ping(TARGET, 3, 0.2, 1));
  await warmUp();
  await record('ping', 'reply-ipv6.txt', 'none', 'ping', ping(TARGET6, 3, 0.2, 1));
  await withFault([[ns.target, 'iptables', ['-A', 'INPUT', '-p', 'icmp', '-j', 'DROP']]], flushInput(ns.target), async () => {
    await record('ping', 'no-reply.txt', 'target: iptables -A INPUT -p icmp -j DROP', 'ping', ping(TARGET, 3, 0.2, 1));
  });
  await withFault([arpRetransMs(ns.router, 900)], [arpRetransMs(ns.router, 1000)], async () => {
    const fault = `${UNOWNED.ping} is owned by nobody: the router's ARP fails (${LINK.rt} retrans_time_ms 900, so before the 4th echo)`;
    await record('ping', 'host-unreachable.txt', fault, 'ping', ping(UNOWNED.ping, 4, 1, 2));
  });
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
    await withFault([[ns.target, 'iptables', rule]], flushInput(ns.target), async () => {
      await record('ping', file, `target: iptables ${rule.join(' ')}`, 'ping', ping(TARGET, 2, 0.2, 1));
    });
  }
  const rule6 = ['-A', 'INPUT', '-p', 'icmpv6', '--icmpv6-type', 'echo-request', '-j', 'REJECT', '--reject-with', 'icmp6-adm-prohibited'];
  await withFault([[ns.target, 'ip6tables', rule6]], flushInput(ns.target), async () => {
    await record('ping', 'admin-prohibited-ipv6.txt', `target: ip6tables ${rule6.join(' ')}`, 'ping', ping(TARGET6, 2, 0.2, 1));
  });
  const noDefault: Command[] = [[ns.bastion, 'ip', ['route', 'del', 'default']]];
  const restoreDefault: Command[] = [[ns.bastion, 'ip', ['route', 'replace', 'default', 'via', ROUTER_B]]];
  await withFault(noDefault, restoreDefault, async () => {
    await record('ping', 'local-no-route.txt', 'bastion: ip route del default', 'ping', ping(TARGET, 2, 0.2, 1));
    show('tcp with no route on the bastion', await probeTcp({ address: TARGET, port: 22 }, context(3000)));
  });
  const ttl1 = echoArguments({ address: TARGET, count: 2, waitS: 1, intervalS: 0.2, flags: ['-t', '1'] });
  await record('ping', 'ttl-exceeded.txt', 'ping -t 1: the router is the first hop', 'ping', ttl1);

  // Path MTU: the router's link to the target gets a small MTU. The first DF packet too big
  // gets "Frag needed" from the router; the kernel caches that path MTU, so the next one fails
  // locally with EMSGSIZE.
  await flushPmtu();
  await withFault([[ns.router, 'ip', ['link', 'set', LINK.rt, 'mtu', '1280']]], [[ns.router, 'ip', ['link', 'set', LINK.rt, 'mtu', '1500']]], async () => {
    await record('ping', 'packet-too-big-ipv6.txt', `router: ${LINK.rt} mtu 1280; DF ping6 of 1500 bytes`, 'ping', mtuPingArguments(TARGET6, 1500, 1));
    await record('ping', 'message-too-long-ipv6.txt', 'path MTU 1280 cached; DF ping6 of 1500 bytes again', 'ping', mtuPingArguments(TARGET6, 1500, 1));
  });
  await flushPmtu();
  await warmUp();
  await withFault([[ns.router, 'ip', ['link', 'set', LINK.rt, 'mtu', '1000']]], restoreMtu(ns.router), async () => {
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

async function recordPath(ns: Names): Promise<void> {
  const tr = (address: string, waitS = 1, port = 22): string[] => tracerouteArguments({ address, port, maxHops: 6, waitS });
  const mtr = (address: string, waitS = 1, port = 22): string[] => mtrArguments({ address, port, maxHops: 6, waitS });
  await record('path', 'traceroute-reached.txt', 'sshd on port 22', 'traceroute', tr(TARGET));
  await record('path', 'traceroute-reached-ipv6.txt', 'sshd on port 22', 'traceroute', tr(TARGET6));
  await record('path', 'traceroute-closed-port.txt', 'nothing listens on port 2222: RST', 'traceroute', tr(TARGET, 1, 2222));
  await record('path', 'mtr-reached.json', 'sshd on port 22', 'mtr', mtr(TARGET), { stdoutOnly: true });
  const drop = ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP'];
  await withFault([[ns.target, 'iptables', drop]], flushInput(ns.target), async () => {
    await record('path', 'traceroute-silent-drop.txt', `target: iptables ${drop.join(' ')}`, 'traceroute', tr(TARGET));
    await record('path', 'mtr-silent-drop.json', `target: iptables ${drop.join(' ')}`, 'mtr', mtr(TARGET), { stdoutOnly: true });
  });
  const reject = ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'];
  await withFault([[ns.target, 'iptables', reject]], flushInput(ns.target), async () => {
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
    ['hosts-file.txt', 'target-hosts', 'from /etc/hosts (bind-mounted from /etc/netns/<bastion>/hosts)'],
    ['nxdomain.txt', 'nx.lab.test', 'NXDOMAIN'],
    ['servfail.txt', 'fail.lab.test', 'SERVFAIL'],
    ['timeout.txt', 'slow.lab.test', 'the server never answers (timeout:1 attempts:2)'],
  ];
  for (const [file, name, fault] of cases) {
    await record('getent', file, fault, 'getent', ['ahosts', '--', name], { stdoutOnly: true });
  }
}

function show(label: string, value: unknown): void {
  console.log(`smoke ${label}: ${JSON.stringify(value)}`);
}

/** Every probe once against the lab: an end-to-end check of the real code, printed, not saved. */
async function smoke(ns: Names): Promise<void> {
  const ctx = (ms: number, abortAfterMs?: number): ProbeContext => {
    const controller = new AbortController();
    if (abortAfterMs !== undefined) setTimeout(() => controller.abort(), abortAfterMs).unref();
    return context(ms, controller.signal);
  };
  show('dns www', await probeDns({ name: 'www', queryTimeoutMs: 1000 }, ctx(5000)));
  show('dns cname', await probeDns({ name: 'cname.lab.test', queryTimeoutMs: 1000 }, ctx(5000)));
  show('dns nx', await probeDns({ name: 'nx', queryTimeoutMs: 1000 }, ctx(5000)));
  show('dns slow', await probeDns({ name: 'slow.lab.test', queryTimeoutMs: 600 }, ctx(5000)));
  show('ptr target', await probePtr({ address: TARGET6, role: 'target', resolvers: [ROUTER_B], queryTimeoutMs: 1000 }, ctx(5000)));
  show('ptr bastion', await probePtr({ address: BASTION, role: 'bastion', resolvers: [ROUTER_B], queryTimeoutMs: 1000 }, ctx(5000)));
  show('resolve www', await probeSystemResolve({ name: 'www' }, ctx(5000)));
  show('resolve slow (deadline 1.5 s)', await probeSystemResolve({ name: 'slow.lab.test' }, ctx(1500)));
  const updates: number[] = [];
  const ping = await probePing({ address: TARGET, count: 3, intervalS: 0.2, waitS: 1 }, ctx(5000), (s) => updates.push(s.received));
  show('ping', { ...ping, updates });
  await flushPmtu();
  await withFault([[ns.router, 'ip', ['link', 'set', LINK.rt, 'mtu', '1000']]], restoreMtu(ns.router), async () => {
    show('mtu (router link 1000)', await probeMtu({ address: TARGET, mtus: [1500, 1400, 1280, 1200, 1000, 800, 576], waitS: 1 }, ctx(5000)));
  });
  await flushPmtu();
  show('path', await probePath({ address: TARGET, port: 22, maxHops: 6, waitS: 1 }, ctx(10_000)));
  show('tcp connected', await probeTcp({ address: TARGET, port: 22 }, ctx(3000)));
  show('tcp refused', await probeTcp({ address: TARGET, port: 2222 }, ctx(3000)));
  show('tcp host-unreachable', await probeTcp({ address: UNOWNED.tcp, port: 22 }, ctx(8000)));
  show('tcp net-unreachable', await probeTcp({ address: NO_ROUTE, port: 22 }, ctx(3000)));
  const drop = ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'DROP'];
  await withFault([[ns.target, 'iptables', drop]], flushInput(ns.target), async () => {
    show('tcp silent drop (deadline 1 s)', await probeTcp({ address: TARGET, port: 22 }, ctx(1000)));
  });
  const reject = ['-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited'];
  await withFault([[ns.target, 'iptables', reject]], flushInput(ns.target), async () => {
    show('tcp admin-prohibited', await probeTcp({ address: TARGET, port: 22 }, ctx(3000)));
  });
}

function flag(argv: string[], name: string): string {
  const v = argv[argv.indexOf(name) + 1];
  if (!argv.includes(name) || v === undefined || v.startsWith('--')) throw new Error(`record needs ${name} VALUE`);
  return v;
}

async function recordAll(argv: string[]): Promise<void> {
  const ns: Names = { bastion: flag(argv, '--bastion'), router: flag(argv, '--router'), target: flag(argv, '--target') };
  // Refuse to run anywhere but in the lab's bastion namespace.
  const here = (await run('ip', ['netns', 'identify'], { okToFail: true })).stdout.trim();
  if (here !== ns.bastion) throw new Error(`record must run inside ${ns.bastion} (it runs in "${here}"): use \`node ${SCRIPT} all\``);

  await recordPing(ns, flag(argv, '--nocap'));
  await recordPath(ns);
  await recordGetent();
  for (const [dir, entries] of manifests) {
    writeFileSync(join(FIXTURES, dir, 'manifest.json'), JSON.stringify({ recordedWith: 'scripts/record-probe-fixtures.ts', lab: 'test/lab/lab.ts with IPv6 fd77:1::/64, fd77:2::/64', entries }, null, 2) + '\n');
  }
  await smoke(ns);
}

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const [mode = 'all', ...rest] = process.argv.slice(2);
  switch (mode) {
    case 'all':
      return all();
    case 'record':
      return recordAll(rest);
    default:
      throw new Error(`unknown mode ${mode}: all | record --bastion B --router R --target T --nocap DIR`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exitCode = 1;
});
