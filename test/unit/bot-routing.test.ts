import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { botConfigFromEnv, BOT_HELP } from '../../src/chat/bot-config.js';
import { runBot } from '../../src/cli/bot.js';

test('SSHCHECK_CONFIG is read from the environment and documented', () => {
  assert.equal(botConfigFromEnv({ SSHCHECK_CONFIG: ' /etc/sshcheck/sshcheck.yml ' }).configPath, '/etc/sshcheck/sshcheck.yml');
  assert.equal(botConfigFromEnv({}).configPath, undefined);
  assert.match(BOT_HELP, /SSHCHECK_CONFIG/);
});

test('a broken routing config stops the bot with exit 2 and the line and field, before any adapter starts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-bot-'));
  try {
    const file = join(dir, 'sshcheck.yml');
    writeFileSync(file, 'bastions:\n  - name: eu-1\n    url: http://10.0.0.5:8722\n    token_env: NOT_SET_ANYWHERE\n');
    let err = '';
    const code = await runBot({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SSHCHECK_CONFIG: file }, { stderr: (t) => (err += t), stopSignal: Promise.resolve() });
    assert.equal(code, 2);
    assert.equal(err, `sshcheck bot: SSHCHECK_CONFIG: ${file}:4: bastions[0].token_env: NOT_SET_ANYWHERE is not set in the bot's environment\n`);
    let missing = '';
    assert.equal(await runBot({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SSHCHECK_CONFIG: join(dir, 'nope.yml') }, { stderr: (t) => (missing += t), stopSignal: Promise.resolve() }), 2);
    assert.match(missing, /SSHCHECK_CONFIG: cannot read the bot config .*nope\.yml: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
