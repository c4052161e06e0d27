// The real CLI, run from a bastion namespace against a real network with real faults
// (lab.md). Each scenario builds its own lab and tears it down, also when it fails.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Report } from '../../src/engine/report.js';
import { STEP_IDS } from '../../src/engine/report.js';
import { Lab, labUnavailable } from './lab.js';
import { SCENARIOS } from './scenarios.js';

const unavailable = labUnavailable();
const timings: string[] = [];
after(() => {
  if (timings.length > 0) console.log(`lab timings (time to diagnosis / whole process):\n  ${timings.join('\n  ')}`);
});

describe('lab: the real CLI against real faults', { skip: unavailable ?? false }, () => {
  for (const s of SCENARIOS) {
    test(s.name, async () => {
      const lab = await Lab.create();
      try {
        await s.setup(lab);
        const run = await lab.runCli(['--json', '-q', s.target]);
        let report: Report;
        try {
          report = JSON.parse(run.stdout) as Report;
        } catch {
          assert.fail(`stdout is not one JSON report (exit ${run.code}): ${run.stdout.slice(0, 300)} ${run.stderr.slice(0, 300)}`);
        }
        timings.push(`${s.name}: ${report.diagnosedMs} ms / ${Math.round(run.wallMs)} ms → ${report.diagnosis.cause}`);
        const summary = `${report.diagnosis.cause} (${report.diagnosis.step ?? '-'}): ${report.diagnosis.summary}; alternatives ${JSON.stringify(report.diagnosis.alternatives)}`;
        assert.deepEqual(report.steps.map((st) => st.id), [...STEP_IDS], 'ten steps in checklist order');
        assert.ok(report.steps.every((st) => st.status !== ('running' as string)), 'no step left running');
        if (s.causeOrAlternative) {
          const all = [report.diagnosis.cause, ...report.diagnosis.alternatives.map((a) => a.cause)];
          assert.ok(all.includes(s.cause), `expected ${s.cause} as cause or alternative, got ${summary}`);
        } else {
          assert.equal(report.diagnosis.cause, s.cause, summary);
          if (s.step !== undefined) assert.equal(report.diagnosis.step, s.step, summary);
        }
        for (const alt of s.alternatives ?? []) assert.ok(report.diagnosis.alternatives.some((a) => a.cause === alt), `expected alternative ${alt}: ${summary}`);
        assert.equal(run.code, report.diagnosis.cause === 'healthy' ? 0 : 1, 'exit status follows the diagnosis');
        assert.ok(report.durationMs <= 15_000 && run.wallMs < 16_000, `the run stays within its 15 s budget (${report.durationMs} ms)`);
      } finally {
        await lab.destroy();
      }
    });
  }
});
