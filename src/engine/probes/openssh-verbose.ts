// Step 2 of the checklist, as the article does it: run the real OpenSSH client with -vvv
// and see where the handshake stops. The run must be harmless and bounded, so ssh reads no
// configuration (a ProxyCommand in the bastion's config would start a shell; the config is
// reported on its own by `ssh -G`), offers no credentials of any kind, reads and writes no
// known_hosts, shares no control socket, and is bounded in every phase: ConnectTimeout for
// TCP and the banner, ServerAlive* for a key exchange that stalls.
import type { ProbeContext, Updater } from './context.js';
import type { TimedLine, VerboseObs, VerboseParse } from '../observations.js';
import { boundedSpawn } from './spawn.js';
import { parseVerbose } from './parse-openssh-verbose.js';
import { errorMessage } from '../../errors.js';

export interface VerboseOptions {
  /** What ssh connects to: the name, or (under a target policy) the address that was checked. */
  host: string;
  port: number;
  user: string;
  connectTimeoutS: number;
  /**
   * The name to show and look host keys up under when `host` is an address. Under a target
   * policy ssh must connect to the checked address, never re-resolve the name (DNS rebinding).
   */
  hostKeyAlias?: string;
}

/** -vvv output of a full handshake is ~10 KB; a hostile peer's pre-banner text is capped. */
const MAX_BYTES = 256 * 1024;

/** The ssh arguments (without the program name). Pure: host and user are already validated. */
export function verboseArgs(opts: VerboseOptions): string[] {
  const timeout = String(Math.max(1, Math.ceil(opts.connectTimeoutS)));
  const o = (option: string): string[] => ['-o', option];
  return [
    '-vvv',
    // No configuration at all: nothing from ~/.ssh/config or /etc/ssh/ssh_config can run
    // (ProxyCommand, Match exec, LocalCommand) or change where ssh connects.
    '-F',
    '/dev/null',
    ...o('BatchMode=yes'),
    // No authentication of any kind: no key or password of the bastion is ever sent.
    ...o('PubkeyAuthentication=no'),
    ...o('PasswordAuthentication=no'),
    ...o('KbdInteractiveAuthentication=no'),
    ...o('GSSAPIAuthentication=no'),
    ...o('HostbasedAuthentication=no'),
    ...o('IdentityAgent=none'),
    // "none" stops ssh from even loading the default ~/.ssh/id_* files (works on 9.2).
    ...o('IdentityFile=none'),
    ...o('IdentitiesOnly=yes'),
    // Strict checking against an empty known_hosts: ssh stops right after the key exchange,
    // before it sends a user name. A `none` request for a user the target does not know logs
    // "Invalid user … from <bastion>", which fail2ban's default sshd filter counts; the
    // in-process handshake already asks for the methods once per run, so ssh must not.
    // Nothing is remembered or updated: this is a probe, not a login.
    ...o('StrictHostKeyChecking=yes'),
    ...o('UserKnownHostsFile=/dev/null'),
    ...o('GlobalKnownHostsFile=/dev/null'),
    ...o('UpdateHostKeys=no'),
    ...o('CheckHostIP=no'),
    ...o('ConnectionAttempts=1'),
    ...o(`ConnectTimeout=${timeout}`),
    // ssh applies ServerAliveInterval × ServerAliveCountMax as a packet timeout during the
    // key exchange too, so a KEXINIT that never arrives (MTU blackhole) ends with
    // "Connection to X port N timed out" instead of hanging.
    ...o('ServerAliveInterval=1'),
    ...o(`ServerAliveCountMax=${timeout}`),
    ...o('ControlMaster=no'),
    ...o('ControlPath=none'),
    ...(opts.hostKeyAlias !== undefined ? o(`HostKeyAlias=${opts.hostKeyAlias}`) : []),
    '-T',
    '-N',
    '-p',
    String(opts.port),
    '-l',
    opts.user,
    '--',
    opts.host,
  ];
}

function sameParse(a: VerboseParse, b: VerboseParse): boolean {
  return a.phases.length === b.phases.length && a.stop?.kind === b.stop?.kind && a.stop?.t === b.stop?.t;
}

/**
 * Runs `ssh -vvv` against the target and parses its debug output as it arrives. Never
 * rejects: a missing ssh is reported as `unavailable`, an abort returns what was seen so
 * far with `aborted: true`.
 */
export async function probeVerbose(opts: VerboseOptions, ctx: ProbeContext, onUpdate?: Updater<VerboseObs>): Promise<VerboseObs> {
  const args = verboseArgs(opts);
  const command = ['ssh', ...args];
  const startedMs = ctx.now();
  const lines: TimedLine[] = [];
  let parsed = parseVerbose(lines);

  const snapshot = (): VerboseObs => ({ state: 'running', startedMs, command, lines: [...lines], parsed });

  try {
    const result = await boundedSpawn({
      command: 'ssh',
      args,
      ctx,
      // ssh bounds itself (connect + banner by ConnectTimeout, key exchange by ServerAlive*);
      // this is the backstop if it does not: three such periods and a margin.
      timeoutMs: (Math.max(1, opts.connectTimeoutS) * 3 + 5) * 1000,
      maxBytes: MAX_BYTES,
      onLine: (line, stream) => {
        // ssh -N writes nothing to stdout; everything it says is on stderr.
        if (stream !== 'stderr') return;
        lines.push(line);
        const next = parseVerbose(lines);
        // -vvv prints many debug2/3 lines per phase; only a new phase or a new stop is news
        // for the engine, so unchanged parses are not sent on.
        const changed = !sameParse(parsed, next);
        parsed = next;
        if (changed && onUpdate !== undefined) {
          // This runs inside a stream handler: an updater that throws must not take the
          // process down or stop the probe; the final result still carries everything.
          try {
            onUpdate(snapshot());
          } catch {
            // the caller's problem, reported by the caller's own tests
          }
        }
      },
    });

    const obs: VerboseObs = {
      state: 'done',
      startedMs,
      endedMs: result.endedMs,
      command,
      lines,
      parsed: parseVerbose(lines),
      exitCode: result.exitCode,
    };
    if (result.spawnError !== undefined) {
      obs.unavailable = result.spawnError === 'ENOENT' ? 'ssh (openssh-client) is not installed' : `ssh could not be started (${result.spawnError})`;
      obs.exitCode = null;
    }
    if (result.aborted) obs.aborted = true;
    if (result.truncated) obs.truncated = true;
    return obs;
  } catch (err) {
    // boundedSpawn does not reject, but spawn() itself throws on impossible arguments; a
    // probe reports, it does not crash the run.
    return {
      state: 'done',
      startedMs,
      endedMs: ctx.now(),
      command,
      lines,
      parsed: parseVerbose(lines),
      unavailable: `ssh could not be started (${errorMessage(err)})`,
    };
  }
}
