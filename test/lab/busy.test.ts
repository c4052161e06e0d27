// A busy bastion must not change verdicts (issue 12): the fault scenarios whose verdict rests
// on what did or did not arrive in time, run while the bastion's CPUs are kept busy by a
// bounded load generator this test starts (two shell busy loops, each ended by `timeout 60`
// at the latest) and stops by pid. "An address nobody owns" must stay host-unreachable (the
// router's ICMP after its ~3 s ARP give-up), not become no-response (3.6 s of silence).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import type { Report } from '../../src/engine/report.js';
import { Lab, labUnavailable } from './lab.js';
import { SCENARIOS } from './scenarios.js';

const unavailable = labUnavailable();
const UNDER_LOAD = ['no-arp', 'silent-drop', 'rst', 'healthy-ip'];

async function startLoad(lab: Lab): Promise<ChildProcess[]> {
  const loops: ChildProcess[] = [];
  for (let i = 0; i < 2; i++) loops.push(await lab.spawnTracked(lab.bastion, 'timeout', ['60', 'sh', '-c', 'while :; do :; done']));
  return loops;
}

function stopLoad(loops: readonly ChildProcess[]): void {
  // timeout passes SIGTERM on to its shell; the lab's teardown kills them again if needed.
  for (const loop of loops) if (loop.pid !== undefined && loop.exitCode === null) process.kill(loop.pid, 'SIGTERM');
}

describe('lab: the same verdicts with the bastion busy', { skip: unavailable ?? false }, () => {
  for (const id of UNDER_LOAD) {
    const s = SCENARIOS.find((x) => x.id === id);
    if (!s) throw new Error(`no scenario ${id}`);
    test(`${s.name}, with two busy loops on the bastion`, async () => {
      const lab = await Lab.create();
      let loops: ChildProcess[] = [];
      try {
        await s.setup(lab);
        loops = await startLoad(lab);
        const run = await lab.runCli(['--json', '-q', s.target], 40_000);
        let report: Report;
        try {
          report = JSON.parse(run.stdout) as Report;
        } catch {
          return assert.fail(`stdout is not one JSON report (exit ${run.code}): ${run.stdout.slice(0, 300)} ${run.stderr.slice(0, 300)}`);
        }
        assert.equal(report.diagnosis.cause, s.cause, `${report.diagnosis.cause}: ${report.diagnosis.summary}`);
      } finally {
        stopLoad(loops);
        await lab.destroy();
      }
    });
  }
});
