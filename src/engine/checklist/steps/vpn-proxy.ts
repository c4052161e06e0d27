// Step 7: VPN, proxy and path MTU. Something on the port that does not speak SSH, a key
// exchange that never completes although the banner went through (large packets lost:
// an MTU blackhole), and the bastion's own ssh config routing the host elsewhere.
import type { AssessInput, StepAssessment } from '../assessment.js';
import { bannerLostOnPath, classifyBanner, classifyKex, classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { bannerEvidence, kexEvidence, mtuEvidence, mtuSummary, sshConfigEvidence, sshConfigOverrides } from '../evidence.js';
import { duration } from '../format.js';
import { makeStep, notReached } from './make.js';
import { sshGotThroughKex } from './verbose.js';

/** Extra wait for the MTU sweep once the stall itself is established. */
const SWEEP_GRACE_MS = 1000;

export function assessVpnProxy(input: AssessInput): StepAssessment {
  const { obs, target, now, final, thresholds: th } = input;
  const h = primaryHandshake(obs);
  const config = sshConfigEvidence(obs.sshConfig, target.host, target.port);
  if (!h) return notReached(input, 'vpn-proxy', 'the name did not resolve to any address', resolutionFailed(input), [config]);
  const reach = classifyReach(input, h);
  if (reach.kind === 'waiting' || reach.kind === 'unknown') return notReached(input, 'vpn-proxy', '', false, [config]);
  if (reach.kind !== 'connected') return notReached(input, 'vpn-proxy', 'TCP never connected', true, [config]);

  const banner = classifyBanner(input, h);
  if (banner.kind === 'not-ssh') {
    return makeStep(input, 'vpn-proxy', {
      settled: true,
      status: 'fail',
      summary: `port ${target.port} answers, but not with SSH: ${banner.detail}`,
      evidence: [bannerEvidence(h), config],
      findings: [{ cause: 'not-ssh', confidence: 'high', summary: `the peer on port ${target.port} does not speak SSH (${banner.detail}): a proxy, load balancer or another service answers` }],
    });
  }
  // No banner, and the don't-fragment sweep shows large packets vanishing: the blackhole
  // swallowed a banner resent together with the key exchange (facts.ts, bannerLostOnPath).
  // It is the verdict once the banner timed out, or at once when ssh -vvv's connection got a
  // banner (sshd greets; this one's was lost on the way).
  const lost = bannerLostOnPath(input, h);
  if (lost && (banner.kind === 'timeout' || lost.serverGreets)) {
    const waited = banner.kind === 'timeout' || banner.kind === 'waiting' ? duration(banner.waitedMs) : '?';
    const sizes = `${lost.passes ?? '?'}-byte packets cross but ${lost.fails ?? '?'}-byte ones vanish`;
    return makeStep(input, 'vpn-proxy', {
      settled: true,
      status: 'fail',
      summary: `TCP connects but no banner arrived in ${waited}, and ${sizes}: the banner, resent merged with the key exchange, is too large for the path`,
      evidence: [bannerEvidence(h), mtuEvidence(obs.mtu), config],
      findings: [
        {
          cause: 'kex-stall',
          confidence: lost.serverGreets ? 'high' : 'medium',
          summary: `large packets are lost on the path (MTU blackhole${lost.passes !== undefined ? `, path MTU ≈ ${lost.passes}` : ''}): ${lost.serverGreets ? 'sshd greets ssh -vvv, but ' : ''}no banner arrived on this connection in ${waited}, and a lost banner is resent merged with the server's key exchange into a segment too large to cross`,
        },
      ],
    });
  }
  if (banner.kind === 'waiting' || banner.kind === 'not-connected') return notReached(input, 'vpn-proxy', '', false, [config]);
  if (banner.kind === 'refused') return notReached(input, 'vpn-proxy', 'sshd refused the connection before the key exchange', true, [config]);
  if (banner.kind !== 'received') return notReached(input, 'vpn-proxy', 'no SSH banner, so no key exchange', true, [config]);

  const kex = classifyKex(input, h);
  const evidence = [kexEvidence(h), mtuEvidence(obs.mtu), config];
  switch (kex.kind) {
    case 'not-started':
    case 'waiting':
      return makeStep(input, 'vpn-proxy', { settled: false, status: 'running', summary: 'banner received, key exchange under way…', evidence });
    case 'stalled': {
      const mtu = mtuSummary(obs.mtu);
      const sweepDone = obs.mtu?.state === 'done';
      if (!sweepDone && !final && kex.waitedMs < th.kexStallMs + SWEEP_GRACE_MS) {
        return makeStep(input, 'vpn-proxy', { settled: false, status: 'running', summary: `key exchange stalled for ${duration(kex.waitedMs)}; checking the path MTU…`, evidence });
      }
      const mtuNote = mtu.blackhole ? `; ${mtu.passes ?? '?'}-byte packets cross but ${mtu.fails ?? '?'}-byte ones vanish` : '';
      return makeStep(input, 'vpn-proxy', {
        settled: true,
        status: 'fail',
        summary: `the banner went through but ${kex.phase} never arrived (${duration(kex.waitedMs)})${mtuNote}`,
        evidence,
        findings: [
          {
            cause: 'kex-stall',
            confidence: mtu.blackhole ? 'high' : 'medium',
            summary: `the banner is exchanged but ${kex.phase} never arrives (${duration(kex.waitedMs)})${mtu.blackhole ? `: large packets are lost on the path (MTU blackhole${mtu.passes !== undefined ? `, path MTU ≈ ${mtu.passes}` : ''})` : ': large packets are probably lost on the path (MTU blackhole, VPN or tunnel)'}`,
          },
        ],
      });
    }
    case 'forged':
      return makeStep(input, 'vpn-proxy', {
        settled: true,
        status: 'fail',
        summary: `the key exchange reply is not signed by the host key it carries: ${kex.detail}`,
        evidence,
        findings: [
          {
            cause: 'host-key-forged',
            confidence: 'high',
            summary: `whatever answers for ${target.host} does not hold the host key it presents (${kex.detail}): an intercepting proxy or a man in the middle`,
          },
        ],
      });
    case 'violation':
      return makeStep(input, 'vpn-proxy', {
        settled: true,
        status: 'fail',
        summary: `after its banner the peer sent bytes that are not SSH: ${kex.detail}`,
        evidence,
        findings: [
          {
            cause: 'protocol-violation',
            confidence: 'high',
            summary: `the peer on port ${target.port} breaks the SSH protocol after its banner (${kex.detail}): a non-SSH service, a broken proxy or an interfering middlebox`,
          },
        ],
      });
    case 'dropped':
      return makeStep(input, 'vpn-proxy', {
        settled: true,
        status: 'pass',
        summary: `packets cross the path: the server itself ended the connection while we waited for ${kex.phase} (step 4)`,
        evidence,
      });
    case 'failed':
      if (kex.how === 'broken' && h.end?.kind === 'internal-error') {
        return makeStep(input, 'vpn-proxy', { settled: true, status: 'warn', summary: `sshcheck could not follow the key exchange: ${kex.detail}`, evidence });
      }
      if (kex.how === 'broken') {
        return makeStep(input, 'vpn-proxy', {
          settled: true,
          status: 'fail',
          summary: `the connection broke during the key exchange: ${kex.detail}`,
          evidence,
          findings: [{ cause: 'kex-stall', confidence: 'medium', summary: `the key exchange never completes: ${kex.detail} (a middlebox or proxy may interfere)` }],
        });
      }
      if (obs.verbose?.parsed && sshGotThroughKex(obs.verbose.parsed)) {
        return makeStep(input, 'vpn-proxy', { settled: true, status: 'pass', summary: 'packets cross the path: ssh completes the key exchange (sshcheck\'s own handshake lacks the algorithm, step 2)', evidence });
      }
      return makeStep(input, 'vpn-proxy', { settled: true, status: 'pass', summary: 'packets cross the path; the key exchange fails on algorithms (step 2)', evidence });
    case 'complete': {
      const overridden = sshConfigOverrides(obs.sshConfig, target.host, target.port);
      const configPending = obs.sshConfig !== undefined && obs.sshConfig.state === 'running' && !final && now < th.kexStallMs;
      if (configPending) return makeStep(input, 'vpn-proxy', { settled: false, status: 'running', summary: 'reading the bastion\'s ssh config…', evidence });
      if (overridden) {
        return makeStep(input, 'vpn-proxy', {
          settled: true,
          status: 'warn',
          summary: `the key exchange completes in ${duration(kex.kexMs)}, but the bastion's ssh config reaches ${target.host} differently from this probe`,
          evidence,
        });
      }
      return makeStep(input, 'vpn-proxy', { settled: true, status: 'pass', summary: `SSH all the way through: the key exchange completed in ${duration(kex.kexMs)}, so packets of every size cross the path`, evidence });
    }
  }
}
