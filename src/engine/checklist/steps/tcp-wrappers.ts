// Step 6: TCP wrappers and host rules. libwrap refuses after accepting: the client sees the
// connection closed or reset before any banner, ~5 s later on Debian (libwrap sleeps first).
// From inside: the hosts.allow / hosts.deny lines for sshd, judged for this bastion's
// address and, with --from, for the requester's.
import type { Evidence } from '../../report.js';
import type { InsideFacts } from '../../observations.js';
import type { AssessInput, Finding, StepAssessment } from '../assessment.js';
import { bannerLostOnPath, classifyBanner, classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { bannerEvidence } from '../evidence.js';
import { duration } from '../format.js';
import { wrapperAccess } from '../access.js';
import { insideEvidence, insidePending, insideState, insideUnavailable } from '../inside.js';
import { makeStep, notReached } from './make.js';

/** libwrap's refusal on Debian sleeps 5 s before the process exits. */
const LIBWRAP_MIN_MS = 4500;
const LIBWRAP_MAX_MS = 6500;

function rulesEvidence(facts: InsideFacts): Evidence {
  const relevant = (lines: string[]): string[] => lines.filter((l) => /^\s*(ALL|sshd)\b/.test(l) || /[\s,]sshd\b/.test(l.split(':')[0] ?? ''));
  const allow = relevant(facts.hostsAllow);
  const deny = relevant(facts.hostsDeny);
  if (allow.length === 0 && deny.length === 0) return insideEvidence('hosts.allow and hosts.deny have no rule for sshd');
  return insideEvidence(`hosts.allow: ${allow.length > 0 ? allow.join(' | ') : '(none for sshd)'}; hosts.deny: ${deny.length > 0 ? deny.join(' | ') : '(none for sshd)'}`);
}

/** The requester's address against the host rules: a finding when they are refused. */
function requesterFinding(facts: InsideFacts, from: string): { evidence: Evidence; finding?: Finding } {
  const v = wrapperAccess(facts, from);
  if (v.verdict === 'denied') {
    return {
      evidence: insideEvidence(`${from} is refused by ${v.file ?? 'hosts.deny'}: "${v.line ?? ''}"`),
      finding: {
        cause: 'connection-closed',
        confidence: 'high',
        summary: `TCP wrappers refuse ${from}: ${v.file ?? 'hosts.deny'} has "${v.line ?? ''}" — allow it in /etc/hosts.allow (sshd: ${from}) or remove the line (DenyHosts writes such lines too)`,
      },
    };
  }
  if (v.verdict === 'unknown') return { evidence: insideEvidence(`${from}: ${v.note ?? 'cannot tell'} ("${v.line ?? ''}")`) };
  return { evidence: insideEvidence(`${from} is allowed by the host rules${v.line ? ` ("${v.line}")` : ''}`) };
}

export function assessTcpWrappers(input: AssessInput): StepAssessment {
  const { obs, thresholds: th, from } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'tcp-wrappers', 'the name did not resolve to any address', resolutionFailed(input));
  const inside = insideState(obs);
  const facts = inside.kind === 'facts' ? inside.facts : undefined;
  const requester = facts && from ? requesterFinding(facts, from) : undefined;
  const insideParts: Array<Evidence | undefined> = facts ? [rulesEvidence(facts), requester?.evidence] : [insideUnavailable(inside)];
  const requesterFindings = requester?.finding ? [requester.finding] : [];
  const waitForInside = insidePending(obs) && !input.final && from !== undefined;
  const reach = classifyReach(input, h);
  if (reach.kind === 'waiting' || reach.kind === 'unknown') return notReached(input, 'tcp-wrappers', '', false);
  if (reach.kind !== 'connected') {
    if (requesterFindings.length > 0) return makeStep(input, 'tcp-wrappers', { settled: true, status: 'fail', summary: requesterFindings[0]?.summary ?? '', evidence: insideParts, findings: requesterFindings });
    return notReached(input, 'tcp-wrappers', 'TCP never connected', !waitForInside, insideParts);
  }
  const evidence = [bannerEvidence(h), ...insideParts];
  const banner = classifyBanner(input, h);
  // ssh -vvv got a banner while this connection's was lost on a blackholed path (step 7):
  // sshd greets this bastion, so no host rule refuses it.
  if (!waitForInside && bannerLostOnPath(input, h)?.serverGreets === true) {
    return makeStep(input, 'tcp-wrappers', { settled: true, status: 'pass', summary: 'sshd greets this bastion (ssh -vvv got its banner): no host rule refuses it', evidence, findings: requesterFindings });
  }
  switch (banner.kind) {
    case 'not-connected':
    case 'waiting':
      return makeStep(input, 'tcp-wrappers', { settled: false, status: 'running', summary: 'connected, waiting for the banner…', evidence });
    case 'closed': {
      const libwrap = banner.afterMs >= LIBWRAP_MIN_MS && banner.afterMs <= LIBWRAP_MAX_MS;
      const how = banner.how === 'reset' ? 'reset' : 'closed';
      const seen = banner.by !== undefined ? ` (seen on ${banner.by}'s connection; this check's own heard nothing more: its ${how === 'reset' ? 'reset' : 'close'} was lost on the way)` : '';
      return makeStep(input, 'tcp-wrappers', {
        settled: true,
        status: 'fail',
        summary: `accepted, then ${how} after ${duration(banner.afterMs)} without a banner${seen}${libwrap ? ': the pattern of a TCP wrappers refusal' : ''}`,
        evidence,
        findings: [
          {
            cause: 'connection-closed',
            confidence: libwrap ? 'high' : 'medium',
            summary: libwrap
              ? `sshd accepts the connection and ${how}s it after ${duration(banner.afterMs)} without a banner: the 5 s pattern of a TCP wrappers (hosts.deny) refusal`
              : `the connection is accepted and ${how} after ${duration(banner.afterMs)} before any banner (hosts.deny, MaxStartups, or a proxy with no backend)`,
          },
          ...requesterFindings,
        ],
      });
    }
    case 'received':
      if (waitForInside) return makeStep(input, 'tcp-wrappers', { settled: false, status: 'running', summary: `checking the host rules for ${from ?? ''}…`, evidence });
      if (requesterFindings.length > 0) {
        return makeStep(input, 'tcp-wrappers', { settled: true, status: 'fail', summary: `this bastion is accepted, but ${requesterFindings[0]?.summary ?? ''}`, evidence, findings: requesterFindings });
      }
      if (banner.latencyMs >= th.bannerSlowMs) {
        return makeStep(input, 'tcp-wrappers', {
          settled: true,
          status: 'warn',
          summary: `the banner came only after ${duration(banner.latencyMs)}: libwrap may be waiting on reverse DNS for this bastion`,
          evidence,
        });
      }
      return makeStep(input, 'tcp-wrappers', {
        settled: true,
        status: 'pass',
        summary: `this bastion is accepted and greeted at once: no host rule refuses it${from ? '' : " (the requester's address may differ)"}`,
        evidence,
      });
    case 'refused':
      return makeStep(input, 'tcp-wrappers', { settled: true, status: 'pass', summary: `sshd itself refused the connection ("${banner.line}"), not a host rule`, evidence, findings: requesterFindings });
    case 'old-protocol':
      return makeStep(input, 'tcp-wrappers', { settled: true, status: 'pass', summary: 'this bastion is accepted and greeted: no host rule refuses it', evidence, findings: requesterFindings });
    case 'timeout':
    case 'not-ssh':
      return makeStep(input, 'tcp-wrappers', { settled: true, status: 'skip', summary: 'cannot tell: no SSH banner to judge by', evidence, findings: requesterFindings });
  }
}
