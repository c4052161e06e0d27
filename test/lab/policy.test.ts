// The target policy against a lying resolver, in the network lab (root): names the policy
// allows that DNS answers with denied addresses (loopback, cloud metadata, a mix with the
// real target), and DNS rebinding (the first answers allowed, later ones loopback). The real
// CLI runs in the bastion namespace with --policy; listeners on the denied addresses in that
// namespace, iptables counters and the resolver's query log show what was touched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADDR, CLI, Lab, labUnavailable, sh } from './lab.js';
import type { DnsRule } from './lab.js';
import type { Report } from '../../src/engine/report.js';
import { Store } from '../../src/store/store.js';

const COUNTER = fileURLToPath(new URL('./accept-counter.js', import.meta.url));
const METADATA = '169.254.169.254';
const why = labUnavailable();
if (why) process.stdout.write(`# lab policy tests skipped: ${why}\n`);

const RULES: DnsRule[] = [
  { name: 'loop.lab.test', action: 'answer', a: ['127.0.0.1'] },
  { name: 'meta.lab.test', action: 'answer', a: [METADATA] },
  { name: 'mixed.lab.test', action: 'answer', a: [ADDR.target, '127.0.0.1'] },
  // The engine asks twice (getaddrinfo, then DNS itself): after the first answer, loopback.
  { name: 'flip.lab.test', action: 'answer', a: [ADDR.target], then: { after: 1, a: ['127.0.0.1'] } },
  // Both of the engine's lookups see the target; whoever asks a third time gets loopback.
  { name: 'rebind.lab.test', action: 'answer', a: [ADDR.target], then: { after: 2, a: ['127.0.0.1'] } },
];

let lab: Lab | undefined;
let dns: Awaited<ReturnType<Lab['startDns']>> | undefined;
let counter: ChildProcess | undefined;
const accepts: string[] = [];
let policyFile = '';
let db = '';

before(async () => {
  if (why) return;
  lab = await Lab.create();
  await lab.startSshd();
  dns = await lab.startDns(RULES);
  // The metadata address exists in the bastion namespace, as it does on a cloud VM.
  await sh('ip', ['-n', lab.bastion, 'addr', 'add', `${METADATA}/32`, 'dev', 'lo']);
  counter = await lab.spawnTracked(lab.bastion, process.execPath, [COUNTER, '127.0.0.1:22', `${METADATA}:22`], /listening/);
  counter.stdout?.on('data', (d: Buffer) => accepts.push(...d.toString().split('\n').filter((l) => l.startsWith('accept'))));
  // Every packet the bastion sends to loopback or link-local, and the target receives from it, is counted.
  await lab.iptables(lab.bastion, '-A', 'OUTPUT', '-d', '127.0.0.0/8', '-j', 'ACCEPT');
  await lab.iptables(lab.bastion, '-A', 'OUTPUT', '-d', '169.254.0.0/16', '-j', 'ACCEPT');
  await lab.iptables(lab.target, '-A', 'INPUT', '-s', ADDR.bastion, '-j', 'ACCEPT');
  policyFile = join(lab.workDir, 'policy.yml');
  writeFileSync(policyFile, 'policy:\n  allow: [lab.test]\n');
  db = join(lab.workDir, 'sshcheck.db');
});

after(async () => {
  await lab?.destroy();
});

/** Packets counted by the rule of `chain` in `ns` whose destination or source is `cidr`. */
async function packets(ns: string, chain: string, cidr: string): Promise<number> {
  const out = await sh('ip', ['netns', 'exec', ns, 'iptables', '-L', chain, '-v', '-x', '-n']);
  let total = 0;
  for (const line of out.stdout.split('\n')) if (line.split(/\s+/).includes(cidr)) total += Number(line.trim().split(/\s+/)[0] ?? 0);
  return total;
}

async function zero(): Promise<void> {
  if (!lab) return;
  accepts.length = 0;
  for (const [ns, chain] of [[lab.bastion, 'OUTPUT'], [lab.target, 'INPUT']] as const) await sh('ip', ['netns', 'exec', ns, 'iptables', '-Z', chain]);
}

async function touched(): Promise<{ accepts: number; loopback: number; metadata: number; target: number }> {
  assert.ok(lab);
  await new Promise((r) => setTimeout(r, 300));
  return { accepts: accepts.length, loopback: await packets(lab.bastion, 'OUTPUT', '127.0.0.0/8'), metadata: await packets(lab.bastion, 'OUTPUT', '169.254.0.0/16'), target: await packets(lab.target, 'INPUT', ADDR.bastion) };
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  assert.ok(lab);
  return sh('ip', ['netns', 'exec', lab.bastion, 'env', `SSHCHECK_DB=${db}`, process.execPath, CLI, '-q', '--vantage', 'lab-bastion', ...args], { allowFail: true, timeoutMs: 40_000 }) as Promise<{ code: number; stdout: string; stderr: string }>;
}

