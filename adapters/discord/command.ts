// The /sshcheck application command: its definition (what `sshcheck discord register`
// uploads) and how an invocation's typed options become a validated Target. Validation is
// the CLI's and Slack's (src/target.ts); Discord's own option checks (required,
// integer range) are a convenience, never trusted on their own.
import {
  ApplicationIntegrationType,
  InteractionContextType,
  SlashCommandBuilder,
} from 'discord.js';
import type { RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import { SshcheckError } from '../../src/errors.js';
import type { Target } from '../../src/target.js';
import { parsePort, parseTarget, parseUser } from '../../src/target.js';
import { parseFrom, parseVia } from '../../src/chat/grammar.js';

export const COMMAND_NAME = 'sshcheck';

export function commandDefinition(): RESTPostAPIChatInputApplicationCommandsJSONBody {
  return (
    new SlashCommandBuilder()
      .setName(COMMAND_NAME)
      .setDescription('Find out why ssh to a host hangs: runs the SSH checklist from the bastion')
      // Installed to a server (the bot must be there to post threads); usable in its
      // channels and in a DM with the bot (there without a thread).
      .setIntegrationTypes(ApplicationIntegrationType.GuildInstall)
      .setContexts(InteractionContextType.Guild, InteractionContextType.BotDM)
      .addStringOption((o) =>
        o
          .setName('target')
          .setDescription('Host name or IP address: db-3, 10.0.0.5, [2001:db8::1], ops@db-3:2222')
          .setRequired(true)
          .setMinLength(1)
          .setMaxLength(320),
      )
      .addIntegerOption((o) => o.setName('port').setDescription('SSH port (default 22)').setMinValue(1).setMaxValue(65535))
      .addStringOption((o) => o.setName('user').setDescription('Login name for the handshake probes (default sshcheck)').setMaxLength(32))
      .addStringOption((o) => o.setName('via').setDescription('Probe from this configured bastion instead of the routed one').setMaxLength(63))
      .addStringOption((o) => o.setName('from').setDescription('Your IP address: also check whether the server bans or refuses it').setMaxLength(45))
      .addBooleanOption((o) => o.setName('history').setDescription('Show the recent runs of the target instead of checking it (only you see them)'))
      .addStringOption((o) => o.setName('watch').setDescription('Check again until it changes: "every 30s for 2h", "on" (every 1 min for 1 h), or "stop"').setMaxLength(40))
      .toJSON()
  );
}

export interface CommandOptions {
  target: string;
  port?: number;
  user?: string;
  via?: string;
  from?: string;
  /** Show the target's recent runs instead of checking it. */
  history?: boolean;
}

export type ParsedCommand = { kind: 'help' } | { kind: 'check'; target: Target; via?: string; from?: string } | { kind: 'history'; target: Target; via?: never; from?: never };

/** Pure: the options as typed, to a target or an SshcheckError whose message the user sees. */
export function parseCommandOptions(options: CommandOptions, bastions?: readonly string[]): ParsedCommand {
  const text = options.target.trim();
  if (/^(help|-h|--help|\?)$/i.test(text)) return { kind: 'help' };
  const overrides: { port?: number; user?: string } = {};
  if (options.port !== undefined) overrides.port = parsePort(options.port, 'port option');
  if (options.user !== undefined) overrides.user = parseUser(options.user);
  if (text.length === 0) throw new SshcheckError('E_TARGET_EMPTY', 'no host given');
  const target = parseTarget(text, overrides);
  if (options.history === true) {
    if (options.via !== undefined || options.from !== undefined) throw new SshcheckError('E_USAGE', 'history shows the runs this bot recorded: leave out via and from');
    return { kind: 'history', target };
  }
  const via = options.via !== undefined ? parseVia(options.via, bastions) : undefined;
  const from = options.from !== undefined ? parseFrom(options.from) : undefined;
  return { kind: 'check', target, ...(via !== undefined ? { via } : {}), ...(from !== undefined ? { from } : {}) };
}
