// Turns OpenSSH's debug output (`ssh -v`, `-vv`, `-vvv`) into where the connection got to
// and how it ended. Pure: the same lines always give the same parse, so it is tested on
// logs recorded from real runs. The parser also reads logs people paste from their own
// machines, so it accepts any verbosity, lines with or without the `debugN:` prefix, CRs,
// older OpenSSH wordings (`ssh_exchange_identification`), and ignores lines it does not
// know.
import type { TimedLine, VerboseParse, VerbosePhase, VerbosePhaseId, VerboseStopKind } from '../observations.js';
import { printable } from '../../target.js';

type Stop = NonNullable<VerboseParse['stop']>;

/** The message part of a line: without the `debug1:` prefix, trailing CR and outer spaces. */
function message(text: string): string {
  return text
    .replace(/\r$/, '')
    .trim()
    .replace(/^debug[1-3]:\s*/, '');
}

/** errno texts of connect(2) as ssh prints them (glibc, BSD/macOS and Windows wordings). */
function connectErrorKind(reason: string): VerboseStopKind {
  const r = reason.toLowerCase();
  if (r.includes('timed out')) return 'connect-timeout';
  if (r.includes('refused')) return 'connect-refused';
  if (r.includes('no route to host') || r.includes('host is down') || r.includes('host is unreachable')) return 'no-route';
  if (r.includes('network is unreachable') || r.includes('network unreachable')) return 'net-unreachable';
  if (r.includes('name or service not known') || r.includes('nodename nor servname')) return 'resolve-failed';
  return 'other';
}

/** What ends a connection: which lines say so, and how they are classified. */
interface StopMatch {
  kind: VerboseStopKind;
  /**
   * Generic follow-ups ("Connection closed by X port N", "Disconnected from …") that ssh
   * prints after a more specific error line. They only count when nothing more specific
   * was said in the same attempt.
   */
  generic: boolean;
  noMatch?: VerboseParse['noMatch'];
}

