// /sshcheck-explain, the pure parts: its definition, what an invocation asks for (the host,
// size and type rules decided before anything is fetched), and the embed — within Discord's
// limits for every recorded log and a pathological one, and inert for a hostile one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { DISCORD_FILE_ORIGINS, EXPLAIN_COMMAND_NAME, discordFileOrigins, explainCommandDefinition, explainRequest } from '../../adapters/discord/explain-command.js';
import { renderExplainUsage, renderLogExplanation, renderLogRefusal } from '../../adapters/discord/log-render.js';
import { explainLog } from '../../src/explain/explain.js';
import { fixtureLog, hostileLog } from '../slack/ssh-logs.js';
import { messageProblems } from './fake-discord.js';
import type { JsonObject } from './fake-discord.js';
import { liveMarkup, strings } from './markup.js';

const ORIGINS = discordFileOrigins('http://127.0.0.1:9999/api');
const CDN = 'https://cdn.discordapp.com/attachments/1/2/ssh.log?ex=1&is=2&hm=3';

test('the command: an optional attachment "log" and an optional text "text" (up to 6000 characters)', () => {
  const def = explainCommandDefinition();
  assert.equal(def.name, EXPLAIN_COMMAND_NAME);
  assert.ok((def.description ?? '').length <= 100);
  assert.deepEqual(
    (def.options ?? []).map((o) => [o.name, o.type, o.required ?? false]),
    [
      ['log', 11, false],
      ['text', 3, false],
    ],
  );
});

test('file origins: Discord\'s CDN hosts, plus the configured API host', () => {
  assert.deepEqual(discordFileOrigins(), [...DISCORD_FILE_ORIGINS]);
  assert.deepEqual(ORIGINS.map((o) => `${o.protocol}//${o.host}`), ['https://cdn.discordapp.com', 'https://media.discordapp.net', 'http://127.0.0.1:9999']);
});

test('what an invocation asks for', () => {
  assert.equal(explainRequest({}, ORIGINS).kind, 'missing');
  assert.equal(explainRequest({ text: '   ' }, ORIGINS).kind, 'missing');
  const text = explainRequest({ text: 'debug1: Connecting to db-3 [10.0.0.5] port 22. ssh: connect to host db-3 port 22: Connection timed out' }, ORIGINS);
  assert.deepEqual(text, { kind: 'text', text: 'debug1: Connecting to db-3 [10.0.0.5] port 22.\nssh: connect to host db-3 port 22: Connection timed out' });
  const file = explainRequest({ attachment: { name: 'ssh.log', url: CDN, size: 100, contentType: 'text/plain; charset=utf-8' }, text: 'ignored' }, ORIGINS);
  assert.equal(file.kind, 'file', 'the attachment wins');
  assert.equal(file.kind === 'file' ? file.url.href : '', CDN);
  assert.equal(explainRequest({ attachment: { name: 'ssh.log', url: CDN.replace('cdn.discordapp.com', 'media.discordapp.net') } }, ORIGINS).kind, 'file');
  for (const url of ['https://cdn.discordapp.com.evil.example/a/ssh.log', 'http://cdn.discordapp.com/a/ssh.log', 'https://169.254.169.254/ssh.log', 'http://127.0.0.1:9998/ssh.log']) {
    const r = explainRequest({ attachment: { name: 'ssh.log', url, contentType: 'text/plain' } }, ORIGINS);
    assert.equal(r.kind, 'refused', url);
  }
  const big = explainRequest({ attachment: { name: 'ssh.log', url: CDN, size: 1024 * 1024 + 1, contentType: 'text/plain' } }, ORIGINS);
  assert.match(big.kind === 'refused' ? big.reason : '', /at most 1\.0 MiB/);
  const image = explainRequest({ attachment: { name: 'a.png', url: CDN, size: 10, contentType: 'image/png' } }, ORIGINS);
  assert.match(image.kind === 'refused' ? image.reason : '', /not a text file/);
});

function assertEmbedOk(embed: JsonObject): void {
  assert.deepEqual(messageProblems({ embeds: [embed] }), []);
  for (const s of strings(embed)) assert.deepEqual(liveMarkup(s), [], s);
}

test('every recorded log renders within Discord\'s limits, with no live markup', () => {
  const names = readdirSync(new URL('../../../test/fixtures/openssh-verbose/', import.meta.url)).filter((f) => f.endsWith('.json'));
  for (const f of names) assertEmbedOk(renderLogExplanation(explainLog(fixtureLog(f.replace(/\.json$/, ''))), { kind: 'paste' }) as unknown as JsonObject);
});

test('a pathological log and a hostile one still fit and stay inert', () => {
  const lines = [fixtureLog('too-many-keys-vv')];
  for (let i = 0; i < 3000; i++) lines.push(`debug1: Offering public key: /home/u/.ssh/id_${i} ${'A'.repeat(400)} @everyone **x**`);
  lines.push(`Received disconnect from 10.0.0.1 port 22:2: Too many authentication failures ${'<@123456789012345678> '.repeat(2000)}`);
  assertEmbedOk(renderLogExplanation(explainLog(lines.join('\n')), { kind: 'file', name: `${'x'.repeat(500)}.log` }) as unknown as JsonObject);
  assertEmbedOk(renderLogExplanation(explainLog(hostileLog()), { kind: 'file', name: '@everyone [x](https://evil.example).log' }) as unknown as JsonObject);
  for (const content of [renderLogRefusal('@here **x**.log', 'it is on https://evil.example'), renderExplainUsage('nothing to explain')]) {
    assert.ok(content.length <= 2000);
    assert.deepEqual(liveMarkup(content), [], content);
  }
});
