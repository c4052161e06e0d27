// Step 9: server load, from outside: banner latency over the few connections a run makes,
// and connections dropped at random before the banner (MaxStartups, or sshd starving).
import type { AssessInput, StepAssessment } from '../assessment.js';
import { classifyBanner, classifyReach, primaryHandshake, resolutionFailed, sshdRefusal } from '../facts.js';
import { duration, plural } from '../format.js';
import type { InsideFacts } from '../../observations.js';
import type { Evidence } from '../../report.js';
import type { Finding } from '../assessment.js';
import { insideEvidence, insidePending, insideState, insideUnavailable } from '../inside.js';
import { makeStep, notReached } from './make.js';

/** Load per core above this, memory available below this share, or pressure above this: overloaded. */
const LOAD_PER_CORE = 2;
const MEMORY_FREE_SHARE = 0.05;
const PRESSURE_PERCENT = 40;

/**
 * What the server's own numbers say about load. Pure. Memory exhaustion, memory pressure and
 * sshd's own drops explain a hang by themselves; a high load average or CPU pressure only
 * when the outside also sees sshd being slow or dropping connections (`struggling`).
 */
export function insideLoad(facts: InsideFacts, struggling: boolean): { evidence: Evidence[]; finding?: Finding } {
  const parts: string[] = [];
  const strong: string[] = [];
  const weak: string[] = [];
  if (facts.load && facts.cpus) {
    parts.push(`load ${facts.load.one.toFixed(2)} / ${facts.load.five.toFixed(2)} / ${facts.load.fifteen.toFixed(2)} on ${plural(facts.cpus, 'core')}`);
    if (facts.load.one / facts.cpus > LOAD_PER_CORE) weak.push(`load ${facts.load.one.toFixed(1)} on ${plural(facts.cpus, 'core')}`);
  }
  if (facts.memory) {
    const share = facts.memory.availableKb / facts.memory.totalKb;
    parts.push(`${Math.round(facts.memory.availableKb / 1024)} MiB of ${Math.round(facts.memory.totalKb / 1024)} MiB available`);
    if (share < MEMORY_FREE_SHARE) strong.push(`only ${Math.round(share * 100)}% of memory available`);
  }
  const psi = Object.entries(facts.pressure).filter((entry): entry is [string, number] => entry[1] !== undefined);
  if (psi.length > 0) parts.push(`pressure (some, avg10): ${psi.map(([k, v]) => `${k} ${v}%`).join(', ')}`);
  for (const [k, v] of psi) if (v > PRESSURE_PERCENT) (k === 'cpu' ? weak : strong).push(`${k} pressure ${v}%`);
  if (facts.sshdProcesses !== undefined) parts.push(`${plural(facts.sshdProcesses, 'sshd process', 'sshd processes')}`);
  const maxStartups = facts.sshdConfig.maxstartups?.[0];
  if (maxStartups) parts.push(`MaxStartups ${maxStartups}`);
  const drops = facts.sshdLog.filter((l) => /MaxStartups|drop connection #/i.test(l));
  if (drops.length > 0) strong.push(`sshd logged ${plural(drops.length, 'dropped connection')} ("${drops[drops.length - 1] ?? ''}")`);
  const evidence = [insideEvidence(parts.join('; ') || 'no load figures readable')];
  if (strong.length > 0) return { evidence, finding: { cause: 'server-overloaded', confidence: 'high', summary: `the server is overloaded: ${[...strong, ...weak].join('; ')}` } };
  if (weak.length > 0) {
    return {
      evidence,
      finding: {
        cause: 'server-overloaded',
        confidence: struggling ? 'medium' : 'low',
        summary: struggling ? `the server is busy (${weak.join('; ')}) and sshd is slow or drops connections` : `the server is busy (${weak.join('; ')}), though sshd still answers promptly`,
      },
    };
  }
  return { evidence };
}

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
    // ssh -vvv's lines carry no time of their own: they are stamped when its output chunks
    // arrive, often several lines at once, so the gap between two of them is no measurement.
    // Its banner counts as served; only the in-process handshake times it.
    if (at('ident-received') !== undefined) out.push({ source: 'ssh -vvv', outcome: 'banner' });
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
  const inside = insideState(obs);
  const settled = banner.kind !== 'waiting' && verboseDone && (!insidePending(obs) || final);
  const all = samples(input);
  const outside = all.map((s) => ({
    probe: s.source === 'ssh -vvv' ? ('openssh-verbose' as const) : ('ssh-handshake' as const),
    detail: `${s.source}: ${s.outcome === 'banner' ? (s.latencyMs !== undefined ? `banner after ${duration(s.latencyMs)}` : 'banner received (not timed: ssh -vvv output has no timestamps)') : s.outcome === 'dropped' ? 'dropped before the banner' : 'no banner'}`,
  }));
  const struggling = all.some((s) => s.outcome !== 'banner' || (s.latencyMs ?? 0) >= th.bannerSlowMs);
  const fromInside = inside.kind === 'facts' ? insideLoad(inside.facts, struggling) : undefined;
  const evidence: Array<Evidence | undefined> = [...outside, ...(fromInside ? fromInside.evidence : [insideUnavailable(inside)])];
  if (!settled) return makeStep(input, 'load', { settled: false, status: 'running', summary: 'timing the banner over the connections…', evidence, ceiling: insidePending(obs) ? 'high' : 'medium' });
  if (fromInside?.finding && fromInside.finding.confidence !== 'low') {
    return makeStep(input, 'load', { settled: true, status: 'fail', summary: fromInside.finding.summary, evidence, findings: [fromInside.finding] });
  }
  const insideHint = fromInside?.finding ? [fromInside.finding] : [];

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
  const latencies = banners.flatMap((s) => (s.latencyMs !== undefined ? [s.latencyMs] : []));
  const timed = latencies.length;
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
    summary: `${fastest !== undefined ? `banner in ${duration(fastest)} on ${plural(timed, 'timed connection')}` : `a banner on ${plural(banners.length, 'connection')} (none timed)`}${insideHint[0] ? `; ${insideHint[0].summary}` : `: no sign of overload${fromInside ? '' : ' from outside (load, memory and MaxStartups need the server console)'}`}`,
    evidence,
    findings: insideHint,
  });
}
