// Facts several steps need, derived once from the observations so that the steps agree:
// how the SYN to the SSH port ended, whether the host answers anything else, and how far
// the SSH handshake got. Pure functions of (observations, clock).
import type { HandshakeObs, MtuObs, Observations, PingObs, VerboseObs } from '../observations.js';
import type { AssessInput } from './assessment.js';
import type { Thresholds } from './thresholds.js';
import { duration } from './format.js';
import { mtuSummary } from './evidence.js';

/** The handshake to the address ssh would try first. */
export function primaryHandshake(obs: Observations): HandshakeObs | undefined {
  return obs.handshakes[0];
}

export function isDone(probe: { state: string } | undefined): boolean {
  return probe !== undefined && probe.state === 'done';
}

/** Why we believe the host itself is up, or undefined. */
export function hostAnswers(obs: Observations, address: string): string | undefined {
  const ping = obs.ping;
  if (ping && ping.address === address) {
    const rtt = ping.rttsMs[0];
    if (rtt !== undefined) return `it answers ping (${duration(rtt)})`;
    const own = ping.errors.find((e) => e.from === address);
    if (own) return `it answers ping itself with "${own.text}"`;
  }
  const control = obs.control;
  if (control && control.address === address) {
    if (control.outcome === 'refused') return `port ${control.port} answers with a TCP reset`;
    if (control.outcome === 'connected') return `port ${control.port} accepts connections`;
  }
  return undefined;
}

/**
 * How long the SYN to `address` must go unanswered before it is a silent drop: the round-trip
 * rule of Thresholds.synRetransmitMs when this run measured the round trip (the slowest echo
 * reply, so a jittery path gets the longer wait; else the control port's reset), else the fixed
 * filteredAfterMs.
 */
export function filteredAfter(obs: Observations, address: string, th: Pick<Thresholds, 'filteredAfterMs' | 'synRetransmitMs' | 'retransmitLateMs'>): number {
  // ping's round trips are the kernel's own timestamps; the control port's reset is timed by
  // this event loop (a busy bastion's lag on top), so it counts only when no echo came back.
  const rtts: number[] = obs.ping && obs.ping.address === address ? [...obs.ping.rttsMs] : [];
  const control = obs.control;
  if (rtts.length === 0 && control && control.address === address && control.outcome === 'refused' && control.atMs !== undefined) rtts.push(control.atMs - control.startedMs);
  if (rtts.length === 0) return th.filteredAfterMs;
  return Math.min(th.filteredAfterMs, th.synRetransmitMs + th.retransmitLateMs + 2 * Math.max(...rtts));
}

/**
 * The run's plain connect to the control port of `address` ended with an ICMP unreachable as
 * late as a router's ARP give-up. A router answers "host unreachable" for a failed ARP only
 * at a limited rate (Linux: a burst of 6, then 1 per second per source), so when ping, ssh -vvv
 * and the path trace queued packets too, the one for our SSH-port SYN can be the one dropped:
 * the control port's answer is then the evidence that the address is not on its link.
 */
export function controlUnreachable(obs: Observations, address: string, th: { arpFailureAfterMs: number }): { scope: 'host' | 'net'; afterMs: number; port: number } | undefined {
  const control = obs.control;
  if (!control || control.address !== address || control.atMs === undefined) return undefined;
  if (control.outcome !== 'host-unreachable' && control.outcome !== 'net-unreachable') return undefined;
  const afterMs = control.atMs - control.startedMs;
  if (afterMs < th.arpFailureAfterMs) return undefined;
  return { scope: control.outcome === 'net-unreachable' ? 'net' : 'host', afterMs, port: control.port };
}

/** ICMP unreachable errors from a router (not from the host itself), as ping saw them. */
export function routerUnreachable(ping: PingObs | undefined, address: string): { from: string; text: string } | undefined {
  if (!ping || ping.address !== address) return undefined;
  const err = ping.errors.find((e) => (e.kind === 'host-unreachable' || e.kind === 'net-unreachable') && e.from !== address);
  return err ? { from: err.from, text: err.text } : undefined;
}

export function icmpProhibited(ping: PingObs | undefined, address: string): { from: string; text: string } | undefined {
  if (!ping || ping.address !== address) return undefined;
  const err = ping.errors.find((e) => e.kind === 'admin-prohibited' || e.kind === 'host-prohibited');
  return err ? { from: err.from, text: err.text } : undefined;
}

