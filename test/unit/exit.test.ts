// The CLI's exit status as a function of the report: a run without a verdict never exits 0 or 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT, exitForReport, exitForSignal } from '../../src/cli/exit.js';
import type { Diagnosis } from '../../src/engine/report.js';

function diagnosis(extra: Partial<Diagnosis>): { diagnosis: Diagnosis } {
  return { diagnosis: { cause: 'undecided', step: null, confidence: 'low', summary: 's', next: [], alternatives: [], ...extra } };
}

test('verdicts: 0 healthy, 1 a problem', () => {
  assert.equal(exitForReport(diagnosis({ cause: 'healthy' })), 0);
  assert.equal(exitForReport(diagnosis({ cause: 'port-filtered', step: 'firewall', confidence: 'high' })), 1);
});

test('undecided: 130 for SIGINT, 143 for SIGTERM, 4 for a spent budget or a cancel, 3 for an engine error', () => {
  assert.equal(exitForReport(diagnosis({ stoppedBy: 'signal', stopDetail: 'SIGINT' })), 130);
  assert.equal(exitForReport(diagnosis({ stoppedBy: 'signal', stopDetail: 'SIGTERM' })), 143);
  assert.equal(exitForReport(diagnosis({ stoppedBy: 'signal', stopDetail: 'SIGHUP' })), EXIT.undecided);
  assert.equal(exitForReport(diagnosis({ stoppedBy: 'budget' })), 4);
  assert.equal(exitForReport(diagnosis({ stoppedBy: 'abort' })), 4);
  assert.equal(exitForReport(diagnosis({ stoppedBy: 'withheld' })), 4, 'a withheld fleet verdict is undecided, not a failure of the engine');
  assert.equal(exitForReport(diagnosis({ stoppedBy: 'engine-error', stopDetail: 'boom' })), 3);
  // An undecided report without a reason (made elsewhere) is still never 0 or 1.
  assert.equal(exitForReport(diagnosis({})), 4);
  assert.equal(exitForSignal('SIGINT'), 130);
  assert.equal(exitForSignal(undefined), 4);
});
