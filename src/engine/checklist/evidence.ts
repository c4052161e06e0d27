// Turns observations into evidence lines. Shared by the steps so that the same probe is
// always described the same way. Text that came from the network is already sanitized by
// the probes; chat renderers escape it again for their own markup.
import type { Evidence } from '../report.js';
import type { HandshakeObs, MtuObs, PathObs, PingObs, SshConfigObs, TcpObs } from '../observations.js';
import { duration, endpoint, plural } from './format.js';

export function pingEvidence(ping: PingObs | undefined): Evidence | undefined {
  if (!ping) return undefined;
  if (ping.unavailable) return { probe: 'icmp', detail: `ping could not run: ${ping.unavailable}` };
  const got = ping.rttsMs.length;
  if (got > 0) {
    const min = Math.min(...ping.rttsMs);
    const max = Math.max(...ping.rttsMs);
    const loss = ping.transmitted > 0 && ping.state === 'done' ? `, ${Math.round(100 - (100 * got) / ping.transmitted)}% loss` : '';
    return { probe: 'icmp', detail: `ping ${ping.address}: ${plural(got, 'reply', 'replies')}, RTT ${duration(min)}–${duration(max)}${loss}` };
  }
  const first = ping.errors[0];
  if (first) return { probe: 'icmp', detail: `ping ${ping.address}: "${first.text}" from ${first.from}` };
  if (ping.state === 'running') return { probe: 'icmp', detail: `ping ${ping.address}: no reply yet` };
  const waited = ping.endedMs !== undefined ? ` in ${duration(ping.endedMs - ping.startedMs)}` : '';
  return { probe: 'icmp', detail: `ping ${ping.address}: no reply${waited} (ICMP may be blocked: that alone does not mean the host is down)` };
}

export function controlEvidence(control: TcpObs | undefined): Evidence | undefined {
  if (!control) return undefined;
  const where = endpoint(control.address, control.port);
  const after = control.atMs !== undefined ? ` in ${duration(control.atMs - control.startedMs)}` : '';
  switch (control.outcome) {
    case 'refused':
      return { probe: 'tcp', detail: `control port ${where}: TCP reset${after} (the host is up)` };
    case 'connected':
      return { probe: 'tcp', detail: `control port ${where}: connected${after} (the host is up)` };
    case 'host-unreachable':
    case 'net-unreachable':
      return { probe: 'tcp', detail: `control port ${where}: ${control.outcome.replace('-', ' ')}${after}` };
    case 'timeout':
    case undefined: {
      const waited = (control.endedMs ?? control.atMs ?? control.startedMs) - control.startedMs;
      return { probe: 'tcp', detail: control.state === 'running' ? `control port ${where}: no answer yet` : `control port ${where}: no answer in ${duration(waited)}` };
    }
    case 'error':
      return { probe: 'tcp', detail: `control port ${where}: ${control.errno ?? 'error'}` };
  }
}

/** How the TCP connect to the SSH port went, as one line. */
export function tcpEvidence(h: HandshakeObs): Evidence {
  const where = endpoint(h.address, h.port);
  const tcp = h.tcp;
  if (tcp.outcome === undefined || tcp.outcome === 'timeout') {
    const waited = (h.end?.atMs ?? h.endedMs ?? h.startedMs) - h.startedMs;
    return { probe: 'tcp', detail: h.state === 'running' ? `${where}: SYN sent, no answer yet` : `${where}: no answer to the SYN in ${duration(waited)}` };
  }
  const after = tcp.atMs !== undefined ? ` in ${duration(tcp.atMs - h.startedMs)}` : '';
  const words: Record<string, string> = {
    connected: 'TCP connected',
    refused: 'connection refused (TCP reset)',
    'host-unreachable': 'ICMP host unreachable/prohibited',
    'net-unreachable': 'network unreachable',
    error: `connect failed (${tcp.errno ?? 'error'})`,
  };
  return { probe: 'tcp', detail: `${where}: ${words[tcp.outcome] ?? tcp.outcome}${after}` };
}

