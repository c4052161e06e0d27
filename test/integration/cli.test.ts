// The real CLI binary on bad input: exit 2, a message that says what is accepted, nothing
// on stdout, and nothing spawned (a canary file an injected ProxyCommand would create).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));
const PKG = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

function cli(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000, env: { PATH: process.env.PATH ?? '' } });
}

const canary = join(tmpdir(), `sshcheck-canary-${process.pid}`);
const hostile: Array<[string, string[], RegExp]> = [
  ['option injection', [`-oProxyCommand=touch ${canary}`], /Unknown option '-o'/],
  ['option injection after --', ['--', `-oProxyCommand=touch ${canary}`], /starts with "-"/],
  ['command substitution', [`$(touch ${canary})`], /contains "\$"/],
  ['backticks', [`\`touch ${canary}\``], /contains "`"/],
  ['spaces', ['db 3'], /whitespace/],
  ['a newline', ['db-3\ntouch'], /control character/],
  ['a bidi override', ['db\u202e3'], /bidirectional/],
  ['an over-long name', [`${'a'.repeat(70)}.example`], /at most 63/],
  ['a bad port', ['db-3:70000'], /1 to 65535/],
  ['a port option that is not a number', ['-p', '22;id', 'db-3'], /invalid port/],
  ['an option as the user', ['-l', '-oProxyCommand=x', 'db-3'], /argument is ambiguous/],
  ['a hostile user', ['--user=-oProxyCommand=x', 'db-3'], /invalid user name/],
  ['no host', [], /no host given/],
];

for (const [name, args, message] of hostile) {
  test(`bad input exits 2 before probing: ${name}`, () => {
    rmSync(canary, { force: true });
    const r = cli(args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, /^sshcheck: /);
    assert.equal(r.stdout, '', 'stdout carries only a report, and there is none');
    assert.equal(existsSync(canary), false, 'nothing was run');
  });
}

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
