// `sshcheck bot` keeps its adapters running after start: one that stops working for good
// (Slack's Socket Mode connection and API gone; Discord's gateway closed with a code
// discord.js does not retry) is stopped and started anew with backoff, while the other keeps
// answering; the bot stays up. Real Bolt and discord.js against the fakes on loopback; only
// refusals are asked for (nothing is probed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBot } from '../../src/cli/bot.js';
import { FakeDiscord } from '../discord/fake-discord.js';
import type { LogLine } from '../support/log-lines.js';
import { waitForLine } from '../support/log-lines.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack } from '../slack/fake-slack.js';
import { allText, answerTo } from '../slack/harness.js';

const waitFor = waitForLine;

async function bothRunning(): Promise<{ dir: string; slack: FakeSlack; discord: FakeDiscord; lines: LogLine[]; bot: Promise<number>; stop: () => void; stderr: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bot-supervise-'));
  const slack = await FakeSlack.start();
  const discord = new FakeDiscord();
  await discord.start();
  const lines: LogLine[] = [];
  let stop: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolve) => (stop = resolve));
  let stderr = '';
  const env = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: slack.apiUrl, DISCORD_TOKEN: discord.token, DISCORD_APPLICATION_ID: discord.applicationId, DISCORD_API_URL: discord.apiUrl, SSHCHECK_DB: join(dir, 'db.sqlite'), SSHCHECK_VANTAGE: 'test-bastion', HOME: dir };
  const bot = runBot(env, { stderr: (s) => (stderr += s), stopSignal, retryFirstMs: 200, adapterLostMs: 300, log: (line) => lines.push(JSON.parse(line) as LogLine) });
  await waitFor(lines, (l) => l.msg === 'adapter started' && l.adapter === 'slack');
  await waitFor(lines, (l) => l.msg === 'adapter started' && l.adapter === 'discord');
  return { dir, slack, discord, lines, bot, stop, stderr: () => stderr };
}

/** Discord answers a refused /sshcheck (cloud metadata) with its interaction callback. */
async function discordAnswers(discord: FakeDiscord): Promise<void> {
  const i = discord.dispatchInteraction({ target: '169.254.169.254' });
  await discord.waitFor((c) => c.path === `/interactions/${i.id}/${i.token}/callback`, 20_000);
}

test('Slack gone for good after start: the bot restarts Slack with backoff, Discord keeps answering, nothing exits', async () => {
  const s = await bothRunning();
  try {
    const apiUrl = s.slack.apiUrl;
    await s.slack.close();
    const lost = await waitFor(s.lines, (l) => l.msg === 'adapter stopped working; restarting it' && l.adapter === 'slack');
    assert.equal(lost.level, 'error');
    assert.equal(lost.url, apiUrl);
    assert.match(String(lost.error), /Socket Mode/);
    // Restarting: Slack's API is gone, so each attempt fails as unreachable and is retried.
    await waitFor(s.lines, (l) => l.msg === 'adapter failed to start: its API could not be reached; retrying' && l.adapter === 'slack', 60_000);
    await discordAnswers(s.discord);
    assert.equal(s.lines.filter((l) => l.msg === 'adapter started' && l.adapter === 'discord').length, 1, 'Discord was never restarted');
    s.stop();
    assert.equal(await s.bot, 0);
    assert.equal(s.stderr(), '');
  } finally {
    s.stop();
    await s.discord.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('Discord gateway closed with a code discord.js does not retry: Discord is started anew and answers again, Slack answers meanwhile', async () => {
  const s = await bothRunning();
  try {
    s.discord.dropGateway(4004);
    const lost = await waitFor(s.lines, (l) => l.msg === 'adapter stopped working; restarting it' && l.adapter === 'discord');
    assert.match(String(lost.error), /code 4004/);
    assert.equal(lost.retryInMs, 200);
    const refused = await answerTo(s.slack, s.slack.sendSlashCommand({ text: '169.254.169.254', channel_id: 'C0OPS', user_id: 'U0ALICE' }));
    assert.match(allText(refused), /cloud instance metadata/);
    const again = await waitFor(s.lines, (l) => l.msg === 'adapter started' && l.adapter === 'discord' && l.attempt === 2);
    assert.equal(again.level, 'info');
    await discordAnswers(s.discord);
    assert.equal(s.lines.filter((l) => l.msg === 'adapter started' && l.adapter === 'slack').length, 1, 'Slack was never restarted');
    s.stop();
    assert.equal(await s.bot, 0);
  } finally {
    s.stop();
    await s.slack.close();
    await s.discord.stop();
    rmSync(s.dir, { recursive: true, force: true });
  }
});
