// `npm run bench` (root): how close sshcheck gets to the network's own limits, in the lab
// (shared/design/lab.md), measured as whole-process wall time of the real CLI and, next to
// it, the report's own diagnosedMs (the in-process time a bot or a fleet check sees, without
// Node's start-up), side by side in the same run with what an engineer would do instead:
//
//   faults  per fault, median and worst of N runs, each run in a fresh lab, three tools in it:
//           sshcheck; (a) the article's commands one after the other with tight timeouts
//           (ping -c 3 -W 1, nc -zv -w 5, ssh -vvv -o ConnectTimeout=5, dig +time=2 for names),
//           timed as the whole sequence; (b) one ssh -o ConnectTimeout=5 -o BatchMode=yes.
//           A command still running after PATIENCE_MS is stopped (the engineer gives up).
//   loss    every fault again under 5 % random packet loss on the lab router: how often the
//           verdict is wrong (the false-verdict rate), per fault.
//   fleet   N lab addresses (up to 16 382; one SSH server answers on all of them: the single-
//           process responder by default, sshd -r with --fleet-target sshd) checked in one command, time,
//           peak RSS and false verdicts, side by side with ssh-keyscan over the same addresses
//           (bench/fleet.ts).
//   chat    200 concurrent /sshcheck commands through the fake Slack (bench/chat-load.ts).
//
// Usage: sudo npm run bench [-- --runs 5] [--only faults,loss,fleet,chat] [--loss-runs 20]
//        [--fleet-size 500] [--fleet-target responder|sshd] [--fault silent-drop ...]
// Results: a table on stdout, JSON in bench/results/bench-<date>.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import type { Report } from '../src/engine/report.js';
import { FLEET, Lab, labUnavailable } from '../test/lab/lab.js';
import type { Scenario } from '../test/lab/scenarios.js';
import { SCENARIOS } from '../test/lab/scenarios.js';
import { chatLoad } from './chat-load.js';
import { FLEET_HEADER, benchFleet } from './fleet.js';
import type { ChatLoadResult } from './chat-load.js';
import { isMain, median, ratio, secs, worst } from './stats.js';

/** The faults of the speed goals, in the order of the table. */
export const FAULTS = ['healthy-ip', 'icmp-blocked', 'rst', 'icmp-reject', 'silent-drop', 'mtu-blackhole', 'tcp-wrappers', 'nxdomain', 'servfail', 'dns-timeout'] as const;

/** Whole-process goals (medians), from issue 8. */
export const GOALS_MS: Readonly<Record<string, number>> = {
  'healthy-ip': 300,
  'icmp-blocked': 300,
  rst: 300,
  'icmp-reject': 300,
  nxdomain: 300,
  servfail: 300,
  'dns-timeout': 300,
  'silent-drop': 2000,
  'mtu-blackhole': 3000,
  'tcp-wrappers': 5500,
};

/**
 * In-process goals (medians of the report's diagnosedMs: what a bot or a fleet check sees,
 * without Node's start-up), from issue 19. Faults it sets no goal for show none.
 */
export const IN_PROCESS_GOALS_MS: Readonly<Record<string, number>> = {
  rst: 20,
  'icmp-reject': 20,
  nxdomain: 20,
  servfail: 20,
  'not-ssh': 20,
  'healthy-ip': 60,
  'icmp-blocked': 60,
  'silent-drop': 1100,
  'mtu-blackhole': 1000,
};

/** How long the engineer waits for one command before giving up on it (Ctrl-C). */
const PATIENCE_MS = 10_000;
const LOSS = 0.05;

interface ToolRun {
  wallMs: number;
  /** The command was stopped after PATIENCE_MS. */
  gaveUp: boolean;
}

interface SshcheckRun extends ToolRun {
  diagnosedMs: number;
  cause: string;
  correct: boolean;
  /** For a wrong verdict: the diagnosis and the steps that judged the handshake, to tell why. */
  detail?: string;
}

interface FaultRow {
  id: string;
  name: string;
  expected: string;
  sshcheck: SshcheckRun[];
  /** The article's commands, one after the other: each command's time, and the sequence's. */
  article: Array<ToolRun & { commands: Array<{ command: string; wallMs: number; gaveUp: boolean; exit: number | null }> }>;
  singleSsh: ToolRun[];
  /** The --before build in the same labs. */
  before?: SshcheckRun[];
}

interface LossRow {
  id: string;
  expected: string;
  runs: number;
  right: number;
  /** Wrong causes seen, counted. */
  wrong: Record<string, number>;
  wallMs: number[];
  /** The report's diagnosedMs of each run (NaN when it printed none). */
  diagnosedMs: number[];
  /** What each wrong verdict said (bench/results JSON only). */
  wrongDetails: string[];
}

