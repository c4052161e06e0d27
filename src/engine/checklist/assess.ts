// All ten steps, in checklist order, as pure functions of the observations.
import type { StepId } from '../report.js';
import { STEP_IDS } from '../report.js';
import type { AssessInput, StepAssessment, StepFunction } from './assessment.js';
import { assessAuth } from './steps/auth.js';
import { assessBans } from './steps/bans.js';
import { assessConnectivity } from './steps/connectivity.js';
import { assessDns } from './steps/dns.js';
import { assessFirewall } from './steps/firewall.js';
import { assessLoad } from './steps/load.js';
import { assessSshd } from './steps/sshd.js';
import { assessTcpWrappers } from './steps/tcp-wrappers.js';
import { assessVerbose } from './steps/verbose.js';
import { assessVpnProxy } from './steps/vpn-proxy.js';

const STEPS: Readonly<Record<StepId, StepFunction>> = {
  connectivity: assessConnectivity,
  verbose: assessVerbose,
  firewall: assessFirewall,
  sshd: assessSshd,
  dns: assessDns,
  'tcp-wrappers': assessTcpWrappers,
  'vpn-proxy': assessVpnProxy,
  auth: assessAuth,
  load: assessLoad,
  bans: assessBans,
};

export function assessAll(input: AssessInput): StepAssessment[] {
  return STEP_IDS.map((id) => {
    const step = STEPS[id](input);
    // In the final assessment nothing may stay running: a step that could not decide is skipped.
    if (input.final && step.status === 'running') {
      return { ...step, settled: true, status: 'skip', summary: `not decided before the run ended (${step.summary})` };
    }
    return step;
  });
}

/**
 * The steps of a run that stopped before its diagnosis settled: each step still running is
 * skipped with what it was waiting for; settled steps keep their verdicts. Nothing is forced.
 */
export function stoppedSteps(steps: readonly StepAssessment[], why: string): StepAssessment[] {
  return steps.map((step) => (step.status === 'running' ? { ...step, status: 'skip', summary: `not decided: ${why} (${step.summary})` } : step));
}
