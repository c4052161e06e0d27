// known_hosts read as ssh reads it: plain and hashed names (hashed by the real ssh-keygen),
// [host]:port, wildcards and negation, @cert-authority and @revoked, and the verdict for a
// presented key: known, changed (with the expected fingerprints), or unknown.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKnownHost, parseKnownHosts, patternsMatch } from '../../src/engine/probes/parse-known-hosts.js';
import { fingerprintOf } from '../../src/engine/probes/ssh-hostkey.js';
import { SshWriter } from '../../src/engine/probes/ssh-wire.js';

function ed25519(): { line: string; sha256: string } {
  const x = Buffer.from((generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  const blob = new SshWriter().string('ssh-ed25519').string(x).toBuffer();
  return { line: `ssh-ed25519 ${blob.toString('base64')}`, sha256: fingerprintOf(blob) };
}

describe('known_hosts', () => {
  const a = ed25519();
  const b = ed25519();
  const ca = ed25519();

  void it('a key that differs from the entry of its type is changed, naming the expected fingerprint', () => {
    const entries = parseKnownHosts(`# comment\ndb-3,10.0.0.5 ${a.line}\n`);
    assert.deepEqual(checkKnownHost(entries, 'db-3', 22, { type: 'ssh-ed25519', sha256: a.sha256 }), { kind: 'known', line: 2 });
    const changed = checkKnownHost(entries, 'DB-3', 22, { type: 'ssh-ed25519', sha256: b.sha256 });
    assert.deepEqual(changed, { kind: 'changed', expected: [{ keyType: 'ssh-ed25519', sha256: a.sha256, line: 2 }] });
    assert.deepEqual(checkKnownHost(entries, 'db-4', 22, { type: 'ssh-ed25519', sha256: b.sha256 }), { kind: 'unknown' });
    // Only an entry of another type: ssh asks, it does not cry "changed".
    assert.deepEqual(checkKnownHost(entries, 'db-3', 22, { type: 'ecdsa-sha2-nistp256', sha256: b.sha256 }), { kind: 'unknown' });
  });

  void it('ports other than 22 are looked up as [host]:port', () => {
    const entries = parseKnownHosts(`[db-3]:2222 ${a.line}\ndb-3 ${b.line}\n`);
    assert.equal(checkKnownHost(entries, 'db-3', 2222, { type: 'ssh-ed25519', sha256: a.sha256 }).kind, 'known');
    assert.equal(checkKnownHost(entries, 'db-3', 2222, { type: 'ssh-ed25519', sha256: b.sha256 }).kind, 'changed');
  });

  void it('wildcards, negation, @revoked and @cert-authority', () => {
    assert.equal(patternsMatch('*.prod,!db-9.prod', 'db-3.prod'), true);
    assert.equal(patternsMatch('*.prod,!db-9.prod', 'db-9.prod'), false);
    assert.equal(patternsMatch('db-?', 'db-3'), true);
    const entries = parseKnownHosts(`@cert-authority *.prod ${ca.line}\n@revoked * ${b.line}\n@unknown-marker x ${a.line}\n`);
    assert.equal(entries.length, 2);
    assert.deepEqual(checkKnownHost(entries, 'db-3.prod', 22, { type: 'ssh-ed25519-cert-v01@openssh.com', sha256: a.sha256, caSha256: ca.sha256 }), { kind: 'ca-known', line: 1 });
    assert.equal(checkKnownHost(entries, 'db-3.prod', 22, { type: 'ssh-ed25519', sha256: b.sha256 }).kind, 'revoked');
  });

  void it('hashed names as the real ssh-keygen -H writes them', (t) => {
    if (spawnSync('ssh-keygen', ['-?']).error) return t.skip('ssh-keygen is not installed');
    const dir = mkdtempSync(join(tmpdir(), 'sshcheck-kh-'));
    try {
      const file = join(dir, 'known_hosts');
      writeFileSync(file, `db-3 ${a.line}\n[db-3]:2222 ${b.line}\n`);
      const r = spawnSync('ssh-keygen', ['-H', '-f', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const text = readFileSync(file, 'utf8');
      assert.match(text, /^\|1\|/);
      const entries = parseKnownHosts(text);
      assert.equal(checkKnownHost(entries, 'db-3', 22, { type: 'ssh-ed25519', sha256: b.sha256 }).kind, 'changed');
      assert.equal(checkKnownHost(entries, 'db-3', 2222, { type: 'ssh-ed25519', sha256: b.sha256 }).kind, 'known');
      assert.equal(checkKnownHost(entries, 'db-4', 22, { type: 'ssh-ed25519', sha256: b.sha256 }).kind, 'unknown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void it('lines that are not entries are skipped, not fatal', () => {
    assert.deepEqual(parseKnownHosts('garbage\nhost ssh-ed25519 !!!notbase64\n\n'), []);
  });
});
