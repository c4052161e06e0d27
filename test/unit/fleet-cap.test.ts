// The fleet's host cap: a documented, configurable limit (--max-hosts, the engine config's
// fleet.max_hosts, 1024 by default), and an error that names where to raise it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCli } from '../../src/cli/args.js';
import { requestTargets } from '../../src/cli/fleet.js';
import type { FleetRequest } from '../../src/cli/fleet.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { DEFAULT_MAX_HOSTS, MAX_HOSTS_CEILING } from '../../src/fleet/limits.js';
import { fleetTargets } from '../../src/fleet/targets.js';

function fleet(argv: string[]): FleetRequest {
  const r = parseCli(argv);
  assert.equal(r.command, 'fleet');
  return r;
}

describe('fleet host cap', () => {
  test('the default stays 1024, and the error says how to raise it', () => {
    assert.equal(DEFAULT_MAX_HOSTS, 1024);
    assert.equal(requestTargets(fleet(['10.0.0.0/22', '10.0.4.1,10.0.4.2'])).length, 1024);
    assert.throws(() => requestTargets(fleet(['10.0.0.0/21'])), /10\.0\.0\.0\/21 holds 2046 host addresses; a check covers at most 1024: give a longer prefix \(\/22 or longer\) \(the default limit; raise it with --max-hosts <n> or the engine config's fleet\.max_hosts, up to 100000\)/);
    assert.throws(() => requestTargets(fleet(['10.0.0.0/22', '10.0.4.0/24'])), /more than 1024 hosts in one fleet check: check fewer at a time \(the default limit; raise it with --max-hosts/);
  });
  test('--max-hosts raises (or lowers) it for one check, within 1-100000', () => {
    assert.equal(requestTargets(fleet(['--max-hosts', '10000', '10.0.0.0/19'])).length, 8190);
    assert.throws(() => requestTargets(fleet(['--max-hosts', '10000', '10.0.0.0/18'])), /holds 16382 host addresses; a check covers at most 10000: give a longer prefix \(\/19 or longer\) \(the limit given with --max-hosts\)/);
    assert.throws(() => requestTargets(fleet(['--max-hosts', '2', 'db-[1-3]'])), /"db-\[1-3\]" names more than 2 hosts: split it into smaller ranges \(the limit given with --max-hosts\)/);
    assert.throws(() => parseCli(['--max-hosts', '0', 'db-[1-3]']), /invalid --max-hosts "0": give 1 to 100000/);
    assert.throws(() => parseCli(['--max-hosts', String(MAX_HOSTS_CEILING + 1), 'db-[1-3]']), /invalid --max-hosts/);
    assert.throws(() => parseCli(['--max-hosts', '5', 'db-1']), /--max-hosts is for several hosts/);
  });
  test('the engine config sets the bastion\'s own cap; --max-hosts overrides it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sshcheck-cap-'));
    try {
      const file = join(dir, 'engine.yml');
      writeFileSync(file, 'fleet:\n  max_hosts: 3000\ngroups:\n  big: ["h-[1-2046]"]\n');
      assert.equal(requestTargets(fleet(['--config', file, '--group', 'big'])).length, 2046, 'a group may be as big as the cap');
      assert.throws(() => requestTargets(fleet(['--config', file, '10.0.0.0/20'])), /at most 3000.*\(the limit is the engine config's fleet\.max_hosts; --max-hosts overrides it\)/);
      assert.equal(requestTargets(fleet(['--config', file, '--max-hosts', '5000', '10.0.0.0/20'])).length, 4094);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(parseEngineConfig('fleet:\n  max_hosts: 10000\n', 'e.yml').fleet, { maxHosts: 10000 });
    assert.throws(() => parseEngineConfig('fleet:\n  max_hosts: 0\n', 'e.yml'), /e\.yml:2: fleet\.max_hosts: must be a number of hosts from 1 to 100000/);
    assert.throws(() => parseEngineConfig('fleet:\n  max_hosts: 2.5\n', 'e.yml'), /e\.yml:2: fleet\.max_hosts: must be a whole number/);
    assert.throws(() => parseEngineConfig('fleet:\n  hosts: 5\n', 'e.yml'), /e\.yml:2: fleet\.hosts: unknown field \(expected max_hosts\)/);
    assert.throws(() => parseEngineConfig('groups:\n  big: ["h-[1-2046]"]\n', 'e.yml'), /names more than 1024 hosts: split it into smaller ranges \(fleet\.max_hosts\)/);
  });
  test('chat keeps its own smaller cap, and its message names no command-line option', () => {
    assert.throws(() => fleetTargets({ patterns: ['db-[1-300]'], max: 256 }), (err: Error) => /more than 256 hosts: split it into smaller ranges$/.test(err.message));
  });
});
