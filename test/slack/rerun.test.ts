// The Re-run button, end to end through the real Bolt app over Socket Mode: the finished
// parent carries the button; a click (a block_actions envelope) is acknowledged before the gate
// answers, then runs the same check again through the same gate, as the person who clicked, in
// a new thread. A refused clicker hears why privately and nothing is probed; a forged value is
// refused before the gate is even asked. An @mention's parent has the button too (re-run in the
// incident thread it was asked in), and so has a fleet's (re-run through the fleet gate).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RERUN_ACTION } from '../../src/chat/rerun.js';
import { recordingGate } from '../support/recording-gate.js';
import { BOT_USER_ID } from './fake-slack.js';
import type { RecordedCall } from './fake-slack.js';
import { allText, answerTo, settled, startHarness, threadIn } from './harness.js';
import type { Harness } from './harness.js';
import { closedPort } from './targets.js';

interface Button {
  type: string;
  action_id: string;
  value: string;
}

function buttonsOf(call: RecordedCall | undefined): Button[] {
  const blocks = (call?.args['blocks'] ?? []) as Array<{ type: string; elements?: Array<{ type: string; action_id?: string; value?: string }> }>;
  return blocks.filter((b) => b.type === 'actions').flatMap((b) => (b.elements ?? []).filter((e): e is Button => e.type === 'button' && typeof e.value === 'string'));
}

/** A first check in `channel`, finished: its parent's ts and the Re-run button it ended with. */
async function firstCheck(h: Harness, channel: string, text: string): Promise<{ ts: string; button: Button }> {
  h.fake.sendSlashCommand({ text, channel_id: channel });
  await settled(h, 1);
  const { parent, parentUpdates } = threadIn(h.fake, channel);
  assert.deepEqual(buttonsOf(parent), [], 'no button while the check runs');
  const buttons = buttonsOf(parentUpdates.at(-1));
  assert.equal(buttons.length, 1, 'the finished parent carries one button');
  const button = buttons[0];
  assert.ok(button);
  return { ts: String(parent.response['ts']), button };
}

/**
 * A click by U0BOB while the gate holds its answer: acknowledged before the gate answers,
 * nothing probed meanwhile, the gate asked about the clicker in that channel; then it answers.
 */
async function clickWhileGateHeld(h: Harness, gate: ReturnType<typeof recordingGate>, button: Button, where: { channel: string; ts: string; thread?: string }): Promise<ReturnType<Harness['fake']['sendBlockAction']>> {
  const checks = h.checks.length;
  gate.hold();
  const click = h.fake.sendBlockAction({ action_id: button.action_id, value: button.value, channel_id: where.channel, message_ts: where.ts, ...(where.thread !== undefined ? { thread_ts: where.thread } : {}), user_id: 'U0BOB' });
  await click.ack;
  await h.fake.waitFor(() => gate.actors.length === 2, 5000, 'the gate to be asked about the click');
  assert.equal(gate.answered, 1, 'the click was acknowledged while the gate was still deciding');
  assert.equal(h.checks.length, checks, 'nothing probed before the gate answered');
  assert.equal(gate.actors[1]?.user, 'U0BOB', 'the gate sees the person who clicked');
  assert.equal(gate.actors[1]?.channel, where.channel);
  gate.release();
  return click;
}

/** The re-run's parent ended with the diagnosis and the same button (it can be re-run again). */
function finishedWithButton(h: Harness, channel: string, ts: unknown, button: Button): void {
  const final = h.fake.callsOf('chat.update', channel).filter((c) => c.args['ts'] === ts).at(-1);
  assert.match(allText(final?.args ?? {}), /`port-closed`/);
  assert.deepEqual(buttonsOf(final), [button], 'and it can be re-run again');
}

test('the finished parent has a Re-run button; a click is acked first and runs the same check again as the clicker', async () => {
  const gate = recordingGate('U0MALLORY');
  const h = await startHarness({ gate });
  try {
    const port = await closedPort();
    const { ts, button } = await firstCheck(h, 'C0RERUN', `127.0.0.1 ${port} ops`);
    assert.equal(button.action_id, RERUN_ACTION);
    assert.equal(button.value, `127.0.0.1 ${port} ops`);

    const click = await clickWhileGateHeld(h, gate, button, { channel: 'C0RERUN', ts });

    const answer = await answerTo(h.fake, click);
    assert.equal(answer['response_type'], 'ephemeral');
    assert.match(String(answer['text']), new RegExp(`^Checking \`ops@127\\.0\\.0\\.1:${port}\` from test-bastion…$`));
    await settled(h, 2);
    assert.equal(h.checks.length, 2, 'a new run');
    assert.equal(h.checks[1]?.target, `127.0.0.1:${port}`);
    const parents = h.fake.callsOf('chat.postMessage', 'C0RERUN').filter((c) => c.args['thread_ts'] === undefined);
    assert.equal(parents.length, 2, 'the re-run posts a new parent');
    const second = parents[1];
    assert.ok(second);
    assert.match(allText(second.args), /asked by <@U0BOB>/);
    const secondTs = second.response['ts'];
    const replies = h.fake.callsOf('chat.postMessage', 'C0RERUN').filter((c) => c.args['thread_ts'] === secondTs);
    assert.equal(replies.length, 10, 'a whole thread under it');
    finishedWithButton(h, 'C0RERUN', secondTs, button);
  } finally {
    gate.release();
    await h.close();
  }
});

