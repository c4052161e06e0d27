// `sshcheck explain`: the requester's own `ssh -v`/`-vvv` output shows where *their*
// connection stops. Parsed with the same parser as the engine's ssh -vvv probe, then mapped
// to the checklist step that owns that point and to a cause, with what to do. Pure.
import type { Cause, Confidence, StepId } from '../engine/report.js';
import { STEP_TITLES, stepNumber } from '../engine/report.js';
import type { TimedLine, VerboseParse } from '../engine/observations.js';
import { lastPhaseText, parseVerbose, phaseLines } from '../engine/probes/parse-openssh-verbose.js';
import { refusalIn } from '../engine/checklist/facts.js';

export const EXPLAIN_SCHEMA = 'sshcheck/explain@1';

export interface Explanation {
  schema: typeof EXPLAIN_SCHEMA;
  /** False when the text is not ssh debug output at all: nothing below applies. */
  recognized: boolean;
  /** Where the connection got to, in words. */
  reached: string;
  /** ssh's own last word, when it said one. */
  stopLine?: string;
  step: StepId;
  stepTitle: string;
  /**
   * The cause, for every log that is ssh output: `healthy` when the connection worked,
   * `auth-denied` when only the credentials were refused. Absent only when not recognized.
   */
  cause?: Cause;
  confidence: Confidence;
  /** The connection itself works (authenticated, or only the credentials were refused). */
  connectionWorks: boolean;
  summary: string;
  next: string[];
  phases: string[];
  keysOffered: number;
}

export const MAX_LOG_BYTES = 1024 * 1024;

/** Text as pasted or attached: any line endings, at most MAX_LOG_BYTES. */
export function logLines(text: string): TimedLine[] {
  return text
    .slice(0, MAX_LOG_BYTES)
    .split(/\r?\n|\r/)
    .map((line, i) => ({ t: i, text: line }));
}

const KEX_PHASES = new Set(['ident-received', 'kexinit-sent', 'kexinit-received', 'kex-algorithm', 'kex-reply-expected', 'kex-reply-received', 'newkeys-sent']);

type Verdict = Omit<Explanation, 'schema' | 'recognized' | 'reached' | 'stopLine' | 'stepTitle' | 'phases' | 'keysOffered'>;

function verdict(step: StepId, cause: Cause | undefined, confidence: Confidence, summary: string, next: string[], connectionWorks = false): Verdict {
  return cause === undefined ? { step, confidence, summary, next, connectionWorks } : { step, cause, confidence, summary, next, connectionWorks };
}

