// Step 3: firewalls and security groups, from how the SYN to the SSH port ended: a silent
// drop while the host otherwise answers, or an ICMP reject.
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { controlEvidence, pathEvidence, pingEvidence, tcpEvidence } from '../evidence.js';
import { duration } from '../format.js';
import { firewallRulesForPort } from '../access.js';
import { insideEvidence, insidePending, insideState } from '../inside.js';
import { listensOn, sshdRunning } from './sshd.js';
import { makeStep, notReached } from './make.js';

export function assessFirewall(input: AssessInput): StepAssessment {
  const { obs, target } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'firewall', 'the name did not resolve to any address', resolutionFailed(input));
  const port = target.port;
  const reach = classifyReach(input, h);
  const inside = insideState(obs);
  const facts = inside.kind === 'facts' ? inside.facts : undefined;
  const rules = facts ? firewallRulesForPort(facts.firewall, port) : [];
  const ruleEvidence = facts
    ? rules.length > 0
      ? [insideEvidence(`firewall rules for port ${port}: ${rules.slice(0, 5).join(' | ')}`)]
      : facts.firewall.errors.length > 0
        ? [insideEvidence(`firewall rules not readable: ${facts.firewall.errors.join('; ')} (set sudo: true for this login)`)]
        : [insideEvidence(`no iptables/nft rule drops or rejects port ${port}`)]
    : [];
  const evidence = [tcpEvidence(h), controlEvidence(obs.control), pingEvidence(obs.ping), pathEvidence(obs.path), ...ruleEvidence];
  const done = (status: 'pass' | 'warn' | 'fail' | 'skip', summary: string, findings: StepAssessment['findings'] = []): StepAssessment =>
    makeStep(input, 'firewall', { settled: true, status, summary, evidence, findings });

  switch (reach.kind) {
    case 'unknown':
    case 'waiting':
      return makeStep(input, 'firewall', { settled: false, status: 'running', summary: `waiting for port ${port} to answer…`, evidence });
    case 'connected':
      return done('pass', `port ${port} is open from this bastion`);
    case 'refused':
      if (insidePending(obs) && !input.final) return makeStep(input, 'firewall', { settled: false, status: 'running', summary: `TCP reset on port ${port}; asking the server whether sshd listens…`, evidence });
      if (facts && sshdRunning(facts) && listensOn(facts, port)) {
        const rule = rules[0];
        return done('fail', `sshd listens on port ${port}, yet the SYN gets a TCP reset: a firewall rule rejects it${rule ? ` (${rule})` : ''}`, [
          {
            cause: 'port-rejected',
            confidence: 'high',
            summary: `sshd runs and listens on port ${port}, but the SYN is answered with a TCP reset: a firewall rule rejects port ${port}${rule ? `: ${rule}` : ' (a REJECT --reject-with tcp-reset rule, or one on a router in between)'}`,
          },
        ]);
      }
      return done(
        'pass',
        `not a silent drop: port ${port} answered with a TCP reset${facts ? '' : ' (a REJECT --reject-with tcp-reset rule looks the same)'}`,
        facts ? [] : [{ cause: 'port-rejected', confidence: 'low', summary: `a firewall rule answering with TCP reset cannot be told apart from a closed port` }],
      );
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
          // Linux resends an unanswered SYN 1 s after the first: claim it only once that time has passed.
          summary: `SYNs to port ${port} are silently dropped (no answer in ${duration(reach.waitedMs)}${reach.waitedMs >= input.thresholds.synRetransmitMs ? ', the SYN was retransmitted' : ''}) while ${reach.basis}`,
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
