// Step 10: fail2ban, DenyHosts and sshd penalties, from outside: whether this bastion is
// the one being dropped, and whether the server penalizes clients that leave unauthenticated.
import type { Evidence } from '../../report.js';
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyBanner, classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { pathEvidence } from '../evidence.js';
import { makeStep, notReached } from './make.js';

/** OpenSSH's version from its software string ("OpenSSH_9.8p1 ..." → [9, 8]). */
export function openSshVersion(software: string): [number, number] | undefined {
  const m = /^OpenSSH_(\d+)\.(\d+)/.exec(software);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function assessBans(input: AssessInput): StepAssessment {
  const { obs } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'bans', 'the name did not resolve to any address', resolutionFailed(input));
  const reach = classifyReach(input, h);
  const me = h.tcp.localAddress ?? 'this bastion';
  const evidence: Array<Evidence | undefined> = [pathEvidence(obs.path)];
  switch (reach.kind) {
    case 'unknown':
    case 'waiting':
      return makeStep(input, 'bans', { settled: false, status: 'running', summary: 'waiting for the connection…', evidence, ceiling: 'medium' });
    case 'silent': {
      // A router in front of a dead host answers "host unreachable" once ARP fails; silence
      // past that window means the host's link is up and something drops us.
      const lastHop = obs.path?.hops.filter((hop) => hop.address !== null).at(-1);
      const delivered = lastHop !== undefined;
      return makeStep(input, 'bans', {
        settled: true,
        status: 'warn',
        summary: `everything from ${me} goes unanswered: if the host is up, this bastion's address may be banned`,
        evidence,
        findings: [
          {
            cause: 'banned',
            confidence: delivered ? 'medium' : 'low',
            summary: `nothing answers ${me}${delivered ? ` although the path delivers up to ${lastHop.address ?? '?'} and no router reports the host unreachable` : ''}: a ban of this bastion (fail2ban, DenyHosts, a firewall rule) drops everything the same way`,
          },
        ],
      });
    }
    case 'filtered':
      return makeStep(input, 'bans', {
        settled: true,
        status: 'warn',
        summary: `SYNs from ${me} are dropped; a ban of this address looks the same as a firewall rule`,
        evidence,
        findings: [{ cause: 'banned', confidence: 'low', summary: `a ban of ${me} (fail2ban, firewall rule naming the address) drops SYNs exactly like a firewall rule` }],
      });
    case 'connected': {
      const banner = classifyBanner(input, h);
      if (banner.kind === 'waiting' || banner.kind === 'not-connected') return makeStep(input, 'bans', { settled: false, status: 'running', summary: 'connected, waiting for the banner…', evidence, ceiling: 'medium' });
      if (banner.kind === 'received') {
        const version = openSshVersion(banner.software);
        const penalties = version !== undefined && (version[0] > 9 || (version[0] === 9 && version[1] >= 8));
        const note = penalties ? `; ${banner.software} may apply PerSourcePenalties to clients that leave without logging in: exempt the bastion with PerSourcePenaltyExemptList` : '';
        return makeStep(input, 'bans', { settled: true, status: 'pass', summary: `${me} is not banned: it connects and gets a banner${note}`, evidence });
      }
      if (banner.kind === 'refused' && banner.reason === 'penalty') {
        return makeStep(input, 'bans', {
          settled: true,
          status: 'fail',
          summary: `sshd refuses ${me}: "${banner.line}" — OpenSSH 9.8+ PerSourcePenalties has penalized this address`,
          evidence,
          findings: [
            {
              cause: 'banned',
              confidence: 'high',
              summary: `sshd refuses ${me} with "${banner.line}": OpenSSH PerSourcePenalties penalized this address for earlier connections that did not log in; exempt the bastion with PerSourcePenaltyExemptList`,
            },
          ],
        });
      }
      if (banner.kind === 'closed') {
        return makeStep(input, 'bans', {
          settled: true,
          status: 'warn',
          summary: `${me} is accepted and then cut off before the banner`,
          evidence,
          findings: [{ cause: 'banned', confidence: 'low', summary: `sshd cuts ${me} off before the banner, as DenyHosts (hosts.deny) or OpenSSH 9.8+ penalties do` }],
        });
      }
      return makeStep(input, 'bans', { settled: true, status: 'pass', summary: `${me} is accepted at the TCP level: no sign of a ban from here`, evidence });
    }
    default:
      return makeStep(input, 'bans', { settled: true, status: 'skip', summary: 'cannot tell from here: the connection did not get far enough', evidence });
  }
}
