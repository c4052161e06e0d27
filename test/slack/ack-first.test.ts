// Acknowledge first: the gate may take seconds (usergroups.list with a cold cache, a busy
// store), Slack allows three. With a gate that has not answered, the slash command is already
// acknowledged and the mention's event too; what the gate decides follows through respond().
// Ordering is asserted here; the time bound is in bench/chat-load.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heldGate, openGate } from '../support/open-gate.js';
import { allText, answerTo, settled, startHarness, threadIn } from './harness.js';
import { closedPort } from './targets.js';

test('a slash command is acked before the gate answers; "Checking…" and the thread follow once it does', async () => {
  const gate = heldGate(openGate());
  const h = await startHarness({ gate });
  try {
    const port = await closedPort();
    const sent = h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: 'C0SLOWGATE' });
    const ack = await sent.ack;
    await h.fake.waitFor(() => gate.asked === 1, 5000, 'the gate to be asked');
    assert.deepEqual(gate.answeredAt, [], 'the ack went out while the gate was still deciding');
    assert.deepEqual(ack.payload, {}, 'acknowledged with nothing');
    assert.equal(h.fake.responses.length, 0);
    assert.equal(h.checks.length, 0, 'nothing probed before the gate answered');
    gate.release();
    const answer = await answerTo(h.fake, sent);
    assert.match(String(answer['text']), /^Checking `sshcheck@127\.0\.0\.1:\d+` from test-bastion…$/);
    assert.ok(ack.at < (gate.answeredAt[0] ?? -1));
    await settled(h, 1);
    const { replies, parentUpdates } = threadIn(h.fake, 'C0SLOWGATE');
    assert.equal(replies.length, 10);
    assert.match(allText(parentUpdates.at(-1)?.args ?? {}), /`port-closed`/);
  } finally {
    gate.release();
    await h.close();
  }
});

test('a fleet is acked before the gate answers; a refusal arrives through respond()', async () => {
  const inner = openGate();
  const gate = heldGate({ admit: (r) => inner.admit(r), admitFleet: () => Promise.resolve({ kind: 'denied', reason: 'permission', message: 'You may not run fleets here (nothing was checked)' }) });
  const h = await startHarness({ gate });
  try {
    const sent = h.fake.sendSlashCommand({ text: '127.0.0.1:1,127.0.0.1:2', channel_id: 'C0SLOWFLEET' });
    const ack = await sent.ack;
    await h.fake.waitFor(() => gate.asked === 1, 5000, 'the gate to be asked');
    assert.deepEqual(gate.answeredAt, []);
    assert.deepEqual(ack.payload, {});
    gate.release();
    const answer = await answerTo(h.fake, sent);
    assert.equal(answer['response_type'], 'ephemeral');
    assert.match(allText(answer), /You may not run fleets here \(nothing was checked\)/);
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0SLOWFLEET').length, 0);
  } finally {
    gate.release();
    await h.close();
  }
});

test('a mention: its event is acked before the gate answers', async () => {
  const gate = heldGate(openGate());
  const h = await startHarness({ gate });
  try {
    const port = await closedPort();
    const sent = h.fake.sendEvent({ type: 'app_mention', user: 'U0REQUESTER', text: `<@U0SSHCHECK> 127.0.0.1 ${port}`, ts: '1700000100.000100', channel: 'C0SLOWMENTION' });
    const ack = await sent.ack;
    await h.fake.waitFor(() => gate.asked === 1, 5000, 'the gate to be asked');
    assert.deepEqual(gate.answeredAt, []);
    gate.release();
    await settled(h, 1);
    assert.ok(ack.at < (gate.answeredAt[0] ?? -1));
    assert.equal(threadIn(h.fake, 'C0SLOWMENTION').replies.length, 10);
  } finally {
    gate.release();
    await h.close();
  }
});
