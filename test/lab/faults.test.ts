// The real CLI, run from a bastion namespace against a real network with real faults
// (lab.md). Each scenario builds its own lab and tears it down, also when it fails.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Cause, Report, StepId } from '../../src/engine/report.js';
import { STEP_IDS } from '../../src/engine/report.js';
import { ADDR, Lab, labUnavailable } from './lab.js';

interface Scenario {
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

const scenarios: Scenario[] = [
  { name: 'healthy, by IP', setup: (lab) => lab.startSshd(), target: ADDR.target, cause: 'healthy', step: null },
  {
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
    name: 'reject with ICMP admin-prohibited',
    setup: async (lab) => {
      await lab.startSshd();
      await dropPort(lab, ['REJECT', '--reject-with', 'icmp-admin-prohibited']);
    },
    target: ADDR.target,
    cause: 'port-rejected',
    step: 'firewall',
  },
  { name: 'sshd stopped', setup: () => Promise.resolve(), target: ADDR.target, cause: 'port-closed', step: 'sshd' },
  { name: 'TCP wrappers refuse everyone (hosts.deny)', setup: (lab) => lab.startSshd({ hostsDeny: 'sshd: ALL\n' }), target: ADDR.target, cause: 'connection-closed', step: 'tcp-wrappers' },
  {
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
    name: 'resolver timeout',
    setup: async (lab) => {
      await lab.startSshd();
      await lab.startDns([{ name: '*', action: 'drop' }]);
    },
    target: 'db-3',
    cause: 'dns-timeout',
    step: 'dns',
  },
  { name: 'a plain HTTP server on port 22', setup: (lab) => lab.startTcpService('http'), target: ADDR.target, cause: 'not-ssh', step: 'vpn-proxy' },
  { name: 'a service that accepts and never speaks', setup: (lab) => lab.startTcpService('silent'), target: ADDR.target, cause: 'banner-timeout', step: 'sshd' },
  {
    name: "a firewall rule that drops only the bastion's address",
    setup: async (lab) => {
      await lab.startSshd();
      await iptables(lab, 'target', '-A', 'INPUT', '-s', ADDR.bastion, '-j', 'DROP');
    },
    target: ADDR.target,
    cause: 'banned',
    causeOrAlternative: true,
  },
  { name: 'an address nobody owns (no ARP answer)', setup: () => Promise.resolve(), target: ADDR.nobody, cause: 'host-unreachable', step: 'connectivity' },
  {
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

const unavailable = labUnavailable();
const timings: string[] = [];
after(() => {
  if (timings.length > 0) console.log(`lab timings (time to diagnosis / whole process):\n  ${timings.join('\n  ')}`);
});

describe('lab: the real CLI against real faults', { skip: unavailable ?? false }, () => {
  for (const s of scenarios) {
    test(s.name, async () => {
      const lab = await Lab.create();
      try {
        await s.setup(lab);
        const run = await lab.runCli(['--json', '-q', s.target]);
        let report: Report;
        try {
          report = JSON.parse(run.stdout) as Report;
        } catch {
          assert.fail(`stdout is not one JSON report (exit ${run.code}): ${run.stdout.slice(0, 300)} ${run.stderr.slice(0, 300)}`);
        }
        timings.push(`${s.name}: ${report.diagnosedMs} ms / ${Math.round(run.wallMs)} ms → ${report.diagnosis.cause}`);
        const summary = `${report.diagnosis.cause} (${report.diagnosis.step ?? '-'}): ${report.diagnosis.summary}; alternatives ${JSON.stringify(report.diagnosis.alternatives)}`;
        assert.deepEqual(report.steps.map((st) => st.id), [...STEP_IDS], 'ten steps in checklist order');
        assert.ok(report.steps.every((st) => st.status !== ('running' as string)), 'no step left running');
        if (s.causeOrAlternative) {
          const all = [report.diagnosis.cause, ...report.diagnosis.alternatives.map((a) => a.cause)];
          assert.ok(all.includes(s.cause), `expected ${s.cause} as cause or alternative, got ${summary}`);
        } else {
          assert.equal(report.diagnosis.cause, s.cause, summary);
          if (s.step !== undefined) assert.equal(report.diagnosis.step, s.step, summary);
        }
        for (const alt of s.alternatives ?? []) assert.ok(report.diagnosis.alternatives.some((a) => a.cause === alt), `expected alternative ${alt}: ${summary}`);
        assert.equal(run.code, report.diagnosis.cause === 'healthy' ? 0 : 1, 'exit status follows the diagnosis');
        assert.ok(report.durationMs <= 15_000 && run.wallMs < 16_000, `the run stays within its 15 s budget (${report.durationMs} ms)`);
      } finally {
        await lab.destroy();
      }
    });
  }
});
