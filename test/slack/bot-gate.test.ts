// `sshcheck bot` as started from the environment wires the gate in: the default target
// policy, the permissions of SSHCHECK_CONFIG, and the store at $SSHCHECK_DB. Only refusals
// are sent here (nothing is probed), against the fake Slack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBot } from '../../src/cli/bot.js';
import { Store } from '../../src/store/store.js';
import { APP_TOKEN, BOT_TOKEN, FakeSlack, TEAM_ID } from './fake-slack.js';
import { allText, answerTo } from './harness.js';

test('sshcheck bot: every request passes the gate (policy by default, permissions from SSHCHECK_CONFIG) and lands in $SSHCHECK_DB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bot-gate-'));
  const fake = await FakeSlack.start();
  try {
    const config = join(dir, 'sshcheck.yml');
    writeFileSync(config, 'permissions:\n  slack:\n    users: [U0ONCALL]\n');
    const db = join(dir, 'state', 'audit.db');
    let stop = (): void => undefined;
    let stderr = '';
    const done = runBot(
      { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: fake.apiUrl, SSHCHECK_CONFIG: config, SSHCHECK_DB: db, SSHCHECK_ENGINE_CONFIG: join(dir, 'missing-is-an-error.yml'), SSHCHECK_VANTAGE: 'bot-test' },
      { stderr: (t) => (stderr += t), stopSignal: new Promise<void>((r) => (stop = r)) },
    );
    // A missing engine config named by the environment is an error: the bot says so and stops.
    assert.equal(await done, 2);
    assert.match(stderr, /cannot read the engine config .*missing-is-an-error\.yml/);

    const running = runBot(
      { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: fake.apiUrl, SSHCHECK_CONFIG: config, SSHCHECK_DB: db, SSHCHECK_VANTAGE: 'bot-test' },
      { stderr: (t) => (stderr += t), stopSignal: new Promise<void>((r) => (stop = r)) },
    );
    await fake.whenConnected();
    const metadata = await answerTo(fake, fake.sendSlashCommand({ text: '169.254.169.254', channel_id: 'C0OPS', user_id: 'U0ONCALL' }));
    assert.match(allText(metadata), /cloud instance metadata/);
    const stranger = await answerTo(fake, fake.sendSlashCommand({ text: '10.0.0.5', channel_id: 'C0OPS', user_id: 'U0STRANGER' }));
    assert.match(allText(stranger), /You \(U0STRANGER\) are not allowed to run sshcheck/);
    stop();
    assert.equal(await running, 0);
    assert.equal(fake.calls.filter((c) => c.method === 'chat.postMessage').length, 0, 'nothing posted, nothing probed');
    const store = Store.open(db);
    try {
      assert.deepEqual(store.audit().map((r) => [r.source, r.workspace, r.user, r.host, r.verdict, r.denial]), [
        ['slack', TEAM_ID, 'U0ONCALL', '169.254.169.254', 'denied', 'policy'],
        ['slack', TEAM_ID, 'U0STRANGER', '10.0.0.5', 'denied', 'permission'],
      ]);
    } finally {
      store.close();
    }
  } finally {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