/** The server's identification line and how long it took after the connect. */
export function bannerEvidence(h: HandshakeObs): Evidence | undefined {
  if (h.tcp.atMs === undefined || h.tcp.outcome !== 'connected') return undefined;
  const where = endpoint(h.address, h.port);
  if (h.banner && h.at.banner !== undefined) {
    const pre = h.preBanner.lines > 0 ? ` (after ${plural(h.preBanner.lines, 'other line')}: ${h.preBanner.sample.map((l) => `"${l}"`).join(', ')})` : '';
    return { probe: 'ssh-handshake', detail: `${where}: banner "${h.banner.line}" ${duration(h.at.banner - h.tcp.atMs)} after the connect${pre}` };
  }
  if (h.end && h.end.phase === 'banner') return { probe: 'ssh-handshake', detail: `${where}: ${h.end.kind} ${duration(h.end.atMs - h.tcp.atMs)} after the connect, before any banner (${h.end.detail})` };
  return { probe: 'ssh-handshake', detail: `${where}: connected, no banner yet` };
}

/** The key exchange phases after the banner. */
export function kexEvidence(h: HandshakeObs): Evidence | undefined {
  const start = h.at.banner;
  if (start === undefined) return undefined;
  const parts: string[] = [];
  if (h.at.kexinit !== undefined) parts.push(`server KEXINIT +${duration(h.at.kexinit - start)}`);
  if (h.negotiated) parts.push(`${h.negotiated.kex}, ${h.negotiated.hostKey}, ${h.negotiated.cipherStoC}`);
  if (h.at['kex-reply'] !== undefined) parts.push(`key exchange reply +${duration(h.at['kex-reply'] - start)}`);
  if (h.at.newkeys !== undefined) parts.push(`NEWKEYS +${duration(h.at.newkeys - start)}`);
  const end = h.end && h.at.newkeys === undefined && h.end.kind !== 'aborted' ? `; ${h.end.kind}: ${h.end.detail}` : '';
  const waiting = parts.length === 0 ? 'no KEXINIT from the server' : parts.join(', ');
  return { probe: 'ssh-handshake', detail: `key exchange after the banner: ${waiting}${end}` };
}

/** NEWKEYS to the list of authentication methods. */
export function authEvidence(h: HandshakeObs): Evidence | undefined {
  const start = h.at.newkeys;
  if (start === undefined) return undefined;
  const done = h.at['auth-methods'];
  const key = h.hostKey ? `; host key ${h.hostKey.type} ${h.hostKey.sha256}` : '';
  if (done === undefined && h.end?.kind === 'complete' && h.at.service !== undefined) {
    return { probe: 'ssh-handshake', detail: `ssh-userauth service accepted ${duration(h.at.service - start)} after NEWKEYS; no user name sent${key}` };
  }
  if (done === undefined) return { probe: 'ssh-handshake', detail: `keys exchanged; no authentication methods yet` };
  return { probe: 'ssh-handshake', detail: `"none" authentication answered ${duration(done - start)} after NEWKEYS: ${h.noneAccepted ? 'accepted' : (h.authMethods ?? []).join(', ') || 'no methods'}${key}` };
}

export function pathEvidence(path: PathObs | undefined): Evidence | undefined {
  if (!path) return undefined;
  if (path.unavailable) return { probe: 'path', detail: `path to port ${path.port} not traced: ${path.unavailable}` };
  if (path.hops.length === 0) return path.state === 'running' ? { probe: 'path', detail: 'tracing the path…' } : undefined;
  const answered = path.hops.filter((hop) => hop.address !== null);
  const shown = answered.map((hop) => `${hop.ttl}:${hop.address ?? '*'}${hop.annotation ? ` ${hop.annotation}` : ''}`).join(' → ');
  const tool = path.tool === 'mtr' ? 'mtr --tcp' : 'traceroute -T';
  if (path.reached) return { probe: 'path', detail: `${tool} to port ${path.port}: ${shown} (reached)` };
  const last = answered[answered.length - 1];
  const lastText = last ? `the last hop that answers is ${last.address ?? '?'} (hop ${last.ttl})` : 'no hop answers';
  return { probe: 'path', detail: `${tool} to port ${path.port}: ${shown || '(nothing)'}; ${lastText}` };
}

