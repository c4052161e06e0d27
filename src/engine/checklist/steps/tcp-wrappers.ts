// Step 6: TCP wrappers and host rules. libwrap refuses after accepting: the client sees the
// connection closed or reset before any banner, ~5 s later on Debian (libwrap sleeps first).
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyBanner, classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { bannerEvidence } from '../evidence.js';
import { duration } from '../format.js';
import { makeStep, notReached } from './make.js';

/** libwrap's refusal on Debian sleeps 5 s before the process exits. */
const LIBWRAP_MIN_MS = 4500;
const LIBWRAP_MAX_MS = 6500;

export function assessTcpWrappers(input: AssessInput): StepAssessment {
  const { obs, thresholds: th } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'tcp-wrappers', 'the name did not resolve to any address', resolutionFailed(input));
  const reach = classifyReach(input, h);
  if (reach.kind === 'waiting' || reach.kind === 'unknown') return notReached(input, 'tcp-wrappers', '', false);
  if (reach.kind !== 'connected') return notReached(input, 'tcp-wrappers', 'TCP never connected', true);
  const evidence = [bannerEvidence(h)];
  const banner = classifyBanner(input, h);
  switch (banner.kind) {
    case 'not-connected':
    case 'waiting':
      return makeStep(input, 'tcp-wrappers', { settled: false, status: 'running', summary: 'connected, waiting for the banner…', evidence });
    case 'closed': {
      const libwrap = banner.afterMs >= LIBWRAP_MIN_MS && banner.afterMs <= LIBWRAP_MAX_MS;
      const how = banner.how === 'reset' ? 'reset' : 'closed';
      return makeStep(input, 'tcp-wrappers', {
        settled: true,
        status: 'fail',
        summary: `accepted, then ${how} after ${duration(banner.afterMs)} without a banner${libwrap ? ': the pattern of a TCP wrappers refusal' : ''}`,
        evidence,
        findings: [
          {
            cause: 'connection-closed',
            confidence: libwrap ? 'high' : 'medium',
            summary: libwrap
              ? `sshd accepts the connection and ${how}s it after ${duration(banner.afterMs)} without a banner: the 5 s pattern of a TCP wrappers (hosts.deny) refusal`
              : `the connection is accepted and ${how} after ${duration(banner.afterMs)} before any banner (hosts.deny, MaxStartups, or a proxy with no backend)`,
          },
        ],
      });
    }
    case 'received':
      if (banner.latencyMs >= th.bannerSlowMs) {
        return makeStep(input, 'tcp-wrappers', {
          settled: true,
          status: 'warn',
          summary: `the banner came only after ${duration(banner.latencyMs)}: libwrap may be waiting on reverse DNS for this bastion`,
          evidence,
        });
      }
      return makeStep(input, 'tcp-wrappers', { settled: true, status: 'pass', summary: 'this bastion is accepted and greeted at once: no host rule refuses it (the requester\'s address may differ)', evidence });
    case 'refused':
      return makeStep(input, 'tcp-wrappers', { settled: true, status: 'pass', summary: `sshd itself refused the connection ("${banner.line}"), not a host rule`, evidence });
    case 'timeout':
    case 'not-ssh':
      return makeStep(input, 'tcp-wrappers', { settled: true, status: 'skip', summary: 'cannot tell: no SSH banner to judge by', evidence });
  }
}
