import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeLabel, ServiceMetrics } from '../../src/service/metrics.js';
import { parsePrometheusText, sampleValue } from '../lab/prom-text.js';

test('the rendered metrics parse as Prometheus text, with the four required families', () => {
  const m = new ServiceMetrics();
  m.runFinished('port-closed', 25, 20);
  m.runFinished('port-closed', 1300, 1222);
  m.runFinished('healthy', 110, 100);
  m.runFinished('engine-error', 5);
  m.checks.inc('started', 3);
  m.checks.inc('joined', 7);
  m.rejected.inc('unauthorized');
  m.rejected.inc('busy', 2);
  m.inFlight = 2;
  const families = parsePrometheusText(m.render());
  assert.equal(families.get('sshcheck_runs_total')?.type, 'counter');
  assert.equal(families.get('sshcheck_run_duration_seconds')?.type, 'histogram');
  assert.equal(families.get('sshcheck_runs_in_flight')?.type, 'gauge');
  assert.equal(families.get('sshcheck_requests_rejected_total')?.type, 'counter');
  assert.equal(sampleValue(families, 'sshcheck_runs_total', { cause: 'port-closed' }), 2);
  assert.equal(sampleValue(families, 'sshcheck_runs_total', { cause: 'healthy' }), 1);
  assert.equal(sampleValue(families, 'sshcheck_runs_total', { cause: 'kex-stall' }), 0, 'every cause is exported from the start');
  assert.equal(sampleValue(families, 'sshcheck_runs_total', { cause: 'engine-error' }), 1);
  assert.equal(sampleValue(families, 'sshcheck_checks_total', { outcome: 'joined' }), 7);
  assert.equal(sampleValue(families, 'sshcheck_requests_rejected_total', { reason: 'busy' }), 2);
  assert.equal(sampleValue(families, 'sshcheck_requests_rejected_total', { reason: 'invalid' }), 0);
  assert.equal(sampleValue(families, 'sshcheck_runs_in_flight'), 2);
  assert.equal(sampleValue(families, 'sshcheck_run_duration_seconds_count'), 4);
  assert.equal(sampleValue(families, 'sshcheck_run_duration_seconds_bucket', { le: '0.05' }), 2);
  assert.equal(sampleValue(families, 'sshcheck_run_duration_seconds_bucket', { le: '1' }), 3);
  assert.equal(sampleValue(families, 'sshcheck_run_duration_seconds_bucket', { le: '+Inf' }), 4);
  assert.ok(Math.abs((sampleValue(families, 'sshcheck_run_duration_seconds_sum') ?? 0) - 1.44) < 1e-9);
  assert.equal(sampleValue(families, 'sshcheck_run_diagnosis_seconds_count'), 3, 'a failed run has no diagnosis time');
});

test('label values are escaped; the parser reads them back', () => {
  assert.equal(escapeLabel('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const families = parsePrometheusText(`# TYPE x counter\nx{l="${escapeLabel('a"b\\c\nd')}",m="2"} 3\n`);
  assert.deepEqual(families.get('x')?.samples, [{ name: 'x', labels: { l: 'a"b\\c\nd', m: '2' }, value: 3 }]);
});

test('the parser rejects what a scraper would', () => {
  const bad: Array<[string, RegExp]> = [
    ['x 1\n', /no # TYPE/],
    ['# TYPE x counter\nx{l=1} 1\n', /double quotes/],
    ['# TYPE x counter\nx{l="1} 1\n', /unterminated/],
    ['# TYPE x counter\nx one\n', /not a sample value/],
    ['# TYPE x counter\nx 1', /line feed/],
    ['# TYPE x kounter\n', /unknown type/],
    ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /not cumulative/],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /no le="\+Inf"/],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', /differs from _count/],
  ];
  for (const [text, message] of bad) assert.throws(() => parsePrometheusText(text), message, JSON.stringify(text));
});

test('the event loop delay is a summary in seconds: median, tail and worst from the monitor, none before a sample', () => {
  const m = new ServiceMetrics();
  assert.equal(parsePrometheusText(m.render()).get('sshcheck_event_loop_delay_seconds'), undefined, 'no monitor, no family');
  // A monitor's figures are nanoseconds: 10 ms median, 250 ms p99, 1.5 s worst over 400 samples of mean 20 ms.
  const byPercentile: Record<number, number> = { 50: 10e6, 99: 250e6 };
  m.loopDelay = { percentile: (p) => byPercentile[p] ?? NaN, max: 1.5e9, mean: 20e6, count: 400 };
  const families = parsePrometheusText(m.render());
  assert.equal(families.get('sshcheck_event_loop_delay_seconds')?.type, 'summary');
  assert.equal(sampleValue(families, 'sshcheck_event_loop_delay_seconds', { quantile: '0.5' }), 0.01);
  assert.equal(sampleValue(families, 'sshcheck_event_loop_delay_seconds', { quantile: '0.99' }), 0.25);
  assert.equal(sampleValue(families, 'sshcheck_event_loop_delay_seconds', { quantile: '1' }), 1.5);
  assert.equal(sampleValue(families, 'sshcheck_event_loop_delay_seconds_count'), 400);
  assert.equal(sampleValue(families, 'sshcheck_event_loop_delay_seconds_sum'), 8);
  // Before its first sample a monitor answers NaN and a huge max: the summary says 0, not garbage.
  m.loopDelay = { percentile: () => NaN, max: -9223372036854776000, mean: NaN, count: 0 };
  const empty = parsePrometheusText(m.render());
  assert.equal(sampleValue(empty, 'sshcheck_event_loop_delay_seconds', { quantile: '1' }), 0);
  assert.equal(sampleValue(empty, 'sshcheck_event_loop_delay_seconds_count'), 0);
});
