// The fleet's --json spool: report texts out of order in, the hosts' order out, nothing left on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReportSpool } from '../../src/cli/report-spool.js';

test('texts come back in the hosts order, a second report replaces the first, hosts without one are left out, and no file stays behind', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spool-test-'));
  try {
    const spool = new ReportSpool(5, dir);
    assert.deepEqual(readdirSync(dir), [], 'the scratch file is unlinked as soon as it is open');
    spool.put(3, '{"host":"d"}');
    spool.put(0, '{"host":"a","note":"ünïcödé ✓"}');
    spool.put(4, '{"host":"e","first":true}');
    spool.put(4, '{"host":"e","second look":true}');
    assert.deepEqual([...spool.texts()], ['{"host":"a","note":"ünïcödé ✓"}', '{"host":"d"}', '{"host":"e","second look":true}']);
    assert.throws(() => spool.put(5, '{}'), RangeError);
    spool.close();
    assert.throws(() => spool.put(1, '{}'), RangeError, 'a closed spool takes nothing');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
