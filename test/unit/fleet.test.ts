// Fleet checks without a network: target patterns, hosts files, groups, the CLI grammar, the
// bounded runner (with a fake engine), the terminal summary and the chat fleet flow.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCli } from '../../src/cli/args.js';
import { renderFleet } from '../../src/cli/fleet.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { expandPattern, expandTargetWord, hasRange, namesSeveral } from '../../src/fleet/range.js';
import { runFleet } from '../../src/fleet/run.js';
import { fakeReport } from '../support/fake-report.js';
import { fleetTargets, hostsFileLines } from '../../src/fleet/targets.js';
import { isFleetText, parseFleetCommand } from '../../src/chat/fleet-grammar.js';
import { runFleetFlow, MAX_HOST_REPLIES } from '../../src/chat/fleet-flow.js';
import type { FleetHostView, FleetParentView } from '../../src/chat/fleet-views.js';
import { Pacer } from '../../src/chat/pacer.js';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };


describe('fleet target patterns', () => {
  test('ranges expand, zero-padded when the start is, and multiply', () => {
    assert.deepEqual(expandPattern('db-[1-3]'), ['db-1', 'db-2', 'db-3']);
    assert.deepEqual(expandPattern('db-[08-10]'), ['db-08', 'db-09', 'db-10']);
    assert.deepEqual(expandPattern('10.0.0.[1-2]'), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(expandPattern('r[1-2]-[1-2]'), ['r1-1', 'r1-2', 'r2-1', 'r2-2']);
    assert.deepEqual(expandPattern('ops@web-[1-2]:2222'), ['ops@web-1:2222', 'ops@web-2:2222']);
  });
  test('IPv6 brackets are not ranges; backwards and oversized ranges are refused', () => {
    assert.equal(hasRange('[2001:db8::1]:22'), false);
    assert.deepEqual(expandPattern('[2001:db8::1]'), ['[2001:db8::1]']);
    assert.throws(() => expandPattern('db-[5-1]'), /runs backwards/);
    assert.throws(() => expandPattern('db-[1-2000]'), /more than 1024 hosts/);
    assert.throws(() => expandPattern('r[1-100]-[1-100]'), /more than 1024 hosts/);
  });
  test('every expanded name goes through parseTarget; duplicates are checked once', () => {
    const targets = fleetTargets({ patterns: ['db-[1-2]', 'db-1', 'sshcheck@db-2'] });
    assert.deepEqual(targets.map((t) => t.host), ['db-1', 'db-2']);
    assert.throws(() => fleetTargets({ patterns: ['-oProxyCommand=x[1-2]'] }), /starts with "-"/);
    assert.throws(() => fleetTargets({ patterns: ['db-[1-2];rm'] }), /target "db-1;rm"/);
    assert.throws(() => fleetTargets({ patterns: ['10.0.0.[250-260]'] }), /10\.0\.0\.256/);
  });
  test('hosts files: one per line, # comments, line numbers in errors; groups by name', () => {
    const lines = hostsFileLines('# the databases\ndb-1\n\n  db-[2-3]  # two more\n');
    assert.deepEqual(lines, ['db-1', 'db-[2-3]']);
    assert.equal(fleetTargets({ patterns: [], fileLines: lines }).length, 3);
    assert.throws(() => fleetTargets({ patterns: [], fileLines: ['db-1', 'bad host'], fileName: 'hosts.txt' }), /hosts\.txt line 2/);
    const known = { dbs: ['db-[1-2]'], web: ['web-1'] };
    assert.deepEqual(fleetTargets({ patterns: [], groups: ['dbs', 'web'], knownGroups: known }).map((t) => t.host), ['db-1', 'db-2', 'web-1']);
    assert.throws(() => fleetTargets({ patterns: [], groups: ['nope'], knownGroups: known }), /unknown group "nope": the engine config defines dbs, web/);
    assert.throws(() => fleetTargets({ patterns: ['db-[1-600]', 'web-[1-600]'] }), /more than 1024 hosts/);
  });
  test('groups in the engine config are validated with line numbers', () => {
    const config = parseEngineConfig('groups:\n  dbs: ["db-[1-3]", 10.0.0.5]\n  web: web-1\n', 'engine.yml');
    assert.deepEqual(config.groups, { dbs: ['db-[1-3]', '10.0.0.5'], web: ['web-1'] });
    assert.throws(() => parseEngineConfig('groups:\n  dbs:\n    - db-1\n    - "-oProxyCommand"\n', 'engine.yml'), /engine\.yml:4: groups\.dbs\[1\]/);
    assert.throws(() => parseEngineConfig('groups:\n  Bad Name: [db-1]\n', 'engine.yml'), /engine\.yml:2: groups\.Bad Name/);
    assert.throws(() => parseEngineConfig('groups:\n  big:\n    - db-[1-2000]\n', 'engine.yml'), /more than 1024/);
  });
});

describe('fleet command line', () => {
  test('several hosts, a range, --file or --group make a fleet request', () => {
    const a = parseCli(['db-1', 'db-2']);
    assert.equal(a.command, 'fleet');
    const b = parseCli(['--json', '--concurrency', '8', 'db-[1-40]']);
    assert.ok(b.command === 'fleet' && b.json && b.concurrency === 8 && b.patterns[0] === 'db-[1-40]');
    const c = parseCli(['--file', './hosts.txt', '--group', 'dbs', '--group', 'web']);
    assert.ok(c.command === 'fleet' && c.file === './hosts.txt' && c.groups.length === 2);
    assert.equal(parseCli(['db-1']).command, 'check');
    assert.equal(parseCli(['[2001:db8::1]:22']).command, 'check');
  });
  test('single-host options are refused for a fleet, and --concurrency is bounded', () => {
    assert.throws(() => parseCli(['db-1', 'db-2', '--from', '203.0.113.7']), /single host/);
    assert.throws(() => parseCli(['db-[1-3]', '--concurrency', '0']), /--concurrency/);
    assert.throws(() => parseCli(['db-[1-3]', '--concurrency', '999']), /--concurrency/);
    assert.throws(() => parseCli(['db-1', '--concurrency', '4']), /several hosts/);
  });
});

describe('fleet runner', () => {
  test('bounded concurrency, light runs, reports in input order, counted by cause', async () => {
    const targets = fleetTargets({ patterns: ['h-[1-20]'] });
    let running = 0;
    let most = 0;
    const seen: Array<{ light?: boolean; extrasMs?: number }> = [];
    const result = await runFleet(targets, {
      vantage: 'test',
      concurrency: 4,
      engine: async (target, options) => {
        seen.push({ light: options.light, extrasMs: options.extrasMs });
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 2 + (Number(target.host.slice(2)) % 3)));
        running -= 1;
        if (target.host === 'h-13') throw new Error('boom');
        return fakeReport(target, Number(target.host.slice(2)) % 5 === 0 ? 'port-filtered' : 'healthy');
      },
    });
    assert.ok(most <= 4, `at most 4 at once (saw ${most})`);
    assert.ok(seen.every((s) => s.light === true && s.extrasMs === 0));
    assert.equal(result.schema, 'sshcheck/fleet@1');
    assert.deepEqual(result.reports.map((r) => r.target.host), targets.map((t) => t.host).filter((h) => h !== 'h-13'));
    assert.equal(result.summary.hosts, 20);
    assert.equal(result.summary.failed, 1);
    assert.deepEqual(result.summary.byCause, [{ cause: 'healthy', hosts: 15 }, { cause: 'port-filtered', hosts: 4 }]);
    const text = renderFleet(result);
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', /^sshcheck 20 hosts from test: 15 healthy, 4 with a problem, 1 not checked/);
    assert.ok(text.indexOf('15  healthy') < text.indexOf('Not healthy:'), 'summary first');
    assert.equal(lines.filter((l) => / port-filtered {2}/.test(l)).length, 4, 'one line per host with a problem');
    assert.match(text, /h-13 +engine failure +boom/);
  });
});

