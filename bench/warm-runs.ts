// Runs inside a lab's bastion namespace (bench/warm.ts): the engine of one build, in one
// process, checks the same target several times and prints each run's diagnosedMs as JSON.
// The first run pays for compiling the code it meets; the later ones are what a long-running
// bot or agent sees.
import { pathToFileURL } from 'node:url';
import type { Report } from '../src/engine/report.js';
import type { RunOptions } from '../src/engine/run.js';
import type { Target } from '../src/target.js';

type RunFn = (target: Target, options: RunOptions) => Promise<Report>;

const [distRoot, host, countText] = process.argv.slice(2);
if (distRoot === undefined || host === undefined) throw new Error('usage: warm-runs.js <build dist/ dir> <host> [runs]');
const { run } = (await import(pathToFileURL(`${distRoot}/src/engine/run.js`).href)) as { run: RunFn };
const { parseTarget } = (await import(pathToFileURL(`${distRoot}/src/target.js`).href)) as { parseTarget: (input: string) => Target };
const runs: Array<{ diagnosedMs: number | undefined; cause: string }> = [];
for (let i = 0; i < Number(countText ?? '11'); i++) {
  const report = await run(parseTarget(host), { extrasMs: 0 });
  runs.push({ diagnosedMs: report.diagnosedMs, cause: report.diagnosis.cause });
  // Apart, as checks come in: not a loop that meets the kernel's ICMP rate limit.
  await new Promise((resolve) => setTimeout(resolve, 1100));
}
process.stdout.write(`${JSON.stringify(runs)}\n`);
