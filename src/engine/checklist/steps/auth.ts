// Step 8: keys and authentication delays. From outside: how long the server takes between
// NEWKEYS and offering its authentication methods (UseDNS, GSSAPI make it slow).
import type { Evidence } from '../../report.js';
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyAuth, classifyReach, primaryHandshake, resolutionFailed } from '../facts.js';
import { authEvidence } from '../evidence.js';
import { duration } from '../format.js';
import { logLinesNaming } from '../access.js';
import { insideEvidence, insideState } from '../inside.js';
import { makeStep, notReached } from './make.js';

export function assessAuth(input: AssessInput): StepAssessment {
  const { obs, final, thresholds: th } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'auth', 'the name did not resolve to any address', resolutionFailed(input));
  const bastionPtr = obs.ptr.find((p) => p.role === 'bastion');
  const ptrNote: Evidence | undefined =
    bastionPtr && bastionPtr.state === 'done' && !bastionPtr.queries.some((q) => q.outcome === 'answer')
      ? { probe: 'dns', detail: `this bastion (${bastionPtr.address}) has no reverse DNS: a server with UseDNS yes looks it up before asking for credentials` }
      : undefined;
  const inside = insideState(obs);
  const facts = inside.kind === 'facts' ? inside.facts : undefined;
  const settings = facts
    ? ['usedns', 'gssapiauthentication', 'maxauthtries', 'logingracetime', 'authenticationmethods'].filter((k) => facts.sshdConfig[k]).map((k) => `${k} ${(facts.sshdConfig[k] ?? []).join(',')}`)
    : [];
  const mine = facts && h.tcp.localAddress ? logLinesNaming(facts, h.tcp.localAddress).slice(-3) : [];
  const evidence = [
    authEvidence(h),
    ptrNote,
    settings.length > 0 ? insideEvidence(`sshd -T: ${settings.join('; ')}`) : undefined,
    mine.length > 0 ? insideEvidence(`sshd log for this bastion: ${mine.join(' | ')}`) : undefined,
  ];
  const auth = classifyAuth(input, h);
  switch (auth.kind) {
    case 'not-started': {
      const reach = classifyReach(input, h).kind;
      const over = h.end !== undefined || final || (reach !== 'connected' && reach !== 'waiting' && reach !== 'unknown');
      return notReached(input, 'auth', 'the key exchange never completed', over);
    }
    case 'waiting':
      return makeStep(input, 'auth', { settled: false, status: 'running', summary: `keys exchanged, waiting for the authentication methods (${duration(auth.waitedMs)})…`, evidence });
    case 'methods': {
      const methods = auth.methods.length > 0 ? auth.methods.join(', ') : 'none listed';
      if (auth.noneAccepted) {
        return makeStep(input, 'auth', { settled: true, status: 'warn', summary: 'the server let this bastion in without any authentication (method "none" accepted)', evidence });
      }
      if (auth.authMs >= th.authSlowMs) {
        const high = auth.authMs >= 3 * th.authSlowMs;
        return makeStep(input, 'auth', {
          settled: true,
          status: high ? 'fail' : 'warn',
          summary: `the server took ${duration(auth.authMs)} to offer its authentication methods (${methods})`,
          evidence,
          findings: [
            {
              cause: 'auth-slow',
              confidence: high ? 'high' : 'medium',
              summary: `the handshake is fine but the server takes ${duration(auth.authMs)} before offering authentication (UseDNS reverse lookups or GSSAPI)`,
            },
          ],
        });
      }
      return makeStep(input, 'auth', {
        settled: true,
        status: 'pass',
        summary: `authentication methods offered in ${duration(auth.authMs)}: ${methods} (no diagnostics key configured, so no login was tried)`,
        evidence,
      });
    }
    case 'stuck':
      return makeStep(input, 'auth', {
        settled: true,
        status: 'fail',
        summary: `keys exchanged, but no authentication methods after ${duration(auth.waitedMs)}`,
        evidence,
        findings: [{ cause: 'auth-slow', confidence: 'high', summary: `the key exchange completes but the server offers no authentication methods in ${duration(auth.waitedMs)} (UseDNS, GSSAPI, or a hung PAM/NSS lookup)` }],
      });
    case 'failed':
      return makeStep(input, 'auth', { settled: true, status: 'warn', summary: `the connection ended during authentication: ${auth.detail}`, evidence });
    case 'not-asked':
      // Timing the auth phase needs a user name, and a name the target does not know is logged
      // as `Invalid user`, which fail2ban's default sshd jail counts: no name is guessed.
      return makeStep(input, 'auth', {
        settled: true,
        status: 'skip',
        summary: `not measured: no user name was sent, so the authentication phase was not timed (the ssh-userauth service answered in ${duration(auth.serviceMs)}). A name the target does not know would be logged as "Invalid user" and count towards a fail2ban ban of this bastion. To measure it, give an account that exists: -l <user>, probe_user in the engine config, or a diagnostics login for this target`,
        evidence,
      });
  }
}
