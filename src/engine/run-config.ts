// What a run reads from the bastion's engine config (src/config parses the file): the
// diagnostics logins for the inside view, the probe user, the known_hosts file. The engine
// takes it as plain data, so it imports nothing from the loader above it.
import { isIP } from 'node:net';
import type { Target } from '../target.js';

export interface DiagnosticsLogin {
  /** Host globs ("db-*", "*.corp.example") and CIDRs ("10.0.0.0/8") this login applies to. */
  match: string[];
  user: string;
  /** Private key file (read by ssh, never by sshcheck). */
  key: string;
  /** known_hosts file the target's host key must be in (strict checking). */
  knownHosts: string;
  /** Login port, when it is not the port being diagnosed. */
  port?: number;
  /** Run privileged commands through `sudo -n` (never prompts). */
  sudo: boolean;
  /** sshd's log file, when it is neither in the journal nor in /var/log/auth.log or secure. */
  sshdLog?: string;
}

export interface RunConfig {
  diagnostics: DiagnosticsLogin[];
  /**
   * `probe_user:` an account that exists on the targets, sent in the handshake's `none`
   * request to time the authentication phase. Absent: no user name is sent (see probeUserFor).
   */
  probeUser?: string;
  /** A known_hosts file: a host key that differs from it is `host-key-changed` (`known_hosts:`). */
  knownHosts?: string;
}

function globMatch(glob: string, name: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^]*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function ipToBigInt(address: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(address);
  if (family === 4) return { family, value: address.split('.').reduce((acc, part) => (acc << 8n) + BigInt(part), 0n) };
  if (family !== 6) return undefined;
  const [head = '', tail] = address.toLowerCase().split('::');
  const parse = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return { family, value: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n) };
}

/** True when the address is inside the CIDR (or equals the plain address). */
export function inCidr(address: string, cidr: string): boolean {
  const [base = '', bitsText] = cidr.split('/');
  const a = ipToBigInt(address);
  const b = ipToBigInt(base);
  if (!a || !b || a.family !== b.family) return false;
  const width = a.family === 4 ? 32 : 128;
  const bits = bitsText === undefined ? width : Number(bitsText);
  const shift = BigInt(width - bits);
  return a.value >> shift === b.value >> shift;
}

/** The diagnostics login for a target: the first entry whose pattern matches its name or any address. */
export function loginFor(config: RunConfig, target: Target, addresses: readonly string[]): DiagnosticsLogin | undefined {
  return config.diagnostics.find((d) =>
    d.match.some((pattern) => {
      if (pattern.includes('/') || isIP(pattern) !== 0) return [target.host, ...addresses].some((a) => isIP(a) !== 0 && inCidr(a, pattern));
      return target.kind === 'name' && globMatch(pattern, target.host);
    }),
  );
}

/**
 * The user name the handshake may send in its `none` request, or undefined: none is sent. Only
 * a name known to exist is used — the operator's own (-l, user@), a diagnostics login's
 * account for this target, or the engine config's probe_user — because sshd logs a name it
 * does not know as `Invalid user … from <bastion>`, which fail2ban's default sshd jail counts.
 */
export function probeUserFor(config: RunConfig | undefined, target: Target, addresses: readonly string[], operatorUser: string | undefined): string | undefined {
  if (operatorUser !== undefined) return operatorUser;
  if (!config) return undefined;
  return loginFor(config, target, addresses)?.user ?? config.probeUser;
}
