// The inside view as the steps see it: still coming, here, or not available (and why).
import type { Evidence } from '../report.js';
import type { InsideFacts, Observations } from '../observations.js';
import { duration } from './format.js';

export type InsideState =
  | { kind: 'pending' }
  | { kind: 'facts'; facts: InsideFacts; user: string; address: string; port: number; tookMs: number }
  | { kind: 'none'; reason: string };

export function insideState(obs: Observations): InsideState {
  const inside = obs.inside;
  if (inside === undefined || inside.state === 'planned' || inside.state === 'running') return { kind: 'pending' };
  if (inside.state === 'none') return { kind: 'none', reason: inside.reason };
  if (inside.facts) return { kind: 'facts', facts: inside.facts, user: inside.user, address: inside.address, port: inside.port, tookMs: (inside.endedMs ?? inside.startedMs) - inside.startedMs };
  const why: Record<string, string> = {
    'host-key-mismatch': "the target's host key is not the one in the configured known_hosts, so sshcheck did not log in",
    'auth-failed': `the diagnostics key was refused for ${inside.user}`,
    refused: 'the diagnostics login could not connect',
    timeout: 'the diagnostics login timed out',
    failed: 'the diagnostics login failed',
    ok: 'the diagnostics script printed nothing usable',
  };
  const reason = `${why[inside.login ?? 'failed'] ?? 'the diagnostics login failed'}${inside.loginDetail ? ` (${inside.loginDetail})` : ''}`;
  return { kind: 'none', reason: inside.aborted ? 'the run ended before the diagnostics login finished' : reason };
}

/** Steps with inside parts wait for it while it is coming (bounded by the probe's own deadline). */
export function insidePending(obs: Observations): boolean {
  return insideState(obs).kind === 'pending';
}

export function insideEvidence(detail: string): Evidence {
  return { probe: 'inside', detail: `inside: ${detail}` };
}

export function insideUnavailable(state: InsideState): Evidence | undefined {
  return state.kind === 'none' ? { probe: 'inside', detail: `no inside view: ${state.reason}` } : undefined;
}

/** The login itself and what each command of the fixed set took on the target. */
export function loginEvidence(state: Extract<InsideState, { kind: 'facts' }>): Evidence {
  const t = Object.entries(state.facts.timings).map(([name, ms]) => `${name} ${duration(ms)}`);
  const where = state.address.includes(':') ? `[${state.address}]:${state.port}` : `${state.address}:${state.port}`;
  return insideEvidence(`logged in as ${state.user} on ${where} in ${duration(state.tookMs)}${t.length > 0 ? `; commands: ${t.join(', ')}` : ''}`);
}

export function timingNote(facts: InsideFacts, section: string): string {
  const t = facts.timings[section];
  return t === undefined ? '' : ` (${duration(t)})`;
}
