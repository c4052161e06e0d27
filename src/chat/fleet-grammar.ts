// Fleet checks in chat: `/sshcheck db-[1-40]`, `/sshcheck db-1,db-2,db-7 [port] [user]`,
// `/sshcheck 10.0.3.0/28`. A command is a fleet check when its first word holds a range, a
// comma or a CIDR block; everything else is the single-host grammar (grammar.ts), unchanged.
// Every host goes through parseTarget, and the whole command stays within MAX_CHAT_FLEET.
import { SshcheckError } from '../errors.js';
import type { Target } from '../target.js';
import { parsePort, parseUser } from '../target.js';
import { hasRange, isCidrTarget } from '../fleet/range.js';
import { fleetTargets } from '../fleet/targets.js';
import { unwrapSlackLinks } from './grammar.js';
import { fleetLabel } from './fleet-views.js';

/** At most this many hosts per chat command: each one that is not healthy gets a reply. */
export const MAX_CHAT_FLEET = 256;

export interface FleetCommand {
  kind: 'fleet';
  targets: Target[];
  /** How the parent names the hosts (the patterns as typed, bounded). */
  label: string;
  /** The host patterns as typed, unbounded (the Re-run button writes the command again from them). */
  patterns: string[];
}

/** Hosts as people type them: "db-1, db-2" is one list (Discord's target option, Slack text alike). */
function words(text: string): string[] {
  return unwrapSlackLinks(text).trim().replace(/\s*,\s*/g, ',').split(/\s+/);
}

/** True when the text asks for several hosts (its first word has a range, a comma or a CIDR block). */
export function isFleetText(text: string): boolean {
  const first = words(text)[0] ?? '';
  return hasRange(first) || isCidrTarget(first) || (first.includes(',') && first.split(',').filter((p) => p !== '').length > 1);
}

export interface FleetGrammarOptions {
  defaultUser?: string;
  max?: number;
  /** A port given apart from the text (Discord's typed option); a port word in the text wins. */
  port?: number;
  /** A login name given apart from the text (Discord's typed option); a user word in the text wins. */
  user?: string;
}

/**
 * The fleet command in the text, or undefined when it is not one (use parseChatCommand then).
 * Throws an SshcheckError (shown to the person, nothing probed) for a bad host, range or word.
 * The one fleet grammar of every platform.
 */
export function parseFleetCommand(text: string, options: FleetGrammarOptions = {}): FleetCommand | undefined {
  if (text.length > 500 || !isFleetText(text)) return undefined;
  const [first = '', portWord, userWord, ...rest] = words(text);
  if (rest.length > 0) throw new SshcheckError('E_USAGE', 'too many words: /sshcheck <hosts> [port] [user], hosts as db-[1-40], db-1,db-2 or 10.0.3.0/28 (via and from are for a single host)');
  const patterns = first.split(',').filter((p) => p !== '');
  const overrides: { port?: number; user?: string; defaultUser?: string } = {};
  if (options.defaultUser !== undefined) overrides.defaultUser = options.defaultUser;
  const port = portWord ?? options.port;
  const user = userWord ?? options.user;
  if (port !== undefined) overrides.port = parsePort(port, portWord !== undefined ? 'port (the second word)' : 'port option');
  if (user !== undefined) overrides.user = parseUser(user);
  const targets = fleetTargets({ patterns, overrides, max: options.max ?? MAX_CHAT_FLEET });
  return { kind: 'fleet', targets, label: fleetLabel(patterns), patterns };
}
