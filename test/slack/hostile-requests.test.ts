// Hostile chat requests against the real Bolt app and the fake Slack, table-driven, each row
// asserting the exact outcome:
//  A. the HTTP receiver's door: forged, stale, future-dated, altered, oversized or malformed
//     requests get an exact status, start nothing, call nothing, and the next signed
//     request is still served;
//  B. replays over HTTP (a slash command sent twice, an event retried or replayed): one run;
//  C. command texts with markup, shell, options, controls: a private usage error (or a
//     defined safe answer), nothing probed or posted, no markup in anything the bot sent;
//     a link Slack wrapped around a host is unwrapped and that host is checked;
//  D. Socket Mode frames: a redelivered envelope, one that is not JSON, an unknown type.
// Hostile targets given to the CLI and hostile servers are in test/integration/hostile.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BOT_USER_ID, SIGNING_SECRET } from './fake-slack.js';
import type { EngineClient } from '../../src/chat/engine-client.js';
import { allText, answerTo, settled, startHarness, threadIn, VANTAGE } from './harness.js';
import type { Harness } from './harness.js';
import { findUnsafeMarkup } from './markup-check.js';
import { commandBody, FORM, JSON_TYPE, post, sign } from './signed-requests.js';
import type { Sent } from './signed-requests.js';
import { closedPort } from './targets.js';