function correct(s: Scenario, report: Report): boolean {
  const causes = [report.diagnosis.cause, ...(s.causeOrAlternative ? report.diagnosis.alternatives.map((a) => a.cause) : [])];
  return causes.includes(s.cause);
}

/** `cli`: another checkout's bin/sshcheck.js (--before), with a store of its own. */
async function runSshcheck(lab: Lab, s: Scenario, cli?: string): Promise<SshcheckRun> {
  const run = await lab.runCli(['--json', '-q', s.target], 30_000, cli === undefined ? 'sshcheck' : 'before', cli);
  let report: Report;
  try {
    report = JSON.parse(run.stdout) as Report;
  } catch {
    return { wallMs: run.wallMs, gaveUp: false, diagnosedMs: NaN, cause: `no report (exit ${run.code})`, correct: false };
  }
  const right = correct(s, report);
  const steps = report.steps.filter((st) => ['sshd', 'vpn-proxy', 'dns', 'verbose'].includes(st.id)).map((st) => `${st.id}: ${st.summary}`);
  return { wallMs: run.wallMs, gaveUp: false, diagnosedMs: report.diagnosedMs, cause: report.diagnosis.cause, correct: right, ...(right ? {} : { detail: [report.diagnosis.summary, ...steps].join(' | ') }) };
}

const SSH_NO_AUTH = ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PubkeyAuthentication=no', '-o', 'PasswordAuthentication=no', '-o', 'KbdInteractiveAuthentication=no', '-o', 'GSSAPIAuthentication=no'];

/** The article's commands as a careful engineer types them, with tight timeouts. */
function articleCommands(target: string, isName: boolean): Array<[string, string[]]> {
  const cmds: Array<[string, string[]]> = [
    ['ping', ['-c', '3', '-W', '1', target]],
    ['nc', ['-zv', '-w', '5', target, '22']],
    ['ssh', ['-vvv', '-o', 'ConnectTimeout=5', ...SSH_NO_AUTH, '-l', 'sshcheck', target, 'true']],
  ];
  if (isName) cmds.push(['dig', ['+time=2', '+search', target]]);
  return cmds;
}

async function runArticle(lab: Lab, s: Scenario): Promise<FaultRow['article'][number]> {
  const started = performance.now();
  const commands: FaultRow['article'][number]['commands'] = [];
  for (const [cmd, args] of articleCommands(s.target, !/^[0-9.]+$/.test(s.target))) {
    const r = await lab.runTimed(lab.bastion, cmd, args, PATIENCE_MS);
    commands.push({ command: `${cmd} ${args.join(' ')}`, wallMs: Math.round(r.wallMs), gaveUp: r.killed, exit: r.code });
  }
  return { wallMs: performance.now() - started, gaveUp: commands.some((c) => c.gaveUp), commands };
}

async function runSingleSsh(lab: Lab, s: Scenario): Promise<ToolRun> {
  const r = await lab.runTimed(lab.bastion, 'ssh', ['-o', 'ConnectTimeout=5', ...SSH_NO_AUTH, '-l', 'sshcheck', s.target, 'true'], PATIENCE_MS);
  return { wallMs: r.wallMs, gaveUp: r.killed };
}

function scenario(id: string): Scenario {
  const s = SCENARIOS.find((x) => x.id === id);
  if (!s) throw new Error(`unknown fault ${id}`);
  return s;
}

export async function benchFaults(ids: readonly string[], runs: number, log: (line: string) => void, beforeCli?: string): Promise<FaultRow[]> {
  const rows: FaultRow[] = [];
  for (const id of ids) {
    const s = scenario(id);
    const row: FaultRow = { id, name: s.name, expected: s.cause, sshcheck: [], article: [], singleSsh: [], ...(beforeCli !== undefined ? { before: [] } : {}) };
    for (let i = 0; i < runs; i++) {
      const lab = await Lab.create();
      try {
        await s.setup(lab);
        // Same lab, one tool after the other; sshcheck first so that nothing the baselines
        // leave behind (a TCP-wrappers child holding its 5 s) can slow it down. The --before
        // build and this one take turns going first.
        if (beforeCli !== undefined && i % 2 === 1) row.before?.push(await runSshcheck(lab, s, beforeCli));
        row.sshcheck.push(await runSshcheck(lab, s));
        if (beforeCli !== undefined && i % 2 === 0) row.before?.push(await runSshcheck(lab, s, beforeCli));
        row.article.push(await runArticle(lab, s));
        row.singleSsh.push(await runSingleSsh(lab, s));
      } finally {
        await lab.destroy();
      }
    }
    rows.push(row);
    log(faultLine(row));
  }
  return rows;
}

const fmtTool = (runs: readonly ToolRun[]): string => {
  const w = runs.map((r) => r.wallMs);
  const gaveUp = runs.some((r) => r.gaveUp) ? ' (gave up)' : '';
  return `${secs(median(w))} / ${secs(worst(w))}${gaveUp}`;
};

