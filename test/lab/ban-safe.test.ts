// What a check costs the target, measured at the target: a real sshd on a port other than 22
// is healthy with high confidence (ssh -G is asked about that port), and a check sends no
// user name unless one is configured.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Report } from '../../src/engine/report.js';
import { ADDR, Lab, labUnavailable } from './lab.js';

const unavailable = labUnavailable();
const figures: string[] = [];
after(() => {
  if (figures.length > 0) console.log(`ban-safe lab figures:\n  ${figures.join('\n  ')}`);
});

async function check(lab: Lab, args: string[]): Promise<{ report: Report; code: number | null; wallMs: number }> {
  const run = await lab.runCli(['--json', '-q', ...args]);
  try {
    return { report: JSON.parse(run.stdout) as Report, code: run.code, wallMs: run.wallMs };
  } catch {
    assert.fail(`no JSON report (exit ${run.code}): ${run.stdout.slice(0, 200)} ${run.stderr.slice(0, 400)}`);
  }
}

function evidence(report: Report, step: string): string {
  return (report.steps.find((s) => s.id === step)?.evidence ?? []).map((e) => e.detail).join('\n');
}

describe('lab: what a check costs the target', { skip: unavailable ?? false }, () => {
  test('a healthy sshd on port 2222 is healthy with high confidence (ssh -G is asked about port 2222)', async () => {
    const lab = await Lab.create();
    try {
      await lab.startSshd({ port: 2222 });
      const { report, code, wallMs } = await check(lab, [`${ADDR.target}:2222`]);
      figures.push(`healthy on 2222: ${report.diagnosedMs} ms to diagnosis, ${Math.round(wallMs)} ms wall`);
      assert.equal(report.diagnosis.cause, 'healthy', report.diagnosis.summary);
      assert.equal(report.diagnosis.confidence, 'high', report.diagnosis.summary);
      assert.equal(code, 0);
      const vpn = report.steps.find((s) => s.id === 'vpn-proxy');
      assert.equal(vpn?.status, 'pass', vpn?.summary);
      assert.doesNotMatch(evidence(report, 'vpn-proxy'), /changes how .* is reached/);
    } finally {
      await lab.destroy();
    }
  });
});
