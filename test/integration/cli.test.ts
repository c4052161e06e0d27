// The real CLI binary: help and version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
const PKG = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000, env: { PATH: process.env.PATH ?? '', SSHCHECK_DB: '/nonexistent/sshcheck-cli-test.db' } });
}

// Hostile arguments (exit 2, nothing spawned) are rows of test/integration/hostile.test.ts.

test('--help prints the usage and exits 0', () => {
  const r = cli(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^Usage: sshcheck \[options\] \[user@\]host\[:port\]/);
  assert.match(r.stdout, /Exit status: 0 nothing wrong/);
});

test('--version prints the package version', () => {
  const r = cli(['--version']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout.trim(), `sshcheck ${PKG.version}`);
});

test('discord register says why a guild id is refused, before it needs any credentials', () => {
  const short = cli(['discord', 'register', '--guild', '12']);
  assert.equal(short.status, 2);
  assert.match(short.stderr, /^sshcheck discord register: "12" is not a Discord server id: a snowflake of 15 to 25 digits/);
  assert.match(short.stderr, /\nusage: sshcheck discord register \[--guild <guild id>\]\n$/);
  const missing = cli(['discord', 'register', '--guild']);
  assert.match(missing.stderr, /^sshcheck discord register: --guild needs the server \(guild\) id\n/);
  const extra = cli(['discord', 'register', 'now']);
  assert.match(extra.stderr, /^sshcheck discord register: unexpected argument "now"\n/);
});

test('an ambiguous IPv6 literal is refused with exit 2 and how to write it', () => {
  const r = cli(['::1:2222']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /write \[::1\]:2222 for a port/);
});

test('a bare subcommand word gets that subcommand\'s usage and exit 2, not a check of a host so named', () => {
  for (const [args, usage] of [
    [['discord'], /Usage: sshcheck discord register/],
    [['discord', 'foo'], /Usage: sshcheck discord register/],
    [['bot', '--json'], /Usage: sshcheck bot/],
    [['bot', 'db-3'], /Usage: sshcheck bot/],
  ] as const) {
    const r = cli([...args]);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, usage);
    assert.match(r.stderr, new RegExp(`sshcheck -- ${args[0]}`));
  }
});

test('"sshcheck -- discord" reads discord as a host (here with an invalid port, so nothing is probed)', () => {
  const r = cli(['--', 'discord:99999']);
  assert.equal(r.status, 2);
  assert.doesNotMatch(r.stderr, /Usage: sshcheck discord/);
  assert.match(r.stderr, /invalid port 99999/);
});
