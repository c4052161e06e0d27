// The real CLI with the store ($SSHCHECK_DB in a temporary directory) and --policy: a refused
// target exits 2 without probing and is recorded; `sshcheck audit` prints and exports the log;
// `sshcheck history` shows the runs of a host. Nothing here touches the network.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store/store.js';
import { parseSince } from '../../src/cli/audit.js';
import { fakeReport } from '../unit/store-support.js';

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
let dir: string;
let db: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-cli-store-'));
  db = join(dir, 'state', 'sshcheck.db');
});
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH ?? '', HOME: dir, SSHCHECK_DB: db, ...env } });
}

function auditRows(): Array<Record<string, unknown>> {
  const r = cli(['audit', '--json']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('--policy: a refused address exits 2 with the reason, probes nothing, and is recorded as denied', () => {
  const policy = join(dir, 'policy.yml');
  writeFileSync(policy, 'policy:\n  allow: [203.0.113.0/24]\n');
  const r = cli(['--policy', policy, '-q', '169.254.169.254']);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^sshcheck: The target policy refuses the address 169\.254\.169\.254: cloud instance metadata \(built-in rule deny 169\.254\.169\.254\/32\)\. Nothing was probed/);
  const rows = auditRows();
  assert.equal(rows.length, 1);
  assert.deepEqual([rows[0]?.source, rows[0]?.action, rows[0]?.target, rows[0]?.verdict, rows[0]?.denial, rows[0]?.addresses], ['cli', 'check', 'sshcheck@169.254.169.254:22', 'denied', 'policy', ['169.254.169.254']]);
  assert.equal(typeof rows[0]?.user, 'string');
});

test('--policy: a path is required, and a broken policy file is a usage error with its line', () => {
  const bad = cli(['--policy', 'policy.yml', '10.0.0.5']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /invalid --policy "policy\.yml": give a file path/);
  const file = join(dir, 'broken.yml');
  writeFileSync(file, 'policy:\n  deny:\n    - 10.0.0.5/8\n');
  const broken = cli(['--policy', file, '10.0.0.5']);
  assert.equal(broken.status, 2);
  assert.equal(broken.stderr, `sshcheck: ${file}:3: policy.deny[0]: "10.0.0.5/8" has host bits set: did you mean 10.0.0.0/8?\n`);
});

test('policy.cli: true in the engine config fences the CLI without --policy; without it the CLI is not fenced', () => {
  const config = join(dir, 'engine.yml');
  writeFileSync(config, 'policy:\n  cli: true\n');
  const fenced = cli(['-q', '127.0.0.1'], { SSHCHECK_ENGINE_CONFIG: config });
  assert.equal(fenced.status, 2);
  assert.match(fenced.stderr, /The target policy refuses the address 127\.0\.0\.1: loopback/);
});

test('sshcheck audit: text lines, --since, JSON lines, bad input', () => {
  const store = Store.open(db);
  store.addAudit({ atMs: Date.now() - 3 * 3_600_000, source: 'slack', action: 'check', workspace: 'T0TEAM', channel: 'C0OPS', user: 'U0ALICE', target: 'sshcheck@db-3:22', host: 'db-3', port: 22, addresses: ['10.0.0.5'], bastion: 'bastion-eu-1', verdict: 'problem', cause: 'port-filtered', durationMs: 1300, reportId: 'r-1' });
  store.addAudit({ source: 'discord', action: 'check', user: '333', target: 'sshcheck@db-4:22', host: 'db-4', verdict: 'denied', denial: 'rate-limit', reason: 'try again in 30 s\u001b[31m' });
  store.close();
  const text = cli(['audit']);
  assert.equal(text.status, 0, text.stderr);
  // Oldest first: the 3 h old row comes before the CLI's own rows of the tests above.
  const lines = text.stdout.trim().split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0] ?? '', /^\S+Z {2}slack {2}T0TEAM\/C0OPS {2}U0ALICE {2}check {2}sshcheck@db-3:22 {2}\[10\.0\.0\.5\] {2}bastion-eu-1 {2}problem port-filtered {2}1\.3 s {2}r-1$/);
  assert.match(lines[3] ?? '', /denied \(rate-limit\): try again in 30 s\?\[31m/, 'control characters never reach the terminal');
  const recent = cli(['audit', '--since', '1h', '--json']);
  const hosts = recent.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { host: string }).host);
  assert.deepEqual(hosts, ['169.254.169.254', '127.0.0.1', 'db-4'], 'the 3 h old row is left out');
  const bad = cli(['audit', '--since', 'yesterday']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /invalid --since "yesterday": give a date \(2026-11-24\), a date and time \(2026-11-24T10:00:00Z\) or an age \(30m, 24h, 7d\)/);
  assert.equal(cli(['audit', 'extra']).status, 2);
});

