// Step 4: the SSH daemon, from the outside: a reset means nothing listens; a connection with
// no identification line means sshd is hung, overloaded, or not there.
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyBanner, classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { bannerEvidence, tcpEvidence } from '../evidence.js';
import { duration, endpoint, plural } from '../format.js';
import { makeStep, notReached } from './make.js';

export function assessSshd(input: AssessInput): StepAssessment {
  const { obs, target, thresholds: th } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'sshd', 'the name did not resolve to any address', resolutionFailed(input));
  const where = endpoint(h.address, target.port);
  const evidence = [tcpEvidence(h), bannerEvidence(h)];
  const reach = classifyReach(input, h);
  if (reach.kind === 'refused') {
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
  switch (banner.kind) {
    case 'not-connected':
    case 'waiting':
      return makeStep(input, 'sshd', { settled: false, status: 'running', summary: 'connected, waiting for the SSH banner…', evidence });
    case 'received': {
      const before = banner.preBannerLines > 0 ? ` after ${plural(banner.preBannerLines, 'other line')}` : '';
      if (banner.latencyMs >= th.bannerSlowMs) {
        return makeStep(input, 'sshd', {
          settled: true,
          status: 'warn',
          summary: `${banner.software} answered, but its banner took ${duration(banner.latencyMs)}${before}`,
          evidence,
        });
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
      return makeStep(input, 'sshd', { settled: true, status: 'warn', summary: `the connection was accepted, then ${banner.how === 'reset' ? 'reset' : 'closed'} before any banner`, evidence });
    case 'not-ssh':
      return makeStep(input, 'sshd', { settled: true, status: 'warn', summary: `the peer on ${where} is not an SSH server`, evidence });
    case 'refused':
      return makeStep(input, 'sshd', { settled: true, status: 'warn', summary: `sshd runs and answers, but refused this connection: "${banner.line}"`, evidence });
  }
}