export type Reach =
  | { kind: 'unknown' }
  | { kind: 'waiting'; waitedMs: number }
  | { kind: 'connected'; connectMs: number }
  | { kind: 'refused'; afterMs: number }
  | { kind: 'rejected'; afterMs: number; basis: string; strong: boolean }
  | { kind: 'unreachable'; afterMs: number; basis: string; scope: 'host' | 'net' }
  | { kind: 'filtered'; waitedMs: number; basis: string }
  | { kind: 'silent'; waitedMs: number }
  | { kind: 'error'; detail: string };

/** How the SYN to the SSH port of `h` ended, as far as can be told at `now`. */
export function classifyReach(input: AssessInput, h: HandshakeObs | undefined): Reach {
  if (!h) return { kind: 'unknown' };
  const { obs, now, final, thresholds: th } = input;
  const tcp = h.tcp;
  const afterMs = (tcp.atMs ?? now) - h.startedMs;
  switch (tcp.outcome) {
    case 'connected':
      return { kind: 'connected', connectMs: afterMs };
    case 'refused':
      return { kind: 'refused', afterMs };
    case 'host-unreachable':
    case 'net-unreachable': {
      const prohibited = icmpProhibited(obs.ping, h.address);
      if (prohibited) {
        return { kind: 'rejected', afterMs, strong: true, basis: `ping gets "${prohibited.text}" from ${prohibited.from}` };
      }
      const alive = hostAnswers(obs, h.address);
      if (alive) return { kind: 'rejected', afterMs, strong: true, basis: `the host is up: ${alive}` };
      const router = routerUnreachable(obs.ping, h.address);
      const scope = tcp.outcome === 'net-unreachable' ? 'net' : 'host';
      if (router) return { kind: 'unreachable', afterMs, scope, basis: `${router.from} reports "${router.text}"` };
      if (afterMs >= th.arpFailureAfterMs) {
        return { kind: 'unreachable', afterMs, scope, basis: `"${scope} unreachable" after ${duration(afterMs)}, the time a router takes to give up on ARP` };
      }
      if (tcp.outcome === 'net-unreachable' && afterMs < 50) {
        return { kind: 'unreachable', afterMs, scope, basis: 'this bastion has no route to that network' };
      }
      // An immediate "unreachable" with nothing else known is typical of a REJECT rule, but a
      // router with a cached failed ARP entry answers just as fast: let ping tell them apart.
      const pingDone = !obs.ping || isDone(obs.ping);
      if (!final && !pingDone && now - (tcp.atMs ?? now) < th.filteredAfterMs) return { kind: 'waiting', waitedMs: now - h.startedMs };
      return { kind: 'rejected', afterMs, strong: false, basis: `"${scope} unreachable" came back at once (${duration(afterMs)}), as a REJECT rule does` };
    }
    case 'error':
      return { kind: 'error', detail: tcp.errno ?? 'connect failed' };
    case 'timeout':
    case undefined: {
      const waitedMs = (h.end?.atMs ?? now) - h.startedMs;
      // The run's other connection to the port (ssh -vvv) got an answer from this address
      // (connected, reset, ICMP reject): the port is not silently filtered, our SYN or its
      // answer was lost twice on a lossy path. Wait for the next retransmission (3 s) instead
      // of calling a silence that did not happen.
      if (!final && verboseConnectedTo(obs.verbose, h.address)) return { kind: 'waiting', waitedMs };
      const router = routerUnreachable(obs.ping, h.address);
      if (router && tcp.outcome === undefined) {
        return { kind: 'unreachable', afterMs: waitedMs, scope: 'host', basis: `${router.from} reports "${router.text}"` };
      }
      const sibling = controlUnreachable(obs, h.address, th);
      if (sibling) {
        return {
          kind: 'unreachable',
          afterMs: waitedMs,
          scope: sibling.scope,
          basis: `the SYN to port ${sibling.port} got "${sibling.scope} unreachable" after ${duration(sibling.afterMs)}, the time a router takes to give up on ARP (none came back for the SSH port's own SYN: routers send only a few of these at a time)`,
        };
      }
      const alive = hostAnswers(obs, h.address);
      if (alive && (waitedMs >= filteredAfter(obs, h.address, th) || (final && waitedMs >= th.filteredAfterMs / 2))) {
        return { kind: 'filtered', waitedMs, basis: alive };
      }
      if (!alive && (waitedMs >= th.silentAfterMs || (final && waitedMs >= th.filteredAfterMs))) return { kind: 'silent', waitedMs };
      return { kind: 'waiting', waitedMs };
    }
  }
}

/**
 * ssh -vvv's SYN to this address was answered: it connected ("Connection established"), or the
 * connect failed with a reset or an ICMP error (refused, no route) rather than a timeout.
 */
