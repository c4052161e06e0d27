// Step 10: fail2ban, DenyHosts and sshd penalties. From outside: whether this bastion is the
// one being dropped, and whether the server penalizes clients that leave unauthenticated.
// From inside: fail2ban's ban list, firewall rules and sshd log lines naming an address —
// this bastion's, and with --from the requester's, with the command that lifts the ban.
import type { Evidence } from '../../report.js';
import type { InsideFacts } from '../../observations.js';
import type { AssessInput, Finding, StepAssessment } from '../assessment.js';
import { classifyBanner, classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { pathEvidence } from '../evidence.js';
import { fail2banBans, firewallRulesNaming, logLinesNaming } from '../access.js';
import { insideEvidence, insidePending, insideState } from '../inside.js';
import { makeStep, notReached } from './make.js';

/** OpenSSH's version from its software string ("OpenSSH_9.8p1 ..." → [9, 8]). */
export function openSshVersion(software: string): [number, number] | undefined {
  const m = /^OpenSSH_(\d+)\.(\d+)/.exec(software);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

interface BanCheck {
  evidence: Evidence[];
  finding?: Finding;
  /** One sentence for the step summary. */
  verdict: string;
}

/** Is `address` banned on the target, according to what the inside script returned? Pure. */
export function banCheck(facts: InsideFacts, address: string, who: string): BanCheck {
  const evidence: Evidence[] = [];
  const reasons: string[] = [];
  const lifts: string[] = [];
  const inJail = fail2banBans(facts, address);
  const f2b = facts.fail2ban;
  if (inJail === true) {
    reasons.push(`fail2ban's sshd jail has banned it`);
    lifts.push(`sudo fail2ban-client set sshd unbanip ${address}`);
  }
  evidence.push(insideEvidence(f2b === undefined ? 'fail2ban: not checked' : 'error' in f2b ? `fail2ban: ${f2b.error}` : `fail2ban sshd jail: ${f2b.banned.length} banned (${f2b.banned.slice(0, 10).join(', ') || 'none'})${f2b.currentlyFailed !== undefined ? `, ${f2b.currentlyFailed} currently failing` : ''}`));
  const rules = firewallRulesNaming(facts.firewall, address);
  if (rules.length > 0) {
    const direct = rules.filter((r) => !/f2b-|fail2ban/.test(r));
    if (direct.length > 0) {
      reasons.push(`a firewall rule drops it (${direct[0] ?? ''})`);
      lifts.push(`remove the rule: sudo iptables -D ${(direct[0] ?? '').replace(/^-A /, '')}`);
    }
    evidence.push(insideEvidence(`firewall rules naming ${address}: ${rules.slice(0, 4).join(' | ')}`));
  }
  const penalties = logLinesNaming(facts, address).filter((l) => /penalt|Not allowed at this time|drop connection/i.test(l));
  if (penalties.length > 0) {
    reasons.push(`sshd penalizes it ("${penalties[penalties.length - 1] ?? ''}")`);
    lifts.push(`add ${address} to PerSourcePenaltyExemptList in sshd_config`);
    evidence.push(insideEvidence(`sshd log: ${penalties.slice(-3).join(' | ')}`));
  }
  if (reasons.length === 0) return { evidence, verdict: `${who} (${address}) is not banned: not in fail2ban's sshd jail, no firewall rule or sshd penalty names it` };
  return {
    evidence,
    verdict: `${who} (${address}) is banned: ${reasons.join('; ')}`,
    finding: { cause: 'banned', confidence: 'high', summary: `${who} (${address}) is banned on the server: ${reasons.join('; ')}. To lift it: ${lifts.join('; ')}` },
  };
}

/** "ssh worked from this bastion 4 min ago (10:02:03Z)": the history note, when there is one. */
function recentlyHealthy(input: AssessInput): { note: string; evidence: Evidence } | undefined {
  const last = input.history?.lastHealthy;
  if (!last) return undefined;
  const minutes = Math.max(0, Math.round(last.ageMs / 60_000));
  const ago = minutes < 1 ? 'less than a minute ago' : `${minutes} min ago`;
  const note = `SSH to it worked from this bastion ${ago} (${last.at.replace(/\.\d{3}Z$/, 'Z')})`;
  return { note, evidence: { probe: 'engine', detail: `history: ${note}` } };
}

export function assessBans(input: AssessInput): StepAssessment {
  const { obs, from } = input;
  // A target that answered this bastion recently and now drops everything from it is what a
  // ban looks like; the store says whether it did (RunOptions.history).
  const recent = recentlyHealthy(input);
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'bans', 'the name did not resolve to any address', resolutionFailed(input));
  const reach = classifyReach(input, h);
  const me = h.tcp.localAddress ?? 'this bastion';
  const inside = insideState(obs);
  const facts = inside.kind === 'facts' ? inside.facts : undefined;
  const requester = facts && from ? banCheck(facts, from, 'the requester') : undefined;
  const bastion = facts && h.tcp.localAddress ? banCheck(facts, h.tcp.localAddress, 'this bastion') : undefined;
  const fromNote: Evidence | undefined =
    from && inside.kind === 'none'
      ? { probe: 'inside', detail: `cannot check ${from} from here (${inside.reason}): on the server run \`sudo fail2ban-client status sshd | grep -w ${from}\` and \`grep ${from} /etc/hosts.deny\`` }
      : undefined;
  const evidence: Array<Evidence | undefined> = [pathEvidence(obs.path), ...(bastion?.evidence ?? []), ...(requester?.evidence ?? []), fromNote, recent?.evidence];
  const insideFindings = [requester?.finding, bastion?.finding].filter((f): f is Finding => f !== undefined);
  const verdicts = [requester?.verdict, bastion && !requester ? bastion.verdict : undefined].filter((v): v is string => v !== undefined);
  if (insidePending(obs) && !input.final && (from !== undefined || reach.kind === 'connected')) {
    return makeStep(input, 'bans', { settled: false, status: 'running', summary: `checking the server's ban lists${from ? ` for ${from}` : ''}…`, evidence, ceiling: 'high' });
  }
  if (insideFindings.length > 0) {
    return makeStep(input, 'bans', { settled: true, status: 'fail', summary: verdicts.join('; '), evidence, findings: insideFindings });
  }
  const plain = verdicts.length > 0 ? `; ${verdicts.join('; ')}` : '';
  switch (reach.kind) {
    case 'unknown':
    case 'waiting':
      return makeStep(input, 'bans', { settled: false, status: 'running', summary: 'waiting for the connection…', evidence, ceiling: recent ? 'high' : 'medium' });
    case 'silent': {
      // A router in front of a dead host answers "host unreachable" once ARP fails; silence
      // past that window means the host's link is up and something drops us.
      const lastHop = obs.path?.hops.filter((hop) => hop.address !== null).at(-1);
      const delivered = lastHop !== undefined;
      // Recent success from here raises the ban one level: a host that went down would more
      // often show up as unreachable at its router than as silence.
      const confidence = delivered ? (recent ? 'high' : 'medium') : recent ? 'medium' : 'low';
      return makeStep(input, 'bans', {
        settled: true,
        status: 'warn',
        summary: `everything from ${me} goes unanswered: if the host is up, this bastion's address may be banned${recent ? `; ${recent.note}` : ''}`,
        evidence,
        findings: [
          {
            cause: 'banned',
            confidence,
            summary: `nothing answers ${me}${delivered ? ` although the path delivers up to ${lastHop.address ?? '?'} and no router reports the host unreachable` : ''}${recent ? `, and ${recent.note}` : ''}: a ban of this bastion (fail2ban, DenyHosts, a firewall rule) drops everything the same way`,
          },
        ],
      });
    }
    case 'filtered':
      return makeStep(input, 'bans', {
        settled: true,
        status: 'warn',
        summary: `SYNs from ${me} are dropped; a ban of this address looks the same as a firewall rule${recent ? `; ${recent.note}` : ''}${plain}`,
        evidence,
        findings: [
          {
            cause: 'banned',
            confidence: recent ? 'medium' : 'low',
            summary: `a ban of ${me} (fail2ban, firewall rule naming the address) drops SYNs exactly like a firewall rule${recent ? `, and ${recent.note}: a new ban is as likely as a new rule` : ''}`,
          },
        ],
      });
    case 'connected': {
      const banner = classifyBanner(input, h);
      if (banner.kind === 'waiting' || banner.kind === 'not-connected') return makeStep(input, 'bans', { settled: false, status: 'running', summary: 'connected, waiting for the banner…', evidence, ceiling: 'medium' });
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
      if (banner.kind === 'received') {
        const version = openSshVersion(banner.software);
        const penalties = version !== undefined && (version[0] > 9 || (version[0] === 9 && version[1] >= 8));
        const note = penalties ? `; ${banner.software} may apply PerSourcePenalties to clients that leave without logging in: exempt the bastion with PerSourcePenaltyExemptList` : '';
        return makeStep(input, 'bans', { settled: true, status: 'pass', summary: `${me} is not banned: it connects and gets a banner${note}${requester ? `; ${requester.verdict}` : ''}`, evidence });
      }
      if (banner.kind === 'closed') {
        return makeStep(input, 'bans', {
          settled: true,
          status: 'warn',
          summary: `${me} is accepted and then cut off before the banner${plain}`,
          evidence,
          findings: [{ cause: 'banned', confidence: 'low', summary: `sshd cuts ${me} off before the banner, as DenyHosts (hosts.deny) or OpenSSH 9.8+ penalties do` }],
        });
      }
      return makeStep(input, 'bans', { settled: true, status: 'pass', summary: `${me} is accepted at the TCP level: no sign of a ban from here${plain}`, evidence });
    }
    default:
      return makeStep(input, 'bans', { settled: true, status: verdicts.length > 0 ? 'pass' : 'skip', summary: verdicts.length > 0 ? verdicts.join('; ') : 'cannot tell from here: the connection did not get far enough', evidence });
  }
}