test('a clicker the gate refuses hears why privately; nothing is probed or posted', async () => {
  const gate = recordingGate('U0MALLORY');
  const h = await startHarness({ gate });
  try {
    const port = await closedPort();
    const { ts, button } = await firstCheck(h, 'C0RERUNNO', `127.0.0.1 ${port}`);
    const posted = h.fake.callsOf('chat.postMessage', 'C0RERUNNO').length;
    const click = h.fake.sendBlockAction({ action_id: button.action_id, value: button.value, channel_id: 'C0RERUNNO', message_ts: ts, user_id: 'U0MALLORY' });
    const answer = await answerTo(h.fake, click);
    assert.equal(answer['response_type'], 'ephemeral');
    assert.match(allText(answer), /You may not run checks in this channel \(nothing was checked\)/);
    assert.equal(gate.actors.at(-1)?.user, 'U0MALLORY');
    await h.fake.waitFor(() => h.adapter.running === 0, 5000, 'nothing running');
    assert.equal(h.checks.length, 1, 'nothing probed');
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0RERUNNO').length, posted, 'nothing posted');
  } finally {
    await h.close();
  }
});

test('a forged or garbled button value is refused privately before the gate; nothing is probed', async () => {
  const gate = recordingGate('U0MALLORY');
  const h = await startHarness({ gate });
  try {
    const forged: unknown[] = ['help', 'history 127.0.0.1', '127.0.0.1', '127.0.0.1 22 sshcheck extra', '-oProxyCommand=x 22 sshcheck', '<!channel> 22 sshcheck', '127.0.0.1 22 $(id)', 42, null];
    for (const value of forged) {
      const click = h.fake.sendBlockAction({ action_id: RERUN_ACTION, value, channel_id: 'C0FORGED', message_ts: '1700000000.000100' });
      const answer = await answerTo(h.fake, click);
      assert.equal(answer['response_type'], 'ephemeral', JSON.stringify(value));
      assert.match(allText(answer), /not one sshcheck made, so nothing was checked/, JSON.stringify(value));
    }
    assert.equal(gate.actors.length, 0, 'the gate was never asked');
    assert.equal(h.checks.length, 0, 'nothing probed');
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0FORGED').length, 0, 'nothing posted');
  } finally {
    await h.close();
  }
});

function mention(channel: string, text: string, threadTs?: string): Record<string, unknown> {
  return { type: 'app_mention', user: 'U0REQUESTER', text: `<@${BOT_USER_ID}> ${text}`, ts: `1699999${Math.floor(Math.random() * 900 + 100)}.000200`, channel, ...(threadTs !== undefined ? { thread_ts: threadTs } : {}) };
}

test('an @mention in an incident thread: its parent reply has the button; a click is acked first and re-runs in that thread as the clicker', async () => {
  const gate = recordingGate('U0MALLORY');
  const h = await startHarness({ gate });
  const incident = '1699998000.000100';
  try {
    const port = await closedPort();
    await h.fake.sendEvent(mention('C0MENTIONRR', `127.0.0.1 ${port}`, incident)).ack;
    await settled(h, 1);
    const { parent, parentUpdates } = threadIn(h.fake, 'C0MENTIONRR', incident);
    assert.deepEqual(buttonsOf(parent), [], 'no button while the check runs');
    const [button, ...more] = buttonsOf(parentUpdates.at(-1));
    assert.equal(more.length, 0);
    assert.deepEqual(button, { type: 'button', action_id: RERUN_ACTION, text: { type: 'plain_text', text: 'Re-run' }, value: `127.0.0.1 ${port} sshcheck` });
    assert.ok(button);

    // A reply in a thread: Slack's payload carries the thread's ts, not the message's own.
    const click = await clickWhileGateHeld(h, gate, button, { channel: 'C0MENTIONRR', ts: String(parent.response['ts']), thread: incident });
    assert.match(String((await answerTo(h.fake, click))['text']), new RegExp(`^Checking \`sshcheck@127\\.0\\.0\\.1:${port}\` from test-bastion…$`));
    await settled(h, 2);

    const posts = h.fake.callsOf('chat.postMessage', 'C0MENTIONRR');
    assert.equal(posts.filter((c) => c.args['thread_ts'] === undefined).length, 0, 'nothing lands in the channel itself');
    const parents = posts.filter((c) => /asked by/.test(allText(c.args)));
    assert.equal(parents.length, 2, 'the re-run posts a new parent reply');
    const second = parents[1];
    assert.ok(second);
    assert.equal(second.args['thread_ts'], incident, 'in the incident thread');
    assert.match(allText(second.args), /asked by <@U0BOB>/);
    assert.equal(posts.filter((c) => c.args['thread_ts'] === incident).length, 22, 'two parents and ten steps each, all in the thread');
    finishedWithButton(h, 'C0MENTIONRR', second.response['ts'], button);
  } finally {
    gate.release();
    await h.close();
  }
});

