// Step 3: firewalls and security groups, from how the SYN to the SSH port ended: a silent
// drop while the host otherwise answers, or an ICMP reject.
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { controlEvidence, pathEvidence, pingEvidence, tcpEvidence } from '../evidence.js';
import { duration } from '../format.js';
import { makeStep, notReached } from './make.js';

export function assessFirewall(input: AssessInput): StepAssessment {
  const { obs, target } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'firewall', 'the name did not resolve to any address', resolutionFailed(input));
  const port = target.port;
  const reach = classifyReach(input, h);
  const evidence = [tcpEvidence(h), controlEvidence(obs.control), pingEvidence(obs.ping), pathEvidence(obs.path)];
  const done = (status: 'pass' | 'warn' | 'fail' | 'skip', summary: string, findings: StepAssessment['findings'] = []): StepAssessment =>
    makeStep(input, 'firewall', { settled: true, status, summary, evidence, findings });

  switch (reach.kind) {
    case 'unknown':
    case 'waiting':
      return makeStep(input, 'firewall', { settled: false, status: 'running', summary: `waiting for port ${port} to answer…`, evidence });
    case 'connected':
      return done('pass', `port ${port} is open from this bastion`);
    case 'refused':
      return done('pass', `not a silent drop: port ${port} answered with a TCP reset (a REJECT --reject-with tcp-reset rule looks the same)`, [
        { cause: 'port-rejected', confidence: 'low', summary: `a firewall rule answering with TCP reset cannot be told apart from a closed port` },
      ]);
    case 'rejected':
      return done('fail', `port ${port} is rejected with an ICMP error (${reach.basis})`, [
        {
          cause: 'port-rejected',
          confidence: reach.strong ? 'high' : 'medium',
          summary: `a firewall rejects port ${port}: the SYN gets an ICMP "unreachable/prohibited" while ${reach.basis}`,
        },
      ]);
    case 'filtered':
      return done('fail', `SYNs to port ${port} are dropped silently: no answer in ${duration(reach.waitedMs)} while ${reach.basis}`, [
        {
          cause: 'port-filtered',
          confidence: 'high',
          summary: `SYNs to port ${port} are silently dropped (no answer in ${duration(reach.waitedMs)}, the SYN was retransmitted) while ${reach.basis}`,
        },
      ]);
    case 'silent':
      return done('warn', 'cannot tell: nothing at this address answers at all', [
        { cause: 'port-filtered', confidence: 'low', summary: 'a firewall that drops everything, ICMP included, looks like a host that is down' },
      ]);
    case 'unreachable':
      return done('skip', 'not reached: the host itself is unreachable');
    case 'error':
      return done('skip', `not reached: ${reach.detail}`);
  }
}
