// `sshcheck discord register [--guild <id>]`: uploads /sshcheck and /sshcheck-explain with a
// bulk overwrite (PUT), so running it again changes nothing and an older definition is
// replaced, not duplicated. A guild registration is visible at once in that guild; a global
// one in every guild the bot is in. The overwrite replaces every other command of this
// application in that scope.
import { DiscordAPIError, REST, Routes } from 'discord.js';
import type { RESTPutAPIApplicationCommandsResult } from 'discord.js';
import type { DiscordConfig } from '../../src/chat/bot-config.js';
import { restOptions } from './client.js';
import { COMMAND_NAME, commandDefinition } from './command.js';
import { describeError } from './errors.js';
import { EXPLAIN_COMMAND_NAME, explainCommandDefinition } from './explain-command.js';

function hint(err: unknown, guildId: string | undefined): string {
  if (!(err instanceof DiscordAPIError)) return '';
  if (err.status === 401) return ': DISCORD_TOKEN was refused; use the bot token from the Bot page of the application';
  if (err.status === 403 && guildId !== undefined) return `: the application is not in guild ${guildId}; invite it first (docs/discord.md)`;
  if (err.status === 403 || err.status === 404) return ': check DISCORD_APPLICATION_ID (the application id from its General Information page)';
  return '';
}

export async function registerCommands(config: DiscordConfig, options: { guildId?: string }): Promise<string> {
  const rest = new REST(restOptions(config)).setToken(config.token);
  const route = options.guildId !== undefined ? Routes.applicationGuildCommands(config.applicationId, options.guildId) : Routes.applicationCommands(config.applicationId);
  let registered: RESTPutAPIApplicationCommandsResult;
  try {
    registered = (await rest.put(route, { body: [commandDefinition(), explainCommandDefinition()] })) as RESTPutAPIApplicationCommandsResult;
  } catch (err) {
    // No cause attached: the REST error carries the request URL and body, and a cause would
    // be printed with them; the message says everything that is needed.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`registering /${COMMAND_NAME} and /${EXPLAIN_COMMAND_NAME} failed: ${describeError(err, [config.token])}${hint(err, options.guildId)}`);
  }
  const listed = [COMMAND_NAME, EXPLAIN_COMMAND_NAME].map((name) => {
    const command = registered.find((c) => c.name === name);
    if (command === undefined) throw new Error(`Discord accepted the registration but did not list /${name} in its answer`);
    return `/${name} (command ${command.id}, version ${command.version})`;
  });
  const where = options.guildId !== undefined ? `in guild ${options.guildId}` : 'globally';
  return `registered ${listed.join(' and ')} ${where} for application ${config.applicationId}`;
}
