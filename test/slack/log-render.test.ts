// The pure parts of answering ssh logs in Slack: reading a message event, taking Slack's own
// markup back out of a paste, deciding what a message asks for (a text, a file, a refusal, or
// nothing), remembering the threads the bot answered in, and the Block Kit answer — within
// Slack's limits for every recorded log and for a pathological one, and inert for a hostile one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { BotThreads } from '../../adapters/slack/bot-threads.js';
import { SLACK_LIMITS } from '../../adapters/slack/limits.js';
import { fromPerson, logRequest, slackFileOrigins, slackLogMessage, slackPlainText } from '../../adapters/slack/log-message.js';
import type { SlackLogMessage } from '../../adapters/slack/log-message.js';
import { renderLogExplanation, renderLogRefusal } from '../../adapters/slack/log-render.js';
import type { SlackMessage } from '../../adapters/slack/render.js';
import { explainLog } from '../../src/explain/explain.js';
import { findUnsafeMarkup } from './markup-check.js';
import { fixtureLog, hostileLog } from './ssh-logs.js';

const ORIGINS = slackFileOrigins('http://127.0.0.1:9999/api/');

function msg(extra: Partial<SlackLogMessage> = {}): SlackLogMessage {
  return { channel: 'C1', ts: '1.2', threadTs: '1.1', user: 'U0PERSON', text: '', files: [], ...extra };
}

function assertWithinLimits(m: SlackMessage): void {
  assert.ok(m.blocks.length <= SLACK_LIMITS.blocks);
  assert.ok(m.text.length <= SLACK_LIMITS.messageText);
  for (const b of m.blocks) {
    if (b.type === 'section') assert.ok(b.text.text.length <= SLACK_LIMITS.sectionText, `${b.text.text.length}`);
    if (b.type === 'context') assert.ok(b.elements.length <= SLACK_LIMITS.contextElements);
  }
}

test('file origins: Slack\'s file host, plus the configured API host', () => {
  assert.deepEqual(slackFileOrigins(), [{ protocol: 'https:', host: 'files.slack.com' }]);
  assert.deepEqual(ORIGINS, [
    { protocol: 'https:', host: 'files.slack.com' },
    { protocol: 'http:', host: '127.0.0.1:9999' },
  ]);
});

test('a message event, read defensively', () => {
  const m = slackLogMessage({
    type: 'message',
    subtype: 'file_share',
    channel: 'C1',
    user: 'U1',
    text: 'x',
    ts: '2.0',
    thread_ts: '1.0',
    parent_user_id: 'U0BOT',
    files: [{ name: 'ssh.log', mimetype: 'text/plain', size: 10, url_private_download: 'https://files.slack.com/a', url_private: 'https://files.slack.com/b' }, { id: 'F1', mode: 'hidden_by_limit' }, 'junk'],
  });
  assert.deepEqual(m, {
    channel: 'C1',
    ts: '2.0',
    text: 'x',
    files: [{ name: 'ssh.log', mimetype: 'text/plain', size: 10, url: 'https://files.slack.com/a' }],
    threadTs: '1.0',
    user: 'U1',
    subtype: 'file_share',
    parentUserId: 'U0BOT',
  });
  assert.equal(slackLogMessage({ type: 'message', text: 'no channel' }), undefined);
  assert.equal(slackLogMessage(null), undefined);
});

test('Slack\'s markup is taken back out of a paste', () => {
  assert.equal(slackPlainText('```debug1: Connecting to <http://db-3.example.com|db-3.example.com> [10.0.0.5] port 22.```'), '\ndebug1: Connecting to db-3.example.com [10.0.0.5] port 22.\n');
  assert.equal(slackPlainText('a &lt;b&gt; &amp;lt;'), 'a <b> &lt;');
});

test('people only: not the bot, not other bots, not edits or joins', () => {
  assert.ok(fromPerson(msg(), 'U0BOT'));
  assert.ok(fromPerson(msg({ subtype: 'file_share' }), 'U0BOT'));
  assert.ok(fromPerson(msg({ subtype: 'thread_broadcast' }), 'U0BOT'));
  assert.ok(!fromPerson(msg({ user: 'U0BOT' }), 'U0BOT'));
  assert.ok(!fromPerson(msg({ botId: 'B0OTHER' }), 'U0BOT'));
  assert.ok(!fromPerson(msg({ subtype: 'bot_message' }), 'U0BOT'));
  assert.ok(!fromPerson(msg({ subtype: 'message_changed' }), 'U0BOT'));
  assert.ok(!fromPerson(msg({ subtype: 'channel_join' }), 'U0BOT'));
  const { user: _user, ...anonymous } = msg();
  assert.ok(!fromPerson(anonymous, 'U0BOT'));
});