const ms = (x: number): string => (x < 1000 ? `${Math.round(x)} ms` : secs(x));

/** Median / worst of the in-process figures, and the issue-19 goal when there is one. */
function fmtInProcess(id: string, diagnosedMs: readonly number[]): string {
  const d = diagnosedMs.filter((x) => Number.isFinite(x));
  if (d.length === 0) return 'no report';
  const goal = IN_PROCESS_GOALS_MS[id];
  const verdict = goal === undefined ? '' : ` (goal ${goal < 1000 ? `${goal} ms` : secs(goal)}: ${median(d) <= goal ? 'met' : 'missed'})`;
  return `${ms(median(d))} / ${ms(worst(d))}${verdict}`;
}

function faultLine(row: FaultRow): string {
  const sc = median(row.sshcheck.map((r) => r.wallMs));
  const right = row.sshcheck.filter((r) => r.correct).length;
  const before = row.before ? ` ${fmtTool(row.before)}, in process ${fmtLoss(row.before.map((r) => r.diagnosedMs))}, ${row.before.filter((r) => r.correct).length}/${row.before.length} right |` : '';
  return `| ${row.name} | ${fmtTool(row.sshcheck)} | ${fmtInProcess(row.id, row.sshcheck.map((r) => r.diagnosedMs))} | ${right}/${row.sshcheck.length} |${before} ${fmtTool(row.article)} | ${ratio(median(row.article.map((r) => r.wallMs)), sc)} | ${fmtTool(row.singleSsh)} | ${ratio(median(row.singleSsh.map((r) => r.wallMs)), sc)} | ${secs(GOALS_MS[row.id] ?? NaN)} ${sc <= (GOALS_MS[row.id] ?? Infinity) ? 'met' : 'missed'} |`;
}

export function faultHeader(before: boolean): string[] {
  return [
    `| fault | sshcheck median / worst (whole process) | in process (diagnosedMs) median / worst | right cause |${before ? ' before (--before build, same labs) |' : ''} article's commands median / worst | ratio | single \`ssh -o ConnectTimeout=5\` median / worst | ratio | goal (median, whole process) |`,
    `|---|---|---|---|${before ? '---|' : ''}---|---|---|---|---|`,
  ];
}

export async function benchLoss(ids: readonly string[], runs: number, log: (line: string) => void): Promise<LossRow[]> {
  const rows: LossRow[] = [];
  for (const id of ids) {
    const s = scenario(id);
    const row: LossRow = { id, expected: s.cause, runs, right: 0, wrong: {}, wallMs: [], diagnosedMs: [], wrongDetails: [] };
    for (let i = 0; i < runs; i++) {
      const lab = await Lab.create();
      try {
        await s.setup(lab);
        await lab.setLoss(LOSS);
        const r = await runSshcheck(lab, s);
        row.wallMs.push(r.wallMs);
        row.diagnosedMs.push(r.diagnosedMs);
        if (r.correct) row.right += 1;
        else {
          row.wrong[r.cause] = (row.wrong[r.cause] ?? 0) + 1;
          if (r.detail !== undefined) row.wrongDetails.push(r.detail);
        }
      } finally {
        await lab.destroy();
      }
    }
    rows.push(row);
    log(lossLine(row));
  }
  return rows;
}

export const LOSS_HEADER = ['| fault | runs | right cause | false verdicts | false-verdict rate | median / worst (whole process) | in process (diagnosedMs) median / worst |', '|---|---|---|---|---|---|---|'];

function fmtLoss(diagnosedMs: readonly number[]): string {
  const d = diagnosedMs.filter((x) => Number.isFinite(x));
  return d.length === 0 ? 'no report' : `${ms(median(d))} / ${ms(worst(d))}`;
}

function lossLine(row: LossRow): string {
  const wrong = Object.entries(row.wrong).map(([c, n]) => `${c} ×${n}`).join(', ') || '-';
  return `| ${scenario(row.id).name} | ${row.runs} | ${row.right}/${row.runs} ${row.expected} | ${wrong} | ${(((row.runs - row.right) / row.runs) * 100).toFixed(0)} % | ${secs(median(row.wallMs))} / ${secs(worst(row.wallMs))} | ${fmtLoss(row.diagnosedMs)} |`;
}

