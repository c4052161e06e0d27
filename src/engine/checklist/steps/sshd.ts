// Step 4: the SSH daemon. From outside: a reset means nothing listens; a connection with no
// identification line means sshd is hung, overloaded, or not there. From inside (a
// diagnostics login): is sshd running, where does it listen, does its config test pass.
import type { Evidence } from '../../report.js';
import type { InsideFacts } from '../../observations.js';
import type { AssessInput, StepAssessment } from '../assessment.js';
import { bannerLostOnPath, classifyBanner, classifyKex, classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { bannerEvidence, kexEvidence, tcpEvidence } from '../evidence.js';
import { duration, endpoint, listing, plural } from '../format.js';
import { insideEvidence, insidePending, insideState, insideUnavailable, loginEvidence, timingNote } from '../inside.js';
import { makeStep, notReached } from './make.js';

export function sshdRunning(facts: InsideFacts): boolean {
  return facts.sshdActive === 'active' || (facts.sshdProcesses ?? 0) > 0;
}

export function listensOn(facts: InsideFacts, port: number): boolean {
  return facts.listeners.some((l) => l.port === port);
}

function insideLines(facts: InsideFacts, port: number): Evidence[] {
  const out: Evidence[] = [];
  const procs = facts.sshdProcesses !== undefined ? `, ${plural(facts.sshdProcesses, 'sshd process', 'sshd processes')}` : '';
  out.push(insideEvidence(`systemctl is-active: ${facts.sshdActive ?? 'unknown'}${procs}`));
  const sshdListeners = facts.listeners.filter((l) => l.process === undefined || /sshd/.test(l.process));
  const shown = sshdListeners.map((l) => `${endpoint(l.address, l.port)}${l.process ? ` (${l.process})` : ''}`);
  out.push(insideEvidence(shown.length > 0 ? `listening: ${shown.slice(0, 8).join(', ')}${timingNote(facts, 'listeners')}` : `nothing listens on port ${port}${facts.errors.listeners ? ` (${facts.errors.listeners})` : ''}`));
  const ports = facts.sshdConfig.port;
  const addresses = facts.sshdConfig.listenaddress;
  if (ports || addresses) out.push(insideEvidence(`sshd -T: port ${(ports ?? ['?']).join(', ')}; listenaddress ${(addresses ?? ['?']).join(', ')}${timingNote(facts, 'sshd-config')}`));
  else if (facts.errors['sshd-config']) out.push(insideEvidence(`sshd -T could not run: ${facts.errors['sshd-config']}`));
  if (facts.configTest) out.push(insideEvidence(facts.configTest.ok ? 'sshd -t: the configuration is valid' : `sshd -t fails: ${facts.configTest.output.split('\n')[0] ?? ''}`));
  return out;
}

export function assessSshd(input: AssessInput): StepAssessment {
  const { obs, target, thresholds: th } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'sshd', 'the name did not resolve to any address', resolutionFailed(input));
  const where = endpoint(h.address, target.port);
  const inside = insideState(obs);
  const facts = inside.kind === 'facts' ? inside.facts : undefined;
  const evidence: Array<Evidence | undefined> = [tcpEvidence(h), bannerEvidence(h), ...(inside.kind === 'facts' ? [loginEvidence(inside), ...insideLines(inside.facts, target.port)] : [insideUnavailable(inside)])];
  const reach = classifyReach(input, h);
  if (reach.kind === 'refused') {
    // From outside a reset cannot tell "nothing listens" from "a firewall rule answers with
    // a reset"; the inside view can, so wait for it when it is coming.
    if (insidePending(obs) && !input.final) return makeStep(input, 'sshd', { settled: false, status: 'running', summary: `TCP reset from ${where}; asking the server whether sshd listens…`, evidence });
    if (facts && !sshdRunning(facts)) {
      return makeStep(input, 'sshd', {
        settled: true,
        status: 'fail',
        summary: `sshd is not running on the server (systemctl: ${facts.sshdActive ?? 'unknown'}, no sshd process)`,
        evidence,
        findings: [{ cause: 'port-closed', confidence: 'high', summary: `sshd is not running on the server (systemctl is-active: ${facts.sshdActive ?? 'unknown'}): start it with \`sudo systemctl start ssh\` and check \`sudo sshd -t\`` }],
      });
    }
    if (facts && !listensOn(facts, target.port)) {
      const elsewhere = [...new Set(facts.listeners.filter((l) => l.process === undefined || /sshd/.test(l.process)).map((l) => String(l.port)))];
      const other = elsewhere.length > 0 ? `listens on port ${listing(elsewhere)} only` : 'listens on no port at all';
      return makeStep(input, 'sshd', {
        settled: true,
        status: 'fail',
        summary: `sshd runs but ${other}, not on ${target.port}`,
        evidence,
        findings: [{ cause: 'port-closed', confidence: 'high', summary: `sshd runs on the server but ${other}, not on port ${target.port} (sshd -T: port ${(facts.sshdConfig.port ?? ['?']).join(', ')})` }],
      });
    }
    if (facts) {
      return makeStep(input, 'sshd', { settled: true, status: 'pass', summary: `sshd runs and listens on port ${target.port}: the reset comes from a firewall rule (step 3)`, evidence });
    }
    return makeStep(input, 'sshd', {
      settled: true,
      status: 'fail',
      summary: `nothing listens on ${where}: TCP reset in ${duration(reach.afterMs)}`,
      evidence,
      findings: [{ cause: 'port-closed', confidence: 'high', summary: `nothing listens on ${where}: the SYN is answered with a TCP reset (sshd stopped, or listening on another port/address)` }],
    });
  }
  if (reach.kind === 'waiting' || reach.kind === 'unknown') return notReached(input, 'sshd', '', false, evidence);
  if (reach.kind !== 'connected') return notReached(input, 'sshd', 'TCP never connected', true, evidence);

  const banner = classifyBanner(input, h);
  const configBroken = facts?.configTest && !facts.configTest.ok;
  // No banner on a path that loses large packets: the banner was sent and lost (step 7 names
  // the blackhole); sshd itself is only suspect as a weak alternative. Before the banner
  // timeout this is settled only when ssh -vvv saw sshd greet its own connection.
  const lost = bannerLostOnPath(input, h);
  if (lost && (banner.kind === 'timeout' || lost.serverGreets)) {
    const waited = banner.kind === 'timeout' || banner.kind === 'waiting' ? ` in ${duration(banner.waitedMs)}` : '';
    const greets = lost.serverGreets ? 'sshd greets ssh -vvv\'s connection, but ' : '';
    return makeStep(input, 'sshd', {
      settled: true,
      status: 'warn',
      summary: `${greets}no SSH banner arrived on this connection${waited}: large packets vanish on the path (step 7), and a lost banner is resent merged with the key exchange`,
      evidence,
      findings: lost.serverGreets ? [] : [{ cause: 'banner-timeout', confidence: 'low', summary: `${where} sends no SSH identification${waited}; the path also loses large packets (step 7), which would swallow a resent banner` }],
    });
  }
  switch (banner.kind) {
    case 'not-connected':
    case 'waiting':
      return makeStep(input, 'sshd', { settled: false, status: 'running', summary: 'connected, waiting for the SSH banner…', evidence });
    case 'received': {
      const kex = classifyKex(input, h);
      if (kex.kind === 'dropped') {
        const how = kex.how === 'disconnect' ? 'sent DISCONNECT' : kex.how === 'reset' ? 'reset the connection' : 'closed the connection';
        return makeStep(input, 'sshd', {
          settled: true,
          status: 'fail',
          summary: `${banner.software} answered, then ${how} ${duration(kex.afterMs)} after its banner, while we waited for ${kex.phase}`,
          evidence: [...evidence, kexEvidence(h)],
          findings: [
            {
              cause: 'server-dropped',
              confidence: 'high',
              summary: `the server ${how} during the key exchange (${kex.detail}): sshd itself drops this client (MaxStartups, a crash, per-source penalties, or a wrapper in front of it), not the network`,
            },
          ],
        });
      }
      if (insidePending(obs) && !input.final) return makeStep(input, 'sshd', { settled: false, status: 'running', summary: `${banner.software} answered; reading the server's side…`, evidence, ceiling: 'low' });
      const before = banner.preBannerLines > 0 ? ` after ${plural(banner.preBannerLines, 'other line')}` : '';
      if (banner.latencyMs >= th.bannerSlowMs || configBroken) {
        const why = configBroken ? `; sshd -t fails, so sshd will not come back after a restart` : '';
        return makeStep(input, 'sshd', { settled: true, status: 'warn', summary: `${banner.software} answered${banner.latencyMs >= th.bannerSlowMs ? `, but its banner took ${duration(banner.latencyMs)}` : ''}${before}${why}`, evidence });
      }
      return makeStep(input, 'sshd', { settled: true, status: 'pass', summary: `${banner.software} answered in ${duration(banner.latencyMs)}${before}`, evidence });
    }
    case 'timeout':
      return makeStep(input, 'sshd', {
        settled: true,
        status: 'fail',
        summary: `TCP connects but no SSH banner arrived in ${duration(banner.waitedMs)}`,
        evidence,
        findings: [
          {
            cause: 'banner-timeout',
            confidence: banner.waitedMs >= th.bannerTimeoutMs ? 'high' : 'medium',
            summary: `${where} accepts the connection but sends no SSH identification in ${duration(banner.waitedMs)} (sshd hung or overloaded, or a silent service on the port)`,
          },
        ],
      });
    case 'closed':
      return makeStep(input, 'sshd', { settled: true, status: 'warn', summary: `the connection was accepted, then ${banner.how === 'reset' ? 'reset' : 'closed'} before any banner${banner.by !== undefined ? ` (seen on ${banner.by}'s connection)` : ''}`, evidence });
    case 'not-ssh':
      return makeStep(input, 'sshd', { settled: true, status: 'warn', summary: `the peer on ${where} is not an SSH server`, evidence });
    case 'refused':
      return makeStep(input, 'sshd', { settled: true, status: 'warn', summary: `sshd runs and answers, but refused this connection: "${banner.line}"`, evidence });
    case 'old-protocol':
      return makeStep(input, 'sshd', { settled: true, status: 'warn', summary: `an SSH server answers, but ${banner.detail}`, evidence });
  }
}
