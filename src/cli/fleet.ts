// `sshcheck db-1 db-2 …`, `sshcheck db-[1-40]`, `sshcheck --file hosts.txt`, `sshcheck --group dbs`:
// the checklist against many hosts from this bastion. The terminal shows the summary first
// (hosts by cause, counted), then one compact line per host that is not healthy; `--json`
// prints one `sshcheck/fleet@1` document. Exit 0 only when every host is healthy.
import { findEngineConfig } from '../config/engine-config.js';
import { DEFAULT_MAX_HOSTS, MAX_HOSTS_CEILING } from '../fleet/limits.js';
import { duration } from '../engine/checklist/format.js';
import type { Report } from '../engine/report.js';
import type { Target } from '../target.js';
import { hostname } from 'node:os';
import { compactLine, runFleet } from '../fleet/run.js';
import type { FleetResult } from '../fleet/run.js';
import { fleetTargets, readHostsFile } from '../fleet/targets.js';
import { SshcheckError } from '../errors.js';
import { FLEET_HINT, checkTyped, refusedHosts } from '../policy/target-policy.js';
import { cliPolicy } from './record.js';
import { ReportSpool } from './report-spool.js';
import { EXIT } from './exit.js';

export interface FleetRequest {
  command: 'fleet';
  /** Targets and patterns as typed. */
  patterns: string[];
  file: string | undefined;
  groups: string[];
  overrides: { port?: string; user?: string };
  /** -p 22,2222: each host on each port. */
  ports?: number[];
  concurrency: number | undefined;
  /** --max-hosts: the most hosts this check may name (else the engine config's fleet.max_hosts, else 1024). */
  maxHosts?: number;
  json: boolean;
  quiet: boolean;
  color: boolean | undefined;
  budgetMs: number | undefined;
  vantage: string | undefined;
  configPath: string | undefined;
  /** --policy <file>: fence every host with that target policy (as for one host). */
  policyPath?: string | undefined;
}

export interface FleetIo {
  /** false: the text is queued in memory (a pipe whose reader is behind); wait for `drained` before more. */
  stdout: (text: string) => boolean | void;
  /** Resolves when stdout has written what it queued (process.stdout's 'drain'). */
  drained?: () => Promise<void>;
  stderr: (text: string) => void;
  signal?: AbortSignal;
}

/** The hosts of a request: validated, expanded, capped (throws E_USAGE before anything runs). */
export function requestTargets(request: FleetRequest): Target[] {
  const config = findEngineConfig(request.configPath, {});
  const configured = config?.fleet?.maxHosts;
  const max = request.maxHosts ?? configured ?? DEFAULT_MAX_HOSTS;
  return fleetTargets({
    max,
    limit: request.maxHosts !== undefined ? `the limit given with --max-hosts` : configured !== undefined ? `the limit is the engine config's fleet.max_hosts; --max-hosts overrides it` : `the default limit; raise it with --max-hosts <n> or the engine config's fleet.max_hosts, up to ${MAX_HOSTS_CEILING}`,
    patterns: request.patterns,
    ...(request.file !== undefined ? { fileLines: readHostsFile(request.file), fileName: request.file } : {}),
    groups: request.groups,
    knownGroups: config?.groups ?? {},
    overrides: request.overrides,
    ...(request.ports !== undefined ? { ports: request.ports } : {}),
  });
}

const seconds = duration;

