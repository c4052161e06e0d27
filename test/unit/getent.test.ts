// `getent ahosts` parsing on fixtures recorded in the namespace lab (with the lab's DNS
// server and /etc/hosts), and the system-resolve probe with fake getent commands: a hang
// must be killed at the deadline, exit 2 means "not found", a missing getent falls back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGetentAhosts, probeSystemResolve } from '../../src/engine/probes/system-resolve.js';
import { testContext } from '../support/context.js';

const DIR = new URL('../../../test/fixtures/getent/', import.meta.url);
const text = (name: string): string => readFileSync(new URL(name, DIR), 'utf8');

interface ManifestEntry {
  file: string;
  command: string[];
  exitCode: number | null;
  durationMs: number;
}
const manifest = new Map(
  (JSON.parse(text('manifest.json')) as { entries: ManifestEntry[] }).entries.map((e) => [e.file, e]),
);

test('the fixtures were recorded with getent ahosts -- <name>', () => {
  assert.deepEqual(manifest.get('answer.txt')?.command, ['getent', 'ahosts', '--', 'www.lab.test']);
});

test('answer: addresses in getaddrinfo order, each once, and the canonical name', () => {
  assert.deepEqual(parseGetentAhosts(text('answer.txt')), { addresses: ['fd77:2::2', '10.77.2.2'], canonical: 'www.lab.test' });
});

test('search list applied: a single label resolves to its full name', () => {
  assert.deepEqual(parseGetentAhosts(text('search.txt')), { addresses: ['fd77:2::2', '10.77.2.2'], canonical: 'www.lab.test' });
});

test('CNAME chain: the canonical name is the end of the chain', () => {
  assert.equal(parseGetentAhosts(text('cname.txt')).canonical, 'www.lab.test');
});

test('IPv4 only, and /etc/hosts entries', () => {
  assert.deepEqual(parseGetentAhosts(text('v4only.txt')), { addresses: ['10.77.2.2'], canonical: 'v4only.lab.test' });
  assert.deepEqual(parseGetentAhosts(text('hosts-file.txt')), { addresses: ['fd77:2::2', '10.77.2.2'], canonical: 'target-hosts.lab.test' });
});

test('NXDOMAIN, SERVFAIL and a resolver timeout all print nothing and exit 2; only the time differs', () => {
  for (const file of ['nxdomain.txt', 'servfail.txt', 'timeout.txt']) {
    assert.deepEqual(parseGetentAhosts(text(file)), { addresses: [] });
    assert.equal(manifest.get(file)?.exitCode, 2);
  }
  assert.ok((manifest.get('timeout.txt')?.durationMs ?? 0) > 1000);
  assert.ok((manifest.get('nxdomain.txt')?.durationMs ?? Infinity) < 1000);
});

test('junk lines and untrusted canonical names are dropped', () => {
  assert.deepEqual(parseGetentAhosts('garbage\n10.0.0.1 STREAM bad\u0007name\n10.0.0.1 DGRAM\n::1 STREAM\n'), { addresses: ['10.0.0.1', '::1'] });
});

// ---------------------------------------------------------------------------------------
// The probe, with fake getent commands on PATH (boundedSpawn passes PATH on)

async function withFakeGetent(script: string | undefined, body: () => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-getent-'));
  const saved = process.env.PATH;
  try {
    if (script !== undefined) {
      writeFileSync(join(dir, 'getent'), `#!/bin/sh\n${script}\n`);
      chmodSync(join(dir, 'getent'), 0o755);
    }
    process.env.PATH = dir;
    await body();
  } finally {
    process.env.PATH = saved;
    rmSync(dir, { recursive: true, force: true });
  }
}

test('live: localhost through the real getent (/etc/hosts, no network)', async () => {
  const obs = await probeSystemResolve({ name: 'localhost' }, testContext());
  assert.equal(obs.state, 'done');
  assert.ok(obs.addresses.includes('127.0.0.1') || obs.addresses.includes('::1'), JSON.stringify(obs));
  assert.equal(obs.error, undefined);
});

test('a getent that hangs is killed at the deadline: timeout', async () => {
  // `exec`: the sleep must be the child itself, so that killing the child closes its pipes.
  await withFakeGetent('exec /bin/sleep 10', async () => {
    const obs = await probeSystemResolve({ name: 'db-3' }, testContext(300));
    assert.equal(obs.error?.kind, 'timeout');
    assert.ok((obs.endedMs ?? Infinity) < 1500, `ended at ${obs.endedMs}`);
  });
});

test('an abort kills getent at once', async () => {
  await withFakeGetent('exec /bin/sleep 10', async () => {
    const ctx = testContext(10_000);
    setTimeout(() => ctx.abort(), 100);
    const obs = await probeSystemResolve({ name: 'db-3' }, ctx);
    assert.equal(obs.aborted, true);
    assert.ok((obs.endedMs ?? Infinity) < 1500);
  });
});

test('exit 2 is not-found; other exits are failures; the name follows --', async () => {
  await withFakeGetent('[ "$1" = ahosts ] && [ "$2" = -- ] && [ "$3" = db-3 ] && exit 2; exit 9', async () => {
    const obs = await probeSystemResolve({ name: 'db-3' }, testContext());
    assert.equal(obs.error?.kind, 'not-found');
  });
  await withFakeGetent('echo boom >&2; exit 1', async () => {
    const obs = await probeSystemResolve({ name: 'db-3' }, testContext());
    assert.equal(obs.error?.kind, 'failed');
    assert.match(obs.error?.detail ?? '', /boom/);
  });
});

test('without getent: dns.lookup with a race timer', async () => {
  await withFakeGetent(undefined, async () => {
    const obs = await probeSystemResolve({ name: 'localhost' }, testContext());
    assert.equal(obs.state, 'done');
    assert.ok(obs.addresses.length > 0, JSON.stringify(obs));
  });
});

test('a name with control characters is refused before anything runs (the probe never rejects)', async () => {
  const obs = await probeSystemResolve({ name: 'db\u00003' }, testContext());
  assert.equal(obs.state, 'done');
  assert.equal(obs.error?.kind, 'failed');
});
