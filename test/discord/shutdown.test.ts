// Stopping (SIGTERM in `sshcheck bot`): the adapter closes the gateway itself, so the log must
// not say that the connection was lost and is being re-established.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.js';

test('stop(): no "connection lost; reconnecting" and no error for the gateway the adapter closed itself', async () => {
  const h = await startHarness();
  await h.stop();
  await new Promise((r) => setTimeout(r, 200));
  const lines = h.logger.entries.map((e) => `${e.level} ${e.msg}`);
  assert.ok(lines.some((l) => l.includes('discord connected')), lines.join('\n'));
  assert.deepEqual(lines.filter((l) => /reconnecting|will not reconnect|^error /.test(l)), []);
});

test('a gateway Discord drops while running is still reported as lost', async () => {
  const h = await startHarness();
  try {
    h.fake.dropGateway();
    await h.logger.waitFor((e) => e.msg === 'discord gateway connection lost; reconnecting', 10_000);
    // Stopped once it is back: a stop in the middle of a resume is another test's business.
    await h.logger.waitFor((e) => e.msg === 'discord gateway resumed', 10_000);
  } finally {
    await h.stop();
  }
});
