// Step 2: where the SSH handshake stops, as the article's `ssh -vvv` shows it, plus the
// in-process handshake's view of algorithm negotiation (the one cause this step owns).
import type { ProblemCause, StepId } from '../../report.js';
import { STEP_TITLES, stepNumber } from '../../report.js';
import type { HandshakeObs, VerboseParse, VerbosePhaseId, VerboseStopKind } from '../../observations.js';
import { checkKnownHost } from '../../probes/parse-known-hosts.js';
import { lastPhaseText, phaseLines } from '../../probes/parse-openssh-verbose.js';
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyReach, primaryHandshake, refusalIn } from '../facts.js';
import { duration } from '../format.js';
import { makeStep } from './make.js';

const AUTH_PHASES: ReadonlySet<VerbosePhaseId> = new Set(['auth-methods', 'authenticated', 'auth-denied']);

/** sshcheck's own ssh run stops at host key verification on purpose, once the keys are exchanged. */
function stoppedOnPurpose(parse: VerboseParse): boolean {
  return parse.stop?.kind === 'host-key-unverified' && parse.phases.some((p) => p.id === 'kex-reply-received');
}

/** ssh -vvv received the server's key-exchange reply (and so agreed on every algorithm). */
export function sshGotThroughKex(parse: VerboseParse): boolean {
  return parse.phases.some((p) => p.id === 'kex-reply-received' || p.id === 'newkeys-received' || AUTH_PHASES.has(p.id));
}

/** Which checklist step explains a stop at this point of the handshake. */
export function stopOwner(parse: VerboseParse): StepId[] {
  switch (parse.stop?.kind) {
    case 'resolve-failed':
      return ['dns'];
    case 'connect-timeout':
      return ['connectivity', 'firewall'];
    case 'connect-refused':
      return ['sshd', 'firewall'];
    case 'no-route':
    case 'net-unreachable':
      return ['connectivity', 'firewall'];
    case 'banner-timeout':
      return ['sshd', 'tcp-wrappers', 'load'];
    case 'closed-before-banner':
    case 'reset-before-banner':
      return ['tcp-wrappers', 'load', 'bans'];
    case 'invalid-banner':
      return ['vpn-proxy'];
    case 'kex-no-match':
      return ['verbose'];
    case 'too-many-auth-failures':
      return ['auth'];
    case 'bad-signature':
    case 'protocol-error':
      return ['vpn-proxy'];
    case 'host-key-changed':
      return ['verbose'];
    case 'closed':
    case 'reset':
    case 'disconnected':
      // After the banner a close is the server's doing, not the path's.
      if (parse.phases.some((p) => p.id === 'ident-received') && !AUTH_PHASES.has(parse.last ?? 'start')) return ['sshd'];
      break;
    default:
      break;
  }
  switch (parse.last) {
    case undefined:
    case 'start':
      return ['dns'];
    case 'connecting':
      return ['connectivity', 'firewall'];
    case 'connected':
    case 'ident-sent':
      return ['sshd', 'tcp-wrappers', 'load'];
    case 'ident-received':
    case 'kexinit-sent':
    case 'kexinit-received':
    case 'kex-algorithm':
    case 'kex-reply-expected':
    case 'kex-reply-received':
    case 'newkeys-sent':
      return ['vpn-proxy'];
    default:
      return ['auth'];
  }
}

/**
 * What ssh's own stop line suggests, used only as a weak finding: the owner steps judge with
 * better evidence, but a failing ssh must never end in a "healthy" diagnosis.
 */
const STOP_CAUSE: Partial<Record<VerboseStopKind, ProblemCause>> = {
  'resolve-failed': 'dns-nxdomain',
  'connect-timeout': 'port-filtered',
  'connect-refused': 'port-closed',
  'no-route': 'host-unreachable',
  'net-unreachable': 'host-unreachable',
  'banner-timeout': 'banner-timeout',
  'closed-before-banner': 'connection-closed',
  'reset-before-banner': 'connection-closed',
  'invalid-banner': 'not-ssh',
  'too-many-auth-failures': 'auth-slow',
  'host-key-changed': 'host-key-changed',
  'bad-signature': 'host-key-forged',
  'protocol-error': 'protocol-violation',
};