export function verboseConnectedTo(verbose: VerboseObs | undefined, address: string): boolean {
  const parsed = verbose?.parsed;
  if (!parsed || parsed.address !== address) return false;
  const answered = new Set(['connect-refused', 'no-route', 'net-unreachable']);
  return parsed.phases.some((p) => p.id === 'connected') || (parsed.stop !== undefined && answered.has(parsed.stop.kind));
}

/**
 * Lines sshd itself sends instead of its banner when it refuses a connection: MaxStartups
 * throttling, and OpenSSH 9.8+ PerSourcePenalties refusing a penalized source address.
 */
export type SshdRefusal = 'maxstartups' | 'penalty';

export function refusalIn(lines: readonly string[] | undefined): { reason: SshdRefusal; line: string } | undefined {
  for (const line of lines ?? []) {
    if (/Exceeded MaxStartups/i.test(line)) return { reason: 'maxstartups', line };
    if (/Not allowed at this time/i.test(line)) return { reason: 'penalty', line };
  }
  return undefined;
}

/** Whether any connection of the run (in-process or ssh -vvv) was refused by sshd with such a line. */
export function sshdRefusal(obs: Observations): { reason: SshdRefusal; line: string; source: string } | undefined {
  for (const h of obs.handshakes) {
    const r = refusalIn(h.preBanner.sample);
    if (r) return { ...r, source: `in-process handshake to ${h.address}` };
  }
  const r = refusalIn(obs.verbose?.parsed.preBanner);
  return r ? { ...r, source: 'ssh -vvv' } : undefined;
}

export type BannerState =
  | { kind: 'not-connected' }
  | { kind: 'old-protocol'; line: string; detail: string }
  | { kind: 'refused'; reason: SshdRefusal; line: string }
  | { kind: 'waiting'; waitedMs: number }
  | { kind: 'received'; latencyMs: number; line: string; software: string; preBannerLines: number }
  /** `by`: seen on ssh -vvv's connection only (siblingClosedBeforeBanner). */
  | { kind: 'closed'; afterMs: number; how: 'closed' | 'reset'; by?: 'ssh -vvv' }
  | { kind: 'not-ssh'; detail: string }
  | { kind: 'timeout'; waitedMs: number };

/**
 * How long this run's own connection may stay silent after ssh -vvv's connection to the same
 * address was closed before any banner, before that close counts for both: sshd refuses both
 * alike (TCP wrappers close each connection from the bastion 5 s after accepting it, and ours
 * was accepted first), a FIN lost on the way is resent within the retransmission timeout
 * (200 ms and up), and a RST is never resent. Without this, a RST lost at 5 % loss read as
 * `banner-timeout` three seconds later (2 of 20 lossy TCP-wrappers runs, 2026-12-03).
 */
const SIBLING_CLOSE_GRACE_MS = 1000;

/** ssh -vvv's connection to `address`, connected after ours, closed or reset before any banner: when, after how long, and how. */
export function siblingClosedBeforeBanner(verbose: VerboseObs | undefined, address: string, ourConnectAt: number): { atMs: number; afterMs: number; how: 'closed' | 'reset' } | undefined {
  const parsed = verbose?.parsed;
  const stop = parsed?.stop;
  if (!parsed || !stop || parsed.address !== address || parsed.proxied === true) return undefined;
  if (stop.kind !== 'closed-before-banner' && stop.kind !== 'reset-before-banner') return undefined;
  if (parsed.phases.some((p) => p.id === 'ident-received')) return undefined;
  const connected = parsed.phases.find((p) => p.id === 'connected')?.t;
  if (connected === undefined || connected < ourConnectAt) return undefined;
  return { atMs: stop.t, afterMs: stop.t - connected, how: stop.kind === 'reset-before-banner' ? 'reset' : 'closed' };
}

