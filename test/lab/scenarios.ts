// The lab's fault scenarios, shared by the lab tests and the benchmarks: each one builds a
// fault into a fresh lab and names the diagnosis the real CLI must reach.
import type { Cause, StepId } from '../../src/engine/report.js';
import { ADDR } from './lab.js';
import type { Lab } from './lab.js';

export interface Scenario {
  /** Short id for tables and for picking scenarios on the command line. */
  id: string;
  name: string;
  setup(lab: Lab): Promise<unknown>;
  target: string;
  cause: Cause;
  /** Accept this cause only as one of the alternatives, not necessarily the primary one. */
  causeOrAlternative?: boolean;
  step?: StepId | null;
  alternatives?: Cause[];
}

const iptables = (lab: Lab, ns: 'target' | 'router', ...args: string[]) => lab.iptables(ns === 'target' ? lab.target : lab.router, ...args);
const dropPort = (lab: Lab, how: string[]) => iptables(lab, 'target', '-A', 'INPUT', '-p', 'tcp', '--dport', '22', '-j', ...how);
const zone = [
  { name: 'db-3.lab.test', action: 'answer' as const, a: [ADDR.target] },
  { name: 'broken.lab.test', action: 'servfail' as const },
  { name: 'broken', action: 'servfail' as const },
];

