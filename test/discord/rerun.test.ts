// The Re-run button on Discord, end to end through the real discord.js client against the
// fake: the finished parent carries a button component; a click (INTERACTION_CREATE, type 3,
// data.custom_id) is deferred before the gate answers, then runs the same check again as the
// person who clicked, with a new parent and thread. A refused clicker hears why privately and
// nothing is probed; a forged custom_id is refused and probes nothing. A fleet's parent has the
// button too, re-run through the fleet gate. (The bot reads no messages, so Discord has no
// @mention checks to re-run.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineClient } from '../../src/chat/engine-client.js';
import { RERUN_ACTION } from '../../src/chat/rerun.js';
import { recordingGate } from '../support/recording-gate.js';
import type { DispatchedInteraction, RecordedCall, StoredMessage } from './fake-discord.js';
import { checkDone, closedPort, embedsOf, parentMessage, startHarness, threadMessages } from './harness.js';
import type { Harness } from './harness.js';

const callbackOf = (i: { id: string; token: string }) => (c: RecordedCall) => c.method === 'POST' && c.path === `/interactions/${i.id}/${i.token}/callback`;

interface ButtonJson {
  type: number;
  custom_id?: string;
  label?: string;
}

const contentOf = (message: StoredMessage): string => (typeof message['content'] === 'string' ? message['content'] : '');

function buttonsOf(message: StoredMessage | undefined): ButtonJson[] {
  const rows = (message?.['components'] ?? []) as unknown as Array<{ type: number; components?: ButtonJson[] }>;
  return rows.filter((r) => r.type === 1).flatMap((r) => (r.components ?? []).filter((c) => c.type === 2));
}

async function withRuns(refused: string): Promise<{ h: Harness; runs: () => number; gate: ReturnType<typeof recordingGate> }> {
  const gate = recordingGate(refused);
  let runs = 0;
  const h = await startHarness({
    gate,
    wrapEngine: (inner: EngineClient): EngineClient => ({
      ...(inner.bastions !== undefined ? { bastions: inner.bastions } : {}),
      check: (target, o) => {
        runs += 1;
        return inner.check(target, o);
      },
    }),
  });
  return { h, runs: () => runs, gate };
}

/** A first check, finished: its parent and the Re-run button it ended with. */
async function firstCheck(h: Harness): Promise<{ first: DispatchedInteraction; parent: StoredMessage; customId: string }> {
  const first = h.fake.dispatchInteraction({ target: `127.0.0.1:${h.closedPort}`, user: 'ops' });
  await checkDone(h, first);
  const parent = parentMessage(h, first);
  assert.ok(parent);
  const buttons = buttonsOf(parent);
  assert.equal(buttons.length, 1, 'the finished parent carries one button');
  assert.equal(buttons[0]?.label, 'Re-run');
  const customId = buttons[0]?.custom_id;
  assert.equal(customId, `${RERUN_ACTION}:127.0.0.1 ${h.closedPort} ops`);
  return { first, parent, customId: customId ?? '' };
}

/**
 * A click by someone else while the gate holds its answer: deferred (type 5) before the gate
 * answers, nothing probed meanwhile, the gate asked about the clicker; then the gate answers.
 */
async function clickWhileGateHeld(h: Harness, gate: ReturnType<typeof recordingGate>, customId: string, parent: StoredMessage, runs: () => number): Promise<DispatchedInteraction> {
  const before = runs();
  gate.hold();
  const click = h.fake.dispatchComponent(customId, parent, { userId: '222222222222222222' });
  const deferral = await h.fake.waitFor(callbackOf(click));
  assert.equal((deferral.body as { type: number }).type, 5, 'deferred');
  await h.logger.waitFor(() => gate.actors.length === 2, 5000);
  assert.equal(gate.answered, 1, 'deferred while the gate was still deciding');
  assert.equal(runs(), before, 'nothing probed before the gate answered');
  assert.equal(gate.actors[1]?.user, '222222222222222222', 'the gate sees the person who clicked');
  gate.release();
  return click;
}