function judge(parse: VerboseParse, lines: readonly TimedLine[], keysOffered: number): Verdict {
  const stop = parse.stop;
  const text = lines.map((l) => l.text).join('\n');
  const refusal = refusalIn(parse.preBanner);
  if (refusal?.reason === 'maxstartups') {
    return verdict('load', 'server-overloaded', 'high', 'sshd answered "Exceeded MaxStartups" and closed: it already holds as many unauthenticated connections as it allows', [
      'look for a connection flood or brute-force attack in the sshd log; raise MaxStartups if many legitimate clients connect at once',
    ]);
  }
  if (refusal?.reason === 'penalty') {
    return verdict('bans', 'banned', 'high', 'sshd answered "Not allowed at this time": OpenSSH PerSourcePenalties has penalized your address', [
      'wait for the penalty to expire, or ask for your address to be added to PerSourcePenaltyExemptList',
    ]);
  }
  if (parse.proxied && stop && ['closed-before-banner', 'reset-before-banner', 'closed', 'reset', 'banner-timeout', 'timeout'].includes(stop.kind) && !parse.phases.some((p) => p.id === 'ident-received')) {
    return verdict('vpn-proxy', 'proxy-failed', 'medium', 'ssh goes through a ProxyCommand/ProxyJump, and the proxy hop ended before the target sent its banner: the hop could not reach the target (or refused to), which is not the target\'s doing', [
      'run the hop by itself: `ssh -vvv <jump-host>`, then from it `nc -zv <target> 22`',
      'check the ProxyJump/ProxyCommand line in ~/.ssh/config and the jump host\'s own firewall and DNS',
    ]);
  }
  switch (stop?.kind) {
    case 'resolve-failed':
      if (/Temporary failure|try again/i.test(stop.line)) return verdict('dns', 'dns-timeout', 'medium', 'your machine could not resolve the name: the resolver did not answer (or failed)', ['check your resolver: `dig <host>`; on a VPN, check that it pushes the right DNS servers', 'connect by IP address meanwhile']);
      return verdict('dns', 'dns-nxdomain', 'high', 'your machine cannot resolve the name: it does not exist for your resolver', ['check the spelling and your search domains; `dig <host>` shows what your resolver says', 'on a VPN with split DNS, the name may only resolve with the VPN up']);
    case 'connect-refused':
      return verdict('sshd', 'port-closed', 'high', 'the server answered the connection with a reset: nothing listens on that port (or a firewall rejects it)', ['check on the server: `sudo systemctl status sshd`, `sudo ss -tlnp | grep ssh`', 'check the port you use (ssh -p) against sshd\'s Port setting']);
    case 'no-route':
    case 'net-unreachable':
      return verdict('connectivity', 'host-unreachable', 'high', 'your machine has no route to the server ("No route to host" / "Network is unreachable")', ['check your VPN / split tunnel routes: `ip route get <address>`', 'a firewall answering with ICMP "prohibited" also shows as "No route to host"']);
    case 'connect-timeout':
      return verdict('firewall', 'port-filtered', 'medium', 'the TCP connection never completed: something drops the SYN (a firewall or security group), or the host is down', ['check the security group / firewall for your source address and the SSH port', 'from another network (or the bastion: `/sshcheck <host>`) test whether the host answers at all', 'check that your VPN routes the address']);
    case 'banner-timeout':
      return verdict('sshd', 'banner-timeout', 'medium', 'TCP connected but the server sent no SSH banner in time: sshd is hung or overloaded, or TCP wrappers / a slow reverse lookup hold the connection', ['check sshd and the load on the server console', 'check /etc/hosts.allow and /etc/hosts.deny for your address']);
    case 'closed-before-banner':
    case 'reset-before-banner':
      return verdict('tcp-wrappers', 'connection-closed', 'medium', 'the server accepted the connection and closed it before its banner: TCP wrappers (hosts.deny), a ban, MaxStartups, or a proxy without a backend', ['check /etc/hosts.deny and fail2ban (`sudo fail2ban-client status sshd`) for your address', 'check the sshd log for "refused connect" or "drop connection"']);
    case 'invalid-banner':
      return verdict('vpn-proxy', 'not-ssh', 'high', 'something that is not an SSH server answered on that port (a proxy, a captive portal, another service)', ['check the port, and any proxy or port forwarding between you and the server']);
    case 'kex-no-match':
      return verdict('verbose', 'kex-failed', 'high', `your client and the server share no ${parse.noMatch?.what ?? 'algorithm'}${parse.noMatch ? `; the server offers ${parse.noMatch.theirOffer}` : ''}`, ['update the older side, or enable a common algorithm for this host only (e.g. `-o HostKeyAlgorithms=+ssh-rsa` for a legacy server)']);
    case 'too-many-auth-failures':
      return verdict(
        'auth',
        'auth-denied',
        'high',
        `your client offered ${keysOffered > 0 ? `${keysOffered} keys` : 'too many keys'} and the server gave up after MaxAuthTries ("Too many authentication failures")`,
        ['add `IdentitiesOnly yes` and one `IdentityFile` for this host to ~/.ssh/config, or run `ssh -o IdentitiesOnly=yes -i ~/.ssh/<key> user@host`'],
        true,
      );
    case 'auth-denied':
      return verdict('auth', 'auth-denied', 'high', 'the connection works: the server refused the credentials offered (wrong key, user or password)', ['check the user name and that your public key is in the server\'s authorized_keys'], true);
    case 'host-key-changed':
      return verdict('verbose', 'host-key-changed', 'high', `the server's host key${parse.hostKey ? ` (${parse.hostKey})` : ''} is not the one your known_hosts has: the server was reinstalled, or something intercepts the connection`, [
        'verify the new fingerprint with the server owner (on its console: `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) before removing the old entry (`ssh-keygen -R <host>`)',
      ], true);
    case 'host-key-unverified':
      return verdict('verbose', 'healthy', 'medium', `the connection works up to host-key verification: ssh refused a host key${parse.hostKey ? ` (${parse.hostKey})` : ''} it has no record of (StrictHostKeyChecking or BatchMode)`, [
        'confirm the fingerprint with the server owner, then connect once interactively to record it, or add it to known_hosts',
      ], true);
    case 'bad-signature':
      return verdict('vpn-proxy', 'host-key-forged', 'high', 'ssh found that the key-exchange signature does not verify with the host key ("incorrect signature"): whatever answered is not the host (an intercepting proxy or a man in the middle)', [
        'do not log in; compare the host key fingerprint with the one on the server console, and look for an inspecting proxy on your network',
      ]);
    case 'protocol-error':
      return verdict('vpn-proxy', 'protocol-violation', 'high', `after the banner the peer sent bytes that are not valid SSH ("${stop.line}"): a non-SSH service, a broken proxy, or a middlebox rewriting the stream`, [
        'check what owns the port on the server and any proxy or port forwarding between you and it; try from another network',
      ]);
    default:
      break;
  }
  const authenticated = parse.phases.some((p) => p.id === 'authenticated');
  if (authenticated) {
    // A normal exit prints "Transferred:" and the exit status; anything else after a login
    // (a hang, a close, a reset) is past the handshake.
    if (/^(?:debug1: )?(?:Transferred: |Exit status |client_input_channel_req: channel \d+ rtype exit-status)/m.test(text) && !(stop && ['closed', 'reset', 'timeout'].includes(stop.kind))) {
      return verdict('auth', 'healthy', 'high', 'the connection works: ssh authenticated and the session ended normally', [], true);
    }
    const how = stop ? `then "${stop.line}"` : 'then the log stops';
    return verdict('auth', 'post-auth', 'medium', `ssh logged in (authenticated), ${how}: the problem is after authentication (session, shell, login scripts, or the client's network), not the connection`, [
      'test without the shell start-up files: `ssh -T <host> true`; check ~/.bashrc, /etc/profile.d and ForceCommand',
      'a session that freezes on large output is an MTU problem on your network: lower the MTU or enable MSS clamping',
    ]);
  }
  if (stop && (stop.kind === 'closed' || stop.kind === 'reset' || stop.kind === 'disconnected') && parse.last !== undefined && KEX_PHASES.has(parse.last)) {
    const hop = parse.proxied ? ' (through the proxy hop: it may be the hop that closed)' : '';
    return verdict('sshd', 'server-dropped', parse.proxied ? 'medium' : 'high', `the server ended the connection during the key exchange, after "${lastPhaseText(parse)}" ("${stop.line}")${hop}: sshd dropped you (MaxStartups, a crash, per-source penalties, or a wrapper), packets do cross, so it is not an MTU problem`, [
      'read the sshd log at that time (`journalctl -u ssh`): "drop connection", "penalty", "fatal:" or a crash/restart',
      'raise MaxStartups if many clients connect at once; check for a wrapper or load balancer in front of sshd',
    ]);
  }
  if (/Next authentication method: gssapi/.test(text) && (parse.last === 'service-accept' || parse.last === 'auth-methods')) {
    return verdict('auth', 'auth-slow', 'medium', 'the log stops in GSSAPI authentication: a Kerberos lookup is hanging', ['add `GSSAPIAuthentication no` for this host, or fix the Kerberos/DNS setup']);
  }
  if (parse.last === 'newkeys-received' || parse.last === 'service-accept' || parse.last === 'auth-methods') {
    return verdict('auth', 'auth-slow', 'medium', 'keys were exchanged but the log stops before authentication completes: the server is slow to ask for credentials (UseDNS reverse lookups) or to check them', ['set `UseDNS no` in sshd_config and check the server\'s resolver', 'try `ssh -o GSSAPIAuthentication=no`']);
  }
  if (parse.last !== undefined && KEX_PHASES.has(parse.last)) {
    const hop = parse.proxied ? ' (ssh goes through a ProxyCommand/ProxyJump: a hop that does not pass the close on looks the same)' : '';
    return verdict('vpn-proxy', 'kex-stall', 'medium', `the banner was exchanged but the key exchange never finished (stops after "${lastPhaseText(parse)}"): large packets are lost on the way (MTU blackhole, VPN or tunnel)${hop}`, [
      'lower the MTU of your VPN/tunnel interface or enable MSS clamping on it',
      'quick test: `ssh -o KexAlgorithms=curve25519-sha256 -o Ciphers=aes128-ctr <host>` sends smaller packets',
    ]);
  }
  if (parse.last === 'connecting') {
    return verdict('firewall', 'port-filtered', 'medium', 'the log stops while connecting: the SYN gets no answer (a firewall drop, a security group, or the host is down)', ['check the security group / firewall for your source address', 'check your VPN routes to the address']);
  }
  if (parse.last === 'connected' || parse.last === 'ident-sent') {
    return verdict('sshd', 'banner-timeout', 'low', 'TCP connected but no SSH banner appears in the log', ['check sshd and the load on the server console, and /etc/hosts.deny']);
  }
  if (parse.phases.length > 0 || stop) {
    return verdict('verbose', 'banner-timeout', 'low', `ssh stops after "${lastPhaseText(parse)}" before connecting`, ['paste the output of `ssh -vvv user@host` (it goes to stderr: `ssh -vvv user@host 2>&1 | tee ssh.log`)']);
  }
  return verdict('verbose', undefined, 'low', 'this does not look like ssh -v output, or it stops before ssh even tried to connect', ['paste the output of `ssh -vvv user@host` (it goes to stderr: `ssh -vvv user@host 2>&1 | tee ssh.log`)']);
}