const REQUESTER = '<@U0REQUESTER>';
const USAGE_ACK = /^```\nUsage: \/sshcheck &lt;target&gt; \[port\] \[user\]/;
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => Math.floor(Date.now() / 1000);
let seq = 0;
const trigger = (name: string): string => `trig-${name}-${++seq}`;

// ---- A. the HTTP receiver's door ----------------------------------------------------------

interface DoorRow {
  name: string;
  send: (h: Harness, port: number) => Promise<Sent>;
  status: number;
  /** What the adapter (or Bolt, through it) logged about the refusal. */
  log: RegExp;
}

/** A command that would run a check (on a closed loopback port) if it got through. */
const check = (h: Harness, port: number, name: string): string => commandBody(h.fake, `127.0.0.1 ${port}`, 'C0DOOR', trigger(name));

const door: DoorRow[] = [
  { name: 'signed with the wrong signing secret', send: (h, p) => post(h, check(h, p, 'secret'), FORM, { secret: 'not-the-signing-secret' }), status: 401, log: /signature mismatch/ },
  { name: 'a timestamp six minutes old (a replay)', send: (h, p) => post(h, check(h, p, 'stale'), FORM, { timestamp: now() - 6 * 60 }), status: 401, log: /request is stale/ },
  { name: 'a timestamp six minutes ahead', send: (h, p) => post(h, check(h, p, 'ahead'), FORM, { timestamp: now() + 6 * 60 }), status: 401, log: /timestamp is ahead of this clock/ },
  {
    name: 'no signature headers at all',
    send: (h, p) => post(h, check(h, p, 'unsigned'), FORM, { headers: { 'x-slack-signature': undefined, 'x-slack-request-timestamp': undefined } }),
    status: 401,
    log: /header x-slack-signature did not have the expected type/,
  },
  {
    name: 'the body altered after signing',
    send: (h, p) => post(h, check(h, p, 'altered'), FORM, { signedBody: commandBody(h.fake, 'help', 'C0DOOR', 'trig-signed') }),
    status: 401,
    log: /signature mismatch/,
  },
  {
    name: 'a v1= signature instead of v0=',
    send: (h, p) => {
      const body = check(h, p, 'v1');
      const ts = now();
      return post(h, body, FORM, { timestamp: ts, headers: { 'x-slack-signature': sign(SIGNING_SECRET, ts, body).replace(/^v0=/, 'v1=') } });
    },
    status: 401,
    log: /unknown signature version/,
  },
  {
    name: 'a truncated hex signature',
    send: (h, p) => {
      const body = check(h, p, 'truncated');
      const ts = now();
      return post(h, body, FORM, { timestamp: ts, headers: { 'x-slack-signature': sign(SIGNING_SECRET, ts, body).slice(0, -8) } });
    },
    status: 401,
    log: /signature mismatch/,
  },
  {
    name: 'a non-numeric timestamp',
    send: (h, p) => {
      const body = check(h, p, 'nan');
      return post(h, body, FORM, { headers: { 'x-slack-request-timestamp': 'soon', 'x-slack-signature': sign(SIGNING_SECRET, 'soon', body) } });
    },
    status: 401,
    log: /x-slack-request-timestamp did not have the expected type \(NaN\)/,
  },
  {
    name: 'a url_verification challenge with a bad signature',
    send: (h) => post(h, JSON.stringify({ token: 'legacy-verification-token', challenge: 'challenge-0123', type: 'url_verification' }), JSON_TYPE, { secret: 'not-the-signing-secret' }),
    status: 401,
    log: /signature mismatch/,
  },
  {
    name: 'a validly signed 2 MiB body',
    send: (h) => post(h, commandBody(h.fake, 'x'.repeat(2 * 1024 * 1024), 'C0DOOR', trigger('big')), FORM),
    status: 413,
    log: /its body is over the limit.*"limit":1048576/,
  },
  { name: 'signed, malformed JSON', send: (h) => post(h, '{"type":"event_callback","event":', JSON_TYPE), status: 400, log: /Malformed request body: Unexpected end of JSON input/ },
  { name: 'signed, a form whose payload is not JSON', send: (h) => post(h, 'payload=%7Bnot-json', FORM), status: 400, log: /Malformed request body: Expected property name/ },
  { name: 'signed, a JSON null body', send: (h) => post(h, 'null', JSON_TYPE), status: 400, log: /its body is not a JSON object/ },
  // Bolt cannot tell what it is, calls no listener and, unacknowledged, answers 404 after 3 s.
  { name: 'signed, a form that is no Slack request', send: (h) => post(h, 'foo=bar&text=127.0.0.1', FORM), status: 404, log: /Could not determine the type of an incoming event/ },
];

describe('A. the HTTP receiver refuses what Slack did not send, and keeps serving', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await startHarness({ mode: 'http' });
    port = await closedPort();
  });
  after(() => h.close());

  for (const row of door) {
    test(`${row.name}: ${row.status}, nothing runs or is posted`, async () => {
      const checks = h.checks.length;
      const calls = h.fake.calls.length;
      const logs = h.logs.length;
      const res = await row.send(h, port);
      assert.equal(res.status, row.status);
      assert.equal(res.body, '', 'a refusal carries no body (no challenge, no ack text)');
      // The door still opens for Slack: a signed help is answered in the response.
      const next = await post(h, commandBody(h.fake, 'help', 'C0NEXT', trigger('next')), FORM);
      assert.equal(next.status, 200);
      assert.match(String((JSON.parse(next.body) as Record<string, unknown>)['text']), USAGE_ACK);
      assert.equal(h.checks.length, checks, 'no check was asked for');
      assert.equal(h.adapter.running, 0);
      assert.deepEqual(h.fake.calls.slice(calls).map((c) => c.method), [], 'no Web API call');
      assert.equal(h.fake.responses.length, 0, 'nothing sent to a response_url');
      const logged = h.logs.slice(logs);
      assert.ok(logged.some((l) => row.log.test(l)), `a log line matches ${row.log}:\n${logged.join('\n')}`);
      assert.ok(!h.logs.some((l) => l.includes(SIGNING_SECRET)));
    });
  }
});

// ---- B. replays over HTTP -----------------------------------------------------------------

interface ReplayRow {
  name: string;
  channel: string;
  /** A mention is answered in the thread it was made in; a slash command starts its own. */
  inThread: boolean;
  /** Sends the request and its repeat; `thread` is where a mention is answered. */
  send: (h: Harness, port: number, thread: string) => Promise<[Sent, Sent]>;
  first: (body: string) => void;
}

const mention = (h: Harness, port: number, channel: string, thread: string, eventId: string): string =>
  JSON.stringify(h.fake.eventCallback({ type: 'app_mention', user: 'U0REQUESTER', text: `<@${BOT_USER_ID}> 127.0.0.1 ${port}`, ts: '1699999100.000100', channel, thread_ts: thread }, eventId));

const replays: ReplayRow[] = [
  {
    name: 'a slash command replayed byte for byte (same signature, same trigger_id)',
    channel: 'C0REPLAY',
    inThread: false,
    send: async (h, port) => {
      const body = commandBody(h.fake, `127.0.0.1 ${port}`, 'C0REPLAY', trigger('replay'));
      const ts = now();
      return [await post(h, body, FORM, { timestamp: ts }), await post(h, body, FORM, { timestamp: ts })];
    },
    // Acknowledged with nothing: "Checking…" follows through the response_url, after the gate.
    first: (body) => assert.equal(body, ''),
  },
  {
    name: 'an Events API retry (same event_id, X-Slack-Retry-Num: 1)',
    channel: 'C0RETRY',
    inThread: true,
    send: async (h, port, thread) => {
      const body = mention(h, port, 'C0RETRY', thread, 'Ev0HOSTILERETRY');
      return [await post(h, body, JSON_TYPE), await post(h, body, JSON_TYPE, { retryNum: 1 })];
    },
    first: (body) => assert.equal(body, ''),
  },
  {
    name: 'an app_mention replayed with a fresh signature and no retry header',
    channel: 'C0MREPLAY',
    inThread: true,
    send: async (h, port, thread) => {
      const body = mention(h, port, 'C0MREPLAY', thread, 'Ev0HOSTILEREPLAY');
      return [await post(h, body, JSON_TYPE, { timestamp: now() - 2 }), await post(h, body, JSON_TYPE)];
    },
    first: (body) => assert.equal(body, ''),
  },
];

describe('B. a request delivered twice over HTTP runs once', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ mode: 'http' });
  });
  after(() => h.close());

  for (const row of replays) {
    test(`${row.name}: 200 twice, one run`, async () => {
      const checks = h.checks.length;
      const ignored = h.logs.filter((l) => l.includes('repeated delivery ignored')).length;
      const port = await closedPort();
      const thread = '1699999000.000100';
      const [first, again] = await row.send(h, port, thread);
      assert.equal(first.status, 200);
      row.first(first.body);
      assert.equal(again.status, 200);
      assert.equal(again.body, '', 'the repeat is acknowledged without an answer');
      await settled(h, checks + 1);
      await pause(200);
      assert.equal(h.checks.length, checks + 1);
      assert.equal(h.logs.filter((l) => l.includes('repeated delivery ignored')).length, ignored + 1);
      const parents = h.fake.callsOf('chat.postMessage', row.channel).filter((c) => String(c.args['text']).startsWith('sshcheck '));
      assert.equal(parents.length, 1, 'one parent');
      const { replies, parentUpdates } = threadIn(h.fake, row.channel, row.inThread ? thread : undefined);
      assert.equal(replies.length, 10);
      assert.match(allText(parentUpdates[parentUpdates.length - 1]?.args ?? {}), /Diagnosis:\* `port-closed`/);
    });
  }
});

// ---- C. command texts ---------------------------------------------------------------------

const ALLOWED_CHARS = String.raw`only letters, digits, "\.", "-", \`"_"\`, ":", \`"@"\` and \[ \] are accepted`;
const refused = (reason: string): RegExp => new RegExp(`^⚠️ ${reason}(?:: ${ALLOWED_CHARS})? \\(nothing was checked\\)$`);
const LT = refused(String.raw`target contains \`"&lt;"\` \(U\+003C\)`);

