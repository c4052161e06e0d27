// Fleet checks and load through the fake Slack with the real Bolt app and the real engine on
// loopback: `/sshcheck 127.0.0.1:p1,127.0.0.1:p2` posts the summary first and one reply per
// host that is not healthy; many concurrent commands are all acknowledged, all threads
// complete, nothing lost, and the pace holds (bench/chat-load.ts at a small scale).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chatLoad, paceViolations } from '../../bench/chat-load.js';
import { allText, startHarness, answerTo } from './harness.js';
import type { Harness } from './harness.js';
import { closedPort } from './targets.js';

describe('slack: fleet checks', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test('a comma list: summary in the parent, one reply per host that is not healthy', async () => {
    const [a, b] = [await closedPort(), await closedPort()];
    const sent = h.fake.sendSlashCommand({ text: `127.0.0.1:${a},127.0.0.1:${b}`, channel_id: 'C0FLEET' });
    const ack = await answerTo(h.fake, sent);
    assert.match(JSON.stringify(ack), /Checking 2 hosts/);
    await h.fake.waitFor(() => h.fake.callsOf('chat.postMessage', 'C0FLEET').filter((c) => c.args['thread_ts'] !== undefined).length >= 2 && h.adapter.running === 0, 20_000, 'the fleet thread');
    const posts = h.fake.callsOf('chat.postMessage', 'C0FLEET');
    const parent = posts.find((c) => c.args['thread_ts'] === undefined);
    assert.ok(parent);
    const final = h.fake.callsOf('chat.update', 'C0FLEET').filter((c) => c.args['ts'] === parent.response['ts']).at(-1);
    assert.ok(final, 'the parent is updated with the summary');
    assert.match(allText(final.args), /0 of 2 healthy\*, 2 with a problem/);
    assert.match(allText(final.args), /\*2\* `port-closed`/);
    const replies = posts.filter((c) => c.args['thread_ts'] === parent.response['ts']);
    assert.equal(replies.length, 2);
    assert.ok(replies.every((r) => /port-closed/.test(allText(r.args))));
    assert.ok((final.at ?? 0) <= Math.min(...replies.map((r) => r.at)), 'the summary comes before the replies');
  });

  test('a CIDR block: each host address of it checked, within the chat cap; a wider block is a usage error', async () => {
    const port = await closedPort();
    // 127.0.0.0/30 holds 127.0.0.1 and 127.0.0.2: both loopback, both reset on a closed port.
    const sent = h.fake.sendSlashCommand({ text: `127.0.0.0/30 ${port}`, channel_id: 'C0CIDR' });
    const ack = await answerTo(h.fake, sent);
    assert.match(JSON.stringify(ack), /Checking 2 hosts/);
    await h.fake.waitFor(() => h.fake.callsOf('chat.postMessage', 'C0CIDR').filter((c) => c.args['thread_ts'] !== undefined).length >= 2 && h.adapter.running === 0, 20_000, 'the CIDR fleet thread');
    const posts = h.fake.callsOf('chat.postMessage', 'C0CIDR');
    const parent = posts.find((c) => c.args['thread_ts'] === undefined);
    assert.ok(parent);
    const replies = posts.filter((c) => c.args['thread_ts'] === parent.response['ts']).map((r) => allText(r.args));
    assert.equal(replies.length, 2);
    assert.ok(replies.some((r) => r.includes(`127.0.0.1:${port}`)) && replies.some((r) => r.includes(`127.0.0.2:${port}`)), replies.join('\n'));
    assert.ok(replies.every((r) => /port-closed/.test(r)));

    const wide = h.fake.sendSlashCommand({ text: '10.0.0.0/23', channel_id: 'C0CIDRWIDE' });
    const refused = await wide.ack;
    assert.match(JSON.stringify(refused.payload), /510 host addresses; a check covers at most 256: give a longer prefix \(\/24 or longer\)/);
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0CIDRWIDE').length, 0);
  });

  test('a bad host in a range is a usage error: nothing is posted', async () => {
    const sent = h.fake.sendSlashCommand({ text: 'db-[1-3]x;y', channel_id: 'C0FLEETBAD' });
    const ack = await sent.ack;
    assert.match(JSON.stringify(ack.payload), /nothing was checked/, 'a usage error is the ack itself');
    assert.equal(h.fake.callsOf('chat.postMessage', 'C0FLEETBAD').length, 0);
  });
});

describe('slack: concurrent commands under load (small scale)', () => {
  test('every command acknowledged, every thread complete, none lost, the pace respected', async () => {
    const r = await chatLoad({ commands: 24, channels: 4, pace: { burst: 3, perSecond: 20 }, timeoutMs: 60_000 });
    // chatLoad returns only once every command was acked; each one reached the engine.
    assert.equal(r.checksAsked, 24);
    assert.equal(r.lost, 0);
    assert.equal(r.complete, 24);
    assert.equal(r.paceViolations, 0);
  });

  test('the pace check itself: a burst of three, then one a second', () => {
    const pace = { burst: 3, perSecond: 1 };
    assert.equal(paceViolations([0, 1, 2, 1000, 2000, 3000], pace), 0);
    assert.ok(paceViolations([0, 1, 2, 3, 1000], pace) > 0);
  });
});
