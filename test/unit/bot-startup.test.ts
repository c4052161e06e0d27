// `sshcheck bot` starting its adapters under faults: Slack's API on a closed loopback port
// while a working (fake) Discord runs. The error names Slack, the URL and the network (not
// the token); Discord starts and keeps running; Slack is retried with backoff; the bot exits
// only when no adapter can run (every token rejected).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBot } from '../../src/cli/bot.js';
import { startFailureKind } from '../../src/cli/adapter-supervisor.js';
import { FakeDiscord } from '../discord/fake-discord.js';
import type { LogLine } from '../support/log-lines.js';
import { waitForLine } from '../support/log-lines.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack } from '../slack/fake-slack.js';
import { closedPort } from '../support/serve-child.js';

const waitFor = waitForLine;

test('Slack unreachable (a closed loopback port), Discord working: Discord runs, Slack is named with its URL and retried', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bot-start-'));
  const discord = new FakeDiscord();
  await discord.start();
  const slackUrl = `http://127.0.0.1:${await closedPort()}/api/`;
  const lines: LogLine[] = [];
  let stop: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => (stop = resolve));
  let stderr = '';
  try {
    const env = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slackUrl, DISCORD_TOKEN: discord.token, DISCORD_APPLICATION_ID: discord.applicationId, DISCORD_API_URL: discord.apiUrl, SSHCHECK_DB: join(dir, 'db.sqlite'), SSHCHECK_VANTAGE: 'test-bastion' };
    const bot = runBot(env, { stderr: (s) => (stderr += s), stopSignal, retryFirstMs: 200, log: (line) => lines.push(JSON.parse(line) as LogLine) });
    const started = await waitFor(lines, (l) => l.msg === 'adapter started' && l.adapter === 'discord');
    assert.equal(started.level, 'info');
    const failed = await waitFor(lines, (l) => l.msg.startsWith('adapter failed to start') && l.adapter === 'slack');
    assert.equal(failed.msg, 'adapter failed to start: its API could not be reached; retrying');
    assert.equal(failed.url, slackUrl);
    assert.match(String(failed.error), new RegExp(`^Slack's API at ${slackUrl.replace(/[.]/g, '\\.')} could not be reached \\(auth\\.test; the token was not checked\\)`));
    assert.doesNotMatch(String(failed.error), /was not accepted/);
    // Retried with backoff (200 ms, then 400 ms), while Discord keeps running.
    await waitFor(lines, (l) => l.msg.startsWith('adapter failed to start') && l.adapter === 'slack' && l.attempt === 2, 60_000);
    const retries = lines.filter((l) => l.adapter === 'slack' && l.msg.startsWith('adapter failed'));
    assert.deepEqual(retries.slice(0, 2).map((l) => l.retryInMs), [200, 400]);
    assert.equal(lines.filter((l) => l.msg === 'adapter started' && l.adapter === 'discord').length, 1);
    assert.ok(JSON.stringify(lines).indexOf(BOT_TOKEN) === -1 && JSON.stringify(lines).indexOf(discord.token) === -1, 'no token in the log');
    stop();
    assert.equal(await bot, 0);
    assert.equal(stderr, '');
  } finally {
    stop();
    await discord.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every adapter rejected: the bot exits 3 at once saying which adapter and why, nothing retried', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bot-start-'));
  const slack = await FakeSlack.start();
  const lines: LogLine[] = [];
  let stderr = '';
  try {
    const env = { SLACK_BOT_TOKEN: 'xoxb-9999999999-8888888888-WrongBotTokenForTests', SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slack.apiUrl, SSHCHECK_DB: join(dir, 'db.sqlite') };
    const code = await runBot(env, { stderr: (s) => (stderr += s), stopSignal: new Promise(() => undefined), retryFirstMs: 200, log: (line) => lines.push(JSON.parse(line) as LogLine) });
    assert.equal(code, 3);
    assert.match(stderr, /^sshcheck bot: no chat adapter can run:\n {2}slack: its credentials were rejected: SLACK_BOT_TOKEN was not accepted \(auth\.test\)/);
    assert.equal(lines.filter((l) => l.msg.startsWith('adapter failed')).length, 1);
  } finally {
    await slack.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('what counts as rejected: an answer from the platform; a network error or a timeout may pass', () => {
  assert.equal(startFailureKind(new Error('x', { cause: Object.assign(new Error('invalid_auth'), { code: 'slack_webapi_platform_error' }) })), 'rejected');
  assert.equal(startFailureKind(Object.assign(new Error('An invalid token was provided.'), { code: 'TokenInvalid' })), 'rejected');
  assert.equal(startFailureKind(new Error('x', { cause: Object.assign(new Error('fetch failed'), { code: 'slack_webapi_request_error' }) })), 'unreachable');
  assert.equal(startFailureKind(new Error('auth.test did not complete within 10 s')), 'unreachable');
});