const NOTHING = { accepts: 0, loopback: 0, metadata: 0, target: 0 };

test('an allowed name answered with loopback: refused, nothing probed; without the policy the same command does reach it', { skip: why }, async () => {
  await zero();
  const fenced = await cli(['--policy', policyFile, 'loop.lab.test']);
  assert.equal(fenced.code, 2, fenced.stderr);
  assert.match(fenced.stderr, /^sshcheck: The target policy refuses loop\.lab\.test, which resolves to 127\.0\.0\.1: loopback, the bastion itself \(built-in rule deny 127\.0\.0\.0\/8\)\. Nothing was probed\. If it should be checked, an admin can allow it/);
  assert.deepEqual(await touched(), NOTHING);
  // The control: the operator's own, unfenced CLI probes what the name says, so the counters do see it.
  const open = await cli(['--json', 'loop.lab.test']);
  assert.notEqual(open.code, 2, open.stderr);
  const seen = await touched();
  assert.ok(seen.accepts >= 1 && seen.loopback > 0, JSON.stringify(seen));
});

test('an allowed name answered with the cloud metadata address: refused, nothing sent there', { skip: why }, async () => {
  await zero();
  const r = await cli(['--policy', policyFile, 'meta.lab.test']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /The target policy refuses meta\.lab\.test, which resolves to 169\.254\.169\.254: cloud instance metadata \(built-in rule deny 169\.254\.169\.254\/32\)/);
  assert.deepEqual(await touched(), NOTHING);
});

test('one good address and one denied: refused as a whole; not even the good one is probed', { skip: why }, async () => {
  await zero();
  const r = await cli(['--policy', policyFile, 'mixed.lab.test']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /The target policy refuses mixed\.lab\.test, which resolves to 127\.0\.0\.1:/);
  assert.deepEqual(await touched(), NOTHING);
});

test('rebinding between the two lookups: the second answer is checked too, and refused', { skip: why }, async () => {
  await zero();
  const r = await cli(['--policy', policyFile, 'flip.lab.test']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /The target policy refuses flip\.lab\.test, which resolves to 127\.0\.0\.1:/);
  assert.deepEqual(await touched(), NOTHING);
});

test('rebinding after the checks: probed only at the checked address; ssh -vvv connects to it; nothing asks DNS again', { skip: why }, async () => {
  await zero();
  const r = await cli(['--policy', policyFile, '--json', 'rebind.lab.test']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.diagnosis.cause, 'healthy');
  assert.deepEqual(report.target.addresses, [ADDR.target]);
  const verbose = report.steps.find((s) => s.id === 'verbose');
  const lines = (verbose?.evidence ?? []).flatMap((e) => e.lines ?? [e.detail]).join('\n');
  // Not "connecting to rebind.lab.test [10.77.2.2]": ssh was given the address, never the name.
  assert.match(lines, new RegExp(`connecting to ${ADDR.target.replace(/\./g, '\\.')} port 22\n`), 'ssh -vvv connected to the checked address');
  assert.doesNotMatch(lines, /rebind\.lab\.test/);
  const seen = await touched();
  assert.equal(seen.accepts, 0);
  assert.equal(seen.loopback, 0);
  assert.ok(seen.target > 0, 'the target was probed');
  assert.equal(dns?.queries()['rebind.lab.test A'], 2, 'getaddrinfo and DNS asked once each; nothing resolved the name again');
  // The run is in the audit log and the history, with the address it resolved to.
  const store = Store.open(db);
  try {
    const row = store.audit().find((a) => a.host === 'rebind.lab.test');
    assert.deepEqual([row?.source, row?.verdict, row?.addresses, row?.bastion, row?.reportId], ['cli', 'healthy', [ADDR.target], 'lab-bastion', report.id]);
    const denied = store.audit().filter((a) => a.denial === 'policy').map((a) => a.host);
    assert.deepEqual(denied.sort(), ['flip.lab.test', 'loop.lab.test', 'meta.lab.test', 'mixed.lab.test']);
    assert.equal(store.runsFor('rebind.lab.test')[0]?.reportId, report.id);
  } finally {
    store.close();
  }
});
