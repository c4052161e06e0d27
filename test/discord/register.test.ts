// `sshcheck discord register [--guild <id>]` against the fake REST API: a bulk overwrite of
// both commands (/sshcheck and /sshcheck-explain), globally or for one guild, that changes
// nothing when run again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { registerCommands } from '../../adapters/discord/index.js';
import { runDiscordRegister } from '../../src/cli/bot.js';
import { FakeDiscord } from './fake-discord.js';
import type { JsonObject } from './fake-discord.js';

let fake: FakeDiscord;
before(async () => {
  fake = new FakeDiscord();
  await fake.start();
});
after(() => fake.stop());

const config = (): { token: string; applicationId: string; apiUrl: string } => ({ token: fake.token, applicationId: fake.applicationId, apiUrl: fake.apiUrl });

test('global registration: one PUT with the bot token, /sshcheck and /sshcheck-explain with typed options, idempotent', async () => {
  const first = await registerCommands(config(), {});
  const command = fake.commands.global[0];
  const explain = fake.commands.global[1];
  const id = command?.id as string;
  assert.equal(fake.commands.global.length, 2);
  assert.equal(command?.name, 'sshcheck');
  assert.equal(explain?.name, 'sshcheck-explain');
  assert.match(
    first,
    new RegExp(`^registered /sshcheck \\(command ${id}, version \\d+\\) and /sshcheck-explain \\(command ${explain?.id as string}, version \\d+\\) globally for application ${fake.applicationId}$`),
  );
  // The log as an attachment or as text; neither is required by Discord (one of them is, at run time).
  assert.deepEqual(
    (explain?.options as JsonObject[]).map((o) => [o.name, o.type, o.required ?? false]),
    [
      ['log', 11, false],
      ['text', 3, false],
    ],
  );
  assert.equal((explain?.options as JsonObject[])[1]?.max_length, 6000);
  assert.deepEqual(explain?.contexts, command?.contexts, 'usable wherever /sshcheck is, threads included');
  const options = command?.options as JsonObject[];
  assert.deepEqual(
    options.map((o) => [o.name, o.type, o.required ?? false]),
    [
      ['target', 3, true],
      ['port', 4, false],
      ['user', 3, false],
      ['via', 3, false],
      ['from', 3, false],
      ['history', 5, false],
      ['watch', 3, false],
    ],
  );
  assert.equal(options[1]?.min_value, 1);
  assert.equal(options[1]?.max_value, 65535);

  const second = await registerCommands(config(), {});
  assert.equal(second, first, 'same ids, same versions: nothing changed');
  assert.equal(fake.commands.global.length, 2);
  const puts = fake.calls.filter((c) => c.method === 'PUT' && c.path === `/applications/${fake.applicationId}/commands`);
  assert.equal(puts.length, 2);
  assert.ok(puts.every((c) => c.auth === 'bot' && Array.isArray(c.body) && c.body.length === 2));
});

test('guild registration: the guild route, idempotent, the global set untouched', async () => {
  const before = JSON.stringify(fake.commands.global);
  const first = await registerCommands(config(), { guildId: fake.guildId });
  const second = await registerCommands(config(), { guildId: fake.guildId });
  assert.equal(second, first);
  assert.match(first, new RegExp(`in guild ${fake.guildId} for application`));
  assert.deepEqual(
    fake.commands.guild.get(fake.guildId)?.map((c) => c.name),
    ['sshcheck', 'sshcheck-explain'],
  );
  assert.equal(JSON.stringify(fake.commands.global), before);
  assert.equal(fake.calls.filter((c) => c.method === 'PUT' && c.path === `/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`).length, 2);
});

test('a refused token or an unknown guild: an error that says what to fix, without the token', async () => {
  const wrong = `${fake.token.slice(0, -4)}AAAA`;
  await assert.rejects(registerCommands({ ...config(), token: wrong }, {}), (err: Error) => {
    assert.match(err.message, /401.*DISCORD_TOKEN was refused/);
    assert.ok(!err.message.includes(wrong));
    return true;
  });
  await assert.rejects(registerCommands(config(), { guildId: '123456789012345678' }), /not in guild 123456789012345678; invite it first/);
});

test('sshcheck discord register --guild <id>: the CLI entry point prints the summary', async () => {
  let out = '';
  let err = '';
  const env = { DISCORD_TOKEN: fake.token, DISCORD_APPLICATION_ID: fake.applicationId, DISCORD_API_URL: fake.apiUrl };
  const code = await runDiscordRegister(['--guild', fake.guildId], env, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
  assert.equal(err, '');
  assert.equal(code, 0);
  assert.match(out, /^registered \/sshcheck \(command \d+, version \d+\) and \/sshcheck-explain \(command \d+, version \d+\) in guild \d+ for application \d+\n$/);
});
