// The engine under a target policy, on loopback (no root needed): a name whose addresses are
// refused is not probed at all (a listener on those addresses sees no connection, ssh is not
// started), and an allowed name is probed only at the checked addresses, ssh -vvv included
// (a stand-in ssh on PATH records its arguments: the address, the name only as HostKeyAlias).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/engine/run.js';
import type { RunOptions } from '../../src/engine/run.js';
import type { ProgressEvent } from '../../src/engine/report.js';
import { parseTarget } from '../../src/target.js';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { defaultPolicy, PolicyError } from '../../src/policy/target-policy.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';

let dir: string;
let bin: string;
let resolvConf: string;
let closedPort: number;
let port: number;
const servers: Server[] = [];
let accepted = 0;
const savedPath = process.env.PATH;

function listenOn(host: string, p: number): Promise<number | undefined> {
  const server = createServer((s) => {
    accepted += 1;
    s.on('error', () => undefined);
    s.destroy();
  });
  servers.push(server);
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(p, host, () => resolve((server.address() as AddressInfo).port));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-policy-'));
  resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
  const probe = createServer();
  closedPort = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  // One port, on both loopback addresses "localhost" resolves to.
  port = (await listenOn('127.0.0.1', 0)) ?? 0;
  await listenOn('::1', port);
  // A stand-in ssh: records its arguments (one file per call) and fails at once.
  bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'ssh'), `#!/bin/sh\nn=0\nwhile [ -e "${dir}/ssh.$n" ]; do n=$((n+1)); done\nprintf '%s\\n' "$@" > "${dir}/ssh.$n"\nexit 255\n`);
  chmodSync(join(bin, 'ssh'), 0o755);
  process.env.PATH = `${bin}:${savedPath ?? '/usr/bin:/bin'}`;
});

after(() => {
  process.env.PATH = savedPath;
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

function sshCalls(): string[][] {
  const calls: string[][] = [];
  for (let n = 0; existsSync(join(dir, `ssh.${n}`)); n++) calls.push(readFileSync(join(dir, `ssh.${n}`), 'utf8').split('\n').filter((l) => l !== ''));
  return calls;
}

function clearCalls(): void {
  for (let n = 0; existsSync(join(dir, `ssh.${n}`)); n++) rmSync(join(dir, `ssh.${n}`));
}

function options(policy: TargetPolicy | undefined, events: ProgressEvent[]): RunOptions {
  return { vantage: 'test-bastion', resolvConfPath: resolvConf, dnsPort: closedPort, extrasMs: 0, budgetMs: 6000, onEvent: (e) => events.push(e), ...(policy ? { policy } : {}) };
}

test('a name that resolves to loopback is refused after resolving: nothing connects, ssh never starts, the error names address and rule', async () => {
  accepted = 0;
  clearCalls();
  const events: ProgressEvent[] = [];
  await assert.rejects(run(parseTarget(`localhost:${port}`), options(defaultPolicy(), events)), (err: unknown) => {
    assert.ok(err instanceof PolicyError);
    assert.equal(err.code, 'E_POLICY');
    assert.match(err.message, /^The target policy refuses localhost, which resolves to (127\.0\.0\.1|::1): loopback, the bastion itself \(built-in rule deny (127\.0\.0\.0\/8|::1\/128)\)\. Nothing was probed/);
    assert.ok(err.denial.addresses.includes('127.0.0.1'));
    return true;
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(accepted, 0, 'no connection reached the target');
  assert.deepEqual(sshCalls().filter((a) => a[0] === '-vvv'), [], 'ssh -vvv never ran');
  assert.ok(!events.some((e) => e.type === 'diagnosis' || e.type === 'run-finished'));
});

test('a literal refused address ends the run before it starts: no event at all', async () => {
  const events: ProgressEvent[] = [];
  await assert.rejects(run(parseTarget(`127.0.0.1:${port}`), options(defaultPolicy(), events)), /The target policy refuses the address 127\.0\.0\.1:/);
  await assert.rejects(run(parseTarget('169.254.169.254'), options(defaultPolicy(), events)), /cloud instance metadata/);
  assert.deepEqual(events, []);
  assert.equal(accepted, 0);
});

test('an allowed name: probed at the checked addresses only; ssh -vvv connects to the address, the name is its HostKeyAlias', async () => {
  accepted = 0;
  clearCalls();
  const allowLoopback = parseEngineConfig('policy:\n  defaults: false\n  allow: [127.0.0.0/8, "::1"]\n').policy;
  const report = await run(parseTarget(`localhost:${port}`), options(allowLoopback, []));
  assert.ok(accepted >= 1, 'the handshake reached the listener');
  for (const a of report.target.addresses) assert.ok(a === '127.0.0.1' || a === '::1', a);
  const verbose = sshCalls().find((a) => a[0] === '-vvv');
  assert.ok(verbose, 'ssh -vvv ran');
  assert.ok(verbose.includes('HostKeyAlias=localhost'));
  const host = verbose[verbose.length - 1] ?? '';
  assert.equal(verbose[verbose.length - 2], '--');
  assert.ok(host === '127.0.0.1' || host === '::1', `ssh -vvv connects to ${host}, a checked address`);
  assert.equal(host, report.target.addresses[0], 'the address ssh would pick first');
});

test('without a policy (the operator at the shell) ssh -vvv gets the name, as `ssh host` would', async () => {
  clearCalls();
  await run(parseTarget(`localhost:${port}`), options(undefined, []));
  const verbose = sshCalls().find((a) => a[0] === '-vvv');
  assert.ok(verbose);
  assert.equal(verbose[verbose.length - 1], 'localhost');
  assert.ok(!verbose.some((a) => a.startsWith('HostKeyAlias=')));
});