export function explainLog(text: string): Explanation {
  const lines = logLines(text);
  const parse = parseVerbose(lines);
  const keysOffered = lines.filter((l) => /Offering public key/.test(l.text)).length;
  const v = judge(parse, lines, keysOffered);
  return {
    schema: EXPLAIN_SCHEMA,
    recognized: parse.phases.length > 0 || parse.stop !== undefined,
    ...v,
    reached: parse.phases.length > 0 ? lastPhaseText(parse) : 'nothing recognizable',
    ...(parse.stop ? { stopLine: parse.stop.line } : {}),
    stepTitle: STEP_TITLES[v.step],
    // A log given to explain has no timestamps: the phases are shown without times.
    phases: phaseLines(parse, { timed: false }),
    keysOffered,
  };
}

export function renderExplanation(e: Explanation): string {
  if (!e.recognized) return `This is not ssh debug output: ${e.summary}.\nNext:\n  - ${e.next.join('\n  - ')}\n`;
  const cause = e.connectionWorks ? `the connection itself works${e.cause ? ` (${e.cause})` : ''}` : e.cause ? `${e.cause} (${e.confidence} confidence)` : 'no checklist cause fits';
  const lines = [
    `Where it stopped: after "${e.reached}"${e.stopLine ? `: ${e.stopLine}` : ' (no further output)'}`,
    `Step ${stepNumber(e.step)}, ${e.stepTitle}: ${cause}`,
    `  ${e.summary}`,
  ];
  if (e.next.length > 0) lines.push('  Next:', ...e.next.map((n) => `    - ${n}`));
  if (e.phases.length > 0) lines.push('Phases:', ...e.phases.map((p) => `  | ${p}`));
  return `${lines.join('\n')}\n`;
}
