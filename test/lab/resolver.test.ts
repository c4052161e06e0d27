// A resolver this bastion cannot reach (issue 12): a nameserver with no route, or an IPv6
// nameserver on a bastion without IPv6 routes. Every check still ends with a report on
// stdout — of an IP address (which needs no name lookup) healthy, of a name dns-timeout
// with "resolver unreachable" — never a crash in the DNS probe.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Report } from '../../src/engine/report.js';
import { ADDR, Lab, labUnavailable } from './lab.js';
import type { CliRun } from './lab.js';

const unavailable = labUnavailable();

function report(run: CliRun): Report {
  assert.doesNotMatch(run.stderr, /RangeError|ERR_SOCKET|engine failed/, run.stderr);
  try {
    return JSON.parse(run.stdout) as Report;
  } catch {
    return assert.fail(`stdout is not one JSON report (exit ${run.code}): ${run.stdout.slice(0, 300)} | ${run.stderr.slice(0, 500)}`);
  }
}

const CASES = [
  // The bastion namespace has no IPv6 address or route beyond loopback.
  { name: 'an IPv6 nameserver on a bastion without IPv6 routes', nameserver: 'fd00:77::53', setup: (): Promise<void> => Promise.resolve() },
  // A route that says "unreachable": connect() itself fails with ENETUNREACH.
  { name: 'a nameserver with no route', nameserver: '192.0.2.53', setup: async (lab: Lab): Promise<void> => void (await lab.exec(lab.bastion, 'ip', ['route', 'add', 'unreachable', '192.0.2.0/24'])) },
];

describe('lab: a resolver that cannot be reached', { skip: unavailable ?? false }, () => {
  for (const c of CASES) {
    test(`${c.name}: an IP address is still checked, a name is dns-timeout naming the unreachable resolver`, async () => {
      const lab = await Lab.create();
      try {
        await c.setup(lab);
        await lab.startSshd();
        lab.writeEtc(lab.bastion, 'resolv.conf', `nameserver ${c.nameserver}\nsearch lab.test\n`);

        const byAddress = await lab.runCli(['--json', '-q', ADDR.target]);
        const healthy = report(byAddress);
        assert.equal(healthy.diagnosis.cause, 'healthy', healthy.diagnosis.summary);
        assert.equal(byAddress.code, 0);

        const byName = await lab.runCli(['--json', '-q', 'db-3']);
        const dns = report(byName);
        assert.equal(dns.diagnosis.cause, 'dns-timeout', dns.diagnosis.summary);
        assert.match(dns.diagnosis.summary, /can be reached/);
        const step = dns.steps.find((s) => s.id === 'dns');
        assert.match(step?.summary ?? '', new RegExp(`resolver unreachable: .*${c.nameserver.replace(/[.]/g, '\\.')}`), step?.summary);
        assert.equal(byName.code, 1);
      } finally {
        await lab.destroy();
      }
    });
  }
});