test('the finished parent has a Re-run button; a click is deferred first and runs the same check again as the clicker', async () => {
  const { h, runs, gate } = await withRuns('111111111111111111');
  try {
    const { parent, customId } = await firstCheck(h);
    assert.equal(runs(), 1);
    const click = await clickWhileGateHeld(h, gate, customId, parent, runs);
    await checkDone(h, click);
    assert.equal(runs(), 2, 'a new run');
    const second = parentMessage(h, click);
    assert.ok(second && second.id !== parent.id, 'a new parent');
    assert.match(embedsOf(second)[0]?.description ?? '', /port-closed/);
    assert.equal(threadMessages(h, click).length, 10, 'a whole thread under it');
    assert.deepEqual(buttonsOf(second).map((b) => b.custom_id), [customId], 'and it can be re-run again');
  } finally {
    gate.release();
    await h.stop();
  }
});

test('a clicker the gate refuses hears why privately; nothing is probed', async () => {
  const { h, runs, gate } = await withRuns('333333333333333333');
  try {
    const { parent, customId } = await firstCheck(h);
    const click = h.fake.dispatchComponent(customId, parent, { userId: '333333333333333333' });
    const follow = await h.fake.waitFor((c) => c.method === 'POST' && c.path === `/webhooks/${h.fake.applicationId}/${click.token}`);
    const body = follow.body as { content: string; flags: number };
    assert.equal(body.flags & 64, 64, 'ephemeral');
    assert.match(body.content, /You may not run checks in this channel \(nothing was checked\)/);
    assert.equal(gate.actors.at(-1)?.user, '333333333333333333');
    assert.equal(runs(), 1, 'nothing probed');
  } finally {
    await h.stop();
  }
});

test('a forged or garbled custom_id is refused privately before the gate; nothing is probed', async () => {
  const { h, runs, gate } = await withRuns('333333333333333333');
  try {
    const { parent } = await firstCheck(h);
    for (const forged of [`${RERUN_ACTION}:help`, `${RERUN_ACTION}:127.0.0.1`, `${RERUN_ACTION}:-oProxyCommand=x 22 sshcheck`, `${RERUN_ACTION}:<@&1> 22 sshcheck`, `${RERUN_ACTION}:127.0.0.1 22 $(id)`]) {
      const click = h.fake.dispatchComponent(forged, parent);
      const answer = await h.fake.waitFor(callbackOf(click));
      const body = answer.body as { type: number; data: { content: string; flags: number } };
      assert.equal(body.type, 4, forged);
      assert.equal(body.data.flags & 64, 64, 'ephemeral');
      assert.match(body.data.content, /not one sshcheck made, so nothing was checked/);
    }
    assert.equal(gate.actors.length, 1, 'the gate was asked only about the first check');
    assert.equal(runs(), 1, 'nothing probed');
  } finally {
    await h.stop();
  }
});

test('a fleet parent has the button once finished; a click is deferred first and re-runs the same hosts through the fleet gate as the clicker', async () => {
  const { h, runs, gate } = await withRuns('333333333333333333');
  try {
    const other = await closedPort();
    const fleetDone = (i: DispatchedInteraction) => h.logger.waitFor((e) => e.msg === 'fleet check finished' && e.fields.interaction === i.id, 60_000);
    const first = h.fake.dispatchInteraction({ target: `127.0.0.1:${h.closedPort}, 127.0.0.1:${other}`, user: 'ops' });
    await fleetDone(first);
    assert.equal(runs(), 2);
    const parent = parentMessage(h, first);
    assert.ok(parent);
    assert.match(contentOf(parent), /0 of 2 healthy/);
    const buttons = buttonsOf(parent);
    assert.equal(buttons.length, 1, 'the finished fleet parent carries one button');
    assert.equal(buttons[0]?.label, 'Re-run');
    const customId = buttons[0]?.custom_id ?? '';
    // The user option is kept: the hosts share it (not the port), so each host carries it.
    assert.equal(customId, `${RERUN_ACTION}:ops@127.0.0.1:${h.closedPort},ops@127.0.0.1:${other}`);

    const click = await clickWhileGateHeld(h, gate, customId, parent, runs);
    await fleetDone(click);
    assert.equal(runs(), 4, 'the same two hosts again');
    const second = parentMessage(h, click);
    assert.ok(second && second.id !== parent.id, 'a new parent');
    assert.match(contentOf(second), /asked by <@222222222222222222>/);
    assert.match(contentOf(second), /0 of 2 healthy/);
    assert.equal(threadMessages(h, click).length, 2, 'one message per host with a problem, in its thread');
    assert.deepEqual(buttonsOf(second).map((b) => b.custom_id), [customId], 'and it can be re-run again');
  } finally {
    gate.release();
    await h.stop();
  }
});
