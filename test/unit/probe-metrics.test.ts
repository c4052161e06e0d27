// GET /probe's renderer: a report becomes Prometheus text that a strict parser accepts, with
// success 1 only for healthy, the cause/step/confidence of the diagnosis as labels, one
// series per step, and label values only from the fixed code lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Report, StepReport } from '../../src/engine/report.js';
import { STEP_IDS, STEP_TITLES, stepNumber } from '../../src/engine/report.js';
import { NO_STEP, renderProbe, UNKNOWN_CODE } from '../../src/service/probe-metrics.js';
import { parsePrometheusText, sampleValue } from '../lab/prom-text.js';

const BUILD = { version: '0.1.0', node: '22.11.0' };

function report(diagnosis: Partial<Report['diagnosis']>, steps: Partial<StepReport>[] = []): Report {
  const all = STEP_IDS.map((id, i): StepReport => ({ id, n: stepNumber(id), title: STEP_TITLES[id], status: 'pass', summary: `${id} ok`, evidence: [], durationMs: 1, manual: [], ...steps[i] }));
  return {
    schema: 'sshcheck/report@1',
    id: '00000000-0000-4000-8000-000000000001',
    target: { input: 'db-3', host: 'db-3', port: 22, user: 'sshcheck', addresses: ['10.0.0.5'] },
    vantage: { name: 'eu-1' },
    startedAt: '2026-12-02T10:00:00.000Z',
    durationMs: 1234,
    diagnosedMs: 1100,
    steps: all,
    diagnosis: { cause: 'healthy', step: null, confidence: 'high', summary: 'ssh works', next: [], alternatives: [], ...diagnosis },
  };
}

test('healthy: success 1, the diagnosis series says healthy with step "none", every family parses', () => {
  const text = renderProbe(report({}), BUILD);
  const families = parsePrometheusText(text);
  assert.equal(sampleValue(families, 'sshcheck_probe_success'), 1);
  assert.equal(sampleValue(families, 'sshcheck_probe_duration_seconds'), 1.234);
  assert.equal(sampleValue(families, 'sshcheck_probe_diagnosis_seconds'), 1.1);
  assert.equal(sampleValue(families, 'sshcheck_probe_result_age_seconds'), 0);
  assert.deepEqual(families.get('sshcheck_probe_diagnosis')?.samples, [{ name: 'sshcheck_probe_diagnosis', labels: { cause: 'healthy', step: NO_STEP, confidence: 'high' }, value: 1 }]);
  assert.deepEqual(families.get('sshcheck_build_info')?.samples, [{ name: 'sshcheck_build_info', labels: { version: '0.1.0', node: '22.11.0' }, value: 1 }]);
  for (const f of families.values()) assert.equal(f.type, 'gauge', f.name);
});

test('a problem: success 0, its cause, step and confidence as labels, one step series per step with its status', () => {
  const text = renderProbe(report({ cause: 'port-filtered', step: 'firewall', confidence: 'medium' }, [{ status: 'fail' }, {}, { status: 'fail' }, { status: 'skip' }, { status: 'warn' }]), BUILD);
  const families = parsePrometheusText(text);
  assert.equal(sampleValue(families, 'sshcheck_probe_success'), 0);
  assert.equal(sampleValue(families, 'sshcheck_probe_diagnosis', { cause: 'port-filtered', step: 'firewall', confidence: 'medium' }), 1);
  const steps = families.get('sshcheck_probe_step_status')?.samples ?? [];
  assert.deepEqual(
    steps.map((s) => [s.labels.step, s.labels.status, s.value]),
    STEP_IDS.map((id, i) => [id, ['fail', 'pass', 'fail', 'skip', 'warn'][i] ?? 'pass', 1]),
  );
});

test('undecided: success 0, the diagnosis series says undecided', () => {
  const text = renderProbe(report({ cause: 'undecided', step: null, confidence: 'low', stoppedBy: 'budget' }), BUILD);
  const families = parsePrometheusText(text);
  assert.equal(sampleValue(families, 'sshcheck_probe_success'), 0);
  assert.deepEqual(families.get('sshcheck_probe_diagnosis')?.samples.map((s) => s.labels), [{ cause: 'undecided', step: NO_STEP, confidence: 'low' }]);
});

test('labels carry codes only: a report with free text where codes belong renders "unknown", never the text', () => {
  const hostile = 'x"} 1\nevil{a="b';
  const r = report({ cause: hostile as Report['diagnosis']['cause'], step: hostile as 'dns', confidence: hostile as 'high' }, [{ id: hostile as 'dns', status: hostile as 'pass' }]);
  r.target.host = hostile;
  r.diagnosis.summary = hostile;
  const text = renderProbe(r, BUILD);
  assert.doesNotMatch(text, /evil/);
  const families = parsePrometheusText(text);
  assert.deepEqual(families.get('sshcheck_probe_diagnosis')?.samples.map((s) => s.labels), [{ cause: UNKNOWN_CODE, step: UNKNOWN_CODE, confidence: UNKNOWN_CODE }]);
  assert.deepEqual(families.get('sshcheck_probe_step_status')?.samples[0]?.labels, { step: UNKNOWN_CODE, status: UNKNOWN_CODE });
  // An unknown cause is never success.
  assert.equal(sampleValue(families, 'sshcheck_probe_success'), 0);
  // No address or target name anywhere in the exposition.
  assert.doesNotMatch(text, /10\.0\.0\.5|db-3/);
});

test('a reused result says how old it is: the registry\'s reuse plus the engine\'s connection-budget reuse', () => {
  const r = report({});
  r.reused = { ageMs: 30_000, reason: 'the connection budget for db-3 is spent' };
  assert.equal(sampleValue(parsePrometheusText(renderProbe(r, BUILD, 1500)), 'sshcheck_probe_result_age_seconds'), 31.5);
});

test('the build label values are escaped as the format wants', () => {
  const families = parsePrometheusText(renderProbe(report({}), { version: '1.0.0-"rc"\\1', node: '22' }));
  assert.deepEqual(families.get('sshcheck_build_info')?.samples[0]?.labels, { version: '1.0.0-"rc"\\1', node: '22' });
});