export const SCENARIOS: Scenario[] = [
  { id: 'healthy-ip', name: 'healthy, by IP', setup: (lab) => lab.startSshd(), target: ADDR.target, cause: 'healthy', step: null },
  {
    id: 'healthy-name',
    name: 'healthy, by name through the search domain',
    setup: async (lab) => {
      await lab.startSshd();
      await lab.startDns(zone);
    },
    target: 'db-3',
    cause: 'healthy',
    step: null,
  },
  {
    id: 'icmp-blocked',
    name: 'ICMP blocked while SSH works is healthy, not down',
    setup: async (lab) => {
      await lab.startSshd();
      await iptables(lab, 'target', '-A', 'INPUT', '-p', 'icmp', '-j', 'DROP');
    },
    target: ADDR.target,
    cause: 'healthy',
    step: null,
  },
  {
    id: 'silent-drop',
    name: 'silent drop of port 22',
    setup: async (lab) => {
      await lab.startSshd();
      await dropPort(lab, ['DROP']);
    },
    target: ADDR.target,
    cause: 'port-filtered',
    step: 'firewall',
  },
  {
    id: 'rst',
    name: 'reject with a TCP reset',
    setup: async (lab) => {
      await lab.startSshd();
      await dropPort(lab, ['REJECT', '--reject-with', 'tcp-reset']);
    },
    target: ADDR.target,
    cause: 'port-closed',
    step: 'sshd',
    alternatives: ['port-rejected'],
  },
  {
    id: 'icmp-reject',
    name: 'reject with ICMP admin-prohibited',
    setup: async (lab) => {
      await lab.startSshd();
      await dropPort(lab, ['REJECT', '--reject-with', 'icmp-admin-prohibited']);
    },
    target: ADDR.target,
    cause: 'port-rejected',
    step: 'firewall',
  },
  { id: 'sshd-stopped', name: 'sshd stopped', setup: () => Promise.resolve(), target: ADDR.target, cause: 'port-closed', step: 'sshd' },
  { id: 'tcp-wrappers', name: 'TCP wrappers refuse everyone (hosts.deny)', setup: (lab) => lab.startSshd({ hostsDeny: 'sshd: ALL\n' }), target: ADDR.target, cause: 'connection-closed', step: 'tcp-wrappers' },
  {
    // The check's own connection is accepted (and so reset) first; its RST is the first one,
    // and a RST is never retransmitted: only ssh -vvv's connection sees the refusal.
    id: 'tcp-wrappers-rst-lost',
    name: 'TCP wrappers refuse everyone, and the first reset is lost on the way',
    setup: async (lab) => {
      await lab.startSshd({ hostsDeny: 'sshd: ALL\n' });
      await iptables(lab, 'router', '-I', 'FORWARD', '1', '-p', 'tcp', '--sport', '22', '--tcp-flags', 'RST', 'RST', '-m', 'statistic', '--mode', 'nth', '--every', '1000000', '--packet', '0', '-j', 'DROP');
    },
    target: ADDR.target,
    cause: 'connection-closed',
    step: 'tcp-wrappers',
  },
  {
    id: 'mtu-blackhole',
    name: 'MTU blackhole on the path',
    setup: async (lab) => {
      await lab.startSshd();
      await lab.exec(lab.router, 'ip', ['link', 'set', 'r0', 'mtu', '1000']);
      await iptables(lab, 'router', '-A', 'OUTPUT', '-p', 'icmp', '--icmp-type', 'fragmentation-needed', '-j', 'DROP');
    },
    target: ADDR.target,
    cause: 'kex-stall',
    step: 'vpn-proxy',
  },
  {
    id: 'nxdomain',
    name: 'NXDOMAIN',
    setup: async (lab) => {
      await lab.startSshd();
      await lab.startDns(zone);
    },
    target: 'gone',
    cause: 'dns-nxdomain',
    step: 'dns',
  },
  {
    id: 'servfail',
    name: 'SERVFAIL',
    setup: async (lab) => {
      await lab.startSshd();
      await lab.startDns(zone);
    },
    target: 'broken',
    cause: 'dns-servfail',
    step: 'dns',
  },
  {
    id: 'dns-timeout',
    name: 'resolver timeout',
    setup: async (lab) => {
      await lab.startSshd();
      await lab.startDns([{ name: '*', action: 'drop' }]);
    },
    target: 'db-3',
    cause: 'dns-timeout',
    step: 'dns',
  },
  { id: 'not-ssh', name: 'a plain HTTP server on port 22', setup: (lab) => lab.startTcpService('http'), target: ADDR.target, cause: 'not-ssh', step: 'vpn-proxy' },
  { id: 'banner-timeout', name: 'a service that accepts and never speaks', setup: (lab) => lab.startTcpService('silent'), target: ADDR.target, cause: 'banner-timeout', step: 'sshd' },
  {
    id: 'ban',
    name: "a firewall rule that drops only the bastion's address",
    setup: async (lab) => {
      await lab.startSshd();
      await iptables(lab, 'target', '-A', 'INPUT', '-s', ADDR.bastion, '-j', 'DROP');
    },
    target: ADDR.target,
    cause: 'banned',
    causeOrAlternative: true,
  },
  {
    id: 'kex-failed',
    name: 'a server that offers only a key exchange modern clients refuse',
    setup: (lab) => lab.startSshd({ config: ['KexAlgorithms diffie-hellman-group1-sha1'] }),
    target: ADDR.target,
    cause: 'kex-failed',
    step: 'verbose',
  },
  {
    id: 'auth-slow',
    name: 'UseDNS with a resolver that never answers the reverse lookup',
    setup: async (lab) => {
      await lab.startDns([{ name: '*', action: 'drop' }]);
      lab.writeEtc(lab.target, 'resolv.conf', `nameserver ${ADDR.routerBastionSide}\n`);
      await lab.startSshd({ config: ['UsePAM yes', 'UseDNS yes'] });
    },
    // sshd looks the client up when it first hears a user name: timing it needs one that
    // exists (root, in the lab target); by default sshcheck sends none and says so.
    target: `root@${ADDR.target}`,
    cause: 'auth-slow',
    step: 'auth',
  },
  {
    id: 'maxstartups',
    name: 'sshd throttling unauthenticated connections (MaxStartups)',
    setup: (lab) => lab.startSshd({ config: ['MaxStartups 1:100:1'] }),
    target: ADDR.target,
    cause: 'server-overloaded',
    step: 'load',
  },
  { id: 'no-arp', name: 'an address nobody owns (no ARP answer)', setup: () => Promise.resolve(), target: ADDR.nobody, cause: 'host-unreachable', step: 'connectivity' },
  {
    id: 'stale-hosts',
    name: 'a stale /etc/hosts entry while DNS has the right address',
    setup: async (lab) => {
      await lab.startSshd();
      await lab.startDns(zone);
      lab.writeEtc(lab.bastion, 'hosts', `127.0.0.1 localhost\n${ADDR.nobody} db-3.lab.test db-3\n`);
    },
    target: 'db-3',
    cause: 'dns-mismatch',
    step: 'dns',
  },
];