function stopCause(parse: VerboseParse): ProblemCause {
  const refusal = refusalIn(parse.preBanner);
  if (refusal) return refusal.reason === 'maxstartups' ? 'server-overloaded' : 'banned';
  const direct = parse.stop ? STOP_CAUSE[parse.stop.kind] : undefined;
  if (direct) return direct;
  const owner = stopOwner(parse)[0];
  if (owner === 'sshd' && parse.phases.some((p) => p.id === 'ident-received')) return 'server-dropped';
  return owner === 'vpn-proxy' ? 'kex-stall' : owner === 'auth' ? 'auth-slow' : 'banner-timeout';
}

function pointer(steps: StepId[]): string {
  return steps.map((id) => `step ${stepNumber(id)} (${STEP_TITLES[id].toLowerCase()})`).join(', ');
}

/** A host key that differs from the configured known_hosts: what ssh itself would refuse. */
function knownHostsStep(input: AssessInput, h: HandshakeObs | undefined): StepAssessment | undefined {
  const known = input.obs.knownHosts;
  const key = h?.hostKey;
  if (!known || !key || !h) return undefined;
  const verdict = checkKnownHost(known.entries, input.target.host, input.target.port, key);
  if (verdict.kind !== 'changed') return undefined;
  const expected = verdict.expected.map((e) => `${e.keyType} ${e.sha256} (line ${e.line})`).join(', ');
  const detail = `${input.target.host} presents ${key.type} ${key.sha256}; ${known.path} has ${expected}`;
  return makeStep(input, 'verbose', {
    settled: true,
    status: 'fail',
    summary: `the host key differs from known_hosts: ${detail}`,
    evidence: [{ probe: 'ssh-handshake', detail: `host key ${key.type} ${key.sha256}` }],
    findings: [{ cause: 'host-key-changed', confidence: 'high', summary: `the host key changed: ${detail}; ssh refuses it ("REMOTE HOST IDENTIFICATION HAS CHANGED")` }],
  });
}

