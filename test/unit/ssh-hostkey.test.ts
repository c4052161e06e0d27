// Host-key signatures over the exchange hash, for every algorithm the probe offers: a
// genuine signature verifies, and a signature of other data, by another key, of another
// format or truncated does not. Keys are made with node:crypto and encoded as RFC 4253/5656/
// 8709/8332 say; the real sshd test (ssh-handshake.test.ts) checks interoperability.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { certificateAuthority, fingerprintOf, hostKeyFingerprint, verifyHostSignature } from '../../src/engine/probes/ssh-hostkey.js';
import { SshWriter } from '../../src/engine/probes/ssh-wire.js';

interface TestKey {
  blob: Buffer;
  sign(data: Buffer): Buffer;
}

function jwk(key: KeyObject): Record<string, string> {
  return key.export({ format: 'jwk' }) as Record<string, string>;
}

function b(field: string | undefined): Buffer {
  return Buffer.from(field ?? '', 'base64url');
}

function ed25519(): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    blob: new SshWriter().string('ssh-ed25519').string(b(jwk(publicKey).x)).toBuffer(),
    sign: (data) => new SshWriter().string('ssh-ed25519').string(sign(null, data, privateKey)).toBuffer(),
  };
}

function ecdsa(curve: 'nistp256' | 'nistp384' | 'nistp521'): TestKey {
  const named = { nistp256: 'prime256v1', nistp384: 'secp384r1', nistp521: 'secp521r1' }[curve];
  const hash = { nistp256: 'sha256', nistp384: 'sha384', nistp521: 'sha512' }[curve];
  const size = { nistp256: 32, nistp384: 48, nistp521: 66 }[curve];
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: named });
  const k = jwk(publicKey);
  const type = `ecdsa-sha2-${curve}`;
  return {
    blob: new SshWriter().string(type).string(curve).string(Buffer.concat([Buffer.from([4]), b(k.x), b(k.y)])).toBuffer(),
    sign: (data) => {
      const rs = sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const inner = new SshWriter().mpint(rs.subarray(0, size)).mpint(rs.subarray(size)).toBuffer();
      return new SshWriter().string(type).string(inner).toBuffer();
    },
  };
}

function rsa(algorithm: 'rsa-sha2-256' | 'rsa-sha2-512'): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const k = jwk(publicKey);
  return {
    blob: new SshWriter().string('ssh-rsa').mpint(b(k.e)).mpint(b(k.n)).toBuffer(),
    sign: (data) => new SshWriter().string(algorithm).string(sign(algorithm === 'rsa-sha2-512' ? 'sha512' : 'sha256', data, privateKey)).toBuffer(),
  };
}

const cases: Array<[string, () => TestKey]> = [
  ['ssh-ed25519', ed25519],
  ['ecdsa-sha2-nistp256', () => ecdsa('nistp256')],
  ['ecdsa-sha2-nistp384', () => ecdsa('nistp384')],
  ['ecdsa-sha2-nistp521', () => ecdsa('nistp521')],
  ['rsa-sha2-256', () => rsa('rsa-sha2-256')],
  ['rsa-sha2-512', () => rsa('rsa-sha2-512')],
];

describe('verifyHostSignature', () => {
  for (const [algorithm, make] of cases) {
    void it(`${algorithm}: a genuine signature verifies, a forged one does not`, () => {
      const key = make();
      const h = createHash('sha256').update(randomBytes(32)).digest();
      assert.deepEqual(verifyHostSignature(algorithm, key.blob, key.sign(h), h), { ok: true });

      const otherData = verifyHostSignature(algorithm, key.blob, key.sign(Buffer.concat([h, Buffer.from([0])])), h);
      assert.equal(otherData.ok, false);
      const otherKey = verifyHostSignature(algorithm, key.blob, make().sign(h), h);
      assert.equal(otherKey.ok, false);
      const sig = key.sign(h);
      const truncated = verifyHostSignature(algorithm, key.blob, sig.subarray(0, sig.length - 3), h);
      assert.equal(truncated.ok, false);
      const flipped = Buffer.from(sig);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
      assert.equal(verifyHostSignature(algorithm, key.blob, flipped, h).ok, false);
    });
  }

  void it('an RSA signature in the other SHA-2 format than negotiated is refused (RFC 8332 §3)', () => {
    const key = rsa('rsa-sha2-256');
    const h = randomBytes(32);
    const check = verifyHostSignature('rsa-sha2-512', key.blob, key.sign(h), h);
    assert.equal(check.ok, false);
    assert.match(check.ok ? '' : check.reason, /rsa-sha2-256 where rsa-sha2-512 is required/);
  });

  void it('an ECDSA point off the curve and a key of another type fail without throwing', () => {
    const key = ecdsa('nistp256');
    const broken = Buffer.from(key.blob);
    broken[broken.length - 1] = (broken[broken.length - 1] ?? 0) ^ 1;
    const h = randomBytes(32);
    assert.equal(verifyHostSignature('ecdsa-sha2-nistp256', broken, key.sign(h), h).ok, false);
    assert.equal(verifyHostSignature('ssh-ed25519', key.blob, ed25519().sign(h), h).ok, false);
    assert.equal(verifyHostSignature('ssh-ed25519', Buffer.from([0, 0, 0, 9]), Buffer.alloc(0), h).ok, false);
  });

  void it('a certificate is verified with the key it certifies, and names its CA', () => {
    const key = ed25519();
    const ca = ed25519();
    const inner = new SshWriter().string('ssh-ed25519').raw(key.blob.subarray(15)).toBuffer();
    const publicKey = inner.subarray(4 + 'ssh-ed25519'.length);
    const cert = new SshWriter()
      .string('ssh-ed25519-cert-v01@openssh.com')
      .string(randomBytes(32))
      .raw(publicKey)
      .raw(Buffer.alloc(8))
      .uint32(2)
      .string('host')
      .string('')
      .raw(Buffer.alloc(16))
      .string('')
      .string('')
      .string('')
      .string(ca.blob)
      .string(Buffer.alloc(0))
      .toBuffer();
    const h = randomBytes(32);
    assert.deepEqual(verifyHostSignature('ssh-ed25519-cert-v01@openssh.com', cert, key.sign(h), h), { ok: true });
    assert.equal(verifyHostSignature('ssh-ed25519-cert-v01@openssh.com', cert, ca.sign(h), h).ok, false);
    assert.equal(hostKeyFingerprint(cert), fingerprintOf(key.blob));
    assert.deepEqual(certificateAuthority(cert), ca.blob);
  });

  void it('fingerprints are printed as ssh does: SHA256: and unpadded base64', () => {
    assert.match(fingerprintOf(ed25519().blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