test('what a message asks for: the first text file, else a log in the text, else nothing', () => {
  const file = { name: 'ssh.log', mimetype: 'text/plain', size: 100, url: 'https://files.slack.com/files-pri/T1-F1/download/ssh.log' };
  assert.equal(logRequest(msg({ text: 'thanks!' }), ORIGINS), undefined);
  assert.deepEqual(logRequest(msg({ text: 'ssh: connect to host db-3 port 22: Connection refused' }), ORIGINS), { kind: 'text', text: 'ssh: connect to host db-3 port 22: Connection refused' });
  const got = logRequest(msg({ text: fixtureLog('rst'), files: [{ name: 'screen.png', mimetype: 'image/png', size: 5 }, file] }), ORIGINS);
  assert.equal(got?.kind, 'file', 'a text file wins over the text');
  assert.equal(got?.kind === 'file' ? got.url.href : '', file.url);
  assert.equal(logRequest(msg({ files: [{ name: 'screen.png', mimetype: 'image/png', size: 5 }] }), ORIGINS), undefined, 'images are not logs');
  const big = logRequest(msg({ files: [{ ...file, size: 2 * 1024 * 1024 }] }), ORIGINS);
  assert.equal(big?.kind, 'refused');
  assert.match(big?.kind === 'refused' ? big.reason : '', /2\.0 MiB/);
  const elsewhere = logRequest(msg({ files: [{ ...file, url: 'https://files.slack.com.evil.example/x' }] }), ORIGINS);
  assert.equal(elsewhere?.kind, 'refused');
  assert.match(elsewhere?.kind === 'refused' ? elsewhere.reason : '', /not on files\.slack\.com, 127\.0\.0\.1:9999/);
  const noUrl = logRequest(msg({ files: [{ name: 'ssh.log', mimetype: 'text/plain', size: 1 }] }), ORIGINS);
  assert.equal(noUrl?.kind, 'refused');
});

test('bot threads: remembered for a while, bounded', () => {
  let now = 0;
  const threads = new BotThreads(1000, 3, () => now);
  threads.remember('C1', '1.0');
  assert.ok(threads.has('C1', '1.0'));
  assert.ok(!threads.has('C2', '1.0'));
  now = 1000;
  assert.ok(!threads.has('C1', '1.0'), 'expired');
  for (const ts of ['2', '3', '4', '5']) threads.remember('C1', ts);
  assert.ok(!threads.has('C1', '2'), 'the oldest went first');
  assert.ok(threads.has('C1', '5'));
});

test('every recorded log renders within Slack\'s limits, with no markup leaking', () => {
  const names = readdirSync(new URL('../../../test/fixtures/openssh-verbose/', import.meta.url)).filter((f) => f.endsWith('.json'));
  for (const f of names) {
    const m = renderLogExplanation(explainLog(fixtureLog(f.replace(/\.json$/, ''))), { kind: 'paste' });
    assertWithinLimits(m);
    assert.deepEqual(findUnsafeMarkup(m), [], f);
    assert.match(m.text, /^Where the ssh log stopped: /);
  }
});

test('a pathological log (thousands of long phase lines, huge stop line) still fits', () => {
  const lines = [fixtureLog('too-many-keys-vv')];
  for (let i = 0; i < 3000; i++) lines.push(`debug1: Offering public key: /home/u/.ssh/id_${i} ${'A'.repeat(400)} <!channel> *x*`);
  lines.push(`Received disconnect from 10.0.0.1 port 22:2: Too many authentication failures ${'<@U0X> '.repeat(2000)}`);
  const m = renderLogExplanation(explainLog(lines.join('\n')), { kind: 'file', name: `${'x'.repeat(500)}.log` });
  assertWithinLimits(m);
  assert.deepEqual(findUnsafeMarkup(m), []);
});

test('a hostile log and a hostile file name are inert', () => {
  const m = renderLogExplanation(explainLog(hostileLog()), { kind: 'file', name: '<!channel> @everyone evil.example.log' });
  assert.deepEqual(findUnsafeMarkup(m), []);
  const r = renderLogRefusal('<!here> <https://evil.example|x>.log', 'it is not on <!channel>');
  assertWithinLimits(r);
  assert.deepEqual(findUnsafeMarkup(r), []);
});
