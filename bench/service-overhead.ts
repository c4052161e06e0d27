// What the service path costs: the time from asking for a check to the diagnosis, as a
// chat thread sees it, with the engine in the bot's process (the embedded default) versus
// through `sshcheck serve` on the bastion and the RoutedEngine/RemoteEngine client in a bot
// namespace one lab router hop away. Same lab, same targets, N sequential runs each, reuse
// off on both sides so that every check is a real probe run.
// Usage (root): node dist/bench/service-overhead.js [--runs 20]
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADDR, CLI, Lab, labUnavailable } from '../test/lab/lab.js';
import { LabSegments } from '../test/lab/segments.js';
import { DriverClient } from '../test/lab/driver-client.js';
import { median } from './stats.js';

const DRIVER = fileURLToPath(new URL('../test/lab/bot-driver.js', import.meta.url));

interface TimedRun {
  toDiagnosisMs: number;
  diagnosedMs: number;
  totalMs: number;
  cause: string;
  vantage: string;
}

const TARGETS = [
  { name: 'healthy sshd', target: ADDR.target, cause: 'healthy' },
  { name: 'closed port', target: '10.77.2.130', cause: 'port-closed' },
];

const ms = (n: number): string => n.toFixed(1).padStart(6);

async function measure(lab: Lab, segments: LabSegments, botNs: string, dir: string, runs: number): Promise<Array<{ target: string; mode: string; runs: TimedRun[] }>> {
  await lab.startSshd();
  await lab.exec(lab.target, 'ip', ['addr', 'add', '10.77.2.130/24', 'dev', 't0']);
  const token = randomUUID();
  writeFileSync(join(dir, 'tokens'), `${token}\n`);
  writeFileSync(join(dir, 'sshcheck.yml'), `bastions:\n  - name: eu-1\n    url: http://${ADDR.bastion}:8722\n    token_env: BENCH_TOKEN\ndefault: eu-1\n`);
  await segments.start(lab.bastion, process.execPath, [CLI, 'serve', '--listen', `${ADDR.bastion}:8722`, '--vantage', 'eu-1', '--reuse', '0'], { ready: /"msg":"listening"/, env: { SSHCHECK_SERVICE_TOKENS_FILE: join(dir, 'tokens') } });
  // The in-process engine runs where the service does: in the bastion namespace.
  const inProcess = new DriverClient(await segments.start(lab.bastion, process.execPath, [DRIVER, '-'], { ready: /driver ready/, env: { SSHCHECK_VANTAGE: 'eu-1' } }));
  const routed = new DriverClient(await segments.start(botNs, process.execPath, [DRIVER, join(dir, 'sshcheck.yml')], { ready: /driver ready/, env: { BENCH_TOKEN: token } }));
  const rows: Array<{ target: string; mode: string; runs: TimedRun[] }> = [];
  for (const t of TARGETS) {
    for (const [mode, client] of [['in-process', inProcess], ['service', routed]] as const) {
      // One warm-up run (module loading, first connections), not counted.
      await client.send({ op: 'time', target: t.target, runs: 1 }, 60_000);
      const reply = await client.send<{ runs: TimedRun[] }>({ op: 'time', target: t.target, runs }, 600_000);
      if (!reply.ok) throw new Error(`${mode} ${t.name}: ${reply.error ?? 'failed'}`);
      rows.push({ target: t.name, mode, runs: reply.runs });
      const right = reply.runs.filter((r) => r.cause === t.cause).length;
      const d = reply.runs.map((r) => r.toDiagnosisMs);
      console.log(
        `${t.name.padEnd(13)} ${mode.padEnd(10)} to diagnosis median ${ms(median(d))} ms (min ${ms(Math.min(...d))}, max ${ms(Math.max(...d))}) | engine diagnosedMs median ${ms(median(reply.runs.map((r) => r.diagnosedMs)))} ms | to report median ${ms(median(reply.runs.map((r) => r.totalMs)))} ms | ${right}/${runs} ${t.cause} from ${reply.runs[0]?.vantage ?? '?'}`,
      );
    }
    const [a, b] = ['in-process', 'service'].map((mode) => rows.find((r) => r.target === t.name && r.mode === mode)?.runs.map((r) => r.toDiagnosisMs) ?? []);
    console.log(`${t.name.padEnd(13)} service overhead, median to diagnosis: ${(median(b ?? []) - median(a ?? [])).toFixed(1)} ms`);
  }
  return rows;
}

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) {
    console.error(`bench: ${why}`);
    process.exitCode = 2;
    return;
  }
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, out: { type: 'string' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new Error('--runs must be 1-100');
  const lab = await Lab.create();
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bench-'));
  let segments: LabSegments | undefined;
  let rows;
  try {
    const built = await LabSegments.add(lab, { bot: 4 });
    segments = built.segments;
    if (!built.added.bot) throw new Error('the bot segment was not built');
    rows = await measure(lab, segments, built.added.bot.ns, dir, runs);
  } finally {
    await segments?.destroy();
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
  const out = values.out ?? `bench/results/service-overhead-${new Date().toISOString().slice(0, 10)}.json`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), machine: { host: hostname(), cpus: cpus().length, node: process.version }, runs, rows }, null, 2) + '\n');
  console.log(`written ${out}`);
}

await main();
