// The watch commands of the chat grammar:
//   /sshcheck watch <target> [port] [user] [every 30s] [for 2h] [via <bastion>] [from <IP>]
//   /sshcheck unwatch <target> [port]
// "every" and "for" end the command, in either order, before or after via/from; the words
// before them are a check as /sshcheck <target> reads them (grammar.ts). Pure: text in, a
// validated command (undefined when the text is not a watch command) or an SshcheckError.
import { SshcheckError } from '../errors.js';
import type { Target } from '../target.js';
import { parsePort, parseTarget, printable } from '../target.js';
import { parseChatCommand, unwrapSlackLinks } from './grammar.js';
import type { WatchLimits } from './watch.js';
import { spanText, WATCH_LIMITS } from './watch.js';

export type WatchCommand =
  | { kind: 'watch'; target: Target; via?: string; from?: string; everyMs: number; forMs: number }
  /** Stops the watches of this host (and port) in the channel. */
  | { kind: 'unwatch'; host: string; port: number };

export const WATCH_USAGE = [
  '/sshcheck watch <target> [port] [user] [every 30s] [for 2h] [via <bastion>]',
  '   checks the host again on a schedule and says in its thread when the diagnosis changes',
  `   (every ${spanText(WATCH_LIMITS.defaultEveryMs)} for ${spanText(WATCH_LIMITS.defaultForMs)} unless told; every ${spanText(WATCH_LIMITS.minEveryMs)} at the most, for ${spanText(WATCH_LIMITS.maxForMs)} at the longest)`,
  '/sshcheck unwatch <target> [port]   stops it (so does the Stop button on its message)',
].join('\n');

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, min: 60_000, s: 1000 };

/** "30s", "5m", "2h", "1h30m": a span in milliseconds. A bare number is refused (seconds or minutes?). */
export function parseSpan(text: string, what: string): number {
  const parts = /^(?:(\d{1,3})h)?(?:(\d{1,4})(?:m|min))?(?:(\d{1,6})s)?$/i.exec(text);
  if (!parts || text.length === 0 || (parts[1] === undefined && parts[2] === undefined && parts[3] === undefined)) {
    throw new SshcheckError('E_USAGE', `"${what}" takes a time like 30s, 5m, 2h or 1h30m ("${printable(text, 20)}" is not one)`);
  }
  return Number(parts[1] ?? 0) * (UNIT_MS['h'] ?? 0) + Number(parts[2] ?? 0) * (UNIT_MS['m'] ?? 0) + Number(parts[3] ?? 0) * (UNIT_MS['s'] ?? 0);
}

/** The interval and duration, checked against the limits: too short or too long is refused, never bent. */
export function watchSpans(every: number | undefined, forMs: number | undefined, limits: WatchLimits): { everyMs: number; forMs: number } {
  const everyMs = every ?? limits.defaultEveryMs;
  // Without "for": the default, but never past the maximum (a lowered one in the lab tests).
  const duration = forMs ?? Math.min(limits.maxForMs, Math.max(limits.defaultForMs, everyMs));
  if (everyMs < limits.minEveryMs) throw new SshcheckError('E_USAGE', `a watch checks at most once every ${spanText(limits.minEveryMs)} (asked: every ${spanText(everyMs)})`);
  if (duration > limits.maxForMs) throw new SshcheckError('E_USAGE', `a watch runs for ${spanText(limits.maxForMs)} at the longest (asked: for ${spanText(duration)})`);
  if (duration < everyMs) throw new SshcheckError('E_USAGE', `a watch for ${spanText(duration)} every ${spanText(everyMs)} would check only once: /sshcheck <target> does that`);
  return { everyMs, forMs: duration };
}

/** The watch or unwatch command in `text`, or undefined when its first word is neither. */
export function parseWatchCommand(text: string, options: { bastions?: readonly string[]; limits?: WatchLimits; defaultUser?: string } = {}): WatchCommand | undefined {
  const words = unwrapSlackLinks(text).trim().split(/\s+/).filter((w) => w.length > 0);
  const verb = words[0]?.toLowerCase();
  if (verb !== 'watch' && verb !== 'unwatch') return undefined;
  // A host literally named "watch" is checked as "watch." (the trailing dot is dropped).
  if (words.length === 1) throw new SshcheckError('E_USAGE', `"${verb}" needs a host: /sshcheck ${verb} db-3 (to check a host named ${verb}, write ${verb}.)`);
  const rest = words.slice(1);
  if (verb === 'unwatch') {
    if (rest.length > 2) throw new SshcheckError('E_USAGE', `"unwatch" takes a host and maybe a port ("${printable(rest.slice(2).join(' '), 40)}" is more): /sshcheck unwatch db-3`);
    const target = parseTarget(rest[0] ?? '', rest[1] !== undefined ? { port: parsePort(rest[1], 'port (the second word)') } : {});
    return { kind: 'unwatch', host: target.host, port: target.port };
  }
  let every: number | undefined;
  let forMs: number | undefined;
  // Pull "every <span>" and "for <span>" out wherever they stand after the target.
  for (let i = 1; i < rest.length - 1; ) {
    const word = rest[i]?.toLowerCase();
    if (word !== 'every' && word !== 'for') {
      i += 1;
      continue;
    }
    const span = parseSpan(rest[i + 1] ?? '', word);
    if (word === 'every') {
      if (every !== undefined) throw new SshcheckError('E_USAGE', '"every" given twice');
      every = span;
    } else {
      if (forMs !== undefined) throw new SshcheckError('E_USAGE', '"for" given twice');
      forMs = span;
    }
    rest.splice(i, 2);
  }
  const last = rest[rest.length - 1]?.toLowerCase();
  if (rest.length > 1 && (last === 'every' || last === 'for')) throw new SshcheckError('E_USAGE', `"${last}" needs a time: /sshcheck watch db-3 every 30s for 2h`);
  const check = parseChatCommand(rest.join(' '), { ...(options.bastions !== undefined ? { bastions: options.bastions } : {}), ...(options.defaultUser !== undefined ? { defaultUser: options.defaultUser } : {}) });
  if (check.kind !== 'check') throw new SshcheckError('E_USAGE', `"watch" takes a host to check: /sshcheck watch db-3 every 30s for 2h`);
  const spans = watchSpans(every, forMs, options.limits ?? WATCH_LIMITS);
  return { kind: 'watch', target: check.target, ...(check.via !== undefined ? { via: check.via } : {}), ...(check.from !== undefined ? { from: check.from } : {}), ...spans };
}