test('parseSince: ages and dates', () => {
  const now = Date.parse('2026-11-24T10:00:00Z');
  assert.equal(parseSince('30m', now), now - 1_800_000);
  assert.equal(parseSince('7d', now), now - 7 * 86_400_000);
  assert.equal(parseSince('2026-11-24', now), Date.parse('2026-11-24'));
  assert.equal(parseSince('2026-11-24T09:00:00Z', now), now - 3_600_000);
  assert.throws(() => parseSince('-1h', now), /invalid --since/);
});

test('sshcheck history <host>: worked at, broken since; --json; a port narrows it; bad input', () => {
  const store = Store.open(db);
  const t = Date.now();
  store.recordRun(fakeReport({ id: 'h-1', host: 'db-3', at: t - 7 * 60_000, cause: 'healthy' }), 'cli');
  store.recordRun(fakeReport({ id: 'h-2', host: 'db-3', at: t - 4 * 60_000, cause: 'port-filtered' }), 'slack');
  store.recordRun(fakeReport({ id: 'h-3', host: 'db-3', at: t - 60_000, cause: 'port-filtered', port: 2222 }), 'discord');
  store.close();
  const r = cli(['history', '--utc', 'db-3']);
  assert.equal(r.status, 0, r.stderr);
  const [title, summary2222, summary, blank, ...runs] = r.stdout.trimEnd().split('\n');
  assert.equal(title, 'db-3: 3 runs (times in UTC)');
  // Port 2222 is its own series: the history of db-3 never mixes ports.
  assert.match(summary2222 ?? '', /^ {2}sshcheck@db-3:2222 from bastion-eu-1: broken since \d\d:\d\d \(1 min ago\): port-filtered, 1 run; no healthy run in the history$/);
  assert.match(summary ?? '', /^ {2}sshcheck@db-3:22 from bastion-eu-1: worked at \d\d:\d\d, broken since \d\d:\d\d \(4 min ago\): port-filtered, 1 run$/);
  assert.equal(blank, '');
  assert.equal(runs.length, 3);
  assert.match(runs[0] ?? '', /sshcheck@db-3:2222 {2}port-filtered \(high\)/);
  const narrowed = cli(['history', '--json', 'db-3:22']);
  assert.deepEqual(narrowed.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { reportId: string }).reportId), ['h-2', 'h-1']);
  const none = cli(['history', 'db-9']);
  assert.equal(none.status, 0);
  assert.match(none.stdout, /^db-9: no runs recorded/);
  assert.equal(cli(['history']).status, 2);
  assert.equal(cli(['history', '--limit', '0', 'db-3']).status, 2);
  const hostile = cli(['history', '-oProxyCommand=x']);
  assert.equal(hostile.status, 2);
  const badHost = cli(['history', 'db;3']);
  assert.equal(badHost.status, 2);
  assert.match(badHost.stderr, /target contains ";"/);
});

test('history and audit on a store that does not exist say where they looked', () => {
  const env = { SSHCHECK_DB: join(dir, 'nowhere', 'x.db') };
  const h = cli(['history', 'db-3'], env);
  assert.equal(h.status, 0);
  assert.match(h.stderr, /no store at .*nowhere\/x\.db \(from \$SSHCHECK_DB\): nothing has been recorded there yet/);
  const a = cli(['audit'], env);
  assert.equal(a.status, 0);
  assert.equal(a.stdout, '');
});

test('--policy fences a fleet too: one refused host refuses the command, exit 2, nothing probed', () => {
  const policy = join(dir, 'policy-fleet.yml');
  writeFileSync(policy, 'policy:\n  allow: [203.0.113.0/24]\n');
  const r = cli(['--policy', policy, '-q', '203.0.113.7', '127.0.0.1', '169.254.169.254']);
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^sshcheck: The target policy refuses 2 of the 3 hosts: 127\.0\.0\.1: loopback, the bastion itself \(built-in rule deny 127\.0\.0\.0\/8\); 169\.254\.169\.254: cloud instance metadata \(built-in rule deny 169\.254\.169\.254\/32\)\. Nothing was probed\. If they should be checked, an admin can allow them/);
});