const texts: Array<[string, string, RegExp]> = [
  ['<!channel>', '<!channel>', LT],
  ['<!here|here>', '<!here|here>', LT],
  ['a user mention', '<@U0ADMIN>', LT],
  ['a channel link', '<#C0OTHER|general>', LT],
  ['formatting', '*bold*_x_', refused(String.raw`target contains \`"\*"\` \(U\+002A\)`)],
  ['600 characters', 'db-3 '.repeat(120), refused('the command is 600 characters long; at most 500 are accepted')],
  ['command substitution', '$(reboot)', refused(String.raw`target contains "\$" \(U\+0024\)`)],
  ['backticks', '`id`', refused(String.raw`target contains \`"ˋ"\` \(U\+0060\)`)],
  ['an ssh option', '-oProxyCommand=x', refused('target "-oProxyCommand=x" starts with "-": a target can never be an option')],
  ['a bidi override', 'db\u202e3', refused(String.raw`target contains a bidirectional-text control \(U\+202E\)`)],
  ['a bad port', 'db-3 99999', refused(String.raw`invalid port \(the second word\) 99999: use a number from 1 to 65535`)],
  ['an unknown bastion', 'db-3 via unknown-bastion', refused('unknown bastion "unknown-bastion": no bastions are configured: this bot probes from its own machine')],
  ['a mention as "from"', 'db-3 from <!channel>', refused(String.raw`"from" takes your IP address, e.g. from 203\.0\.113\.7 \(\`"&lt;!channel&gt;"\` is not one\)`)],
  ['history of a mention', 'history <!channel>', LT],
  ['NUL and control characters', 'db-3\u0000\u0007\u001b[31m', refused(String.raw`target contains a control character \(U\+0000\)`)],
];

