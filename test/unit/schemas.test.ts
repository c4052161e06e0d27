// docs/schemas/*.schema.json themselves: they compile, and they reject what the docs say
// is not a report (a wrong schema name, nine steps, steps out of order, a bad status), so
// that the lab test that validates real output against them can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schemaErrors } from '../support/schemas.js';
import { STEP_IDS, STEP_TITLES, REPORT_SCHEMA } from '../../src/engine/report.js';
import type { Report } from '../../src/engine/report.js';
import { explainLog } from '../../src/explain/explain.js';
import { withheldReport } from '../../src/fleet/run.js';
import type { LoadDuring } from '../../src/fleet/load.js';

function report(): Report {
  return {
    schema: REPORT_SCHEMA,
    id: 'r-1',
    target: { input: 'db-3', host: 'db-3', port: 22, user: 'sshcheck', addresses: ['10.0.0.5'] },
    vantage: { name: 'bastion-eu-1' },
    startedAt: '2026-11-24T10:02:03.123Z',
    durationMs: 1830,
    diagnosedMs: 1200,
    steps: STEP_IDS.map((id, i) => ({ id, n: i + 1, title: STEP_TITLES[id], status: 'pass', summary: 'ok', evidence: [{ probe: 'tcp', detail: '10.0.0.5:22 connected in 0.4 ms' }], durationMs: 10, manual: [] })),
    diagnosis: { cause: 'healthy', step: null, confidence: 'high', summary: 'SSH works from here', next: [], alternatives: [] },
    measurements: {
      ping: { address: '10.0.0.5', transmitted: 3, received: 3, rttsMs: [0.1, 0.2, 0.3], rttMs: { min: 0.1, avg: 0.2, max: 0.3 } },
      ssh: [{ address: '10.0.0.5', port: 22, tcp: 'connected', connectMs: 0.4, banner: 'SSH-2.0-OpenSSH_9.2p1', bannerMs: 3.1, kexMs: 9, authMs: 1, authMethods: ['publickey'], hostKey: null, end: 'complete' }],
      controlPort: { address: '10.0.0.5', port: 1, outcome: 'refused', ms: 0.3 },
      path: null,
    },
  };
}

test('a well-formed report, with and without measurements, is valid', () => {
  assert.deepEqual(schemaErrors('report', report()), []);
  const { measurements: _, ...old } = report();
  assert.deepEqual(schemaErrors('report', old), []);
});

test('the report schema rejects a wrong schema name, nine steps, steps out of order, a bad status, a missing field', () => {
  assert.notDeepEqual(schemaErrors('report', { ...report(), schema: 'sshcheck/report@2' }), []);
  assert.notDeepEqual(schemaErrors('report', { ...report(), steps: report().steps.slice(1) }), []);
  const swapped = report().steps;
  [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
  assert.notDeepEqual(schemaErrors('report', { ...report(), steps: swapped }), []);
  const bad = report();
  (bad.steps[2] as { status: string }).status = 'ok';
  assert.notDeepEqual(schemaErrors('report', bad), []);
  const { diagnosedMs: _, ...missing } = report();
  assert.notDeepEqual(schemaErrors('report', missing), []);
  assert.notDeepEqual(schemaErrors('report', { ...report(), startedAt: 'yesterday' }), []);
});

test('a cause code the schema has not seen is accepted (codes are added), a malformed one is not', () => {
  const r = report();
  r.diagnosis = { ...r.diagnosis, cause: 'host-key-mismatch' as 'healthy', step: 'vpn-proxy' };
  assert.deepEqual(schemaErrors('report', r), []);
  r.diagnosis = { ...r.diagnosis, cause: 'Port Filtered' as 'healthy' };
  assert.notDeepEqual(schemaErrors('report', r), []);
});

test('the fleet schema embeds the report schema', () => {
  const fleet = { schema: 'sshcheck/fleet@1', vantage: { name: 'b' }, startedAt: '2026-11-24T10:02:03.123Z', summary: { hosts: 1, healthy: 1, problems: 0, failed: 0, byCause: [{ cause: 'healthy', hosts: 1 }], durationMs: 5, concurrency: 1 }, reports: [report()], failures: [] };
  assert.deepEqual(schemaErrors('fleet', fleet), []);
  assert.notDeepEqual(schemaErrors('fleet', { ...fleet, reports: [{ ...report(), steps: [] }] }), []);
});

test('the explain schema accepts explainLog output and rejects a missing step', () => {
  const e = explainLog('debug1: Connecting to db-3 [10.0.0.5] port 22.\nssh: connect to host db-3 port 22: Connection timed out\n');
  assert.deepEqual(schemaErrors('explain', e), []);
  const { step: _, ...noStep } = e;
  assert.notDeepEqual(schemaErrors('explain', noStep), []);
});

test('a fleet verdict withheld on a saturated bastion is a valid report with its own stop reason', () => {
  const slow: Report = { ...report(), diagnosis: { cause: 'auth-slow', step: 'auth', confidence: 'medium', summary: 'authentication took 9.1 s', next: [], alternatives: [] } };
  const withheld = withheldReport(slow, { level: 'saturated', lagMaxMs: 800, timersLate: true, samples: 3, cpuCores: 2 } satisfies LoadDuring);
  assert.equal(withheld.diagnosis.stoppedBy, 'withheld');
  assert.deepEqual(schemaErrors('report', withheld), []);
  assert.notDeepEqual(schemaErrors('report', { ...withheld, diagnosis: { ...withheld.diagnosis, stoppedBy: 'saturated' } }), [], 'an unknown stop reason is rejected');
});