export function assessVerbose(input: AssessInput): StepAssessment {
  const { obs, final } = input;
  const verbose = obs.verbose;
  const h = primaryHandshake(obs);
  const changed = knownHostsStep(input, h);
  if (changed) return changed;
  // Once the SYN's fate is decided and TCP did not connect, ssh can only echo it.
  const reach = classifyReach(input, h).kind;
  const ceiling = reach !== 'connected' && reach !== 'waiting' && reach !== 'unknown' ? 'low' : 'high';
  if (!verbose) return makeStep(input, 'verbose', { settled: final, status: final ? 'skip' : 'running', summary: final ? 'ssh -vvv did not run' : 'starting ssh -vvv…', ceiling });
  if (verbose.unavailable) {
    return makeStep(input, 'verbose', { settled: true, status: 'skip', summary: `cannot run ssh -vvv here: ${verbose.unavailable}` });
  }
  const parse = verbose.parsed;
  const lines = phaseLines(parse);
  const transcript = { probe: 'openssh-verbose' as const, detail: `ssh -vvv ${verbose.state === 'running' ? 'so far' : verbose.aborted ? '(stopped by the run before it finished)' : ''}`.trim(), lines };

  // Algorithm negotiation: OpenSSH's own refusal is authoritative; the in-process client
  // offers the same modern algorithm set, so its refusal stands when ssh cannot run.
  if (parse.stop?.kind === 'kex-no-match') {
    const ssh = parse.noMatch ? `no matching ${parse.noMatch.what}; the server offers ${parse.noMatch.theirOffer}` : parse.stop.line;
    // sshcheck's own negotiation names both lists; ssh -vvv's stop line only the server's.
    const what = h?.end?.kind === 'kex-failed' ? `${ssh} (sshcheck's handshake: ${h.end.detail})` : ssh;
    return makeStep(input, 'verbose', {
      settled: true,
      status: 'fail',
      summary: `ssh refuses the key exchange: ${what}`,
      evidence: [transcript],
      findings: [{ cause: 'kex-failed', confidence: 'high', summary: `client and server share no algorithm: ${what}` }],
    });
  }
  if (h?.end?.kind === 'unsupported' && h.end.phase === 'banner') {
    return makeStep(input, 'verbose', {
      settled: true,
      status: 'fail',
      summary: `no common protocol: ${h.end.detail}`,
      evidence: [{ probe: 'ssh-handshake', detail: `banner "${h.banner?.line ?? ''}": ${h.end.detail}` }, transcript],
      findings: [{ cause: 'kex-failed', confidence: 'high', summary: `client and server share no protocol: ${h.end.detail}; upgrade the server's SSH daemon` }],
    });
  }
  if (h?.end?.kind === 'kex-failed') {
    if (verbose.state === 'running' && !final) {
      return makeStep(input, 'verbose', { settled: false, status: 'running', summary: 'the key exchange found no common algorithm; waiting for ssh -vvv to confirm…', evidence: [transcript] });
    }
    // The real client got through the key exchange: the gap is sshcheck's (an algorithm it
    // does not implement, e.g. sntrup761x25519), never the server's. ssh's evidence decides.
    if (sshGotThroughKex(parse)) {
      return makeStep(input, 'verbose', {
        settled: true,
        status: 'warn',
        summary: `ssh completes the key exchange, but sshcheck's own handshake could not (${h.end.detail}): the key-exchange and authentication phases could not be timed in-process`,
        evidence: [{ probe: 'ssh-handshake', detail: h.end.detail }, transcript],
      });
    }
    const confirmed = !AUTH_PHASES.has(parse.last ?? 'start');
    return makeStep(input, 'verbose', {
      settled: true,
      status: confirmed ? 'fail' : 'warn',
      summary: `no common algorithm with the server: ${h.end.detail}`,
      evidence: [{ probe: 'ssh-handshake', detail: h.end.detail }, transcript],
      findings: [{ cause: 'kex-failed', confidence: confirmed ? 'medium' : 'low', summary: `the key exchange finds no common algorithm: ${h.end.detail}` }],
    });
  }

  const reached = parse.last ?? 'start';
  if (verbose.state === 'running') {
    return makeStep(input, 'verbose', { settled: false, status: 'running', summary: `ssh -vvv so far: ${lastPhaseText(parse)}`, evidence: [transcript], ceiling });
  }
  // A second try after ssh's own lookup failed while getaddrinfo found the name (scheduler):
  // what the first try said stays in the evidence, and a success is only a warned one.
  const retried = verbose.firstTry;
  const retryNote = retried ? `; its first try could not resolve the name ("${retried.line}") while getaddrinfo resolved it at the same time: an answer was lost or the resolver flapped` : '';
  const retryEvidence = retried ? [{ probe: 'openssh-verbose' as const, detail: `first try: ${retried.line}` }] : [];
  if (stoppedOnPurpose(parse)) {
    const took = verbose.endedMs !== undefined ? ` in ${duration(verbose.endedMs - verbose.startedMs)}` : '';
    return makeStep(input, 'verbose', {
      settled: true,
      status: retried ? 'warn' : 'pass',
      summary: `ssh completes the key exchange${took} (sshcheck stops it there, before it sends a user name, so the target logs no failed login)${retryNote}`,
      evidence: [...retryEvidence, transcript],
    });
  }
  if (AUTH_PHASES.has(reached)) {
    const methods = parse.authMethods && parse.authMethods.length > 0 ? ` (${parse.authMethods.join(', ')})` : '';
    const took = verbose.endedMs !== undefined ? ` in ${duration(verbose.endedMs - verbose.startedMs)}` : '';
    return makeStep(input, 'verbose', { settled: true, status: retried ? 'warn' : 'pass', summary: `ssh gets through the handshake to authentication${methods}${took}${retryNote}`, evidence: [...retryEvidence, transcript] });
  }
  const owners = stopOwner(parse);
  const stopLine = parse.stop ? `: "${parse.stop.line}"` : '';
  const elapsed = verbose.endedMs !== undefined ? duration(verbose.endedMs - verbose.startedMs) : '?';
  // ssh may print its own verdict in the instant the run stops it: its words win.
  if (verbose.aborted && !parse.stop) {
    return makeStep(input, 'verbose', {
      settled: true,
      status: 'warn',
      summary: `ssh had got to "${lastPhaseText(parse)}" after ${elapsed} when the run stopped it; see ${pointer(owners)}`,
      evidence: [transcript],
    });
  }
  return makeStep(input, 'verbose', {
    settled: true,
    status: 'fail',
    summary: `ssh stops after "${lastPhaseText(parse)}" (${elapsed})${stopLine}; see ${pointer(owners)}`,
    evidence: [...retryEvidence, transcript],
    findings: [{ cause: stopCause(parse), confidence: 'low', summary: `ssh -vvv stops after "${lastPhaseText(parse)}"${stopLine}` }],
  });
}
