// Step 5: DNS resolution. What ssh would use (getaddrinfo: /etc/hosts, search domains,
// nsswitch) against what each resolver of /etc/resolv.conf answers when asked directly.
import type { Evidence } from '../../report.js';
import type { DnsObs, DnsQueryObs, Observations, PtrObs } from '../../observations.js';
import type { AssessInput, Finding, StepAssessment } from '../assessment.js';
import { confidenceRank } from '../assessment.js';
import { duration, listing } from '../format.js';
import { classifyReach, primaryHandshake } from '../facts.js';
import { makeStep } from './make.js';

type NameOutcome = 'answer' | 'nxdomain' | 'servfail' | 'timeout' | 'pending' | 'none';

const ANSWERED = new Set(['answer', 'nodata', 'nxdomain', 'servfail', 'refused', 'truncated']);
/** What the resolver library moves on to the next search-list name after (probes/dns.ts). */
const GOES_ON = new Set(['nxdomain', 'nodata', 'servfail']);

function addressQueries(dns: DnsObs): DnsQueryObs[] {
  return dns.queries.filter((q) => q.type === 'A' || q.type === 'AAAA');
}

/** Addresses each resolver gave for the name (after the search list). */
export function dnsAddresses(dns: DnsObs | undefined): Map<string, string[]> {
  const byServer = new Map<string, string[]>();
  if (!dns) return byServer;
  for (const q of addressQueries(dns)) {
    if (q.outcome !== 'answer') continue;
    const list = byServer.get(q.server) ?? [];
    for (const a of q.answers) if (!list.includes(a)) list.push(a);
    byServer.set(q.server, list);
  }
  return byServer;
}

/** Resolvers every query to which failed locally as unreachable (no route, no address family). */
function unreachableResolvers(dns: DnsObs): Array<{ server: string; detail: string }> {
  const out: Array<{ server: string; detail: string }> = [];
  for (const server of dns.resolvers) {
    const qs = dns.queries.filter((q) => q.server === server);
    const first = qs[0];
    if (first?.detail !== undefined && qs.every((q) => q.outcome === 'error' && q.detail?.startsWith('resolver unreachable') === true)) out.push({ server, detail: first.detail });
  }
  return out;
}

/** Resolvers that answered anything at all, even an error code (the name's queries or a reverse lookup): they are alive. */
function aliveServers(obs: Observations): Set<string> {
  const alive = new Set<string>();
  const all = [...(obs.dns?.queries ?? []), ...obs.ptr.flatMap((p) => p.queries)];
  for (const q of all) if (ANSWERED.has(q.outcome)) alive.add(q.server);
  for (const server of obs.dns?.answeredBy ?? []) alive.add(server);
  return alive;
}

/**
 * getaddrinfo's failure, known before getent returns: it consults only the hosts file and DNS
 * (DnsObs.filesAndDnsOnly), the file has no line for the name, and every query for every
 * candidate name came back with a decisive "no" (NXDOMAIN, no data, SERVFAIL, REFUSED) —
 * nothing timed out that getaddrinfo could still get an answer from. The hosts file's path
 * then, else undefined.
 */
function knownFailure(dns: DnsObs | undefined, outcome: NameOutcome): string | undefined {
  const only = dns?.filesAndDnsOnly;
  if (!dns || !only || only.addresses.length > 0 || dns.state !== 'done' || dns.aborted === true) return undefined;
  if (outcome !== 'nxdomain' && outcome !== 'servfail') return undefined;
  const qs = addressQueries(dns);
  const decisive = qs.length > 0 && qs.every((q) => q.outcome === 'nxdomain' || q.outcome === 'nodata' || q.outcome === 'servfail' || q.outcome === 'refused');
  // A walk the run cut short, or one that ended at REFUSED, left later names unasked, and one
  // of them might answer. Known only when every candidate was asked, A and AAAA, of every resolver.
  const asked = (server: string, name: string, type: 'A' | 'AAAA'): boolean => qs.some((q) => q.server === server && q.name === name && q.type === type);
  const complete = dns.resolvers.every((server) => dns.candidates.every((name) => asked(server, name, 'A') && asked(server, name, 'AAAA')));
  return decisive && complete && dns.candidates.length > 0 ? only.hostsPath : undefined;
}

