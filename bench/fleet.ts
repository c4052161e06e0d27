// The fleet bench (`npm run bench -- --only fleet --fleet-size N`): N lab addresses, one sshd
// answering on all of them (the lab's fleet block, lab.ts), checked in one sshcheck command
// and, in the same lab and run, by ssh-keyscan over the same addresses. Wall time, peak RSS
// and CPU of each tool, the CPU the target spent on its connections, and the verdicts: every
// lab host is healthy, so any other verdict is a false one.
//
// The target is made cheap so that the bench measures sshcheck, not the lab: by default the
// single-process SSH responder of test/support/ssh-server.ts answers on every address (a key
// exchange and a refused `none` login, about a millisecond of CPU per connection, no fork);
// with `target: 'sshd'` the real OpenSSH sshd does, with -r (no re-exec of itself per
// connection, a third of the CPU per connection here) and MaxStartups above the fleet's size:
// about 12 ms of CPU per connection, which on two cores caps any tool near 100 hosts/s. Both
// tools meet the same target in the same run. The CLI's JSON goes to a file: a 10 000-host
// document is tens of MB.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { FleetResult } from '../src/fleet/run.js';
import { ADDR, CLI, FLEET, Lab, sh } from '../test/lab/lab.js';
import { secs } from './stats.js';

/** The every-key-type keyscan opens several connections per host: only up to a /22, to bound the bench. */
const KEYSCAN_ALL_TYPES_UP_TO = 1022;
/** Each tool gets at most this long; a tool stopped there is reported as such. */
const TOOL_TIMEOUT_MS = 900_000;

interface Tool {
  wallMs: number;
  peakRssKb: number;
  /** User + system CPU of the tool's own processes. */
  cpuS: number;
  /** CPU the target's sshd spent on this tool's connections. */
  targetCpuS: number;
  killed: boolean;
}

/** What answers on the fleet's addresses (see the top of this file). */
export type FleetTarget = 'responder' | 'sshd';

export interface FleetRow {
  hosts: number;
  target: FleetTarget;
  concurrency: number;
  loadAverage: { start: number[]; end: number[] };
  sshcheck: Tool & {
    healthy: number;
    /** Hosts given a problem cause: every lab host is healthy, so each is a false verdict. */
    falseVerdicts: number;
    undecided: number;
    byCause: FleetResult['summary']['byCause'];
    load?: FleetResult['summary']['load'];
    exit: number | null;
  };
  keyscanOneType: Tool & { hostsAnswered: number };
  keyscan?: Tool & { hostsAnswered: number };
}