export function classifyBanner(input: AssessInput, h: HandshakeObs | undefined): BannerState {
  if (!h || h.tcp.outcome !== 'connected' || h.tcp.atMs === undefined) return { kind: 'not-connected' };
  const connectedAt = h.tcp.atMs;
  if (h.banner && h.at.banner !== undefined) {
    return {
      kind: 'received',
      latencyMs: h.at.banner - connectedAt,
      line: h.banner.line,
      software: h.banner.software,
      preBannerLines: h.preBanner.lines,
    };
  }
  const end = h.end;
  const refusal = end ? refusalIn(h.preBanner.sample) : undefined;
  if (refusal) return { kind: 'refused', ...refusal };
  if (end?.kind === 'not-ssh') return { kind: 'not-ssh', detail: end.detail };
  // An SSH-1-only server answers with a banner we cannot speak; anything else the probe
  // could not parse as an identification (an over-long line, say) is not an SSH server.
  if (end?.kind === 'unsupported' && end.phase === 'banner') return { kind: 'old-protocol', line: h.banner?.line ?? '', detail: end.detail };
  if (end?.kind === 'protocol-error' && end.phase === 'banner') return { kind: 'not-ssh', detail: end.detail };
  if (end && (end.kind === 'closed' || end.kind === 'reset')) return { kind: 'closed', afterMs: end.atMs - connectedAt, how: end.kind };
  // Still waiting, or stopped by the run while waiting (the final look).
  const sibling = end === undefined || end.kind === 'aborted' ? siblingClosedBeforeBanner(input.obs.verbose, h.address, connectedAt) : undefined;
  if (sibling && input.now - sibling.atMs >= SIBLING_CLOSE_GRACE_MS) return { kind: 'closed', afterMs: sibling.afterMs, how: sibling.how, by: 'ssh -vvv' };
  const waitedMs = (end?.atMs ?? input.now) - connectedAt;
  if (waitedMs >= input.thresholds.bannerTimeoutMs || (end !== undefined && input.final)) return { kind: 'timeout', waitedMs };
  if (end && end.kind !== 'aborted') return { kind: 'closed', afterMs: waitedMs, how: 'closed' };
  return { kind: 'waiting', waitedMs };
}

export type KexState =
  | { kind: 'not-started' }
  | { kind: 'waiting'; phase: string; waitedMs: number }
  | { kind: 'complete'; kexMs: number }
  | { kind: 'stalled'; phase: string; waitedMs: number }
  | { kind: 'failed'; detail: string; how: 'no-common' | 'unsupported' | 'broken' }
  /** The host-key signature over the exchange hash does not verify. */
  | { kind: 'forged'; detail: string }
  /** The server ended the connection on its own while we waited for `phase`. */
  | { kind: 'dropped'; phase: string; how: 'closed' | 'reset' | 'disconnect'; afterMs: number; detail: string }
  /** The peer sent bytes that are not a valid SSH packet (impossible length, garbage, bad MAC). */
  | { kind: 'violation'; phase: string; detail: string };

/**
 * TCP connected, no banner (yet), and the don't-fragment sweep shows large packets vanishing
 * on the path. sshd's banner is small, but a banner lost once is resent by the server's
 * kernel merged with the KEXINIT queued behind it into one full-size segment, which the
 * blackhole then eats on every retransmission: the banner never arrives although sshd sent
 * it. `serverGreets`: ssh -vvv's own connection did get a banner, so sshd is not hung.
 */
export function bannerLostOnPath(input: AssessInput, h: HandshakeObs | undefined): { passes?: number; fails?: number; serverGreets: boolean } | undefined {
  // Only a silent connection: bytes that did arrive (pre-banner lines, a trickle) crossed the path.
  if (!h || h.at.banner !== undefined || h.tcp.outcome !== 'connected' || h.bytesIn > 0) return undefined;
  const banner = classifyBanner(input, h);
  if (banner.kind !== 'waiting' && banner.kind !== 'timeout') return undefined;
  const mtu = input.obs.mtu;
  if (mtu?.state !== 'done' || mtu.address !== h.address) return undefined;
  const { blackhole, ...sizes } = mtuSummary(mtu);
  if (!blackhole) return undefined;
  const serverGreets = input.obs.verbose?.parsed.phases.some((p) => p.id === 'ident-received') === true;
  return { ...sizes, serverGreets };
}

const KEX_STEPS = [
  ['kexinit', "the server's KEXINIT"],
  ['kex-reply', "the server's key exchange reply"],
  ['newkeys', "the server's NEWKEYS"],
] as const;

/**
 * A blackhole too plain to be random loss: two or more sizes above the largest that crossed
 * lost both their echoes. At 5 % loss a size loses both with about 1 % chance, two sizes with
 * about 0.01 %; a one-size blackhole (a path MTU just under 1500) still gets its verdict, after
 * Thresholds.kexStallMs.
 */
export function plainBlackhole(mtu: MtuObs): boolean {
  const { passes, blackhole } = mtuSummary(mtu);
  return blackhole && passes !== undefined && mtu.probes.filter((p) => p.outcome === 'no-reply' && p.mtu > passes).length >= 2;
}