/** The verdict of the direct queries for the name, over all resolvers. */
function nameOutcome(dns: DnsObs | undefined): NameOutcome {
  if (!dns) return 'pending';
  const qs = addressQueries(dns);
  if (qs.some((q) => q.outcome === 'answer')) return 'answer';
  if (dns.state !== 'done') return 'pending';
  // Stopped by the run before anything decisive came back: that is silence, not absence.
  const decisive = qs.some((q) => q.outcome !== 'timeout' && q.outcome !== 'error');
  if (dns.aborted && !decisive) return 'timeout';
  if (qs.length === 0) return 'none';
  // A resolver's "no" counts only when its walk went to its end: a run that stopped mid-walk
  // left a name unasked (or half a pair in). And a NODATA beside its pair's lost query says
  // the name exists, its address unknown: getaddrinfo's own retry may still get it. Seen
  // under 5 % loss: "db-3 does not exist" for a host that resolves. (NXDOMAIN and SERVFAIL
  // speak for the whole name, so they count beside a lost query as before.)
  const said = (server: string): DnsQueryObs[] => {
    const own = qs.filter((q) => q.server === server);
    // A probe that was not stopped walked each list to its end; a stopped one, maybe not.
    const ended = dns.aborted !== true || own.some((q) => !GOES_ON.has(q.outcome)) || dns.candidates.every((name) => own.some((q) => q.name === name && q.type === 'A') && own.some((q) => q.name === name && q.type === 'AAAA'));
    const lost = (q: DnsQueryObs): boolean => own.some((p) => p !== q && p.name === q.name && (p.outcome === 'timeout' || p.outcome === 'error'));
    return ended ? own.filter((q) => !(q.outcome === 'nodata' && lost(q))) : [];
  };
  const no = [...new Set(qs.map((q) => q.server))].flatMap(said);
  if (no.some((q) => q.outcome === 'servfail' || q.outcome === 'refused')) return 'servfail';
  if (no.some((q) => q.outcome === 'nxdomain' || q.outcome === 'nodata')) return 'nxdomain';
  return 'timeout';
}

function describeServer(dns: DnsObs, server: string): string {
  const qs = addressQueries(dns).filter((q) => q.server === server);
  if (qs.length === 0) return `resolver ${server}: ${dns.state === 'done' ? 'not asked' : 'no answer yet'}`;
  const parts: string[] = [];
  for (const q of qs) {
    const lat = q.latencyMs !== undefined ? ` (${duration(q.latencyMs)})` : '';
    switch (q.outcome) {
      case 'answer':
        parts.push(`${q.name} ${q.type} ${q.answers.join(', ')}${lat}`);
        break;
      case 'nodata':
        parts.push(`${q.name} ${q.type}: no record${lat}`);
        break;
      case 'nxdomain':
        parts.push(`${q.name} ${q.type}: NXDOMAIN${lat}`);
        break;
      case 'servfail':
      case 'refused':
        parts.push(`${q.name} ${q.type}: ${q.rcode ?? q.outcome.toUpperCase()}${lat}`);
        break;
      case 'timeout':
        parts.push(`${q.name} ${q.type}: no answer${q.latencyMs !== undefined ? ` in ${duration(q.latencyMs)}` : ''}`);
        break;
      case 'truncated':
        parts.push(`${q.name} ${q.type}: truncated answer`);
        break;
      case 'error':
        parts.push(`${q.name} ${q.type}: ${q.detail ?? 'error'}`);
        break;
    }
  }
  return `resolver ${server}: ${parts.join('; ')}`;
}

