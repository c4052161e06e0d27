// Acknowledge first on Discord: with a gate that has not answered, the interaction is already
// deferred (type 5, "thinking…"); the parent then replaces the deferral, and a refusal makes
// it way for an ephemeral answer. Ordering is asserted; the time bound is in bench/chat-load.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heldGate, openGate } from '../support/open-gate.js';
import type { RecordedCall } from './fake-discord.js';
import { checkDone, embedsOf, parentMessage, startHarness, threadMessages } from './harness.js';
import type { Harness } from './harness.js';

const callbackOf = (h: Harness, i: { id: string; token: string }) => (c: RecordedCall) => c.method === 'POST' && c.path === `/interactions/${i.id}/${i.token}/callback`;

test('a check is deferred before the gate answers; the deferral becomes the parent', async () => {
  const gate = heldGate(openGate());
  const h = await startHarness({ gate });
  try {
    const i = h.fake.dispatchInteraction({ target: `127.0.0.1:${h.closedPort}` });
    const deferral = await h.fake.waitFor(callbackOf(h, i));
    assert.equal((deferral.body as { type: number }).type, 5);
    await h.logger.waitFor(() => gate.asked === 1, 5000);
    assert.deepEqual(gate.answeredAt, [], 'deferred while the gate was still deciding');
    gate.release();
    await checkDone(h, i);
    assert.ok(deferral.at < (gate.answeredAt[0] ?? -1));
    assert.match(embedsOf(parentMessage(h, i))[0]?.description ?? '', /port-closed/);
    assert.equal(threadMessages(h, i).length, 10);
  } finally {
    gate.release();
    await h.stop();
  }
});

test('a fleet is deferred before the gate answers; a refusal replaces the deferral privately', async () => {
  const inner = openGate();
  const gate = heldGate({ admit: (r) => inner.admit(r), admitFleet: () => Promise.resolve({ kind: 'denied', reason: 'permission', message: 'You may not run fleets here (nothing was checked)' }) });
  const h = await startHarness({ gate });
  try {
    const i = h.fake.dispatchInteraction({ target: '127.0.0.1:1,127.0.0.1:2' });
    const deferral = await h.fake.waitFor(callbackOf(h, i));
    assert.equal((deferral.body as { type: number }).type, 5);
    await h.logger.waitFor(() => gate.asked === 1, 5000);
    assert.deepEqual(gate.answeredAt, []);
    gate.release();
    const follow = await h.fake.waitFor((c) => c.method === 'POST' && c.path === `/webhooks/${h.fake.applicationId}/${i.token}`);
    const body = follow.body as { content: string; flags: number };
    assert.equal(body.flags & 64, 64, 'ephemeral');
    assert.match(body.content, /You may not run fleets here \(nothing was checked\)/);
    assert.ok(h.fake.calls.some((c) => c.method === 'DELETE' && c.path.endsWith(`/${i.token}/messages/@original`) && c.at <= follow.at));
    assert.equal(h.fake.messages.get(i.channelId)?.length ?? 0, 0, 'nothing stays in the channel');
  } finally {
    gate.release();
    await h.stop();
  }
});
