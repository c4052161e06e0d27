// Step 1: basic network connectivity. ICMP echo (blocked ICMP is not "down"), the path to
// the SSH port, and how the SYN to each resolved address ended.
import type { Evidence } from '../../report.js';
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { controlEvidence, pathEvidence, pingEvidence, tcpEvidence } from '../evidence.js';
import { duration, endpoint } from '../format.js';
import { makeStep, notReached } from './make.js';

export function assessConnectivity(input: AssessInput): StepAssessment {
  const { obs, target } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'connectivity', 'the name did not resolve to any address', resolutionFailed(input));

  const evidence: Array<Evidence | undefined> = [
    ...obs.handshakes.map(tcpEvidence),
    pingEvidence(obs.ping),
    controlEvidence(obs.control),
    pathEvidence(obs.path),
  ];
  const where = endpoint(h.address, target.port);
  const reach = classifyReach(input, h);
  const done = (status: 'pass' | 'warn' | 'fail', summary: string, findings: StepAssessment['findings'] = []): StepAssessment =>
    makeStep(input, 'connectivity', { settled: true, status, summary, evidence, findings });

  switch (reach.kind) {
    case 'unknown':
    case 'waiting':
      return makeStep(input, 'connectivity', { settled: false, status: 'running', summary: `waiting for ${where} to answer…`, evidence });
    case 'connected':
      return done('pass', `${where} is reachable: TCP connected in ${duration(reach.connectMs)}`);
    case 'refused':
      return done('pass', `${h.address} is reachable: it answered the SYN with a TCP reset in ${duration(reach.afterMs)}`);
    case 'rejected':
      if (!reach.strong) {
        return done('warn', `${h.address} answers with ICMP "unreachable" for port ${target.port}; a reject rule or an unreachable host`, [
          { cause: 'host-unreachable', confidence: 'low', summary: `an ICMP "unreachable" came back at once for ${where}; the host may be unreachable rather than filtered` },
        ]);
      }
      return done('pass', `${h.address} is reachable (${reach.basis}), but port ${target.port} gets an ICMP error`);
    case 'filtered':
      return done('pass', `${h.address} is reachable: ${reach.basis}`);
    case 'unreachable':
      return done('fail', `${h.address} is unreachable: ${reach.basis}`, [
        { cause: 'host-unreachable', confidence: 'high', summary: `${h.address} is unreachable: ${reach.basis}` },
      ]);
    case 'silent':
      return done('fail', `nothing at ${h.address} answers: no echo reply, no reset, no ICMP error in ${duration(reach.waitedMs)}`, [
        {
          cause: 'no-response',
          confidence: 'medium',
          summary: `nothing at ${h.address} answers this bastion: no echo reply, no TCP reset, no ICMP error in ${duration(reach.waitedMs)} (host down, or everything from here dropped)`,
        },
      ]);
    case 'error':
      return done('warn', `connecting to ${where} failed locally: ${reach.detail}`);
  }
}
