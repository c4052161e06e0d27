// The report's inside evidence in the Discord thread: the engine logs in to a real loopback
// sshd with a diagnostics key (root, strict host key checking), and the step embeds show what
// it saw inside — the login and sshd's listeners — as inert text. Needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnosticsUnavailable, startDiagnosticsSshd } from '../support/diagnostics-sshd.js';
import { callsSince, checkDone, embedsOf, messageRequests, startHarness, threadMessages } from './harness.js';
import { liveMarkup, strings } from './markup.js';

const unavailable = diagnosticsUnavailable();
if (unavailable !== undefined) console.log(`skipping the Discord inside-view test: ${unavailable}`);

test('a diagnostics login: step 4 shows the login and the listeners from inside, rendered inert', { skip: unavailable ?? false, timeout: 60_000 }, async () => {
  const sshd = await startDiagnosticsSshd();
  const h = await startHarness({ engineConfig: sshd.engineConfig });
  try {
    const i = h.fake.dispatchInteraction({ target: `127.0.0.1:${sshd.port}` });
    await checkDone(h, i, 45_000);
    const steps = threadMessages(h, i).map((m) => embedsOf(m)[0] ?? {});
    assert.equal(steps.length, 10);
    // The stored message is the final state, after any edit.
    const sshdStep = steps[3];
    assert.match(sshdStep?.title ?? '', /^\S+ 4\. /);
    const inside = (sshdStep?.fields ?? []).filter((f) => f.name === 'inside view').map((f) => f.value);
    assert.ok(inside.some((v) => new RegExp(`^inside: logged in as root on 127\\.0\\.0\\.1:${sshd.port} in `).test(v)), inside.join('\n'));
    assert.ok(inside.some((v) => new RegExp(`^inside: listening: .*127\\.0\\.0\\.1:${sshd.port}`).test(v)), inside.join('\n'));
    assert.ok(steps.some((s) => (s.fields ?? []).some((f) => /^inside: load /.test(f.value))), 'the load step shows the inside view too');
    for (const { payload } of messageRequests(callsSince(h, i))) {
      assert.deepEqual(payload.allowed_mentions, { parse: [] });
      for (const s of strings(payload)) assert.deepEqual(liveMarkup(s, [`<@${h.fake.requesterId}>`]), [], s);
    }
  } finally {
    await h.stop();
    await sshd.stop();
  }
});
