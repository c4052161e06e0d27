// Step 9: server load, from outside: banner latency over the few connections a run makes,
// and connections dropped at random before the banner (MaxStartups, or sshd starving).
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyBanner, classifyReach, primaryHandshake, resolutionFailed, sshdRefusal } from '../facts.js';
import { duration, plural } from '../format.js';
import { makeStep, notReached } from './make.js';

interface Sample {
  source: string;
  outcome: 'banner' | 'dropped' | 'silent';
  latencyMs?: number;
}

function samples(input: AssessInput): Sample[] {
  const out: Sample[] = [];
  for (const h of input.obs.handshakes) {
    const b = classifyBanner(input, h);
    if (b.kind === 'received') out.push({ source: `in-process handshake to ${h.address}`, outcome: 'banner', latencyMs: b.latencyMs });
    else if (b.kind === 'closed') out.push({ source: `in-process handshake to ${h.address}`, outcome: 'dropped' });
    else if (b.kind === 'timeout') out.push({ source: `in-process handshake to ${h.address}`, outcome: 'silent' });
  }
  const v = input.obs.verbose;
  if (v && !v.unavailable) {
    const at = (id: string): number | undefined => v.parsed.phases.find((p) => p.id === id)?.t;
    const connected = at('connected');
    const ident = at('ident-received');
    if (connected !== undefined && ident !== undefined) out.push({ source: 'ssh -vvv', outcome: 'banner', latencyMs: ident - connected });
    else if (v.parsed.stop?.kind === 'closed-before-banner' || v.parsed.stop?.kind === 'reset-before-banner') out.push({ source: 'ssh -vvv', outcome: 'dropped' });
  }
  return out;
}

export function assessLoad(input: AssessInput): StepAssessment {
  const { obs, final, thresholds: th } = input;
  const h = primaryHandshake(obs);
  if (!h) return notReached(input, 'load', 'the name did not resolve to any address', resolutionFailed(input));
  const reach = classifyReach(input, h);
  if (reach.kind === 'waiting' || reach.kind === 'unknown') return notReached(input, 'load', '', false);
  if (reach.kind !== 'connected') return notReached(input, 'load', 'TCP never connected', true);
  const banner = classifyBanner(input, h);
  const verboseDone = !obs.verbose || obs.verbose.state === 'done' || final;
  const settled = banner.kind !== 'waiting' && verboseDone;
  const all = samples(input);
  const evidence = all.map((s) => ({
    probe: s.source === 'ssh -vvv' ? ('openssh-verbose' as const) : ('ssh-handshake' as const),
    detail: `${s.source}: ${s.outcome === 'banner' ? `banner after ${duration(s.latencyMs ?? 0)}` : s.outcome === 'dropped' ? 'dropped before the banner' : 'no banner'}`,
  }));
  if (!settled) return makeStep(input, 'load', { settled: false, status: 'running', summary: 'timing the banner over the connections…', evidence, ceiling: 'medium' });

  const refusal = sshdRefusal(obs);
  if (refusal?.reason === 'maxstartups') {
    return makeStep(input, 'load', {
      settled: true,
      status: 'fail',
      summary: `sshd refuses new connections: "${refusal.line}" (${refusal.source})`,
      evidence,
      findings: [
        {
          cause: 'server-overloaded',
          confidence: 'high',
          summary: `sshd answers "${refusal.line}": it already holds as many unauthenticated connections as MaxStartups allows (a connection flood, a brute-force attack, or a MaxStartups set too low)`,
        },
      ],
    });
  }
  const banners = all.filter((s) => s.outcome === 'banner');
  const dropped = all.filter((s) => s.outcome === 'dropped');
  if (banners.length > 0 && dropped.length > 0) {
    return makeStep(input, 'load', {
      settled: true,
      status: 'fail',
      summary: `${plural(dropped.length, 'connection')} of ${all.length} dropped before the banner while others were served: random drops`,
      evidence,
      findings: [{ cause: 'server-overloaded', confidence: 'medium', summary: `sshd drops some connections before the banner and serves others (MaxStartups throttling or an overloaded server)` }],
    });
  }
  const latencies = banners.map((s) => s.latencyMs ?? 0);
  const fastest = latencies.length > 0 ? Math.min(...latencies) : undefined;
  if (fastest !== undefined && fastest >= th.bannerSlowMs) {
    return makeStep(input, 'load', {
      settled: true,
      status: 'warn',
      summary: `every banner took at least ${duration(fastest)}: the server is slow to accept SSH`,
      evidence,
      findings: [{ cause: 'server-overloaded', confidence: 'low', summary: `banners take ${duration(fastest)} or more: an overloaded server (or libwrap waiting on DNS)` }],
    });
  }
  if (banners.length === 0) {
    return makeStep(input, 'load', {
      settled: true,
      status: dropped.length > 0 || all.some((s) => s.outcome === 'silent') ? 'warn' : 'skip',
      summary: 'no banner to time',
      evidence,
      findings: all.some((s) => s.outcome === 'silent') ? [{ cause: 'server-overloaded', confidence: 'low', summary: 'an sshd too overloaded to answer accepts connections but sends no banner' }] : [],
    });
  }
  return makeStep(input, 'load', {
    settled: true,
    status: 'pass',
    summary: `banner in ${duration(fastest ?? 0)} on ${plural(banners.length, 'connection')}: no sign of overload from outside (load, memory and MaxStartups need the server console)`,
    evidence,
  });
}