/** CPU seconds the target namespace's processes and their reaped children have used. */
async function targetCpuS(lab: Lab): Promise<number> {
  const pids = (await sh('ip', ['netns', 'pids', lab.target], { allowFail: true })).stdout;
  let ticks = 0;
  for (const pid of pids.split('\n').filter((p) => /^\d+$/.test(p))) {
    try {
      // Fields after "(comm) ": state is [0]; utime [11], stime [12], cutime [13], cstime [14].
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks / 100;
}

/** Runs one tool under /usr/bin/time in the bastion, stdout to a file. */
async function timed(lab: Lab, name: string, argv: string[]): Promise<Tool & { out: string; code: number | null }> {
  const timeFile = join(lab.workDir, `time-${name}.txt`);
  const out = join(lab.workDir, `out-${name}.txt`);
  const before = await targetCpuS(lab);
  const r = await lab.runToFile(lab.bastion, '/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, ...argv], out, TOOL_TIMEOUT_MS);
  const after = await targetCpuS(lab);
  let peakRssKb = NaN;
  let cpuS = NaN;
  try {
    const [rss, user, sys] = (readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '').split(' ').map(Number);
    peakRssKb = rss ?? NaN;
    cpuS = (user ?? NaN) + (sys ?? NaN);
  } catch {
    // time wrote nothing: the tool was killed
  }
  return { wallMs: r.wallMs, peakRssKb, cpuS, targetCpuS: after - before, killed: r.killed, out, code: r.code };
}

const answered = (file: string): number => new Set(readFileSync(file, 'utf8').split('\n').filter((l) => /^\d+\.\d+\.\d+\.\d+ /.test(l)).map((l) => l.split(' ')[0])).size;

export async function benchFleet(size: number, concurrency: number | undefined, log: (line: string) => void, target: FleetTarget = 'responder'): Promise<FleetRow> {
  if (!Number.isInteger(size) || size < 1 || size > FLEET.max) throw new Error(`--fleet-size must be 1-${FLEET.max}`);
  const start = loadavg();
  const lab = await Lab.create();
  try {
    const addresses = await lab.addFleetAddresses(size);
    if (target === 'sshd') await lab.startSshd({ listenAll: true, flags: ['-r'], config: [`MaxStartups ${size + 100}:100:${size + 100}`] });
    else await lab.startSshResponder({ listenAll: true });
    const file = join(lab.workDir, 'fleet-hosts.txt');
    writeFileSync(file, `# ${size} lab addresses\n${addresses.join('\n')}\n`);
    // Warm the router's and the target's neighbour entries for every tool alike.
    await lab.runTimed(lab.bastion, 'ping', ['-c', '1', '-W', '1', ADDR.target], 5000);
    // ssh-keyscan -t ed25519 makes one connection per host, as sshcheck does; by default it
    // asks for every key type, a connection (and a key exchange) per type and host.
    const ks1 = await timed(lab, 'keyscan1', ['ssh-keyscan', '-T', '5', '-t', 'ed25519', '-f', file]);
    const ks = size <= KEYSCAN_ALL_TYPES_UP_TO ? await timed(lab, 'keyscan', ['ssh-keyscan', '-T', '5', '-f', file]) : undefined;
    const sc = await timed(lab, 'sshcheck', [process.execPath, CLI, '--json', '-q', '--file', file, '--max-hosts', String(Math.max(size, 1024)), ...(concurrency !== undefined ? ['--concurrency', String(concurrency)] : [])]);
    let result: FleetResult;
    try {
      result = JSON.parse(readFileSync(sc.out, 'utf8')) as FleetResult;
    } catch {
      throw new Error(`the fleet check printed no JSON (exit ${sc.code}${sc.killed ? ', stopped after the bench\'s timeout' : ''})`);
    }
    const s = result.summary;
    const row: FleetRow = {
      hosts: size,
      target,
      concurrency: s.concurrency,
      loadAverage: { start, end: loadavg() },
      sshcheck: { ...tool(sc), healthy: s.healthy, falseVerdicts: s.problems, undecided: s.undecided, byCause: s.byCause, exit: sc.code, ...(s.load ? { load: s.load } : {}) },
      keyscanOneType: { ...tool(ks1), hostsAnswered: answered(ks1.out) },
      ...(ks ? { keyscan: { ...tool(ks), hostsAnswered: answered(ks.out) } } : {}),
    };
    log(fleetLines(row).join('\n'));
    return row;
  } finally {
    await lab.destroy();
  }
}

function tool(t: Tool): Tool {
  return { wallMs: t.wallMs, peakRssKb: t.peakRssKb, cpuS: t.cpuS, targetCpuS: t.targetCpuS, killed: t.killed };
}

export const FLEET_HEADER = ['| tool | hosts | target | wall time | peak RSS | own CPU | target CPU | result |', '|---|---|---|---|---|---|---|---|'];

const mb = (kb: number): string => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MB` : '-');
const cpu = (s: number): string => (Number.isFinite(s) ? `${s.toFixed(1)} s` : '-');

export function fleetLines(row: FleetRow): string[] {
  const sc = row.sshcheck;
  const causes = sc.byCause.map((c) => `${c.hosts} ${c.cause}`).join(', ');
  const adapt = sc.load ? `; ${sc.load.peakConcurrency} at most in flight, ${sc.load.rechecked} second looks, ${sc.load.withheld} withheld` : '';
  const lines = [
    `| sshcheck (fleet, up to ${row.concurrency} at a time) | ${row.hosts} | ${row.target} | ${secs(sc.wallMs)}${sc.killed ? ' (stopped)' : ''} | ${mb(sc.peakRssKb)} | ${cpu(sc.cpuS)} | ${cpu(sc.targetCpuS)} | ${causes}: **${sc.falseVerdicts} false verdicts**${adapt} |`,
    `| ssh-keyscan -T 5 -t ed25519 (one connection per host) | ${row.hosts} | ${row.target} | ${secs(row.keyscanOneType.wallMs)}${row.keyscanOneType.killed ? ' (stopped)' : ''} | ${mb(row.keyscanOneType.peakRssKb)} | ${cpu(row.keyscanOneType.cpuS)} | ${cpu(row.keyscanOneType.targetCpuS)} | ${row.keyscanOneType.hostsAnswered} answered |`,
  ];
  if (row.keyscan) lines.push(`| ssh-keyscan -T 5 (every key type) | ${row.hosts} | ${row.target} | ${secs(row.keyscan.wallMs)} | ${mb(row.keyscan.peakRssKb)} | ${cpu(row.keyscan.cpuS)} | ${cpu(row.keyscan.targetCpuS)} | ${row.keyscan.hostsAnswered} answered |`);
  lines.push(`| ratio sshcheck / ssh-keyscan -t ed25519 | | | ${(sc.wallMs / row.keyscanOneType.wallMs).toFixed(2)}× | | | | load average ${row.loadAverage.start[0]?.toFixed(1)} → ${row.loadAverage.end[0]?.toFixed(1)} on the shared machine |`);
  return lines;
}