describe('fleet stopped early', () => {
  test('an interrupted fleet labels unfinished hosts undecided (in flight and never started), not with a verdict', async () => {
    const targets = fleetTargets({ patterns: ['h-[1-6]'] });
    const controller = new AbortController();
    const result = await runFleet(targets, {
      vantage: 'test',
      concurrency: 2,
      signal: controller.signal,
      engine: async (target, options) => {
        if (target.host === 'h-1') return fakeReport(target, 'healthy');
        // The second host is in flight when the fleet is stopped: its run ends undecided.
        controller.abort('SIGINT');
        await new Promise((r) => setTimeout(r, 1));
        assert.equal(options.signal?.aborted, true);
        const report = fakeReport(target, 'undecided');
        report.diagnosis = { ...report.diagnosis, step: null, confidence: 'low', summary: 'Stopped before a verdict', stoppedBy: 'signal', stopDetail: 'SIGINT' };
        return report;
      },
    });
    assert.equal(result.summary.hosts, 6);
    assert.equal(result.summary.healthy, 1);
    assert.equal(result.summary.problems, 0);
    assert.equal(result.summary.undecided, 5);
    assert.deepEqual(result.notStarted, ['h-3', 'h-4', 'h-5', 'h-6']);
    assert.deepEqual(result.summary.byCause, [{ cause: 'undecided', hosts: 5 }, { cause: 'healthy', hosts: 1 }]);
    const text = renderFleet(result);
    assert.match(text.split('\n')[0] ?? '', /1 healthy, 0 with a problem, 5 undecided \(stopped before a verdict\)/);
    assert.match(text, /h-6 +undecided +not started: the fleet run was stopped first/);
    assert.doesNotMatch(text, /no-response/);
  });
});