/** The terminal text: summary first, then a line per host that is not healthy. */
export function renderFleet(result: FleetResult, options: { color?: boolean } = {}): string {
  const { summary } = result;
  const paint = (code: string, text: string): string => (options.color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const strip = (text: string): string => text.replace(/[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]/g, ' ');
  const lines = [
    `sshcheck ${summary.hosts} host${summary.hosts === 1 ? '' : 's'} from ${strip(result.vantage.name)}: ${summary.healthy} healthy, ${summary.problems} with a problem${summary.undecided > 0 ? `, ${summary.undecided} undecided (stopped before a verdict)` : ''}${summary.failed > 0 ? `, ${summary.failed} not checked (engine failure)` : ''}, in ${seconds(summary.durationMs)} (${summary.concurrency} at a time)`,
    '',
  ];
  const width = Math.max(...summary.byCause.map((c) => String(c.hosts).length), 1);
  for (const c of summary.byCause) lines.push(`  ${String(c.hosts).padStart(width)}  ${c.cause === 'healthy' ? paint('32', c.cause) : c.cause === 'undecided' ? paint('33', c.cause) : paint('31', c.cause)}`);
  if (summary.failed > 0) lines.push(`  ${String(summary.failed).padStart(width)}  ${paint('33', 'engine failure')}`);
  const bad = result.reports.filter((r) => r.diagnosis.cause !== 'healthy');
  if (bad.length > 0 || result.failures.length > 0 || result.notStarted.length > 0) {
    lines.push('', 'Not healthy:');
    const rows = bad.map((r) => compactLine(r));
    const hostWidth = Math.min(40, Math.max(...rows.map((r) => r.host.length), 4));
    const causeWidth = Math.max(...rows.map((r) => r.cause.length), 4);
    for (const r of rows) lines.push(`  ${strip(r.host).padEnd(hostWidth)}  ${r.cause.padEnd(causeWidth)}  ${strip(r.summary)}`);
    for (const f of result.failures) lines.push(`  ${strip(f.target).padEnd(hostWidth)}  ${'engine failure'.padEnd(causeWidth)}  ${strip(f.error)}`);
    for (const host of result.notStarted) lines.push(`  ${strip(host).padEnd(hostWidth)}  ${'undecided'.padEnd(causeWidth)}  not started: the fleet run was stopped first`);
    lines.push('', 'Details for one host: sshcheck <host>; everything: sshcheck --json …');
  }
  lines.push('', `Probed from ${strip(result.vantage.name)}, not from the requester's machine: what works here can still fail there.`);
  return `${lines.join('\n')}\n`;
}

/**
 * The `sshcheck/fleet@1` document, written in pieces: the same text JSON.stringify(result)
 * would give with the reports (already text, in the hosts' order) in their place. Waits whenever `write` says its text was queued (stdout a pipe whose reader is behind, e.g.
 * `| jq`): without that wait, the whole document (~75 MB for 10 000 hosts) piled up in memory.
 */
export async function writeFleetJson(result: FleetResult, reportTexts: Iterable<string | undefined>, write: (text: string) => boolean | void, drained?: () => Promise<void>): Promise<void> {
  const out = async (text: string): Promise<void> => {
    if (write(text) === false && drained) await drained();
  };
  const { reports: kept, ...rest } = result;
  const texts: Iterable<string | undefined> = kept.length > 0 ? kept.map((r) => JSON.stringify(r)) : reportTexts;
  const head = JSON.stringify({ schema: rest.schema, vantage: rest.vantage, startedAt: rest.startedAt, summary: rest.summary });
  const tail = JSON.stringify({ failures: rest.failures, notStarted: rest.notStarted, ...(rest.rechecks ? { rechecks: rest.rechecks } : {}) });
  await out(`${head.slice(0, -1)},"reports":[`);
  // A few hundred reports per write: few calls, no string of every report at once.
  let batch: string[] = [];
  let first = true;
  for (const text of texts) {
    if (text === undefined) continue;
    batch.push(text);
    if (batch.length === 256) {
      await out(`${first ? '' : ','}${batch.join(',')}`);
      first = false;
      batch = [];
    }
  }
  if (batch.length > 0) await out(`${first ? '' : ','}${batch.join(',')}`);
  await out(`],${tail.slice(1)}\n`);
}

export async function runFleetCommand(request: FleetRequest, io: FleetIo): Promise<number> {
  const targets = requestTargets(request);
  const config = findEngineConfig(request.configPath, {});
  // Fenced like a single check (--policy, or policy.cli: true): every typed host first, one
  // refused host refuses the command before anything is probed; the engine then checks
  // every resolved address of each host.
  const policy = cliPolicy(request.policyPath, config);
  if (policy) {
    const refused = targets.flatMap((t) => checkTyped(policy, t) ?? []);
    if (refused.length > 0) {
      throw new SshcheckError('E_POLICY', `The target policy refuses ${refused.length} of the ${targets.length} hosts: ${refusedHosts(refused)}. Nothing was probed. ${FLEET_HINT}`);
    }
  }
  const vantage = request.vantage ?? hostname();
  const started = performance.now();
  let done = 0;
  const progress = (line: string): void => {
    if (!request.quiet) io.stderr(`[${seconds(performance.now() - started).padStart(7)}] ${line}\n`);
  };
  progress(`checking ${targets.length} host${targets.length === 1 ? '' : 's'} from ${vantage}…`);
  const onReport = (report: Report, index: number): void => {
    spool?.put(index, JSON.stringify(report));
    done += 1;
    if (report.diagnosis.cause !== 'healthy') progress(`${done}/${targets.length} ${compactLine(report, 100).host}: ${report.diagnosis.cause}`);
    else if (done % 50 === 0 || done === targets.length) progress(`${done}/${targets.length} checked`);
  };
  // --json: each report goes to the spool as text when it comes, and out in the hosts' order at
  // the end: 10 000 report objects, or their texts, would not fit the memory a fleet may use.
  const spool = request.json ? new ReportSpool(targets.length) : undefined;
  let result: FleetResult;
  try {
    result = await runFleet(targets, {
      vantage,
      ...(request.json ? { keepReports: false } : {}),
      ...(request.concurrency !== undefined ? { concurrency: request.concurrency } : {}),
      ...(request.budgetMs !== undefined ? { budgetMs: request.budgetMs } : {}),
      ...(config ? { config } : {}),
      ...(policy ? { runOptions: { policy } } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
      onReport,
      onFailure: (f) => progress(`${++done}/${targets.length} ${f.target}: engine failure: ${f.error}`),
    });
    if (spool) await writeFleetJson(result, spool.texts(), io.stdout, io.drained);
  } finally {
    spool?.close();
  }
  if (!spool) io.stdout(renderFleet(result, { color: request.color ?? (process.stdout.isTTY === true && process.env.NO_COLOR === undefined) }));
  if (result.failures.length > 0) return EXIT.engine;
  // Hosts without a verdict make the whole answer incomplete: never 0, and not "a problem found".
  if (result.summary.undecided > 0) return EXIT.undecided;
  return result.summary.healthy === result.summary.hosts ? EXIT.healthy : EXIT.problem;
}