/** The largest MTU that crossed the path, and the smallest that did not. */
export function mtuSummary(mtu: MtuObs | undefined): { passes?: number; fails?: number; blackhole: boolean } {
  if (!mtu) return { blackhole: false };
  const replies = mtu.probes.filter((p) => p.outcome === 'reply').map((p) => p.mtu);
  const lost = mtu.probes.filter((p) => p.outcome === 'no-reply').map((p) => p.mtu);
  const passes = replies.length > 0 ? Math.max(...replies) : undefined;
  const fails = lost.length > 0 ? Math.min(...lost) : undefined;
  // Small packets cross and larger ones vanish without a "fragmentation needed": a blackhole.
  const blackhole = passes !== undefined && fails !== undefined && fails > passes;
  const out: { passes?: number; fails?: number; blackhole: boolean } = { blackhole };
  if (passes !== undefined) out.passes = passes;
  if (fails !== undefined) out.fails = fails;
  return out;
}

export function mtuEvidence(mtu: MtuObs | undefined): Evidence | undefined {
  if (!mtu) return undefined;
  if (mtu.unavailable) return { probe: 'mtu', detail: `don't-fragment ping sweep could not run: ${mtu.unavailable}` };
  if (mtu.state === 'running') return { probe: 'mtu', detail: "don't-fragment ping sweep running…" };
  const s = mtuSummary(mtu);
  const local = mtu.localMtu !== undefined ? `; this bastion's interface MTU is ${mtu.localMtu}` : '';
  const frag = mtu.probes.find((p) => p.outcome === 'frag-needed');
  if (s.blackhole) {
    return { probe: 'mtu', detail: `don't-fragment pings: ${s.passes ?? '?'}-byte packets cross, ${s.fails ?? '?'}-byte packets vanish with no "fragmentation needed"${local}` };
  }
  if (frag) return { probe: 'mtu', detail: `don't-fragment pings: "fragmentation needed" for ${frag.mtu}-byte packets (${frag.detail ?? 'path MTU is smaller'})${local}` };
  if (s.fails === undefined && s.passes !== undefined) return { probe: 'mtu', detail: `don't-fragment pings up to ${s.passes} bytes cross the path${local}` };
  return { probe: 'mtu', detail: `don't-fragment pings got no reply at any size (ICMP may be blocked)${local}` };
}

export function sshConfigEvidence(config: SshConfigObs | undefined, host: string, port: number): Evidence | undefined {
  if (!config || config.state !== 'done') return undefined;
  if (config.unavailable) return { probe: 'ssh-config', detail: `ssh -G could not run: ${config.unavailable}` };
  const overrides: string[] = [];
  if (config.hostname && config.hostname.toLowerCase() !== host.toLowerCase()) overrides.push(`HostName ${config.hostname}`);
  if (config.port !== undefined && config.port !== port) overrides.push(`Port ${config.port}`);
  if (config.proxyJump) overrides.push(`ProxyJump ${config.proxyJump}`);
  if (config.proxyCommand) overrides.push(`ProxyCommand ${config.proxyCommand}`);
  if (overrides.length === 0) return { probe: 'ssh-config', detail: `the bastion's ssh config has no HostName/Port/Proxy override for ${host}` };
  return { probe: 'ssh-config', detail: `the bastion's ssh config changes how ${host} is reached: ${overrides.join('; ')} (sshcheck probed it directly)` };
}

export function sshConfigOverrides(config: SshConfigObs | undefined, host: string, port: number): boolean {
  if (!config || config.state !== 'done' || config.unavailable) return false;
  return Boolean(
    (config.hostname && config.hostname.toLowerCase() !== host.toLowerCase()) ||
      (config.port !== undefined && config.port !== port) ||
      config.proxyJump ||
      config.proxyCommand,
  );
}