describe('fleet checks in chat', () => {
  test('a range or a comma list in the first word is a fleet command', () => {
    assert.equal(isFleetText('db-3 2222'), false);
    assert.equal(isFleetText('db-[1-4]'), true);
    assert.equal(isFleetText('db-1,db-2 2222 ops'), true);
    const cmd = parseFleetCommand('db-[1-3],web-1 2222 ops');
    assert.ok(cmd);
    assert.deepEqual(cmd.targets.map((t) => `${t.user}@${t.host}:${t.port}`), ['ops@db-1:2222', 'ops@db-2:2222', 'ops@db-3:2222', 'ops@web-1:2222']);
    assert.equal(parseFleetCommand('db-3'), undefined);
    assert.throws(() => parseFleetCommand('db-[1-300]'), /more than 256 hosts/);
    assert.throws(() => parseFleetCommand('db-[1-2] 22 ops via eu-1'), /too many words/);
  });

  test('a CIDR block in the first word is a fleet command, capped at the chat limit with a prefix that fits', () => {
    assert.equal(isFleetText('10.0.3.0/28'), true);
    assert.equal(isFleetText('ops@10.0.3.0/30:2222'), true);
    assert.equal(isFleetText('[2001:db8::/126]:22'), true);
    assert.equal(isFleetText('10.0.3.7'), false);
    const cmd = parseFleetCommand('10.0.3.0/28 2222 ops');
    assert.ok(cmd);
    assert.equal(cmd.targets.length, 14);
    assert.deepEqual([cmd.targets[0], cmd.targets.at(-1)].map((t) => `${t?.user}@${t?.host}:${t?.port}`), ['ops@10.0.3.1:2222', 'ops@10.0.3.14:2222']);
    assert.equal(cmd.label, '10.0.3.0/28');
    // A comma list may mix blocks with names; the cap counts the whole command.
    assert.equal(parseFleetCommand('10.0.3.0/30,db-1')?.targets.length, 3);
    assert.equal(parseFleetCommand('10.0.0.0/24')?.targets.length, 254);
    assert.throws(() => parseFleetCommand('10.0.0.0/23'), /510 host addresses; a check covers at most 256: give a longer prefix \(\/24 or longer\)/);
    assert.throws(() => parseFleetCommand('10.0.0.0/24,10.0.1.0/29'), /more than 256 hosts/);
    assert.throws(() => parseFleetCommand('10.0.3.1/28'), /host bits set: did you mean 10\.0\.3\.0\/28/);
    assert.throws(() => parseFleetCommand('2001:db8::/64'), /at most 256: give a longer prefix \(\/120 or longer\)/);
    assert.throws(() => parseFleetCommand('10.0.3.0/28 22 ops via eu-1'), /too many words: .*10\.0\.3\.0\/28/);
  });

  test('the flow: parent first, summary once done, one reply per host that is not healthy, capped', async () => {
    const targets = fleetTargets({ patterns: ['h-[1-40]'] });
    const ops: string[] = [];
    const parents: FleetParentView[] = [];
    const hosts: FleetHostView[] = [];
    let rest: readonly FleetHostView[] = [];
    const result = await runFleetFlow({
      surface: {
        channelKey: 'c',
        postParent: (v) => (ops.push('parent'), parents.push(v), Promise.resolve()),
        updateParent: (v) => (ops.push(`update:${v.phase}`), parents.push(v), Promise.resolve()),
        postHost: (h) => (ops.push('host'), hosts.push(h), Promise.resolve()),
        postRest: (r) => (ops.push('rest'), (rest = r), Promise.resolve()),
      },
      engine: { check: (t) => Promise.resolve({ report: fakeReport(t, Number(t.host.slice(2)) <= 30 ? (Number(t.host.slice(2)) % 2 === 0 ? 'port-closed' : 'dns-nxdomain') : 'healthy') }) },
      pacer: new Pacer({ burst: 100, perSecond: 1000 }),
      logger: quiet,
      targets,
      label: 'h-[1-40]',
      vantage: 'test',
      requester: '<@U1>',
    });
    assert.equal(result.reports.length, 40);
    assert.equal(ops[0], 'parent');
    const finalAt = ops.indexOf('update:finished');
    assert.ok(finalAt > 0 && ops.slice(0, finalAt).every((o) => !o.startsWith('host')), 'the summary comes before the replies');
    const final = parents.at(-1);
    assert.equal(final?.phase, 'finished');
    assert.deepEqual(final?.summary.byCause.map((c) => [c.cause, c.hosts]), [['dns-nxdomain', 15], ['port-closed', 15], ['healthy', 10]]);
    assert.equal(hosts.length, MAX_HOST_REPLIES);
    assert.equal(rest.length, 30 - MAX_HOST_REPLIES);
    assert.equal(final?.notShown, 30 - MAX_HOST_REPLIES);
    assert.ok(hosts.every((h) => h.cause !== 'healthy'));
    assert.deepEqual([...new Set(hosts.map((h) => h.cause))], ['dns-nxdomain', 'port-closed'], 'grouped by cause, in the order of the summary');
  });
});