test('an @mention outside a thread: the button re-runs in the channel (a parent that starts a thread is not a reply in one)', async () => {
  const gate = recordingGate('U0MALLORY');
  const h = await startHarness({ gate });
  try {
    const port = await closedPort();
    await h.fake.sendEvent(mention('C0MENTIONCH', `127.0.0.1:${port}`)).ack;
    await settled(h, 1);
    const { parent, parentUpdates } = threadIn(h.fake, 'C0MENTIONCH');
    const [button] = buttonsOf(parentUpdates.at(-1));
    assert.ok(button);
    assert.equal(button.value, `127.0.0.1 ${port} sshcheck`);
    const ts = String(parent.response['ts']);
    const click = h.fake.sendBlockAction({ action_id: button.action_id, value: button.value, channel_id: 'C0MENTIONCH', message_ts: ts, thread_ts: ts, user_id: 'U0BOB' });
    await answerTo(h.fake, click);
    await settled(h, 2);
    const parents = h.fake.callsOf('chat.postMessage', 'C0MENTIONCH').filter((c) => c.args['thread_ts'] === undefined);
    assert.equal(parents.length, 2, 'a new parent in the channel');
    const secondTs = parents[1]?.response['ts'];
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0MENTIONCH').filter((c) => c.args['thread_ts'] === secondTs).length, 10, 'its own thread of ten steps');
  } finally {
    await h.close();
  }
});

test('a fleet parent has the button once finished; a click is acked first, re-runs the same hosts through the fleet gate as the clicker; a refused clicker probes nothing', async () => {
  const gate = recordingGate('U0MALLORY');
  const h = await startHarness({ gate });
  try {
    const [a, b] = [await closedPort(), await closedPort()];
    const replies = (): number => h.fake.callsOf('chat.postMessage', 'C0FLEETRR').filter((c) => c.args['thread_ts'] !== undefined).length;
    h.fake.sendSlashCommand({ text: `127.0.0.1:${a}, 127.0.0.1:${b}`, channel_id: 'C0FLEETRR' });
    await h.fake.waitFor(() => replies() === 2 && h.adapter.running === 0, 30_000, 'the fleet thread');
    const { parent, parentUpdates } = threadIn(h.fake, 'C0FLEETRR');
    assert.deepEqual(buttonsOf(parent), [], 'no button while the fleet runs');
    const [button, ...more] = buttonsOf(parentUpdates.at(-1));
    assert.equal(more.length, 0);
    assert.ok(button);
    assert.equal(button.value, `127.0.0.1:${a},127.0.0.1:${b}`, 'the hosts as typed, canonical');
    const ts = String(parent.response['ts']);

    const click = await clickWhileGateHeld(h, gate, button, { channel: 'C0FLEETRR', ts, thread: ts });
    assert.match(allText(await answerTo(h.fake, click)), /Checking 2 hosts \(127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\) from test-bastion/);
    await h.fake.waitFor(() => replies() === 4 && h.adapter.running === 0, 30_000, 'the second fleet thread');
    assert.deepEqual(h.checks.slice(2).map((c) => c.target).sort(), [`127.0.0.1:${a}`, `127.0.0.1:${b}`].sort(), 'the same hosts again');
    const parents = h.fake.callsOf('chat.postMessage', 'C0FLEETRR').filter((c) => c.args['thread_ts'] === undefined);
    assert.equal(parents.length, 2, 'a new fleet parent');
    const second = parents[1];
    assert.ok(second);
    assert.match(allText(second.args), /asked by <@U0BOB>/);
    const final = h.fake.callsOf('chat.update', 'C0FLEETRR').filter((c) => c.args['ts'] === second.response['ts']).at(-1);
    assert.match(allText(final?.args ?? {}), /0 of 2 healthy\*, 2 with a problem/);
    assert.deepEqual(buttonsOf(final), [button], 'and it can be re-run again');

    const posted = h.fake.callsOf('chat.postMessage', 'C0FLEETRR').length;
    const refused = h.fake.sendBlockAction({ action_id: button.action_id, value: button.value, channel_id: 'C0FLEETRR', message_ts: ts, user_id: 'U0MALLORY' });
    assert.match(allText(await answerTo(h.fake, refused)), /You may not run checks in this channel \(nothing was checked\)/);
    assert.equal(gate.actors.at(-1)?.user, 'U0MALLORY');
    await h.fake.waitFor(() => h.adapter.running === 0, 5000, 'nothing running');
    assert.equal(h.checks.length, 4, 'nothing probed');
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0FLEETRR').length, posted, 'nothing posted');
  } finally {
    gate.release();
    await h.close();
  }
});
