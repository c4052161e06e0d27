// The Re-run button on a check's or a fleet's parent message, the same on every platform: the
// button carries the command as text (a check: target, port, user, via, from; a fleet: its host
// patterns, port and user) and a click hands that text back. The text comes back from the
// platform and anyone able to craft a click can choose it, so it is untrusted input: it is
// parsed with the chat grammars like a typed command, must be a check or a fleet, and must be
// exactly the canonical form this module writes (nothing added, nothing garbled). Pure.
import type { Target } from '../target.js';
import { isSshcheckError } from '../errors.js';
import type { FleetCommand } from './fleet-grammar.js';
import { isFleetText, parseFleetCommand } from './fleet-grammar.js';
import { parseChatCommand } from './grammar.js';

/** Slack's action_id of the button; Discord's custom_id starts with it. */
export const RERUN_ACTION = 'sshcheck_rerun';
/** Discord's custom_id is at most this long; Slack's button value allows 2000. */
export const DISCORD_CUSTOM_ID_MAX = 100;

export interface RerunRequest {
  target: Target;
  via?: string;
  from?: string;
}

export type RerunDecision = { kind: 'check'; target: Target; via?: string; from?: string } | { kind: 'fleet'; fleet: FleetCommand } | { kind: 'refused'; message: string };

const REFUSED = 'This Re-run button is not one sshcheck made, so nothing was checked. Type /sshcheck <target> to check the host.';

/** The command text that checks the same thing again: `host port user [via b] [from a]`. */
export function encodeRerun(request: RerunRequest): string {
  const host = request.target.kind === 'ipv6' ? `[${request.target.host}]` : request.target.host;
  const words = [host, String(request.target.port), request.target.user];
  if (request.via !== undefined) words.push('via', request.via);
  if (request.from !== undefined) words.push('from', request.from);
  return words.join(' ');
}

/** Discord's custom_id for the button, or undefined when the check does not fit in one (no button then). */
export function rerunCustomId(request: RerunRequest): string | undefined {
  return customIdOf(encodeRerun(request));
}

function customIdOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const id = `${RERUN_ACTION}:${value}`;
  return id.length <= DISCORD_CUSTOM_ID_MAX ? id : undefined;
}

/** The hosts a fleet covers, in order, as one comparable string. */
function hostsOf(targets: readonly Target[]): string {
  return targets.map((t) => `${t.user}@${t.host}:${t.port}`).join(' ');
}

/**
 * The command text that checks the same hosts again, so that a port or user given apart from
 * the text (Discord's options) is kept: `patterns port user` when every host shares both, else
 * the patterns alone, else the patterns with `user@` when every host shares the user.
 * Undefined when no such text names exactly these hosts (no button then): each candidate is
 * parsed back here and must give the same hosts, in the same order.
 */
export function encodeFleetRerun(fleet: Pick<FleetCommand, 'patterns' | 'targets'>): string | undefined {
  const first = fleet.targets[0];
  if (first === undefined || fleet.patterns.length === 0) return undefined;
  const hosts = fleet.patterns.join(',');
  const sharedUser = fleet.targets.every((t) => t.user === first.user);
  const candidates: string[] = [];
  if (sharedUser && fleet.targets.every((t) => t.port === first.port)) candidates.push(`${hosts} ${first.port} ${first.user}`);
  candidates.push(hosts);
  if (sharedUser) candidates.push(fleet.patterns.map((p) => (p.includes('@') ? p : `${first.user}@${p}`)).join(','));
  const want = hostsOf(fleet.targets);
  for (const text of candidates) {
    try {
      const back = parseFleetCommand(text);
      if (back !== undefined && hostsOf(back.targets) === want) return text;
    } catch (err) {
      if (!isSshcheckError(err)) throw err;
    }
  }
  return undefined;
}

/** Discord's custom_id for a fleet's button, or undefined when it does not fit in one. */
export function fleetRerunCustomId(fleet: Pick<FleetCommand, 'patterns' | 'targets'>): string | undefined {
  return customIdOf(encodeFleetRerun(fleet));
}

function decodeFleetRerun(value: string): RerunDecision {
  let fleet: FleetCommand | undefined;
  try {
    fleet = parseFleetCommand(value);
  } catch (err) {
    if (!isSshcheckError(err)) throw err;
    return { kind: 'refused', message: REFUSED };
  }
  if (fleet === undefined || encodeFleetRerun(fleet) !== value) return { kind: 'refused', message: REFUSED };
  return { kind: 'fleet', fleet };
}

/**
 * A click's value back into a check or a fleet, or a refusal. `bastions`: the names `via` may use now (a
 * bastion removed since the button was made is refused like a typed command naming it).
 */
export function decodeRerun(value: unknown, options: { bastions?: readonly string[] } = {}): RerunDecision {
  if (typeof value !== 'string' || value.length === 0 || value.length > 500) return { kind: 'refused', message: REFUSED };
  if (isFleetText(value)) return decodeFleetRerun(value);
  let parsed;
  try {
    parsed = parseChatCommand(value, options.bastions !== undefined ? { bastions: options.bastions } : {});
  } catch (err) {
    if (!isSshcheckError(err)) throw err;
    // A bastion that is no longer configured reads as a typed command naming it would.
    return { kind: 'refused', message: err.message.startsWith('unknown bastion') ? `Nothing was checked: ${err.message}` : REFUSED };
  }
  if (parsed.kind !== 'check') return { kind: 'refused', message: REFUSED };
  const request: RerunRequest = { target: parsed.target, ...(parsed.via !== undefined ? { via: parsed.via } : {}), ...(parsed.from !== undefined ? { from: parsed.from } : {}) };
  if (encodeRerun(request) !== value) return { kind: 'refused', message: REFUSED };
  return { kind: 'check', ...request };
}

/** Discord: the custom_id of a component click back into a check or a fleet, or a refusal. */
export function decodeRerunCustomId(customId: unknown, options: { bastions?: readonly string[] } = {}): RerunDecision {
  const prefix = `${RERUN_ACTION}:`;
  if (typeof customId !== 'string' || !customId.startsWith(prefix) || customId.length > DISCORD_CUSTOM_ID_MAX) return { kind: 'refused', message: REFUSED };
  return decodeRerun(customId.slice(prefix.length), options);
}
