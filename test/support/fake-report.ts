// A report with a chosen cause for a target, every step passing: what fleet tests hand to a
// fake engine when the verdict itself is not what is under test.
import type { Cause, Report, StepId } from '../../src/engine/report.js';
import { STEP_IDS, STEP_TITLES, stepNumber } from '../../src/engine/report.js';
import type { Target } from '../../src/target.js';

export function fakeReport(target: Target, cause: Cause, step: StepId = 'firewall'): Report {
  return {
    schema: 'sshcheck/report@1',
    id: `r-${target.host}`,
    target: { input: target.input, host: target.host, port: target.port, user: target.user, addresses: [target.host] },
    vantage: { name: 'test' },
    startedAt: new Date(0).toISOString(),
    durationMs: 5,
    diagnosedMs: 5,
    steps: STEP_IDS.map((id) => ({ id, n: stepNumber(id), title: STEP_TITLES[id], status: 'pass' as const, summary: 'ok', evidence: [], durationMs: 1, manual: [] })),
    diagnosis: { cause, step: cause === 'healthy' ? null : step, confidence: 'high', summary: `${target.host} is ${cause}`, next: ['look at it'], alternatives: [] },
  };
}
