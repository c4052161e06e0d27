// The pure parts around the interaction: the command definition, option validation (the
// CLI's rules), where a thread can be used, and how Discord errors are classified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationCommandOptionType, ChannelType, DiscordAPIError, PermissionFlagsBits } from 'discord.js';
import { commandDefinition, parseCommandOptions } from '../../adapters/discord/command.js';
import { describeError, isChannelRefusal, isTokenGone } from '../../adapters/discord/errors.js';
import { invitePermissions, whyNoThread } from '../../adapters/discord/thread-policy.js';
import type { ThreadContext } from '../../adapters/discord/thread-policy.js';
import { isSshcheckError } from '../../src/errors.js';

test('commandDefinition: /sshcheck with target (required string), port (integer 1-65535), user, via, from, history', () => {
  const def = commandDefinition();
  assert.equal(def.name, 'sshcheck');
  assert.deepEqual(
    def.options?.map((o) => ({ name: o.name, type: o.type, required: o.required ?? false })),
    [
      { name: 'target', type: ApplicationCommandOptionType.String, required: true },
      { name: 'port', type: ApplicationCommandOptionType.Integer, required: false },
      { name: 'user', type: ApplicationCommandOptionType.String, required: false },
      { name: 'via', type: ApplicationCommandOptionType.String, required: false },
      { name: 'from', type: ApplicationCommandOptionType.String, required: false },
      { name: 'history', type: ApplicationCommandOptionType.Boolean, required: false },
      { name: 'watch', type: ApplicationCommandOptionType.String, required: false },
    ],
  );
  const port = def.options?.find((o) => o.name === 'port');
  assert.ok(port && 'min_value' in port);
  assert.equal(port.min_value, 1);
  assert.equal(port.max_value, 65535);
  assert.deepEqual(def.contexts, [0, 1]);
  assert.deepEqual(def.integration_types, [0]);
});

test('parseCommandOptions: the CLI grammar, typed options override nothing silently', () => {
  const check = parseCommandOptions({ target: 'ops@db-3.example.com:2222' });
  assert.ok(check.kind === 'check');
  assert.deepEqual([check.target.user, check.target.host, check.target.port], ['ops', 'db-3.example.com', 2222]);
  const typed = parseCommandOptions({ target: '10.0.0.5', port: 2200, user: 'deploy' });
  assert.ok(typed.kind === 'check');
  assert.deepEqual([typed.target.user, typed.target.host, typed.target.port], ['deploy', '10.0.0.5', 2200]);
  assert.deepEqual(parseCommandOptions({ target: 'help' }), { kind: 'help' });
});

test('parseCommandOptions: the same refusals as the CLI, as SshcheckErrors', () => {
  for (const bad of [{ target: '-oProxyCommand=touch /tmp/x' }, { target: 'db-3;id' }, { target: '127.1' }, { target: 'db-3', port: 0 }, { target: 'db-3', port: 70000 }, { target: 'db-3', user: '-x' }, { target: '' }]) {
    assert.throws(() => parseCommandOptions(bad), (err: unknown) => isSshcheckError(err), JSON.stringify(bad));
  }
});

const guildText: ThreadContext = { inGuild: true, channelType: ChannelType.GuildText, channelKnown: true, appPermissions: invitePermissions() };

test('whyNoThread: a text channel with the permissions gets a thread', () => {
  assert.equal(whyNoThread(guildText), undefined);
  assert.equal(whyNoThread({ ...guildText, channelType: ChannelType.GuildAnnouncement }), undefined);
});

test('whyNoThread: DMs, channel types without threads, missing permissions say why', () => {
  assert.match(whyNoThread({ ...guildText, inGuild: false, channelType: ChannelType.DM }) ?? '', /direct messages/);
  assert.match(whyNoThread({ ...guildText, channelType: ChannelType.GuildVoice }) ?? '', /this kind of channel has no threads/);
  assert.match(whyNoThread({ ...guildText, channelType: ChannelType.PublicThread }) ?? '', /used inside a thread/);
  assert.match(whyNoThread({ ...guildText, channelKnown: false }) ?? '', /cannot see this channel/);
  const without = invitePermissions() & ~PermissionFlagsBits.CreatePublicThreads & ~PermissionFlagsBits.EmbedLinks;
  assert.equal(whyNoThread({ ...guildText, appPermissions: without }), 'the bot lacks the permissions Create Public Threads, Embed Links in this channel');
});

test('invitePermissions: View Channel, Send Messages, Create Public Threads, Send Messages in Threads, Embed Links', () => {
  assert.equal(invitePermissions(), 309237664768n);
});

function apiError(status: number, code: number, message: string): DiscordAPIError {
  return new DiscordAPIError({ code, message }, code, status, 'PATCH', 'https://discord.com/api/v10/webhooks/1/SECRET-INTERACTION-TOKEN/messages/@original', { body: undefined, files: undefined });
}

test('errors: an expired interaction token, a refusing channel, and descriptions without the URL', () => {
  assert.ok(isTokenGone(apiError(404, 10015, 'Unknown Webhook')));
  assert.ok(isTokenGone(apiError(404, 10062, 'Unknown interaction')));
  assert.ok(!isTokenGone(apiError(403, 50013, 'Missing Permissions')));
  assert.ok(isChannelRefusal(apiError(403, 50013, 'Missing Permissions')));
  assert.ok(isChannelRefusal(apiError(400, 50024, 'Cannot execute action on this channel type')));
  assert.ok(!isChannelRefusal(apiError(500, 0, 'Internal Server Error')));
  const text = describeError(apiError(404, 10015, 'Unknown Webhook'));
  assert.equal(text, 'Unknown Webhook (Discord error 10015, HTTP 404)');
  assert.doesNotMatch(text, /SECRET/);
  assert.equal(describeError(new Error('boom SECRET-INTERACTION-TOKEN'), ['SECRET-INTERACTION-TOKEN']), 'boom [redacted]');
});

test('parseCommandOptions: via is checked against the configured bastions, from must be an IP address', () => {
  const c = parseCommandOptions({ target: 'db-3', via: 'EU-1', from: '203.0.113.7' }, ['eu-1']);
  assert.ok(c.kind === 'check' && c.via === 'eu-1' && c.from === '203.0.113.7');
  assert.throws(() => parseCommandOptions({ target: 'db-3', via: 'us-9' }, ['eu-1']), /unknown bastion "us-9"/);
  assert.throws(() => parseCommandOptions({ target: 'db-3', from: 'me.example' }), /"from" takes your IP address/);
});
