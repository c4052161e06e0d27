import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSshcheckError } from '../../src/errors.js';
import { WATCH_LIMITS } from '../../src/chat/watch.js';
import { parseWatchArgs, watchLimitsFromEnv } from '../../src/cli/watch.js';

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isSshcheckError(err) && err.code === 'E_USAGE' && pattern.test(err.message));
}

test('sshcheck watch: --every and --for anywhere, the rest read as a single check', () => {
  const w = parseWatchArgs(['-p', '2222', 'ops@db-3', '--every', '45s', '--for=2h', '-q'], {}, WATCH_LIMITS);
  assert.deepEqual([w.check.target.host, w.check.target.port, w.check.target.user, w.check.quiet, w.everyMs, w.forMs], ['db-3', 2222, 'ops', true, 45_000, 7_200_000]);
  const d = parseWatchArgs(['db-3'], {}, WATCH_LIMITS);
  assert.deepEqual([d.everyMs, d.forMs], [WATCH_LIMITS.defaultEveryMs, WATCH_LIMITS.defaultForMs]);
  const named = parseWatchArgs(['--', 'watch'], {}, WATCH_LIMITS);
  assert.equal(named.check.target.host, 'watch', 'a host named watch, after --');
});

test('sshcheck watch: what it refuses says why (exit 2, nothing probed)', () => {
  usage(() => parseWatchArgs(['db-3', '--every', '5s'], {}, WATCH_LIMITS), /at most once every 30 s/);
  usage(() => parseWatchArgs(['db-3', '--for', '9h'], {}, WATCH_LIMITS), /8 h at the longest/);
  usage(() => parseWatchArgs(['db-3', '--every'], {}, WATCH_LIMITS), /--every needs a time/);
  usage(() => parseWatchArgs(['db-3', '--every', '1m', '--every', '2m'], {}, WATCH_LIMITS), /given twice/);
  usage(() => parseWatchArgs(['db-1', 'db-2'], {}, WATCH_LIMITS), /watches one host/);
  usage(() => parseWatchArgs(['db-3', '--json'], {}, WATCH_LIMITS), /--json is for a single check/);
  usage(() => parseWatchArgs(['db-3', '--wait-all'], {}, WATCH_LIMITS), /--wait-all is for a single check/);
  usage(() => parseWatchArgs(['db-3', '--nats', 'nats://127.0.0.1:4222', '--via', 'b1'], {}, WATCH_LIMITS), /probes from this machine/);
  usage(() => parseWatchArgs([], {}, WATCH_LIMITS), /no host given/);
});

test('the test-only variables lower the interval and the duration limits, never raise them', () => {
  const low = watchLimitsFromEnv({ SSHCHECK_TEST_WATCH_MIN_EVERY_MS: '1000', SSHCHECK_TEST_WATCH_MAX_FOR_MS: '12000' });
  assert.deepEqual([low.minEveryMs, low.maxForMs], [1000, 12_000]);
  const high = watchLimitsFromEnv({ SSHCHECK_TEST_WATCH_MIN_EVERY_MS: '99999999', SSHCHECK_TEST_WATCH_MAX_FOR_MS: 'x' });
  assert.deepEqual([high.minEveryMs, high.maxForMs], [WATCH_LIMITS.minEveryMs, WATCH_LIMITS.maxForMs]);
  assert.equal(parseWatchArgs(['db-3', '--every', '1s'], {}, low).everyMs, 1000);
});