function chatLines(r: ChatLoadResult): string[] {
  return [
    '| commands | channels | targets | ack p50 / p99 / worst | acked within 3 s | threads complete | lost | pace violations | all done in |',
    '|---|---|---|---|---|---|---|---|---|',
    `| ${r.commands} | ${r.channels} | ${r.targets} | ${r.ackMs.p50.toFixed(1)} / ${r.ackMs.p99.toFixed(1)} / ${r.ackMs.worst.toFixed(1)} ms | ${r.ackedWithin3s}/${r.commands} | ${r.complete}/${r.commands} | ${r.lost} | ${r.paceViolations} | ${secs(r.totalMs)} |`,
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      only: { type: 'string', default: 'faults,loss,fleet,chat' },
      'loss-runs': { type: 'string', default: '20' },
      'fleet-size': { type: 'string', default: '500' },
      concurrency: { type: 'string' },
      'fleet-target': { type: 'string', default: 'responder' },
      before: { type: 'string' },
      fault: { type: 'string', multiple: true },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write('Usage: sudo npm run bench [-- --runs 5] [--only faults,loss,fleet,chat] [--loss-runs 20] [--fleet-size 500] [--fleet-target responder|sshd] [--concurrency N] [--fault ID ...] [--before <checkout>] [--out FILE]\n');
    process.stdout.write(`Faults: ${FAULTS.join(', ')} (any scenario id of test/lab/scenarios.ts with --fault)\n`);
    return;
  }
  const only = new Set((values.only ?? '').split(',').map((s) => s.trim()));
  const needsLab = ['faults', 'loss', 'fleet'].some((s) => only.has(s));
  const why = labUnavailable();
  if (needsLab && why) {
    process.stderr.write(`bench: ${why}.\nThe benchmark builds network namespaces: run it as root (sudo npm run bench), or --only chat for the part that needs no lab.\n`);
    process.exitCode = 2;
    return;
  }
  const int = (name: string, text: string | undefined, min: number, max: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be ${min}-${max}`);
    return n;
  };
  const runs = int('runs', values.runs, 1, 50);
  const lossRuns = int('loss-runs', values['loss-runs'], 1, 100);
  const fleetSize = int('fleet-size', values['fleet-size'], 1, FLEET.max);
  const concurrency = values.concurrency !== undefined ? int('concurrency', values.concurrency, 1, 256) : undefined;
  const fleetTarget = values['fleet-target'];
  if (fleetTarget !== 'responder' && fleetTarget !== 'sshd') throw new Error(`--fleet-target must be responder or sshd, not ${JSON.stringify(fleetTarget)}`);
  // --before <checkout>: a built checkout of an earlier version, run in the same labs.
  const beforeCli = values.before !== undefined ? join(values.before, 'bin', 'sshcheck.js') : undefined;
  if (beforeCli !== undefined && !existsSync(join(values.before ?? '', 'dist', 'src', 'cli', 'main.js'))) throw new Error(`--before ${values.before ?? ''}: no built checkout there (run npm ci in it)`);
  const faults = values.fault && values.fault.length > 0 ? values.fault : [...FAULTS];
  for (const f of faults) scenario(f);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const date = new Date().toISOString();
  const machine = { host: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() };
  log(`sshcheck bench, ${date}, ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGb} GB, Node ${machine.node}, Linux ${machine.kernel}`);
  const results: Record<string, unknown> = { date, machine, runs, lossRuns, patienceMs: PATIENCE_MS, loadAverageAtStart: loadavg() };
  // Timings are only as good as the machine is quiet: say so when something else is busy.
  if ((loadavg()[0] ?? 0) > machine.cpus * 0.5) log(`warning: load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${machine.cpus} CPUs: something else is running, timings will be slower than the lab's own`);
  if (only.has('faults')) {
    log(`\nTime to a diagnosis, whole process, median / worst of ${runs} runs (fresh lab per run); the baselines in the same lab, right after sshcheck:`);
    for (const h of faultHeader(beforeCli !== undefined)) log(h);
    results['faults'] = await benchFaults(faults, runs, log, beforeCli);
  }
  if (only.has('loss')) {
    log(`\nUnder ${LOSS * 100} % random packet loss on the lab router, ${lossRuns} runs per fault (fresh lab per run):`);
    for (const h of LOSS_HEADER) log(h);
    results['loss'] = await benchLoss(faults, lossRuns, log);
  }
  if (only.has('fleet')) {
    log(`\nFleet: ${fleetSize} lab addresses (${fleetTarget === 'sshd' ? 'one sshd -r' : 'one single-process SSH responder'} answering on all of them), sshcheck and ssh-keyscan over the same addresses; every host is healthy, so any other verdict is false:`);
    for (const h of FLEET_HEADER) log(h);
    results['fleet'] = await benchFleet(fleetSize, concurrency, log, fleetTarget);
  }
  if (only.has('chat')) {
    log('\nChat under load: concurrent /sshcheck commands through the fake Slack (real Bolt, real engine on loopback):');
    const r = await chatLoad({});
    for (const line of chatLines(r)) log(line);
    results['chat'] = r;
  }
  results['loadAverageAtEnd'] = loadavg();
  const out = values.out ?? `bench/results/bench-${date.slice(0, 10)}.json`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  log(`\nwritten ${out}`);
}

if (isMain(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
