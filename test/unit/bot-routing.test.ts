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
    writeFileSync(file, 'bastions:\n  - name: eu-1\nrules:\n  - cidr: 10.0.0.0/33\n    bastion: eu-1\n');
    let err = '';
    const code = await runBot({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SSHCHECK_CONFIG: file }, { stderr: (t) => (err += t), stopSignal: Promise.resolve() });
    assert.equal(code, 2);
    assert.equal(err, `sshcheck bot: SSHCHECK_CONFIG: ${file}:4: rules[0].cidr: "10.0.0.0/33" is not a CIDR: the prefix length must be 0-32 for IPv4\n`);
    // A config of the HTTP client for bastions (gone) says what to do instead.
    writeFileSync(file, 'bastions:\n  - name: eu-1\n    url: http://10.0.0.5:8722\n    token_env: T\n');
    let old = '';
    assert.equal(await runBot({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SSHCHECK_CONFIG: file }, { stderr: (t) => (old += t), stopSignal: Promise.resolve() }), 2);
    assert.match(old, new RegExp(`^sshcheck bot: SSHCHECK_CONFIG: ${file.replace(/[.]/g, '\\.')}:3: bastions\\[0\\]\\.url: bastions are reached through the broker now`));
    // Bastions without a broker: refused, rather than checks silently probed from the bot's machine.
    writeFileSync(file, 'bastions:\n  - name: eu-1\ndefault: eu-1\n');
    let unbrokered = '';
    assert.equal(await runBot({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SSHCHECK_CONFIG: file }, { stderr: (t) => (unbrokered += t), stopSignal: Promise.resolve() }), 2);
    assert.match(unbrokered, /^sshcheck bot: SSHCHECK_CONFIG names bastions, whose agents the bot reaches through the broker: set SSHCHECK_NATS_URL/);
    let missing = '';
    assert.equal(await runBot({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SSHCHECK_CONFIG: join(dir, 'nope.yml') }, { stderr: (t) => (missing += t), stopSignal: Promise.resolve() }), 2);
    assert.match(missing, /SSHCHECK_CONFIG: cannot read the bot config .*nope\.yml: ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('broker settings that cannot work stop the bot with exit 2 before anything starts', async () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ SSHCHECK_NATS_URL: 'http://broker:4222' }, /^sshcheck bot: "http:\/\/broker:4222": the broker URL must be nats:\/\/ or tls:\/\/\n$/],
    [{ SSHCHECK_NATS_URL: 'nats://bot:pw@broker:4222' }, /must not carry credentials/],
    [{ SSHCHECK_NATS_URL: 'nats://broker:4222', SSHCHECK_NATS_USER: 'bot' }, /SSHCHECK_NATS_USER needs SSHCHECK_NATS_PASSWORD or SSHCHECK_NATS_PASSWORD_FILE/],
    [{ SSHCHECK_NATS_URL: 'nats://broker:4222', SSHCHECK_NATS_CREDS: '/nonexistent/bot.creds' }, /SSHCHECK_NATS_CREDS: cannot read \/nonexistent\/bot\.creds/],
  ];
  for (const [env, expected] of cases) {
    let err = '';
    const code = await runBot({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', ...env }, { stderr: (t) => (err += t), stopSignal: Promise.resolve() });
    assert.equal(code, 2, JSON.stringify(env));
    assert.match(err, expected);
    assert.doesNotMatch(err, /pw@/);
  }
});
