// Parsing and validating what a person typed as the target. Everything that reaches a
// child process or a socket passes through here first, so the rules are strict: a target
// can never look like an option, carry shell or control characters, or smuggle in an
// address form that getaddrinfo would read differently from us (`127.1`, `0x7f.1`).
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { SshcheckError } from './errors.js';

export interface Target {
  /** What the person typed, for display. */
  input: string;
  /** Host name (lower-cased, no trailing dot) or IP literal (IPv6 without brackets). */
  host: string;
  kind: 'name' | 'ipv4' | 'ipv6';
  port: number;
  user: string;
}

export const DEFAULT_PORT = 22;
export const DEFAULT_USER = 'sshcheck';
const MAX_INPUT = 320;
const MAX_NAME = 253;
const MAX_LABEL = 63;
// A login name: a POSIX-style name, optionally followed by `@domain` parts, as directory-backed
// logins are (`alice@corp.example`, sssd/AD). In a target the last `@` separates the user from
// the host, as ssh(1) does (strrchr): `alice@corp.example@db-3` is that user on db-3.
const USER_RE = /^(?=.{1,64}$)[A-Za-z_][A-Za-z0-9._-]{0,31}(?:@[A-Za-z0-9][A-Za-z0-9._-]*)*$/;
const LABEL_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;
const ALLOWED_CHARS = /^[A-Za-z0-9._:@[\]-]*$/;

export interface TargetOverrides {
  port?: number | string;
  user?: string;
  defaultUser?: string;
}

/** Shows a character so that a person can see it even if it is invisible or a control. */
function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (cp < 0x20 || cp === 0x7f) return `a control character (${hex})`;
  if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp === 0x200e || cp === 0x200f) {
    return `a bidirectional-text control (${hex})`;
  }
  if (ch === ' ' || /\s/u.test(ch)) return `whitespace (${hex})`;
  return `"${ch}" (${hex})`;
}

export function parsePort(value: number | string, what = 'port'): number {
  const text = String(value);
  if (!/^[0-9]{1,5}$/.test(text)) {
    throw new SshcheckError('E_TARGET_PORT', `invalid ${what} "${printable(text)}": use a number from 1 to 65535`);
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new SshcheckError('E_TARGET_PORT', `invalid ${what} ${port}: use a number from 1 to 65535`);
  }
  return port;
}

export function parseUser(value: string): string {
  if (!USER_RE.test(value)) {
    throw new SshcheckError(
      'E_TARGET_USER',
      `invalid user name "${printable(value)}": use letters, digits, ".", "_" or "-", starting with a letter or "_", at most 32 characters (then @domain parts, e.g. alice@corp.example; 64 in all)`,
    );
  }
  return value;
}

/** Makes untrusted text safe to quote in an error message: no controls, bounded. */
export function printable(text: string, max = 80): string {
  const cleaned = Array.from(text)
    .map((ch) => {
      const cp = ch.codePointAt(0) ?? 0;
      if (cp < 0x20 || cp === 0x7f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
        return `\\u{${cp.toString(16)}}`;
      }
      return ch;
    })
    .join('');
  return cleaned.length > max ? `${cleaned.slice(0, max)}…` : cleaned;
}

function validateHostName(name: string): string {
  const host = name.endsWith('.') ? name.slice(0, -1) : name;
  if (host.length === 0) throw new SshcheckError('E_TARGET_EMPTY', 'no host given: sshcheck [user@]host[:port]');
  if (host.length > MAX_NAME) {
    throw new SshcheckError('E_TARGET_LENGTH', `host name is ${host.length} characters long; DNS allows at most ${MAX_NAME}`);
  }
  const labels = host.split('.');
  for (const label of labels) {
    if (label.length === 0) throw new SshcheckError('E_TARGET_LABEL', `host name "${printable(name)}" has an empty label (two dots in a row)`);
    if (label.length > MAX_LABEL) {
      throw new SshcheckError('E_TARGET_LENGTH', `label "${printable(label, 20)}" is ${label.length} characters long; DNS allows at most ${MAX_LABEL}`);
    }
    if (!LABEL_RE.test(label)) {
      throw new SshcheckError('E_TARGET_LABEL', `label "${printable(label)}" must start and end with a letter or digit (hyphens only inside)`);
    }
  }
  // getaddrinfo reads "127.1", "0x7f.1" or "2130706433" as IPv4 addresses; a name whose last
  // label is numeric is either a canonical dotted quad or refused, so we and ssh agree.
  const last = labels[labels.length - 1] ?? '';
  if (/^(?:[0-9]+|0x[0-9a-f]*)$/i.test(last)) {
    throw new SshcheckError(
      'E_TARGET_NUMERIC',
      `"${printable(name)}" is neither a host name nor a dotted-quad IPv4 address (write IPv4 as four decimal numbers, e.g. 10.0.0.5)`,
    );
  }
  return host.toLowerCase();
}

function splitUser(rest: string): { user: string | undefined; hostPort: string } {
  const at = rest.lastIndexOf('@');
  if (at === -1) return { user: undefined, hostPort: rest };
  return { user: rest.slice(0, at), hostPort: rest.slice(at + 1) };
}

