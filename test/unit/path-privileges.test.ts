// The path probe without root or CAP_NET_RAW (issue 17): traceroute -T says it lacks
// privileges, and the probe ends there with that reason. It does not fall back to mtr, whose
// mtr-packet (file capability) would trace, but whose TCP probes outlive an abort by up to
// 10 s and connect to sshd. Once with stand-in tools on PATH (the fallback must not even
// start), once for real as the unprivileged user `nobody`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probePath } from '../../src/engine/probes/path.js';
import type { PathObs } from '../../src/engine/observations.js';
import { testContext } from '../support/context.js';

const PRIVILEGE_REASON = /^traceroute -T lacks privileges \(You do not have enough privileges to use this traceroute method\.\): tracing the path needs root or CAP_NET_RAW/;

test('traceroute -T without privileges: the path probe ends with that reason and mtr is never started', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-path-tools-'));
  const marker = join(dir, 'mtr-started');
  const tool = (name: string, body: string): void => {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  };
  // What Debian's traceroute prints for -T as a user without CAP_NET_RAW.
  tool('traceroute', "echo 'You do not have enough privileges to use this traceroute method.' >&2\necho 'socket: Operation not permitted' >&2\nexit 1");
  // An mtr that would hold the probe: it must not run at all.
  tool('mtr', `: > '${marker}'\nsleep 3`);
  const savedPath = process.env.PATH;
  process.env.PATH = `${dir}:/usr/bin:/bin`;
  try {
    const obs = await probePath({ address: '127.0.0.1', port: 22, maxHops: 3, waitS: 1 }, testContext(10_000));
    assert.equal(obs.state, 'done');
    assert.equal(obs.tool, 'traceroute');
    assert.match(obs.unavailable ?? '', PRIVILEGE_REASON);
    assert.deepEqual(obs.hops, []);
    assert.equal(existsSync(marker), false, 'mtr was started');
  } finally {
    process.env.PATH = savedPath;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('traceroute not installed: mtr is still the fallback', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-path-tools-'));
  // An mtr that answers one hop that reached the target, as mtr --json prints it.
  const report = JSON.stringify({ report: { mtr: { dst: '127.0.0.1' }, hubs: [{ count: 1, host: '127.0.0.1', 'Loss%': 0, Snt: 1, Last: 0.1, Avg: 0.1, Best: 0.1, Wrst: 0.1, StDev: 0 }] } });
  writeFileSync(join(dir, 'mtr'), `#!/bin/sh\necho '${report}'\n`);
  chmodSync(join(dir, 'mtr'), 0o755);
  const savedPath = process.env.PATH;
  // Only the stand-in directory: no traceroute anywhere on PATH.
  process.env.PATH = dir;
  try {
    const obs = await probePath({ address: '127.0.0.1', port: 22, maxHops: 3, waitS: 1 }, testContext(10_000));
    assert.equal(obs.unavailable, undefined);
    assert.equal(obs.tool, 'mtr');
    assert.equal(obs.reached, true);
  } finally {
    process.env.PATH = savedPath;
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Why the real unprivileged run cannot happen here, or undefined when it can. */
function nobodyUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'switching to the user nobody needs root';
  if (spawnSync('setpriv', ['--version']).error !== undefined) return 'setpriv (util-linux) is not installed';
  if (spawnSync('traceroute', ['--version']).error !== undefined) return 'traceroute is not installed';
  return undefined;
}

test('for real as nobody (no CAP_NET_RAW): traceroute -T refuses, the trace is skipped with that reason at once', { skip: nobodyUnavailable() ?? false }, (t) => {
  const module = new URL('../../src/engine/probes/path.js', import.meta.url).href;
  const script = [
    `const { probePath } = await import(${JSON.stringify(module)});`,
    'const t0 = performance.now();',
    "const ctx = { now: () => performance.now() - t0, signal: new AbortController().signal, deadlineMs: 20000 };",
    "const obs = await probePath({ address: '127.0.0.1', port: 22, maxHops: 3, waitS: 1 }, ctx);",
    'process.stdout.write(JSON.stringify(obs));',
  ].join('\n');
  // No --no-new-privs: mtr-packet keeps its file capability, as for any user on a bastion.
  const run = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent', LC_ALL: 'C' },
  });
  if (/ERR_MODULE_NOT_FOUND|EACCES/.test(run.stderr)) {
    t.skip(`nobody cannot read this build (${run.stderr.split('\n')[0] ?? ''})`);
    return;
  }
  assert.equal(run.status, 0, run.stderr);
  const obs = JSON.parse(run.stdout) as PathObs;
  assert.equal(obs.state, 'done');
  assert.equal(obs.tool, 'traceroute');
  assert.match(obs.unavailable ?? '', /^traceroute -T lacks privileges \(.+\): tracing the path needs root or CAP_NET_RAW/);
  assert.doesNotMatch(obs.unavailable ?? '', /mtr/);
});