describe('CIDR targets and comma lists', () => {
  test('an IPv4 block expands to its host addresses; /31 and /32 as RFC 3021 says', () => {
    assert.deepEqual(expandTargetWord('10.0.3.0/30'), ['10.0.3.1', '10.0.3.2']);
    assert.equal(expandTargetWord('10.0.3.0/28').length, 14);
    assert.deepEqual(expandTargetWord('10.0.3.0/28').slice(0, 1), ['10.0.3.1']);
    assert.deepEqual(expandTargetWord('10.0.3.0/28').slice(-1), ['10.0.3.14']);
    assert.deepEqual(expandTargetWord('10.0.3.4/31'), ['10.0.3.4', '10.0.3.5']);
    assert.deepEqual(expandTargetWord('10.0.3.9/32'), ['10.0.3.9']);
    assert.deepEqual(expandTargetWord('ops@127.0.0.0/30:2222'), ['ops@127.0.0.1:2222', 'ops@127.0.0.2:2222']);
  });

  test('an IPv6 block expands only when small, without its subnet-router anycast address', () => {
    assert.deepEqual(expandTargetWord('[2001:db8::/126]:22'), ['[2001:db8::1]:22', '[2001:db8::2]:22', '[2001:db8::3]:22']);
    assert.deepEqual(expandTargetWord('2001:db8::/127'), ['[2001:db8::]', '[2001:db8::1]']);
    assert.deepEqual(expandTargetWord('2001:db8::5/128'), ['[2001:db8::5]']);
    assert.equal(expandTargetWord('2001:db8::/118').length, 1023);
    assert.throws(() => expandTargetWord('2001:db8::/64'), (e: Error & { code?: string }) => e.code === 'E_USAGE' && /at most 1024/.test(e.message) && /\/118 or longer/.test(e.message));
  });

  test('a block wider than the cap, a malformed one, or host bits set is a usage error before anything runs', () => {
    assert.throws(() => expandTargetWord('10.0.0.0/21'), (e: Error & { code?: string }) => e.code === 'E_USAGE' && /2046 host addresses/.test(e.message));
    assert.equal(expandTargetWord('10.0.0.0/22').length, 1022);
    assert.throws(() => expandTargetWord('10.0.3.1/28'), /host bits set: did you mean 10\.0\.3\.0\/28/);
    assert.throws(() => expandTargetWord('10.0.3.0/33'), /prefix length must be 0-32/);
    assert.throws(() => expandTargetWord('10.0.300.0/24'), /not an IPv4 or IPv6 address/);
  });

  test('comma lists expand each part (ranges and blocks too) and refuse empty entries', () => {
    assert.deepEqual(expandTargetWord('db-1,db-2,db-7'), ['db-1', 'db-2', 'db-7']);
    assert.deepEqual(expandTargetWord('db-[1-2],10.0.0.0/31'), ['db-1', 'db-2', '10.0.0.0', '10.0.0.1']);
    assert.throws(() => expandTargetWord('db-1,,db-2'), /empty entry/);
    assert.throws(() => expandTargetWord('db-1,'), /empty entry/);
    assert.ok(namesSeveral('db-1,db-2') && namesSeveral('10.0.3.0/28') && !namesSeveral('db-1') && !namesSeveral('[2001:db8::1]:22'));
  });

  test('the whole command stays within the 1024-host cap; every address still passes target validation', () => {
    assert.equal(fleetTargets({ patterns: ['10.0.0.0/22', '10.0.4.1,10.0.4.2'] }).length, 1024);
    assert.throws(() => fleetTargets({ patterns: ['10.0.0.0/22', '10.0.4.1,10.0.4.2,10.0.4.3'] }), /more than 1024 hosts/);
    assert.throws(() => fleetTargets({ patterns: ['db-1,db 2'] }), /whitespace/);
    const t = fleetTargets({ patterns: ['127.0.0.0/30'], overrides: { port: '2222' } });
    assert.deepEqual(t.map((x) => `${x.host}:${x.port}:${x.kind}`), ['127.0.0.1:2222:ipv4', '127.0.0.2:2222:ipv4']);
  });

  test('the CLI takes a comma list or a CIDR block as a fleet, and an oversized one exits as usage', () => {
    const r = parseCli(['db-1,db-2,db-7']);
    assert.equal(r.command, 'fleet');
    assert.equal(parseCli(['10.0.3.0/28']).command, 'fleet');
    assert.equal(parseCli(['db-1']).command, 'check');
    assert.throws(() => parseCli(['--brief', 'db-1,db-2']), /for a single host/);
  });
});

