// A target that is this bastion itself: `localhost` (RFC 6761: every *.localhost name too),
// 127.0.0.0/8 or ::1. A healthy result there says nothing about routes, VPNs or firewalls
// between machines, so the advice for it differs from any other healthy host's.
import { isIPv4 } from 'node:net';
import type { Target } from '../target.js';

const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

export function isLoopbackTarget(target: Pick<Target, 'host' | 'kind'>): boolean {
  const host = target.host.toLowerCase();
  if (target.kind === 'name') return LOOPBACK_NAMES.has(host) || host.endsWith('.localhost');
  if (target.kind === 'ipv4') return isIPv4(host) && host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(host);
}

/** What to do after a healthy check of the bastion itself. */
export function loopbackHealthyNext(target: Pick<Target, 'host' | 'port'>): string[] {
  const sshPort = target.port === 22 ? '' : ` -p ${target.port}`;
  return [
    `${target.host} is this bastion itself (loopback): sshd here works, but that says nothing about the network between other machines`,
    `to check a server people cannot reach, name it as they do: \`sshcheck${sshPort} <host>\``,
    'if someone cannot reach this bastion, check it by the name or address they use, or read their `ssh -vvv` log with `sshcheck explain`',
  ];
}
