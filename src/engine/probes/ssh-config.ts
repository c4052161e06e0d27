// What the bastion's own ssh would do for this target (`ssh -G`): a HostName, Port or User
// override, a ProxyJump or ProxyCommand in its config change where `ssh host` really
// connects, which the other probes (which connect directly) cannot see. `ssh -G` only
// evaluates the configuration and exits; it opens no connection.
import type { ProbeContext } from './context.js';
import type { ProbeBase, SshConfigObs } from '../observations.js';
import { boundedSpawn } from './spawn.js';
import { DEFAULT_PORT, printable } from '../../target.js';
import { errorMessage } from '../../errors.js';

export type SshConfigFields = Omit<SshConfigObs, keyof ProbeBase>;

const TIMEOUT_MS = 2000;
/** `ssh -G` prints ~100 short lines. */
const MAX_BYTES = 64 * 1024;

/** Reads `ssh -G` output ("keyword value" lines, keywords lower-cased). Pure. */
export function parseSshConfig(text: string): SshConfigFields {
  const values = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    const m = line.match(/^([a-z0-9]+)\s+(.*)$/i);
    if (m === null) continue;
    const key = (m[1] ?? '').toLowerCase();
    // Keywords that may repeat (identityfile, localforward, ...) are not read here; for
    // the ones we read the first value is the one in force, as in ssh's own config.
    if (!values.has(key)) values.set(key, (m[2] ?? '').trim());
  }
  /** `none` (and an empty value) mean "not set" in ssh -G output. */
  const get = (key: string): string | undefined => {
    const v = values.get(key);
    return v === undefined || v === '' || v.toLowerCase() === 'none' ? undefined : v;
  };
  const num = (key: string): number | undefined => {
    const v = get(key);
    return v !== undefined && /^[0-9]+$/.test(v) ? Number(v) : undefined;
  };

  const out: SshConfigFields = {};
  const hostname = get('hostname');
  if (hostname !== undefined) out.hostname = hostname;
  const port = num('port');
  if (port !== undefined) out.port = port;
  const user = get('user');
  if (user !== undefined) out.user = user;
  const proxyJump = get('proxyjump');
  if (proxyJump !== undefined) out.proxyJump = proxyJump;
  const proxyCommand = get('proxycommand');
  if (proxyCommand !== undefined) out.proxyCommand = proxyCommand;
  const addressFamily = get('addressfamily');
  if (addressFamily !== undefined) out.addressFamily = addressFamily;
  const connectTimeout = num('connecttimeout');
  if (connectTimeout !== undefined) out.connectTimeout = connectTimeout;
  return out;
}

/** The `ssh -G` arguments. Pure: the host is validated, the port a number. */
export function sshConfigArgs(opts: { host: string; port?: number }): string[] {
  // A port other than 22 is what `ssh -p N host` would use; without it ssh -G reports the
  // config's (default) Port 22 and every non-22 target looks redirected. Port 22 is not
  // passed, so that a Port override in the config for `ssh host` still shows. The user is
  // never passed: it is not sent anywhere by this probe, and a User override is shown as is.
  const port = opts.port !== undefined && opts.port !== DEFAULT_PORT ? ['-p', String(opts.port)] : [];
  return ['-G', ...port, '--', opts.host];
}

/**
 * `ssh -G [-p port] <host>`: the bastion's effective configuration for the name as typed.
 * Never rejects; a missing ssh or a configuration ssh refuses to read is reported as
 * `unavailable` (with ssh's first error line: a broken config on the bastion breaks
 * `ssh host` there too).
 */
export async function probeSshConfig(opts: { host: string; port?: number }, ctx: ProbeContext): Promise<SshConfigObs> {
  const startedMs = ctx.now();
  const args = sshConfigArgs(opts);
  try {
    const result = await boundedSpawn({ command: 'ssh', args, ctx, timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES });
    const obs: SshConfigObs = { state: 'done', startedMs, endedMs: result.endedMs };
    if (result.aborted) {
      obs.aborted = true;
      return obs;
    }
    if (result.spawnError !== undefined) {
      obs.unavailable = result.spawnError === 'ENOENT' ? 'ssh (openssh-client) is not installed' : `ssh could not be started (${result.spawnError})`;
      return obs;
    }
    if (result.timedOut) {
      // A `Match exec` in the config can run a slow command.
      obs.unavailable = `ssh -G did not finish within ${TIMEOUT_MS} ms`;
      return obs;
    }
    if (result.exitCode !== 0) {
      const first = result.stderr.split('\n').find((l) => l.trim().length > 0) ?? `exit code ${String(result.exitCode)}`;
      obs.unavailable = `ssh -G failed: ${printable(first.trim(), 160)}`;
      return obs;
    }
    return { ...obs, ...parseSshConfig(result.stdout) };
  } catch (err) {
    return { state: 'done', startedMs, endedMs: ctx.now(), unavailable: `ssh could not be started (${errorMessage(err)})` };
  }
}