describe('port lists', () => {
  test('-p 22,2222 makes a fleet of every host on every port, each once', () => {
    const r = parseCli(['-p', '22,2222,22', 'db-1']);
    assert.ok(r.command === 'fleet');
    assert.deepEqual(r.ports, [22, 2222]);
    assert.equal(r.overrides.port, undefined);
    const t = fleetTargets({ patterns: ['db-1,db-2'], ports: [22, 2222] });
    assert.deepEqual(t.map((x) => `${x.host}:${x.port}`), ['db-1:22', 'db-1:2222', 'db-2:22', 'db-2:2222']);
    assert.equal(parseCli(['-p', '2222', 'db-1']).command, 'check');
  });

  test('a bad or empty port in the list, a conflicting host:port, or more than the cap is a usage error', () => {
    assert.throws(() => parseCli(['-p', '22,', 'db-1']), /empty items/);
    assert.throws(() => parseCli(['-p', '22,70000', 'db-1']), /invalid port 70000/);
    assert.throws(() => fleetTargets({ patterns: ['db-1:2200'], ports: [22, 2222] }), /port given twice/);
    assert.equal(fleetTargets({ patterns: ['10.0.0.0/24'], ports: [22, 2222] }).length, 508);
    assert.throws(() => fleetTargets({ patterns: ['10.0.0.0/22'], ports: [22, 2222] }), /more than 1024 hosts and ports/);
  });
});
