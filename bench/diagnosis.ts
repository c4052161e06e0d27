// Time from start to diagnosis of the real CLI, per lab fault: median and worst of N runs.
// Each run gets a fresh lab (shared/design/lab.md), so runs cannot warm each other up.
// Usage (root): node dist/bench/diagnosis.js [--runs 5] [scenario-id ...]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { Report } from '../src/engine/report.js';
import { Lab, labUnavailable } from '../test/lab/lab.js';
import { SCENARIOS } from '../test/lab/scenarios.js';
import { isMain, median } from './stats.js';

export interface Sample {
  diagnosedMs: number;
  wallMs: number;
  cause: string;
  correct: boolean;
}

export { median };

async function main(): Promise<void> {
  const why = labUnavailable();
  if (why) {
    console.error(`bench: ${why}`);
    process.exitCode = 2;
    return;
  }
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { runs: { type: 'string', default: '5' }, out: { type: 'string' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error('--runs must be 1-50');
  const chosen = positionals.length > 0 ? SCENARIOS.filter((s) => positionals.includes(s.id)) : SCENARIOS;
  const rows: Array<{ id: string; expected: string; samples: Sample[] }> = [];
  for (const scenario of chosen) {
    const samples: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      const lab = await Lab.create();
      try {
        await scenario.setup(lab);
        const run = await lab.runCli(['--json', '-q', scenario.target]);
        const report = JSON.parse(run.stdout) as Report;
        const causes = [report.diagnosis.cause, ...(scenario.causeOrAlternative ? report.diagnosis.alternatives.map((a) => a.cause) : [])];
        samples.push({ diagnosedMs: report.diagnosedMs, wallMs: Math.round(run.wallMs), cause: report.diagnosis.cause, correct: causes.includes(scenario.cause) });
      } finally {
        await lab.destroy();
      }
    }
    rows.push({ id: scenario.id, expected: scenario.cause, samples });
    const d = samples.map((s) => s.diagnosedMs);
    const w = samples.map((s) => s.wallMs);
    console.log(
      `${scenario.id.padEnd(16)} diagnosis median ${String(median(d)).padStart(5)} ms, worst ${String(Math.max(...d)).padStart(5)} ms | whole process median ${String(median(w)).padStart(5)} ms, worst ${String(Math.max(...w)).padStart(5)} ms | ${samples.filter((s) => s.correct).length}/${runs} ${scenario.cause}`,
    );
  }
  const out = values.out ?? `bench/results/diagnosis-${new Date().toISOString().slice(0, 10)}.json`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), machine: { host: hostname(), cpus: cpus().length, node: process.version }, runs, rows }, null, 2) + '\n');
  console.log(`written ${out}`);
}

if (isMain(import.meta.url)) await main();