function ptrEvidence(ptr: PtrObs): Evidence | undefined {
  if (ptr.state !== 'done' || ptr.unavailable) return undefined;
  const names = [...new Set(ptr.queries.filter((q) => q.outcome === 'answer').flatMap((q) => q.answers))];
  const who = ptr.role === 'bastion' ? `this bastion (${ptr.address})` : ptr.address;
  if (names.length > 0) return { probe: 'dns', detail: `reverse lookup of ${who}: ${names.join(', ')}` };
  const note = ptr.role === 'bastion' ? ' (sshd with UseDNS yes looks this up before authentication)' : '';
  const failed = ptr.queries.every((q) => q.outcome === 'timeout' || q.outcome === 'error');
  return { probe: 'dns', detail: `reverse lookup of ${who}: ${failed ? 'no answer' : 'no PTR record'}${note}` };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export function assessDns(input: AssessInput): StepAssessment {
  const { target, obs, now, final, thresholds: th } = input;
  const ptrs = obs.ptr.map(ptrEvidence);
  if (target.kind !== 'name') {
    return makeStep(input, 'dns', {
      settled: true,
      status: 'pass',
      summary: `no lookup needed: ${target.host} is an IP address`,
      evidence: ptrs,
    });
  }

  const resolve = obs.resolve;
  const dns = obs.dns;
  const evidence: Array<Evidence | undefined> = [];
  if (resolve) {
    const took = resolve.endedMs !== undefined ? ` in ${duration(resolve.endedMs - resolve.startedMs)}` : '';
    if (resolve.unavailable) evidence.push({ probe: 'resolver', detail: `getaddrinfo could not run: ${resolve.unavailable}` });
    else if (resolve.state === 'running') evidence.push({ probe: 'resolver', detail: `getaddrinfo (what ssh uses): still resolving after ${duration(now - resolve.startedMs)}` });
    else if (resolve.addresses.length > 0) evidence.push({ probe: 'resolver', detail: `getaddrinfo (what ssh uses): ${target.host} → ${resolve.addresses.join(', ')}${took}` });
    else evidence.push({ probe: 'resolver', detail: `getaddrinfo (what ssh uses): ${resolve.error?.detail ?? 'no address'}${took}` });
  }
  if (dns) {
    if (dns.configNote) evidence.push({ probe: 'dns', detail: dns.configNote });
    for (const server of dns.resolvers) evidence.push({ probe: 'dns', detail: describeServer(dns, server) });
  }
  evidence.push(...ptrs);

  const outcome = nameOutcome(dns);
  const perServer = dnsAddresses(dns);
  const dnsAll = [...new Set([...perServer.values()].flat())];
  const alive = aliveServers(obs);
  const elapsed = now - (resolve?.startedMs ?? dns?.startedMs ?? 0);
  // An aborted getaddrinfo was still waiting, and one that never ran said nothing: neither
  // said "no such name".
  const resolved = resolve?.state === 'done' && !resolve.aborted && resolve.unavailable === undefined ? resolve.addresses : undefined;
  const step = (status: 'pass' | 'warn' | 'fail' | 'running', summary: string, findings: Finding[] = [], settled = status !== 'running'): StepAssessment =>
    makeStep(input, 'dns', { settled, status, summary, evidence, findings });

  /** Every resolver answers SERVFAIL or REFUSED for the name (with or without getaddrinfo's word). */
  const servfail = (): StepAssessment => step('fail', `the resolver fails for ${target.host} (SERVFAIL/REFUSED)`, [{ cause: 'dns-servfail', confidence: 'high', summary: `the resolver answers SERVFAIL/REFUSED for ${target.host}` }]);
  /** Every resolver failed locally (no route, no IPv6): not silence, and the report says so. */
  const noneReachable = (): StepAssessment | undefined => {
    if (!dns || dns.resolvers.length === 0) return undefined;
    const unreachable = unreachableResolvers(dns);
    if (unreachable.length !== dns.resolvers.length) return undefined;
    const why = unreachable.map((u) => u.detail).join('; ');
    return step('fail', `no resolver can be reached: ${why}`, [
      { cause: 'dns-timeout', confidence: 'high', summary: `no resolver in /etc/resolv.conf can be reached from this bastion (${why}); ssh's lookups fail the same way before it even connects` },
    ]);
  };

  // getaddrinfo has not answered yet: decide from the direct queries when they are conclusive.
  if (resolved === undefined) {
    const known = knownFailure(dns, outcome);
    if (known) {
      evidence.push({ probe: 'resolver', detail: `getaddrinfo reads only ${known} and DNS (nsswitch.conf: hosts: files dns; no nscd), so it finds no address either` });
      if (outcome === 'servfail') return servfail();
      return step('fail', `${target.host} does not exist`, [
        { cause: 'dns-nxdomain', confidence: 'high', summary: `${target.host} does not exist: DNS answers NXDOMAIN and ${known} has no line for it` },
      ]);
    }
    const resolversDead = dns !== undefined && dns.resolvers.length > 0 && alive.size === 0;
    if (resolversDead && (elapsed >= th.dnsDeadAfterMs || final)) {
      const servers = listing(dns.resolvers);
      // A resolver this bastion cannot even send to (no route, no IPv6) was not silent: say so.
      const cannotReach = noneReachable();
      if (cannotReach) return cannotReach;
      return step('fail', `no resolver answers: ${servers} did not reply in ${duration(elapsed)}`, [
        { cause: 'dns-timeout', confidence: 'high', summary: `no resolver answers (${servers}); ssh waits for each in turn before it even connects` },
      ]);
    }
    if (outcome !== 'answer' && (elapsed >= th.dnsSlowAfterMs || final)) {
      if (outcome === 'nxdomain') return step('fail', `${target.host} does not exist in DNS`, [{ cause: 'dns-nxdomain', confidence: 'high', summary: `${target.host} does not exist (NXDOMAIN)` }]);
      if (outcome === 'servfail') return servfail();
      return step('fail', `no answer for ${target.host} in ${duration(elapsed)}`, [
        { cause: 'dns-timeout', confidence: 'high', summary: `no resolver answered for ${target.host} within ${duration(elapsed)}` },
      ]);
    }
    return step('running', 'resolving…');
  }

  // getaddrinfo failed: the direct queries say why.
  if (resolved.length === 0) {
    if (outcome === 'pending' && !final && elapsed < th.dnsSlowAfterMs) return step('running', 'resolving…');
    switch (outcome) {
      case 'answer':
        return step('fail', `ssh cannot resolve ${target.host}, but DNS answers ${dnsAll.join(', ')}`, [
          { cause: 'dns-mismatch', confidence: 'medium', summary: `getaddrinfo finds no address for ${target.host} while the resolvers answer ${dnsAll.join(', ')} (check nsswitch.conf and the search list)` },
        ]);
      case 'servfail':
        return servfail();
      case 'timeout':
      case 'pending':
        return noneReachable() ?? step('fail', `no resolver answered for ${target.host}`, [{ cause: 'dns-timeout', confidence: 'high', summary: `no resolver answered for ${target.host} in time` }]);
      case 'nxdomain':
      case 'none':
        return step('fail', `${target.host} does not exist`, [
          { cause: 'dns-nxdomain', confidence: 'high', summary: `${target.host} does not exist: getaddrinfo finds nothing and DNS answers NXDOMAIN` },
        ]);
    }
  }

  // getaddrinfo found addresses. Compare with DNS while its answers come in.
  if (outcome === 'pending' && !final && now - (resolve?.endedMs ?? now) < th.dnsDeadAfterMs) return step('running', `${target.host} → ${resolved.join(', ')}; comparing with DNS…`);
  const findings: Finding[] = [];
  const notes: string[] = [];
  if (dnsAll.length > 0 && !resolved.some((a) => dnsAll.includes(a))) {
    const reach = classifyReach(input, primaryHandshake(obs));
    const sshFails = reach.kind !== 'connected' && reach.kind !== 'waiting';
    const dnsWorks = obs.handshakes.some((h) => dnsAll.includes(h.address) && h.tcp.outcome === 'connected');
    if (reach.kind === 'waiting' && !final) return step('running', `ssh would use ${resolved.join(', ')} but DNS says ${dnsAll.join(', ')}; probing both…`);
    const confidence = sshFails && dnsWorks ? 'high' : sshFails ? 'medium' : 'low';
    findings.push({
      cause: 'dns-mismatch',
      confidence,
      summary: `ssh resolves ${target.host} to ${resolved.join(', ')} but DNS says ${dnsAll.join(', ')}${dnsWorks && sshFails ? ' — and only the DNS address answers' : ''} (stale /etc/hosts entry?)`,
    });
    notes.push(`ssh would connect to ${resolved.join(', ')}, DNS says ${dnsAll.join(', ')}`);
  } else if (dns?.state === 'done' && outcome === 'nxdomain') {
    findings.push({
      cause: 'dns-mismatch',
      confidence: 'low',
      requesterSide: true,
      summary: `${target.host} resolves only on this bastion (/etc/hosts or another local source); DNS has no such name, so the requester's machine may not resolve it`,
    });
    notes.push('not in DNS: resolved from /etc/hosts or another local source');
  }
  const servers = [...perServer.entries()];
  const [first, ...rest] = servers;
  if (first && rest.some(([, addrs]) => !sameSet(addrs, first[1]))) {
    findings.push({ cause: 'dns-mismatch', confidence: 'low', summary: `the resolvers disagree about ${target.host}: ${servers.map(([s, a]) => `${s} says ${a.join(', ')}`).join('; ')}` });
    notes.push('the resolvers disagree');
  }
  const took = (resolve?.endedMs ?? now) - (resolve?.startedMs ?? now);
  if (took >= th.bannerSlowMs) {
    findings.push({ cause: 'dns-timeout', confidence: 'low', summary: `getaddrinfo took ${duration(took)} for ${target.host}: a resolver in /etc/resolv.conf is slow or dead, and ssh waits the same before connecting` });
    notes.push(`resolution took ${duration(took)}`);
  }
  findings.sort((a, b) => confidenceRank(b.confidence) - confidenceRank(a.confidence));
  const worst = findings[0];
  if (!worst) return step('pass', `${target.host} → ${resolved.join(', ')} (what ssh uses${dnsAll.length > 0 ? ', same as DNS' : ''})`);
  const status = worst.confidence === 'low' ? 'warn' : 'fail';
  return step(status, `${target.host} → ${resolved.join(', ')}; ${notes.join('; ')}`, findings);
}
