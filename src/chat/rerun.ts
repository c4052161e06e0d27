// The Re-run button on a check's parent message, the same on every platform: the button carries
// the check as command text (target, port, user, via, from) and a click hands that text back.
// The text comes back from the platform and anyone able to craft a click can choose it, so it
// is untrusted input: it is parsed with the chat grammar like a typed command, must be a single
// check, and must be exactly the canonical form this module writes (nothing added, nothing
// garbled). Pure.
import type { Target } from '../target.js';
import { isSshcheckError } from '../errors.js';
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

export type RerunDecision = { kind: 'check'; target: Target; via?: string; from?: string } | { kind: 'refused'; message: string };

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
  const id = `${RERUN_ACTION}:${encodeRerun(request)}`;
  return id.length <= DISCORD_CUSTOM_ID_MAX ? id : undefined;
}

/**
 * A click's value back into a check, or a refusal. `bastions`: the names `via` may use now (a
 * bastion removed since the button was made is refused like a typed command naming it).
 */
export function decodeRerun(value: unknown, options: { bastions?: readonly string[] } = {}): RerunDecision {
  if (typeof value !== 'string' || value.length === 0 || value.length > 500) return { kind: 'refused', message: REFUSED };
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

/** Discord: the custom_id of a component click back into a check, or a refusal. */
export function decodeRerunCustomId(customId: unknown, options: { bastions?: readonly string[] } = {}): RerunDecision {
  const prefix = `${RERUN_ACTION}:`;
  if (typeof customId !== 'string' || !customId.startsWith(prefix) || customId.length > DISCORD_CUSTOM_ID_MAX) return { kind: 'refused', message: REFUSED };
  return decodeRerun(customId.slice(prefix.length), options);
}