/** The key exchange of `h`, once its banner has arrived. */
export function classifyKex(input: AssessInput, h: HandshakeObs | undefined): KexState {
  if (!h || h.at.banner === undefined) return { kind: 'not-started' };
  const bannerAt = h.at.banner;
  if (h.at.newkeys !== undefined) return { kind: 'complete', kexMs: h.at.newkeys - bannerAt };
  const end = h.end;
  if (end?.kind === 'kex-failed') return { kind: 'failed', how: 'no-common', detail: end.detail };
  if (end?.kind === 'unsupported') return { kind: 'failed', how: 'unsupported', detail: end.detail };
  let lastAt = bannerAt;
  let phase: string = KEX_STEPS[0][1];
  for (const [key, label] of KEX_STEPS) {
    const at = h.at[key];
    if (at === undefined) {
      phase = label;
      break;
    }
    lastAt = at;
  }
  if (end?.kind === 'bad-signature') return { kind: 'forged', detail: end.detail };
  if (end?.kind === 'protocol-error') return { kind: 'violation', phase, detail: end.detail };
  // A FIN, a reset or a DISCONNECT is the server (or a box speaking for it) ending the
  // connection: packets do cross the path, so this is never a stall.
  if (end && (end.kind === 'closed' || end.kind === 'reset' || end.kind === 'disconnect')) {
    return { kind: 'dropped', phase, how: end.kind, afterMs: end.atMs - bannerAt, detail: end.detail };
  }
  // A transport timeout mid-exchange is the network not delivering, not the peer refusing.
  if (end && end.kind !== 'aborted' && end.kind !== 'timeout') {
    return { kind: 'failed', how: 'broken', detail: `${end.kind} while waiting for ${phase}: ${end.detail}` };
  }
  const waitedMs = (end?.atMs ?? input.now) - lastAt;
  // The don't-fragment sweep, started once the exchange had stopped advancing, shows that
  // large packets vanish on this path, and the exchange has not moved since it began: its
  // next message is one of those packets. That is evidence of the stall, not a longer wait.
  const mtu = input.obs.mtu;
  const blackholeShown = mtu !== undefined && mtu.address === h.address && mtu.state === 'done' && mtu.aborted !== true && lastAt <= mtu.startedMs && plainBlackhole(mtu);
  if (end?.kind === 'timeout' || waitedMs >= input.thresholds.kexStallMs || input.final || blackholeShown) return { kind: 'stalled', phase, waitedMs };
  return { kind: 'waiting', phase, waitedMs };
}

export type AuthState =
  | { kind: 'not-started' }
  | { kind: 'waiting'; waitedMs: number }
  | { kind: 'methods'; authMs: number; methods: string[]; noneAccepted: boolean }
  | { kind: 'stuck'; waitedMs: number }
  | { kind: 'failed'; detail: string }
  /** No user name was sent (none configured): the probe stopped at the ssh-userauth service. */
  | { kind: 'not-asked'; serviceMs: number };

export function classifyAuth(input: AssessInput, h: HandshakeObs | undefined): AuthState {
  if (!h || h.at.newkeys === undefined) return { kind: 'not-started' };
  const start = h.at.newkeys;
  const doneAt = h.at['auth-methods'];
  if (doneAt !== undefined) {
    return { kind: 'methods', authMs: doneAt - start, methods: h.authMethods ?? [], noneAccepted: h.noneAccepted === true };
  }
  const end = h.end;
  // The probe completes without methods only when it was given no user name to ask with.
  if (end?.kind === 'complete' && h.at.service !== undefined) return { kind: 'not-asked', serviceMs: h.at.service - start };
  if (end && end.kind !== 'aborted' && end.kind !== 'complete') return { kind: 'failed', detail: `${end.kind}: ${end.detail}` };
  const waitedMs = (end?.atMs ?? input.now) - start;
  if (waitedMs >= input.thresholds.authStuckMs || input.final) return { kind: 'stuck', waitedMs };
  return { kind: 'waiting', waitedMs };
}

/** The name resolved to nothing (and never will in this run): nothing can be probed. */
export function resolutionFailed(input: AssessInput): boolean {
  const { target, obs, final } = input;
  if (target.kind !== 'name' || obs.handshakes.length > 0) return false;
  if (final) return true;
  const resolveDone = obs.resolve?.state === 'done' && obs.resolve.addresses.length === 0;
  const dnsDone = obs.dns?.state === 'done' && !obs.dns.queries.some((q) => q.outcome === 'answer' && (q.type === 'A' || q.type === 'AAAA'));
  return resolveDone && (dnsDone || obs.dns === undefined);
}