describe('C. hostile command texts: a private answer, nothing probed or posted, no markup', () => {
  let h: Harness;
  let port: number;
  /** Every target the adapter asked the engine for, as user@host:port. */
  const asked: string[] = [];
  // db-3 resolves to a closed loopback port, so its check is fast and never leaves the machine.
  const loopback = (inner: EngineClient): EngineClient => ({
    check: (target, options) => {
      asked.push(`${target.user}@${target.host}:${target.port}`);
      return inner.check(target.host === 'db-3' ? { ...target, host: '127.0.0.1', kind: 'ipv4', port } : target, options);
    },
  });
  before(async () => {
    port = await closedPort();
    h = await startHarness({ wrapEngine: loopback });
  });
  after(() => h.close());

  for (const [name, text, expected] of texts) {
    test(`${name}: a usage error, to the requester only`, async () => {
      const calls = h.fake.calls.length;
      const ack = await h.fake.sendSlashCommand({ text, channel_id: 'C0TEXT' }).ack;
      const payload = ack.payload ?? {};
      assert.equal(payload['response_type'], 'ephemeral');
      const [line, ...usage] = String(payload['text']).split('\n');
      assert.match(line ?? '', expected);
      assert.match(usage.join('\n'), /^```\nUsage: \/sshcheck &lt;target&gt;/);
      const blocks = payload['blocks'] as Array<{ text: { text: string } }>;
      assert.equal(blocks.length, 2);
      assert.equal(blocks[0]?.text.text, line);
      await pause(50);
      assert.deepEqual(asked, [], 'nothing was checked');
      assert.deepEqual(h.fake.calls.slice(calls).map((c) => c.method), [], 'nothing was posted');
      assert.equal(h.fake.responses.length, 0);
      assert.deepEqual(findUnsafeMarkup(payload), []);
    });
  }

  test('history with no store: the defined "no history" answer, nothing probed', async () => {
    const answer = await answerTo(h.fake, h.fake.sendSlashCommand({ text: 'history db-3', channel_id: 'C0TEXT' }));
    assert.equal(answer['response_type'], 'ephemeral');
    assert.equal(answer['text'], '⏭️ This bot keeps no history: it runs without a store.');
    await pause(50);
    assert.deepEqual(asked, []);
    assert.equal(h.fake.calls.filter((c) => c.method.startsWith('chat.')).length, 0);
  });

  test('<https://evil.example|db-3>: the link is unwrapped, db-3 is checked, no link is posted', async () => {
    const channel = 'C0LINK';
    const answer = await answerTo(h.fake, h.fake.sendSlashCommand({ text: '<https://evil.example|db-3>', channel_id: channel }));
    assert.equal(answer['response_type'], 'ephemeral');
    assert.equal(answer['text'], `Checking \`sshcheck@db-3:22\` from ${VANTAGE}…`);
    await settled(h, 1);
    assert.deepEqual(asked, ['sshcheck@db-3:22']);
    const { parent, replies } = threadIn(h.fake, channel);
    assert.match(allText(parent.args), /`sshcheck@db-3:22`/);
    assert.equal(replies.length, 10);
    const posted = h.fake.calls.filter((c) => c.method.startsWith('chat.'));
    assert.ok(posted.length >= 11);
    assert.ok(posted.every((c) => c.args['channel'] === channel));
    assert.deepEqual(findUnsafeMarkup(posted.map((c) => c.args), [REQUESTER]), []);
    assert.deepEqual(findUnsafeMarkup(answer, [REQUESTER]), []);
    assert.doesNotMatch(JSON.stringify(posted.map((c) => c.args)), /evil|https?:/);
  });
});

// ---- D. Socket Mode frames ----------------------------------------------------------------

interface FrameRow {
  name: string;
  /** Sends the frame(s); resolves with the envelope id whose acks are counted. */
  send: (h: Harness, port: number) => Promise<string>;
  acks: number;
  runs: number;
  log?: RegExp;
}

const frames: FrameRow[] = [
  {
    name: 'a redelivered envelope (same envelope_id twice)',
    send: async (h, port) => {
      const fields = { text: `127.0.0.1 ${port}`, channel_id: 'C0FRAME', envelope_id: 'env-redelivered', trigger_id: 'trig-redelivered' };
      const first = await answerTo(h.fake, h.fake.sendSlashCommand(fields));
      assert.match(String(first['text']), /^Checking /);
      const again = await h.fake.sendSlashCommand(fields).ack;
      assert.deepEqual(again.payload, {}, 'the repeat is acked without an answer');
      return 'env-redelivered';
    },
    acks: 2,
    runs: 1,
    log: /repeated delivery ignored/,
  },
  {
    name: 'a frame that is not JSON',
    send: (h) => {
      h.fake.sendRaw('{"envelope_id":"env-not-json","type":"slash_commands","payload":{"text":"127.0.0.1');
      return Promise.resolve('env-not-json');
    },
    acks: 0,
    runs: 0,
  },
  {
    name: 'an envelope of an unknown type',
    send: (h) => {
      h.fake.sendRaw(JSON.stringify({ envelope_id: 'env-unknown-type', type: 'mystery_type', payload: { surprise: '<!channel>' }, accepts_response_payload: true }));
      return Promise.resolve('env-unknown-type');
    },
    acks: 0,
    runs: 0,
    log: /Could not determine the type of an incoming event/,
  },
];

describe('D. Socket Mode frames: a repeat runs once, a broken or unknown frame is ignored', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    port = await closedPort();
    h = await startHarness();
  });
  after(() => h.close());

  for (const row of frames) {
    test(`${row.name}: ${row.acks} ack(s), ${row.runs} run(s), the next command still runs`, async () => {
      const checks = h.checks.length;
      const logs = h.logs.length;
      const envelope = await row.send(h, port);
      // The next command, on the same connection: processed after the frame above.
      const next = await answerTo(h.fake, h.fake.sendSlashCommand({ text: `127.0.0.1 ${port}`, channel_id: 'C0NEXTFRAME' }));
      assert.equal(next['text'], `Checking \`sshcheck@127.0.0.1:${port}\` from ${VANTAGE}…`);
      await settled(h, checks + row.runs + 1);
      await pause(100);
      assert.equal(h.fake.acks.filter((a) => a.envelopeId === envelope).length, row.acks);
      assert.equal(h.checks.length, checks + row.runs + 1);
      assert.equal(h.adapter.running, 0);
      if (row.log) {
        const pattern = row.log;
        assert.ok(h.logs.slice(logs).some((l) => pattern.test(l)), `a log line matches ${pattern}`);
      }
    });
  }
});