function matchStop(msg: string): StopMatch | undefined {
  let m: RegExpMatchArray | null;

  if ((m = msg.match(/^(?:ssh: )?connect to (?:host|address) .+ port (?:\d+|\S*#+\S*): (.+)$/))) {
    return { kind: connectErrorKind(m[1] ?? ''), generic: false };
  }
  if (/Could not resolve hostname /.test(msg)) return { kind: 'resolve-failed', generic: false };
  if (/^ssh: .+: (?:Name or service not known|Temporary failure in name resolution|No address associated with hostname)$/.test(msg)) {
    return { kind: 'resolve-failed', generic: false };
  }
  if (/timed out during banner exchange/i.test(msg)) return { kind: 'banner-timeout', generic: false };

  // The identification exchange: ssh >= 8.0 says kex_exchange_identification, older ones
  // ssh_exchange_identification.
  if ((m = msg.match(/^(?:kex|ssh)_exchange_identification: (.+)$/))) {
    const what = m[1] ?? '';
    // "banner line N: <text>" is a debug note about a line the server sent before its
    // identification (RFC 4253 allows them), not an error.
    if (/^banner line \d+:/.test(what)) return undefined;
    if (/reset by peer/i.test(what)) return { kind: 'reset-before-banner', generic: false };
    if (/closed by remote host/i.test(what)) return { kind: 'closed-before-banner', generic: false };
    if (/timed out/i.test(what)) return { kind: 'banner-timeout', generic: false };
    // "banner line contains invalid characters", "No banner received", "banner line too
    // long", "SSH protocol version 1 not supported", ...: the peer did not speak SSH-2.
    return { kind: 'invalid-banner', generic: false };
  }
  if (/^Bad remote protocol version identification/.test(msg) || /^Protocol major versions differ/.test(msg)) {
    return { kind: 'invalid-banner', generic: false };
  }

  // A log cut right after -vvv's own note, before "Unable to negotiate" (or an ssh that
  // printed only this line).
  if (/^kex: algorithm: \(no match\)/.test(msg)) return { kind: 'kex-no-match', generic: false, noMatch: { what: 'key exchange method', theirOffer: '(not in the log)' } };
  if ((m = msg.match(/no matching (.+?) found\. Their offer: (.*)$/))) {
    return { kind: 'kex-no-match', generic: false, noMatch: { what: m[1] ?? '', theirOffer: (m[2] ?? '').trim() } };
  }
  // OpenSSH before 7.0: "no matching cipher found: client aes128-ctr server aes256-cbc".
  if ((m = msg.match(/no matching (.+?) found: client .* server (.*)$/))) {
    return { kind: 'kex-no-match', generic: false, noMatch: { what: m[1] ?? '', theirOffer: (m[2] ?? '').trim() } };
  }

  if (/Too many authentication failures/i.test(msg)) return { kind: 'too-many-auth-failures', generic: false };
  if (/Permission denied \(.*\)\.?$/.test(msg)) return { kind: 'auth-denied', generic: false };
  if (/^Timeout, server .+ not responding\.?$/.test(msg)) return { kind: 'timeout', generic: false };
  // Packet-level timeout (ServerAliveInterval × ServerAliveCountMax while waiting in the
  // key exchange): "Connection to 10.0.0.5 port 22 timed out". ssh also prints it after
  // "Connection timed out during banner exchange", hence generic.
  if (/^Connection to .+ timed out\b/.test(msg)) return { kind: 'timeout', generic: true };
  if (/^Received disconnect from /.test(msg)) return { kind: 'disconnected', generic: false };

  if (/^Connection reset by /.test(msg) || /: Connection reset by peer$/.test(msg)) return { kind: 'reset', generic: true };
  if (/^Connection closed by /.test(msg) || /: Broken pipe$/.test(msg)) return { kind: 'closed', generic: true };
  if (/^Disconnected from /.test(msg)) return { kind: 'disconnected', generic: true };
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(msg) || /^Host key for .+ has changed and you have requested strict checking/.test(msg)) {
    return { kind: 'host-key-changed', generic: false };
  }
  if (/^Host key verification failed\.?$/.test(msg)) return { kind: 'host-key-unverified', generic: true };
  // OpenSSH >= 7 says "incorrect signature"; 6.x "key_verify failed for server_host_key".
  if (/incorrect signature$/.test(msg) || /key_verify failed for server_host_key/.test(msg)) return { kind: 'bad-signature', generic: false };
  if (/Bad packet length \d+|Corrupted MAC on input|message authentication code incorrect|Packet corrupt|padding error|[Ii]nvalid packet length/.test(msg)) {
    return { kind: 'protocol-error', generic: false };
  }
  if (/^ssh_dispatch_run_fatal: /.test(msg)) return { kind: 'other', generic: false };
  return undefined;
}

/** Phase lines: the id a message marks, if any. Detail fields are read separately. */
function matchPhase(msg: string): VerbosePhaseId | undefined {
  if (/^OpenSSH_\S+/.test(msg)) return 'start';
  if (/^Connecting to .+ port (?:\d+|\S*#+\S*)\.?$/.test(msg)) return 'connecting';
  if (/^Connection established\.?$/.test(msg)) return 'connected';
  if (/^Local version string /.test(msg)) return 'ident-sent';
  if (/^Remote protocol version [^,]+, remote software version /.test(msg)) return 'ident-received';
  if (/^SSH2_MSG_KEXINIT sent$/.test(msg)) return 'kexinit-sent';
  if (/^SSH2_MSG_KEXINIT received$/.test(msg)) return 'kexinit-received';
  if (/^kex: algorithm: \S+/.test(msg) && !msg.includes('(no match)')) return 'kex-algorithm';
  // ECDH/curve25519/sntrup (KEX_ECDH_REPLY), classic DH (KEXDH_REPLY), group exchange
  // (KEX_DH_GEX_GROUP first, then KEX_DH_GEX_REPLY): all wait for the server's reply.
  if (/^expecting SSH2_MSG_(?:KEX_ECDH_REPLY|KEXDH_REPLY|KEX_DH_GEX_GROUP|KEX_DH_GEX_REPLY|KEX_HYBRID_REPLY|KEX_\w+_REPLY)$/.test(msg)) {
    return 'kex-reply-expected';
  }
  if (/^SSH2_MSG_(?:KEX_ECDH_REPLY|KEXDH_REPLY|KEX_DH_GEX_REPLY|KEX_HYBRID_REPLY|KEX_\w+_REPLY) received$/.test(msg)) {
    return 'kex-reply-received';
  }
  // "Server host key:" is debug1 and follows the reply; it stands in for the reply line
  // when a log was cut or edited.
  if (/^Server host key: /.test(msg)) return 'kex-reply-received';
  if (/^SSH2_MSG_NEWKEYS sent$/.test(msg)) return 'newkeys-sent';
  if (/^SSH2_MSG_NEWKEYS received$/.test(msg)) return 'newkeys-received';
  if (/^SSH2_MSG_SERVICE_ACCEPT received$/.test(msg)) return 'service-accept';
  if (/^Authentications that can continue: /.test(msg)) return 'auth-methods';
  if (/^Authenticated to /.test(msg) || /^Authentication succeeded /.test(msg)) return 'authenticated';
  if (/Permission denied \(.*\)\.?$/.test(msg)) return 'auth-denied';
  return undefined;
}

function splitMethods(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * What sshd itself sends instead of its banner when it refuses a connection (MaxStartups;
 * OpenSSH 9.8+ PerSourcePenalties): the peer is sshd, not something that does not speak SSH.
 * The same texts as the checklist's `refusalIn`.
 */
const SSHD_REFUSAL = /Exceeded MaxStartups|Not allowed at this time/i;

/** Stop kinds that mean "the TCP connection ended": refined by how far the exchange got. */
function refineByPhase(kind: VerboseStopKind, reached: ReadonlySet<VerbosePhaseId>): VerboseStopKind {
  const beforeBanner = reached.has('connected') && !reached.has('ident-received');
  if (!beforeBanner) return kind;
  if (kind === 'closed') return 'closed-before-banner';
  if (kind === 'reset') return 'reset-before-banner';
  if (kind === 'timeout') return 'banner-timeout';
  return kind;
}

export function parseVerbose(lines: TimedLine[]): VerboseParse {
  const phases: VerbosePhase[] = [];
  const reached = new Set<VerbosePhaseId>();
  const parse: VerboseParse = { phases };
  let stop: (Stop & { generic: boolean }) | undefined;
  let noMatch: VerboseParse['noMatch'];
  /** Non-SSH lines the server sent before (instead of) an identification line. */
  let preBannerLines = 0;
  let sshdRefused = false;
  const preBanner: string[] = [];

  for (const line of lines) {
    const msg = message(line.text);
    if (msg.length === 0) continue;

    let m: RegExpMatchArray | null;
    if ((m = msg.match(/^Connecting to .+? \[([^\]]+)\] port (?:\d+|\S*#+\S*)\.?$/))) {
      parse.address = m[1];
    }
    if ((m = msg.match(/^Remote protocol version [^,]+, remote software version (.*)$/))) {
      parse.remoteSoftware ??= (m[1] ?? '').trim();
    }
    // "kex: algorithm: (no match)" precedes "Unable to negotiate": there is no algorithm.
    if ((m = msg.match(/^kex: algorithm: (\S+)/)) && !msg.includes('(no match)')) parse.kexAlgorithm ??= m[1];
    if ((m = msg.match(/^Server host key: (.+)$/))) parse.hostKey ??= (m[1] ?? '').trim();
    // The first list answers the `none` request: everything the server offers. Later lists
    // (after a partial success) are narrower.
    if ((m = msg.match(/^Authentications that can continue: (.*)$/))) parse.authMethods ??= splitMethods(m[1] ?? '');
    if ((m = msg.match(/Permission denied \((.*)\)\.?$/))) parse.authMethods ??= splitMethods(m[1] ?? '');
    if ((m = msg.match(/^(?:kex|ssh)_exchange_identification: banner line \d+: ?(.*)$/))) {
      preBannerLines += 1;
      if (SSHD_REFUSAL.test(m[1] ?? '')) sshdRefused = true;
      if (preBanner.length < 3) preBanner.push(printable(m[1] ?? '', 120));
    }

    const phase = matchPhase(msg);
    if (phase !== undefined) {
      // A new connection attempt (another address, ConnectionAttempts > 1) or a successful
      // connect makes an earlier attempt's connect error stale.
      if ((phase === 'connecting' || phase === 'connected') && stop !== undefined && !reached.has('ident-received')) {
        stop = undefined;
        noMatch = undefined;
      }
      // The first time a phase is reached is the one that tells how long it took.
      if (!reached.has(phase)) {
        reached.add(phase);
        phases.push({ id: phase, t: line.t, line: msg });
      }
    }

    if (/^Executing proxy (?:dialer )?command: /.test(msg) || /^Setting implicit ProxyCommand from ProxyJump/.test(msg)) parse.proxied = true;

    const s = matchStop(msg);
    if (s !== undefined && (stop === undefined || !s.generic || stop.generic)) {
      stop = { kind: s.kind, line: msg, t: line.t, generic: s.generic };
      noMatch = s.noMatch;
    }
  }

  const last = phases[phases.length - 1];
  if (last !== undefined) parse.last = last.id;
  if (stop !== undefined) {
    let kind = refineByPhase(stop.kind, reached);
    // Something answered on the port, sent text that was not an SSH identification and
    // hung up: that peer is not an SSH server (a proxy, a web server), not a TCP wrapper.
    // Unless the text is sshd's own refusal: sshd writes it and closes, and whether ssh then
    // sees a close or a reset (its identification arrived before the close) is a race.
    if (kind === 'closed-before-banner' && preBannerLines > 0 && !sshdRefused) kind = 'invalid-banner';
    parse.stop = { kind, line: stop.line, t: stop.t };
  }
  if (noMatch !== undefined) parse.noMatch = noMatch;
  if (preBanner.length > 0) parse.preBanner = preBanner;
  return parse;
}

// ---------------------------------------------------------------------------------------
// A short phase list for people

const MAX_LINE = 100;
const MAX_LINES = 20;
const HEAD = 8;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Server-controlled text (software version, host names) made safe to show. */
function shown(text: string, max = 60): string {
  return printable(text, max);
}

/** The last phase ssh reached, in words ("sent SSH identification"), for one-line summaries. */
export function lastPhaseText(parse: VerboseParse): string {
  const last = parse.phases[parse.phases.length - 1];
  return last ? describePhase(last, parse) : 'not started';
}

function describePhase(p: VerbosePhase, parse: VerboseParse): string {
  let m: RegExpMatchArray | null;
  switch (p.id) {
    case 'start':
      return `ssh started (${shown(p.line.split(',')[0] ?? p.line, 40)})`;
    case 'connecting':
      if ((m = p.line.match(/^Connecting to (.+?) \[([^\]]+)\] port (\d+)/))) {
        const [, host = '', addr = '', port = ''] = m;
        return host === addr ? `connecting to ${shown(addr)} port ${port}` : `connecting to ${shown(host, 40)} [${shown(addr)}] port ${port}`;
      }
      return 'connecting';
    case 'connected':
      return 'TCP connected';
    case 'ident-sent':
      return 'sent SSH identification';
    case 'ident-received':
      if ((m = p.line.match(/remote software version (.*)$/))) return `server identification: ${shown(m[1] ?? '')}`;
      return 'server identification received';
    case 'kexinit-sent':
      return 'sent KEXINIT (algorithm lists)';
    case 'kexinit-received':
      return "received the server's KEXINIT";
    case 'kex-algorithm':
      return `key exchange: ${shown(parse.kexAlgorithm ?? p.line.replace(/^kex: algorithm: /, ''))}`;
    case 'kex-reply-expected':
      if ((m = p.line.match(/^expecting (\S+)/))) return `waiting for the key exchange reply (${m[1] ?? ''})`;
      return 'waiting for the key exchange reply';
    case 'kex-reply-received':
      return parse.hostKey !== undefined ? `kex reply; host key ${shown(parse.hostKey, 70)}` : 'key exchange reply received';
    case 'newkeys-sent':
      return 'sent NEWKEYS';
    case 'newkeys-received':
      return 'received NEWKEYS: encrypted';
    case 'service-accept':
      return 'authentication service accepted';
    case 'auth-methods':
      return `auth methods offered: ${shown((parse.authMethods ?? []).join(','))}`;
    case 'authenticated':
      return 'authenticated';
    case 'auth-denied':
      return `permission denied (${shown((parse.authMethods ?? []).join(','))})`;
  }
}

/**
 * The stop line without what the phase list already says (host, port, ssh's own prefix),
 * so that the reason itself fits in one report line.
 */
function stopText(line: string): string {
  let m: RegExpMatchArray | null;
  if ((m = line.match(/^(?:ssh: )?connect to (?:host|address) .+ port \d+: (.+)$/))) return `TCP connect failed: ${m[1] ?? ''}`;
  if ((m = line.match(/Could not resolve hostname (.+?): (.+)$/))) return `could not resolve ${m[1] ?? ''}: ${m[2] ?? ''}`;
  if ((m = line.match(/^Unable to negotiate with .+? port \d+: (.+)$/))) return m[1] ?? line;
  if ((m = line.match(/^Received disconnect from .+? port \d+:\d+: (.+)$/))) return `server disconnected: ${m[1] ?? ''}`;
  return line;
}

function stamp(t: number, origin: number): string {
  return `+${Math.max(0, Math.round(t - origin))} ms`.padEnd(10);
}

/**
 * A short phase list: one line per phase reached, with its time since ssh's first phase,
 * then the line that ended it (or a note that ssh stopped talking). Lines are at most 100
 * characters, the list at most 20 lines (the middle is elided). `timed: false` leaves the
 * times out: a pasted log has no timestamps, and times derived from line order would mislead.
 */
export function phaseLines(parse: VerboseParse, { timed = true }: { timed?: boolean } = {}): string[] {
  const origin = parse.phases[0]?.t ?? parse.stop?.t ?? 0;
  const at = (t: number): string => (timed ? stamp(t, origin) : '');
  const out = parse.phases.map((p) => clip(`${at(p.t)}${describePhase(p, parse)}`, MAX_LINE));

  if (parse.stop !== undefined && parse.stop.kind !== 'auth-denied') {
    out.push(clip(`${at(parse.stop.t)}stopped: ${shown(stopText(parse.stop.line), MAX_LINE)}`, MAX_LINE));
  } else if (parse.stop === undefined) {
    const last = parse.phases[parse.phases.length - 1];
    out.push(last === undefined ? 'no ssh output' : clip(`(no further output after: ${describePhase(last, parse)})`, MAX_LINE));
  }

  if (out.length <= MAX_LINES) return out;
  const tail = MAX_LINES - HEAD - 1;
  return [...out.slice(0, HEAD), `…${timed ? '         ' : ' '}${out.length - HEAD - tail} more phases`, ...out.slice(out.length - tail)];
}