function splitHostPort(hostPort: string): { host: string; port: string | undefined; bracketed: boolean } {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close === -1) throw new SshcheckError('E_TARGET_IPV6', 'unclosed "[" : write IPv6 addresses as [2001:db8::1] or [2001:db8::1]:22');
    const host = hostPort.slice(1, close);
    const after = hostPort.slice(close + 1);
    if (after === '') return { host, port: undefined, bracketed: true };
    if (!after.startsWith(':')) throw new SshcheckError('E_TARGET_IPV6', `unexpected "${printable(after)}" after "]": write [address]:port`);
    return { host, port: after.slice(1), bracketed: true };
  }
  const colons = hostPort.split(':').length - 1;
  if (colons === 0) return { host: hostPort, port: undefined, bracketed: false };
  if (colons === 1) {
    const [host = '', port = ''] = hostPort.split(':');
    return { host, port, bracketed: false };
  }
  // Several colons and no brackets: only a bare IPv6 literal, which cannot carry a port. When
  // its last group could be a port after an address of its own (::1:2222 is ::1 port 2222,
  // or the address ::0.1.34.34), guessing would probe the wrong machine: refuse.
  const last = hostPort.lastIndexOf(':');
  const head = hostPort.slice(0, last);
  const tail = hostPort.slice(last + 1);
  if (/^[0-9]{1,5}$/.test(tail) && isIPv6(head) && isIPv6(hostPort)) {
    throw new SshcheckError(
      'E_TARGET_IPV6',
      `"${printable(hostPort)}" is ambiguous: write [${printable(head)}]:${tail} for a port, or [${printable(hostPort)}] for the address`,
    );
  }
  return { host: hostPort, port: undefined, bracketed: false };
}

/**
 * Parses `[user@]host[:port]` (IPv6 as `[addr]:port`). Throws SshcheckError with a message
 * that says what was wrong and what is accepted; never returns a target that could be
 * mistaken for an option by a child process.
 */
export function parseTarget(input: string, overrides: TargetOverrides = {}): Target {
  const raw = input;
  if (raw.length === 0 || raw.trim().length === 0) {
    throw new SshcheckError('E_TARGET_EMPTY', 'no host given: sshcheck [user@]host[:port]');
  }
  if (raw.length > MAX_INPUT) {
    throw new SshcheckError('E_TARGET_LENGTH', `target is ${raw.length} characters long; at most ${MAX_INPUT} are accepted`);
  }
  if (raw.startsWith('-')) {
    throw new SshcheckError('E_TARGET_OPTION', `target "${printable(raw)}" starts with "-": a target can never be an option`);
  }
  for (const ch of raw) {
    if (!ALLOWED_CHARS.test(ch)) {
      const cp = ch.codePointAt(0) ?? 0;
      if (cp > 0x7f && !/[\p{Cc}\p{Cf}\s]/u.test(ch)) {
        const ascii = domainToASCII(raw.replace(/^.*@/, '').replace(/:[0-9]*$/, ''));
        const hint = ascii ? ` (its ASCII form is "${ascii}"; check it is the name you meant)` : '';
        throw new SshcheckError(
          'E_TARGET_IDN',
          `target contains the non-ASCII character ${describeChar(ch)}: internationalised names are accepted only in their xn-- form${hint}`,
        );
      }
      throw new SshcheckError(
        'E_TARGET_CHARACTER',
        `target contains ${describeChar(ch)}: only letters, digits, ".", "-", "_", ":", "@" and [ ] are accepted`,
      );
    }
  }

  const { user: userPart, hostPort } = splitUser(raw);
  const { host: hostPart, port: portPart, bracketed } = splitHostPort(hostPort);

  let kind: Target['kind'];
  let host: string;
  if (bracketed || hostPart.includes(':')) {
    if (!isIPv6(hostPart)) throw new SshcheckError('E_TARGET_IPV6', `"${printable(hostPart)}" is not a valid IPv6 address`);
    kind = 'ipv6';
    host = hostPart.toLowerCase();
  } else if (isIPv4(hostPart)) {
    kind = 'ipv4';
    host = hostPart;
  } else {
    kind = 'name';
    host = validateHostName(hostPart);
  }
  if (host.startsWith('-')) throw new SshcheckError('E_TARGET_OPTION', 'a host can never start with "-"');

  let port = DEFAULT_PORT;
  if (portPart !== undefined) port = parsePort(portPart);
  if (overrides.port !== undefined) {
    const override = parsePort(overrides.port);
    if (portPart !== undefined && override !== port) {
      throw new SshcheckError('E_TARGET_CONFLICT', `port given twice (${port} in the target, ${override} as an option): give it once`);
    }
    port = override;
  }

  let user = overrides.defaultUser !== undefined ? parseUser(overrides.defaultUser) : DEFAULT_USER;
  if (userPart !== undefined) {
    if (userPart.length === 0) throw new SshcheckError('E_TARGET_USER', 'empty user name before "@"');
    user = parseUser(userPart);
  }
  if (overrides.user !== undefined) {
    const override = parseUser(overrides.user);
    if (userPart !== undefined && override !== user) {
      throw new SshcheckError('E_TARGET_CONFLICT', `user given twice ("${user}" in the target, "${override}" as an option): give it once`);
    }
    user = override;
  }

  return { input: raw, host, kind, port, user };
}

/** How the target is written back for people and for ssh: IPv6 in brackets when a port follows. */
export function formatTarget(target: Pick<Target, 'host' | 'kind' | 'port'>, withPort = target.port !== DEFAULT_PORT): string {
  const host = target.kind === 'ipv6' && withPort ? `[${target.host}]` : target.host;
  return withPort ? `${host}:${target.port}` : host;
}

/** The target as audit rows and chat messages name it: always with the user and the port. */
export function targetLabel(target: Pick<Target, 'host' | 'kind' | 'port' | 'user'>): string {
  return `${target.user}@${formatTarget(target, true)}`;
}
