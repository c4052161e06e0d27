import { test } from 'node:test';
import assert from 'node:assert/strict';
import { botConfigFromEnv } from '../../src/chat/bot-config.js';
import { createLogger, redact } from '../../src/log.js';
import { runBot } from '../../src/cli/bot.js';

test('Socket Mode by default, the HTTP receiver with a signing secret', () => {
  const socket = botConfigFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SLACK_API_URL: 'http://127.0.0.1:9/api' });
  assert.deepEqual(socket.slack, { botToken: 'xoxb-1', mode: { kind: 'socket', appToken: 'xapp-1' }, apiUrl: 'http://127.0.0.1:9/api/' });
  const http = botConfigFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's3cr3t', SLACK_PORT: '3005' });
  assert.deepEqual(http.slack?.mode, { kind: 'http', signingSecret: 's3cr3t', port: 3005 });
  assert.deepEqual(http.secrets.sort(), ['s3cr3t', 'xoxb-1']);
});

test('Discord needs the application id; values can come from files', () => {
  assert.throws(() => botConfigFromEnv({ DISCORD_TOKEN: 't' }), /DISCORD_APPLICATION_ID/);
  const files: Record<string, string> = { '/run/secrets/discord': 'tok\n' };
  const c = botConfigFromEnv({ DISCORD_TOKEN_FILE: '/run/secrets/discord', DISCORD_APPLICATION_ID: '123456789012345678' }, (p) => files[p] ?? '');
  assert.deepEqual(c.discord, { token: 'tok', applicationId: '123456789012345678' });
});

test('half a Slack configuration is an error that says what is missing', () => {
  assert.throws(() => botConfigFromEnv({ SLACK_BOT_TOKEN: 'xoxb-1' }), /SLACK_APP_TOKEN .* SLACK_SIGNING_SECRET/);
  assert.throws(() => botConfigFromEnv({ SLACK_APP_TOKEN: 'xapp-1' }), /without SLACK_BOT_TOKEN/);
  assert.throws(() => botConfigFromEnv({ SLACK_BOT_TOKEN: 'x', SLACK_APP_TOKEN: 'y', SLACK_API_URL: 'ftp://x' }), /http\(s\)/);
});

test('the bot without any credentials exits 2 and names the variables', async () => {
  let err = '';
  const code = await runBot({}, { stderr: (t) => (err += t), stopSignal: Promise.resolve() });
  assert.equal(code, 2);
  for (const name of ['SLACK_BOT_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_SIGNING_SECRET', 'DISCORD_TOKEN', 'DISCORD_APPLICATION_ID']) assert.match(err, new RegExp(name));
});

test('logs never carry tokens, whatever field or shape they come in', () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l), secrets: ['s3cr3t-signing'] });
  log.info('connecting with xoxb-1234-5678-abcdef', { token: 'anything', nested: { header: 'Bearer abc.def.ghi', note: 'secret s3cr3t-signing here' }, err: new Error('bad xapp-1-A111-222') });
  const out = lines.join('');
  for (const secret of ['xoxb-1234', 'anything', 'abc.def.ghi', 's3cr3t-signing', 'xapp-1-A111']) assert.ok(!out.includes(secret), `${secret} leaked: ${out}`);
  assert.equal(redact('MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbCdE.abcdefghijklmnopqrstuvwxyz012345'), '[redacted]');
});
