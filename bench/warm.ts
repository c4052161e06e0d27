// Time to a diagnosis in a warm process: what a long-running bot, agent or fleet sees. For
// each fault, a fresh lab; in it one process per build (this one and --before's, taking turns
// going first) checks the target 1 + N times (bench/warm-runs.ts). Reported: the first run
// (cold code, as in the CLI's own process) and the median / worst of the rest.
//   node dist/bench/warm.js [--fault ID …] [--runs N] [--before <built checkout>] [--out FILE]
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Lab, labUnavailable, sh } from '../test/lab/lab.js';
import { SCENARIOS } from '../test/lab/scenarios.js';
import { median } from './stats.js';
import { errorMessage } from '../src/errors.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const DIST = join(HERE, '..');
const DEFAULT_FAULTS = ['rst', 'icmp-reject', 'nxdomain', 'servfail', 'not-ssh', 'healthy-ip', 'icmp-blocked'];

interface BuildRuns {
  build: string;
  first: number | undefined;
  warmMedian: number;
  warmWorst: number;
  right: number;
  runs: number;
  /** Every run's diagnosedMs, the first one included. */
  diagnosedMs: Array<number | undefined>;
}

async function timeBuild(lab: Lab, label: string, dist: string, host: string, count: number, expected: string): Promise<BuildRuns> {
  // Lab.exec's default timeout is shorter than the runs, which are paced 1.1 s apart.
  const r = await sh('ip', ['netns', 'exec', lab.bastion, process.execPath, join(DIST, 'bench', 'warm-runs.js'), dist, host, String(count + 1)], { timeoutMs: (count + 1) * 1100 + 60_000 });
  const runs = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '[]') as Array<{ diagnosedMs: number | undefined; cause: string }>;
  const warm = runs.slice(1).map((x) => x.diagnosedMs ?? NaN);
  return { build: label, first: runs[0]?.diagnosedMs, warmMedian: median(warm), warmWorst: Math.max(...warm), right: runs.filter((x) => x.cause === expected).length, runs: runs.length, diagnosedMs: runs.map((x) => x.diagnosedMs) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { fault: { type: 'string', multiple: true }, runs: { type: 'string', default: '10' }, before: { type: 'string' }, out: { type: 'string' } } });
  const why = labUnavailable();
  if (why) throw new Error(`no lab: ${why}`);
  const count = Math.max(1, Math.min(50, Number(values.runs)));
  const builds: Array<[string, string]> = [['this build', DIST]];
  if (values.before !== undefined) builds.push(['before', join(values.before, 'dist')]);
  const rows: Array<{ id: string; name: string; builds: BuildRuns[]; load: number[] }> = [];
  const start = loadavg();
  for (const [i, id] of (values.fault ?? DEFAULT_FAULTS).entries()) {
    const scenario = SCENARIOS.find((s) => s.id === id);
    if (!scenario) throw new Error(`no scenario ${id}`);
    const lab = await Lab.create();
    try {
      await scenario.setup(lab);
      const order = i % 2 === 0 ? builds : [...builds].reverse();
      const measured: BuildRuns[] = [];
      for (const [label, dist] of order) measured.push(await timeBuild(lab, label, dist, scenario.target, count, scenario.cause));
      rows.push({ id, name: scenario.name, builds: builds.map(([label]) => measured.find((m) => m.build === label) as BuildRuns), load: loadavg() });
      const cell = (b: BuildRuns): string => `first ${b.first ?? '-'} ms, warm ${b.warmMedian} / ${b.warmWorst} ms, ${b.right}/${b.runs} right`;
      process.stdout.write(`| ${scenario.name} | ${rows.at(-1)?.builds.map(cell).join(' | ')} |\n`);
    } finally {
      await lab.destroy();
    }
  }
  if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify({ date: new Date().toISOString(), runsPerBuild: count + 1, loadAverage: { start, end: loadavg() }, rows }, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`warm bench: ${errorMessage(err)}\n`);
  process.exitCode = 1;
});
