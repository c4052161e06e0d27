// The real CLI's JSON against docs/schemas/: a single report (healthy sshd, a closed port, a
// dropped port), a fleet document and `sshcheck explain --json`. The checks run from the lab's
// bastion namespace with the lab's own resolver, so no query leaves the lab. The numbers
// beside the prose evidence (measurements) are checked against what the lab really is.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Report } from '../../src/engine/report.js';
import type { FleetResult } from '../../src/fleet/run.js';
import { schemaErrors } from '../support/schemas.js';
import { ADDR, Lab, fleetAddress, labUnavailable } from './lab.js';

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
const unavailable = labUnavailable();
if (unavailable) console.log(`# lab: JSON output against the schemas skipped: ${unavailable}`);

describe('lab: the real CLI JSON matches docs/schemas', { skip: unavailable ?? false }, () => {
  test('sshcheck/report@1 for a healthy sshd, a closed port and a dropped port; sshcheck/fleet@1', async () => {
    const lab = await Lab.create();
    try {
      await lab.startDns([]);
      const addresses = await lab.addFleetAddresses(2);
      await lab.startSshd({ listenAll: true });
      await lab.iptables(lab.target, '-A', 'INPUT', '-p', 'tcp', '--dport', '2222', '-j', 'DROP');

      const healthy = await lab.runCli(['--json', '-q', ADDR.target], 30_000, 'healthy');
      assert.equal(healthy.code, 0, healthy.stderr);
      const h = JSON.parse(healthy.stdout) as Report;
      assert.deepEqual(schemaErrors('report', h), []);
      const ssh = h.measurements?.ssh[0];
      assert.equal(ssh?.address, ADDR.target);
      assert.equal(ssh?.tcp, 'connected');
      assert.match(ssh?.banner ?? '', /^SSH-2\.0-OpenSSH_/);
      assert.ok(typeof ssh?.bannerMs === 'number' && ssh.bannerMs >= 0, 'the banner latency is a number');
      assert.ok(typeof ssh?.connectMs === 'number', 'the connect time is a number');
      const ping = h.measurements?.ping;
      if (ping && ping.received > 0) assert.equal(ping.rttsMs.length, ping.received);

      const closed = await lab.runCli(['--json', '-q', '-p', '2200', ADDR.target], 30_000, 'closed');
      assert.equal(closed.code, 1, closed.stderr);
      const c = JSON.parse(closed.stdout) as Report;
      assert.equal(c.diagnosis.cause, 'port-closed');
      assert.deepEqual(schemaErrors('report', c), []);
      assert.equal(c.measurements?.ssh[0]?.tcp, 'refused');
      assert.equal(c.measurements?.ssh[0]?.banner, null);

      const dropped = await lab.runCli(['--json', '-q', '-p', '2222', ADDR.target], 30_000, 'dropped');
      assert.equal(dropped.code, 1, dropped.stderr);
      const d = JSON.parse(dropped.stdout) as Report;
      assert.equal(d.diagnosis.cause, 'port-filtered');
      assert.deepEqual(schemaErrors('report', d), []);

      // --brief: exactly one line; --events: NDJSON, the last event carries a valid report.
      const brief = await lab.runCli(['--brief', '-p', '2200', ADDR.target], 30_000, 'brief');
      assert.equal(brief.code, 1);
      assert.equal(brief.stderr, '', '--brief prints no progress');
      assert.match(brief.stdout, new RegExp(`^sshcheck@${ADDR.target.replace(/\./g, '\\.')}:2200 port-closed \\(high\\): nothing listens[^\n]*\n$`));
      const events = await lab.runCli(['--events', '-q', '-p', '2200', ADDR.target], 30_000, 'events');
      assert.equal(events.code, 1);
      const parsed = events.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; report?: Report });
      assert.equal(parsed[0]?.type, 'run-started');
      assert.ok(parsed.some((e) => e.type === 'step-updated') && parsed.some((e) => e.type === 'diagnosis'));
      assert.equal(parsed.at(-1)?.type, 'run-finished');
      assert.deepEqual(schemaErrors('report', parsed.at(-1)?.report), []);

      const fleet = await lab.runCli(['--json', '-q', ...addresses, fleetAddress(200)], 60_000, 'fleet');
      const f = JSON.parse(fleet.stdout) as FleetResult;
      assert.deepEqual(schemaErrors('fleet', f), []);
      assert.equal(f.reports.length, 3);
    } finally {
      await lab.destroy();
    }
  });
});

test('sshcheck explain --json matches docs/schemas/explain.schema.json', () => {
  const logs = [
    'OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024\ndebug1: Connecting to db-3 [10.0.0.5] port 22.\nssh: connect to host db-3 port 22: Connection timed out\n',
    'debug1: Connecting to db-3 [10.0.0.5] port 22.\ndebug1: Connection established.\ndebug1: Remote protocol version 2.0, remote software version OpenSSH_9.2p1\ndebug1: Authenticating to db-3:22 as \'alice\'\ndebug1: Authentications that can continue: publickey\nalice@db-3: Permission denied (publickey).\n',
  ];
  for (const log of logs) {
    const r = spawnSync(process.execPath, [CLI, 'explain', '--json'], { input: log, encoding: 'utf8', timeout: 10_000, env: { PATH: process.env.PATH ?? '' } });
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    assert.deepEqual(schemaErrors('explain', JSON.parse(r.stdout)), [], log);
  }
  // Text that is not ssh output is a usage error: no JSON at all, exit 2, and why on stderr.
  const junk = spawnSync(process.execPath, [CLI, 'explain', '--json'], { input: 'nothing that ssh would print\n', encoding: 'utf8', timeout: 10_000, env: { PATH: process.env.PATH ?? '' } });
  assert.equal(junk.status, 2, junk.stderr);
  assert.equal(junk.stdout, '');
  assert.match(junk.stderr, /not ssh debug output/);
});
