// The chat command grammar, shared by every platform:
//   /sshcheck <target> [port] [user]      check a host ("db-3", "ops@db-3:2222", "[2001:db8::1]")
//   /sshcheck <target> … via <bastion>    probe from that configured bastion
//   /sshcheck <target> … from <address>   also check whether the target bans or refuses that address
//   /sshcheck history <host>              recent runs of the host ("worked at 10:02, broken since 10:05")
//   /sshcheck help                        explain the grammar
// Pure: text in, a validated command or an SshcheckError whose message is shown to the user.
import { isIP } from 'node:net';
import { SshcheckError } from '../errors.js';
import type { Target } from '../target.js';
import { parsePort, parseTarget, parseUser, printable } from '../target.js';

export type ChatCommand = { kind: 'help' } | { kind: 'check'; target: Target; via?: string; from?: string } | { kind: 'history'; target: Target; via?: never; from?: never };

const MAX_TEXT = 500;

export const CHAT_USAGE = [
  'Usage: /sshcheck <target> [port] [user] [via <bastion>] [from <your IP>]',
  '  <target>  a host name or IP address: db-3, db-3.example.com, 10.0.0.5, [2001:db8::1]',
  '            (user@host:port works too: ops@db-3:2222)',
  '  [port]    the SSH port, when it is not 22',
  '  [user]    the login name for the handshake probes (default sshcheck)',
  '  via <bastion>  probe from this bastion instead of the one the bot picks for the target',
  "  from <your IP>  also check whether the server bans or refuses your address (fail2ban, hosts.deny,",
  '                 firewall rules; needs a diagnostics login on the bastion)',
  '/sshcheck history <target>  shows its recent runs: worked at 10:02, broken since 10:05 (to you only)',
  '/sshcheck watch <target> [every 30s] [for 2h]  checks it again on a schedule; its thread says when the diagnosis changes',
  '/sshcheck unwatch <target>  stops that (so does the Stop button on the watch\'s message)',
  '/sshcheck help  shows this text.',
  'sshcheck probes the host from the bastion, steps through the 10-step SSH checklist in a thread,',
  'and puts the most likely cause in the first message. In a thread, mention the bot instead: @sshcheck db-3',
].join('\n');

/**
 * Slack rewrites some text before it reaches us: "<http://db-3.example.com|db-3.example.com>"
 * for anything link-like, "<mailto:a@b|a@b>". The label is what the person typed.
 */
export function unwrapSlackLinks(text: string): string {
  return text.replace(/<(?:https?:\/\/|mailto:)[^|>]*\|([^>]*)>/g, '$1').replace(/<(?:https?:\/\/)([^|>]*)>/g, '$1');
}

const BASTION_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** The requester's address: an IP literal only (a name would need resolving, and could lie). */
export function parseFrom(text: string): string {
  const bare = text.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) === 0) throw new SshcheckError('E_USAGE', `"from" takes your IP address, e.g. from 203.0.113.7 ("${printable(text, 40)}" is not one)`);
  return bare.toLowerCase();
}

function configured(bastions: readonly string[]): string {
  return bastions.length > 0 ? `the configured bastions are ${bastions.join(', ')}` : 'no bastions are configured: this bot probes from its own machine';
}

/**
 * The bastion named by `via`, checked against the configured ones when they are known.
 * Exported for engines that route, so an unknown name reads the same wherever it is caught.
 */
export function parseVia(name: string, bastions?: readonly string[]): string {
  const via = name.toLowerCase();
  if (!BASTION_NAME.test(via)) throw new SshcheckError('E_USAGE', `"${printable(name, 40)}" is not a bastion name${bastions ? `: ${configured(bastions)}` : ''}`);
  if (bastions && !bastions.includes(via)) throw new SshcheckError('E_USAGE', `unknown bastion "${via}": ${configured(bastions)}`);
  return via;
}

/**
 * `bastions`: the names `via` may use (an engine's `bastions`). When given, an unknown name
 * is a usage error here, before anything is posted; when absent, the engine checks it.
 */
export function parseChatCommand(text: string, options: { defaultUser?: string; bastions?: readonly string[] } = {}): ChatCommand {
  if (text.length > MAX_TEXT) throw new SshcheckError('E_USAGE', `the command is ${text.length} characters long; at most ${MAX_TEXT} are accepted`);
  const words = unwrapSlackLinks(text).trim().split(/\s+/).filter((w) => w.length > 0);
  // "history <host>": the store's view of the host, nothing is probed. A host literally
  // named "history" is checked as "history." (the trailing dot is dropped).
  if (words[0]?.toLowerCase() === 'history') {
    if (words.length === 1) throw new SshcheckError('E_USAGE', '"history" needs a host: /sshcheck history db-3 (to check a host named history, write history.)');
    if (words.length > 2) throw new SshcheckError('E_USAGE', `"history" takes one host, nothing after it ("${printable(words.slice(2).join(' '), 40)}"): /sshcheck history db-3`);
    return { kind: 'history', target: parseTarget(words[1] ?? '', options.defaultUser !== undefined ? { defaultUser: options.defaultUser } : {}) };
  }
  // "via <bastion>" and "from <address>" end the command, in either order; the words
  // before them keep their meaning.
  let via: string | undefined;
  let from: string | undefined;
  for (;;) {
    const last = words[words.length - 1]?.toLowerCase();
    if (words.length >= 2 && last === 'via') {
      throw new SshcheckError('E_USAGE', `"via" needs a bastion name: /sshcheck <target> via <bastion>${options.bastions ? ` (${configured(options.bastions)})` : ''}`);
    }
    if (words.length >= 2 && last === 'from') throw new SshcheckError('E_USAGE', '"from" needs your IP address: /sshcheck <target> from 203.0.113.7');
    const keyword = words[words.length - 2]?.toLowerCase();
    if (words.length < 3 || (keyword !== 'via' && keyword !== 'from')) break;
    const value = words[words.length - 1] ?? '';
    if (keyword === 'via') {
      if (via !== undefined) throw new SshcheckError('E_USAGE', '"via" given twice');
      via = parseVia(value, options.bastions);
    } else {
      if (from !== undefined) throw new SshcheckError('E_USAGE', '"from" given twice');
      from = parseFrom(value);
    }
    words.splice(-2, 2);
  }
  const [first, port, user, ...rest] = words;
  if (first === undefined || /^(help|-h|--help|\?)$/i.test(first)) return { kind: 'help' };
  if (rest.length > 0) {
    throw new SshcheckError('E_USAGE', `too many words after the target ("${printable(rest.join(' '), 40)}"): /sshcheck <target> [port] [user] [via <bastion>]`);
  }
  const overrides: { port?: number; user?: string; defaultUser?: string } = {};
  if (options.defaultUser !== undefined) overrides.defaultUser = options.defaultUser;
  if (port !== undefined) overrides.port = parsePort(port, 'port (the second word)');
  if (user !== undefined) overrides.user = parseUser(user);
  const target = parseTarget(first, overrides);
  return { kind: 'check', target, ...(via !== undefined ? { via } : {}), ...(from !== undefined ? { from } : {}) };
}
