// Key exchange and transport protection for the handshake probe: node:crypto, plus
// @noble/ciphers (ChaCha20-Poly1305 with OpenSSH's framing) and @noble/post-quantum
// (ML-KEM-768) where node:crypto has no primitive.
//
// The offer mirrors a modern OpenSSH client minus sntrup761 (no audited JavaScript
// implementation), group exchange and UMAC. A server picks the first *client* algorithm it
// supports, so offering only what works here keeps "no common algorithm" meaning what it
// means for OpenSSH; legacy SHA-1 algorithms (ssh-rsa, group1/group14-sha1) are left out
// for the same reason. Where a server speaks only what is missing here, the probe says so
// and the real client's evidence decides (see OPENSSH_ONLY).
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  getDiffieHellman,
  timingSafeEqual,
} from 'node:crypto';
import type { CipherGCMTypes } from 'node:crypto';
import type { KexInitLists, Negotiated, Opener, Sealer } from './ssh-wire.js';
import { MSG, SshReader, SshWriter, WireError, sanitizeText } from './ssh-wire.js';
import { hostKeyFingerprint } from './ssh-hostkey.js';
import { CHACHA_KEY_LENGTH, CHACHA_NAME, chachaOpener, chachaSealer } from './ssh-chacha.js';
import { mlKem768 } from './on-demand.js';
import { errorMessage } from '../../errors.js';

export type HashName = 'sha256' | 'sha384' | 'sha512';

// ---------------------------------------------------------------------------------------
// Key agreement: curve25519 (RFC 8731), ECDH on NIST curves (RFC 5656), MODP DH (RFC 8268)

type KexSpec =
  | { kind: 'x25519'; hash: HashName }
  | { kind: 'mlkem768-x25519'; hash: HashName }
  | { kind: 'ecdh'; hash: HashName; curve: string }
  | { kind: 'dh'; hash: HashName; group: 'modp14' | 'modp16' | 'modp18' };

const KEX: Readonly<Record<string, KexSpec>> = {
  'curve25519-sha256': { kind: 'x25519', hash: 'sha256' },
  'curve25519-sha256@libssh.org': { kind: 'x25519', hash: 'sha256' },
  'ecdh-sha2-nistp256': { kind: 'ecdh', hash: 'sha256', curve: 'prime256v1' },
  'ecdh-sha2-nistp384': { kind: 'ecdh', hash: 'sha384', curve: 'secp384r1' },
  'ecdh-sha2-nistp521': { kind: 'ecdh', hash: 'sha512', curve: 'secp521r1' },
  'diffie-hellman-group16-sha512': { kind: 'dh', hash: 'sha512', group: 'modp16' },
  'diffie-hellman-group18-sha512': { kind: 'dh', hash: 'sha512', group: 'modp18' },
  'diffie-hellman-group14-sha256': { kind: 'dh', hash: 'sha256', group: 'modp14' },
  // Offered last, unlike OpenSSH 10 (first): a server that also speaks curve25519 gets the
  // exchange whose interoperability the tests prove against a real sshd; a PQ-only server
  // still finds a common method.
  'mlkem768x25519-sha256': { kind: 'mlkem768-x25519', hash: 'sha256' },
};

/** One side of an ephemeral key agreement. The same object serves a client or a (test) server. */
export interface KeyAgreement {
  readonly name: string;
  readonly hash: HashName;
  /** DH public values travel and are hashed as mpints (e, f); EC points as strings (Q_C, Q_S). */
  readonly encoding: 'mpint' | 'string';
  /** Our public value: a DH magnitude, an uncompressed EC point, or 32 X25519 bytes. */
  readonly publicKey: Buffer;
  /**
   * How K is encoded where it is hashed (H and the key derivation): an mpint for DH and
   * ECDH, a string for the hybrid post-quantum methods (K is itself a hash there).
   */
  readonly secretEncoding: 'mpint' | 'string';
  /** The shared secret K as an unsigned big-endian number. Throws WireError on a bad peer value. */
  computeSecret(peerPublic: Buffer): Buffer;
}

/** The server's side of one key agreement (a test server's, or a hostile one's). */
export interface KeyAnswer {
  serverPublic: Buffer;
  secret: Buffer;
  hash: HashName;
  encoding: 'mpint' | 'string';
  secretEncoding: 'mpint' | 'string';
}

export function startKeyAgreement(name: string): KeyAgreement | undefined {
  const spec = KEX[name];
  if (!spec) return undefined;
  switch (spec.kind) {
    case 'x25519':
      return x25519Agreement(name, spec.hash);
    case 'mlkem768-x25519':
      return mlkemAgreement(name, spec.hash);
    case 'ecdh':
      return ecdhAgreement(name, spec.hash, spec.curve);
    case 'dh':
      return dhAgreement(name, spec.hash, spec.group);
  }
}

function x25519Pair(): { raw: Buffer; agree(peer: Buffer): Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  return {
    raw,
    agree(peer) {
      if (peer.length !== 32) throw new WireError(`X25519 public key of ${peer.length} bytes`);
      const peerKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: peer.toString('base64url') }, format: 'jwk' });
      // OpenSSL refuses an all-zero result (a low-order peer point), as RFC 8731 §3 requires.
      return guard('X25519 agreement', () => diffieHellman({ privateKey, publicKey: peerKey }));
    },
  };
}

function x25519Agreement(name: string, hash: HashName): KeyAgreement {
  const pair = x25519Pair();
  return { name, hash, encoding: 'string', secretEncoding: 'mpint', publicKey: pair.raw, computeSecret: (peer) => pair.agree(peer) };
}

const MLKEM768_PUBLIC = 1184;
const MLKEM768_CIPHERTEXT = 1088;

/**
 * mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex, OpenSSH 9.9+): the client sends
 * its ML-KEM-768 public key and an X25519 key, the server a ciphertext and its X25519 key;
 * K = SHA-256(ML-KEM secret || X25519 secret), hashed as a string. ML-KEM from @noble/post-quantum.
 */
function mlkemAgreement(name: string, hash: HashName): KeyAgreement {
  const kem = mlKem768().keygen();
  const ecdh = x25519Pair();
  return {
    name,
    hash,
    encoding: 'string',
    secretEncoding: 'string',
    publicKey: Buffer.concat([kem.publicKey, ecdh.raw]),
    computeSecret(peer) {
      if (peer.length !== MLKEM768_CIPHERTEXT + 32) throw new WireError(`ML-KEM-768/X25519 reply of ${peer.length} bytes`);
      const kemSecret = guard('ML-KEM decapsulation', () => mlKem768().decapsulate(Uint8Array.from(peer.subarray(0, MLKEM768_CIPHERTEXT)), kem.secretKey));
      const ecdhSecret = ecdh.agree(peer.subarray(MLKEM768_CIPHERTEXT));
      return createHash(hash).update(kemSecret).update(ecdhSecret).digest();
    },
  };
}

/** The server's side of `name` for the client's public value (test servers only). */
export function answerKeyAgreement(name: string, clientPublic: Buffer): KeyAnswer | undefined {
  const spec = KEX[name];
  if (!spec) return undefined;
  if (spec.kind === 'mlkem768-x25519') {
    if (clientPublic.length !== MLKEM768_PUBLIC + 32) throw new WireError(`ML-KEM-768/X25519 init of ${clientPublic.length} bytes`);
    const { cipherText, sharedSecret } = mlKem768().encapsulate(Uint8Array.from(clientPublic.subarray(0, MLKEM768_PUBLIC)));
    const ecdh = x25519Pair();
    const secret = createHash(spec.hash).update(sharedSecret).update(ecdh.agree(clientPublic.subarray(MLKEM768_PUBLIC))).digest();
    return { serverPublic: Buffer.concat([cipherText, ecdh.raw]), secret, hash: spec.hash, encoding: 'string', secretEncoding: 'string' };
  }
  const agreement = startKeyAgreement(name);
  if (!agreement) return undefined;
  return { serverPublic: agreement.publicKey, secret: agreement.computeSecret(clientPublic), hash: agreement.hash, encoding: agreement.encoding, secretEncoding: agreement.secretEncoding };
}

function ecdhAgreement(name: string, hash: HashName, curve: string): KeyAgreement {
  const ecdh = createECDH(curve);
  ecdh.generateKeys();
  return {
    name,
    hash,
    encoding: 'string',
    secretEncoding: 'mpint',
    publicKey: ecdh.getPublicKey(),
    // computeSecret validates that the point is on the curve (RFC 5656 §4).
    computeSecret: (peer) => guard('ECDH agreement', () => ecdh.computeSecret(peer)),
  };
}

function dhAgreement(name: string, hash: HashName, group: 'modp14' | 'modp16' | 'modp18'): KeyAgreement {
  const dh = getDiffieHellman(group);
  dh.generateKeys();
  const prime = toBigInt(dh.getPrime());
  return {
    name,
    hash,
    encoding: 'mpint',
    secretEncoding: 'mpint',
    publicKey: dh.getPublicKey(),
    computeSecret(peer) {
      // RFC 4253 §8: values outside [2, p-2] would force a trivial shared secret.
      const f = toBigInt(peer);
      if (f <= 1n || f >= prime - 1n) throw new WireError('DH public value out of range');
      return guard('DH agreement', () => dh.computeSecret(peer));
    },
  };
}

function toBigInt(magnitude: Buffer): bigint {
  return magnitude.length === 0 ? 0n : BigInt(`0x${magnitude.toString('hex')}`);
}

function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new WireError(`${what} failed: ${errorMessage(err)}`);
  }
}

/** SSH_MSG_KEXDH_INIT / SSH_MSG_KEX_ECDH_INIT (same number, different encoding). */
export function buildKexInitRequest(agreement: KeyAgreement): Buffer {
  const w = new SshWriter().byte(MSG.KEX_INIT);
  return (agreement.encoding === 'mpint' ? w.mpint(agreement.publicKey) : w.string(agreement.publicKey)).toBuffer();
}

export interface KexReply {
  hostKey: Buffer;
  serverPublic: Buffer;
  signature: Buffer;
}

export function parseKexReply(payload: Buffer, encoding: 'mpint' | 'string'): KexReply {
  const r = new SshReader(payload);
  if (r.byte() !== MSG.KEX_REPLY) throw new WireError('not a KEX reply');
  const hostKey = Buffer.from(r.string());
  const serverPublic = encoding === 'mpint' ? r.mpint() : Buffer.from(r.string());
  const signature = Buffer.from(r.string());
  return { hostKey, serverPublic, signature };
}

export interface ExchangeHashInput {
  /** Identification lines without CR LF. */
  clientIdent: Buffer;
  serverIdent: Buffer;
  /** KEXINIT payloads, message number included. */
  clientKexInit: Buffer;
  serverKexInit: Buffer;
  hostKey: Buffer;
  clientPublic: Buffer;
  serverPublic: Buffer;
  encoding: 'mpint' | 'string';
  secret: Buffer;
  /** How K is hashed; mpint unless the method says otherwise. */
  secretEncoding?: 'mpint' | 'string';
}

/** K as it enters a hash: an mpint, or (hybrid post-quantum methods) a string. */
export function encodedSecret(secret: Buffer, encoding: 'mpint' | 'string' = 'mpint'): Buffer {
  return encoding === 'string' ? new SshWriter().string(secret).toBuffer() : new SshWriter().mpint(secret).toBuffer();
}

/** H (RFC 4253 §8, RFC 5656 §4, RFC 8731 §3): also the session id of the first exchange. */
export function exchangeHash(hash: HashName, input: ExchangeHashInput): Buffer {
  const w = new SshWriter()
    .string(input.clientIdent)
    .string(input.serverIdent)
    .string(input.clientKexInit)
    .string(input.serverKexInit)
    .string(input.hostKey);
  if (input.encoding === 'mpint') w.mpint(input.clientPublic).mpint(input.serverPublic);
  else w.string(input.clientPublic).string(input.serverPublic);
  w.raw(encodedSecret(input.secret, input.secretEncoding));
  return createHash(hash).update(w.toBuffer()).digest();
}

/** RFC 4253 §7.2: HASH(K || H || letter || session_id), extended by HASH(K || H || K1 ...). */
export function deriveKey(hash: HashName, secret: Buffer, h: Buffer, sessionId: Buffer, letter: string, length: number, secretEncoding: 'mpint' | 'string' = 'mpint'): Buffer {
  const k = encodedSecret(secret, secretEncoding);
  let out = createHash(hash).update(k).update(h).update(letter, 'latin1').update(sessionId).digest();
  while (out.length < length) {
    out = Buffer.concat([out, createHash(hash).update(k).update(h).update(out).digest()]);
  }
  return out.subarray(0, length);
}

// ---------------------------------------------------------------------------------------
// Host key: recorded here, its signature checked by verifyHostSignature (ssh-hostkey.ts)

/** The host key's type and fingerprint as `ssh-keygen -l` prints it. */
export function hostKeyInfo(blob: Buffer): { type: string; sha256: string } {
  let type = 'unknown';
  try {
    type = new SshReader(blob).string().toString('latin1');
  } catch {
    // A blob too short for its own type is still fingerprinted as sent.
  }
  return { type: sanitizeText(type, 64), sha256: hostKeyFingerprint(blob) };
}

// ---------------------------------------------------------------------------------------
// Ciphers and MACs (RFC 4344 CTR, RFC 5647 as amended by OpenSSH's PROTOCOL for GCM,
// RFC 6668 SHA-2 HMACs, OpenSSH's encrypt-then-MAC variants)

type CipherSpec =
  | { aead: false; node: 'aes-128-ctr' | 'aes-192-ctr' | 'aes-256-ctr'; keyLength: number; ivLength: number }
  | { aead: true; node: CipherGCMTypes; keyLength: number; ivLength: number }
  | { aead: true; node: 'chacha20-poly1305'; keyLength: number; ivLength: number };
type AeadSpec = Extract<CipherSpec, { node: CipherGCMTypes }>;

// In OpenSSH's default order: the first one a server also supports is used.
const CIPHERS: Readonly<Record<string, CipherSpec>> = {
  [CHACHA_NAME]: { node: 'chacha20-poly1305', keyLength: CHACHA_KEY_LENGTH, ivLength: 0, aead: true },
  'aes128-ctr': { node: 'aes-128-ctr', keyLength: 16, ivLength: 16, aead: false },
  'aes192-ctr': { node: 'aes-192-ctr', keyLength: 24, ivLength: 16, aead: false },
  'aes256-ctr': { node: 'aes-256-ctr', keyLength: 32, ivLength: 16, aead: false },
  'aes128-gcm@openssh.com': { node: 'aes-128-gcm', keyLength: 16, ivLength: 12, aead: true },
  'aes256-gcm@openssh.com': { node: 'aes-256-gcm', keyLength: 32, ivLength: 12, aead: true },
};

interface MacSpec {
  hash: 'sha1' | 'sha256' | 'sha512';
  /** Key and tag length: both are the hash's output size for these HMACs. */
  length: number;
  etm: boolean;
}

const MACS: Readonly<Record<string, MacSpec>> = {
  'hmac-sha2-256-etm@openssh.com': { hash: 'sha256', length: 32, etm: true },
  'hmac-sha2-512-etm@openssh.com': { hash: 'sha512', length: 64, etm: true },
  'hmac-sha1-etm@openssh.com': { hash: 'sha1', length: 20, etm: true },
  'hmac-sha2-256': { hash: 'sha256', length: 32, etm: false },
  'hmac-sha2-512': { hash: 'sha512', length: 64, etm: false },
  'hmac-sha1': { hash: 'sha1', length: 20, etm: false },
};

const AES_BLOCK = 16;
const GCM_TAG = 16;

export function isAeadCipher(name: string): boolean {
  return CIPHERS[name]?.aead ?? false;
}

export interface DirectionKeys {
  iv: Buffer;
  key: Buffer;
  macKey: Buffer;
}

export interface TransportKeys {
  cToS: DirectionKeys;
  sToC: DirectionKeys;
}

type CryptoChoice = Pick<Negotiated, 'cipherCtoS' | 'cipherStoC' | 'macCtoS' | 'macStoC'>;

/** The six keys of RFC 4253 §7.2 (letters A-F), sized for the negotiated algorithms. */
export function deriveTransportKeys(hash: HashName, secret: Buffer, h: Buffer, sessionId: Buffer, chosen: CryptoChoice, secretEncoding: 'mpint' | 'string' = 'mpint'): TransportKeys {
  const side = (cipherName: string, macName: string, letters: string): DirectionKeys => {
    const cipher = CIPHERS[cipherName];
    if (!cipher) throw new WireError(`cipher ${cipherName} is not implemented`);
    const mac = cipher.aead ? undefined : MACS[macName];
    if (!cipher.aead && !mac) throw new WireError(`MAC ${macName} is not implemented`);
    const derive = (letter: string, length: number): Buffer => deriveKey(hash, secret, h, sessionId, letter, length, secretEncoding);
    return {
      iv: derive(letters[0] ?? 'A', cipher.ivLength),
      key: derive(letters[1] ?? 'C', cipher.keyLength),
      macKey: mac ? derive(letters[2] ?? 'E', mac.length) : Buffer.alloc(0),
    };
  };
  return { cToS: side(chosen.cipherCtoS, chosen.macCtoS, 'ACE'), sToC: side(chosen.cipherStoC, chosen.macStoC, 'BDF') };
}

function specs(cipherName: string, macName: string): { cipher: CipherSpec; mac?: MacSpec } {
  const cipher = CIPHERS[cipherName];
  if (!cipher) throw new WireError(`cipher ${cipherName} is not implemented`);
  if (cipher.aead) return { cipher };
  const mac = MACS[macName];
  if (!mac) throw new WireError(`MAC ${macName} is not implemented`);
  return { cipher, mac };
}

function seqBytes(seq: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(seq >>> 0);
  return b;
}

function hmac(mac: MacSpec, key: Buffer, seq: number, ...data: Buffer[]): Buffer {
  const h = createHmac(mac.hash, key).update(seqBytes(seq));
  for (const d of data) h.update(d);
  return h.digest();
}

function verifyMac(expected: Buffer, received: Buffer): void {
  if (expected.length !== received.length || !timingSafeEqual(expected, received)) throw new WireError('MAC verification failed');
}

/** GCM's nonce is a fixed 4-byte field and a 64-bit invocation counter bumped per packet. */
function bumpInvocation(iv: Buffer): void {
  for (let i = iv.length - 1; i >= 4; i--) {
    iv[i] = ((iv[i] ?? 0) + 1) & 0xff;
    if (iv[i] !== 0) return;
  }
}

export function createSealer(cipherName: string, macName: string, keys: DirectionKeys): Sealer {
  const { cipher, mac } = specs(cipherName, macName);
  if (cipher.node === 'chacha20-poly1305') return chachaSealer(keys.key);
  if (cipher.aead) return gcmSealer(cipher, keys);
  const enc = createCipheriv(cipher.node, keys.key, keys.iv);
  const m = mac as MacSpec;
  if (m.etm) {
    return {
      blockSize: AES_BLOCK,
      lengthInClear: true,
      seal(packet, seq) {
        const length = packet.subarray(0, 4);
        const body = enc.update(packet.subarray(4));
        return Buffer.concat([length, body, hmac(m, keys.macKey, seq, length, body)]);
      },
    };
  }
  return {
    blockSize: AES_BLOCK,
    lengthInClear: false,
    seal: (packet, seq) => Buffer.concat([enc.update(packet), hmac(m, keys.macKey, seq, packet)]),
  };
}

function gcmSealer(cipher: AeadSpec, keys: DirectionKeys): Sealer {
  const iv = Buffer.from(keys.iv);
  return {
    blockSize: AES_BLOCK,
    lengthInClear: true,
    seal(packet) {
      const length = packet.subarray(0, 4);
      const c = createCipheriv(cipher.node, keys.key, iv, { authTagLength: GCM_TAG });
      c.setAAD(length);
      const body = Buffer.concat([c.update(packet.subarray(4)), c.final()]);
      bumpInvocation(iv);
      return Buffer.concat([length, body, c.getAuthTag()]);
    },
  };
}

export function createOpener(cipherName: string, macName: string, keys: DirectionKeys): Opener {
  const { cipher, mac } = specs(cipherName, macName);
  if (cipher.node === 'chacha20-poly1305') return chachaOpener(keys.key);
  if (cipher.aead) return gcmOpener(cipher, keys);
  const m = mac as MacSpec;
  return m.etm ? etmOpener(cipher, m, keys) : macOpener(cipher, m, keys);
}

function macOpener(cipher: CipherSpec, mac: MacSpec, keys: DirectionKeys): Opener {
  const dec = createDecipheriv(cipher.node, keys.key, keys.iv);
  const tagLength = mac.length;
  let firstBlock = Buffer.alloc(0);
  return {
    blockSize: AES_BLOCK,
    lengthInClear: false,
    tagLength,
    headerLength: AES_BLOCK,
    packetLength(header) {
      firstBlock = dec.update(header);
      return firstBlock.readUInt32BE(0);
    },
    open(wire, seq) {
      const tagStart = wire.length - tagLength;
      const plain = Buffer.concat([firstBlock, dec.update(wire.subarray(AES_BLOCK, tagStart))]);
      verifyMac(hmac(mac, keys.macKey, seq, plain), wire.subarray(tagStart));
      return plain.subarray(4);
    },
  };
}

function etmOpener(cipher: CipherSpec, mac: MacSpec, keys: DirectionKeys): Opener {
  const dec = createDecipheriv(cipher.node, keys.key, keys.iv);
  const tagLength = mac.length;
  return {
    blockSize: AES_BLOCK,
    lengthInClear: true,
    tagLength,
    headerLength: 4,
    packetLength: (header) => header.readUInt32BE(0),
    open(wire, seq) {
      const tagStart = wire.length - tagLength;
      // Encrypt-then-MAC: authenticate before decrypting anything.
      verifyMac(hmac(mac, keys.macKey, seq, wire.subarray(0, tagStart)), wire.subarray(tagStart));
      return dec.update(wire.subarray(4, tagStart));
    },
  };
}

function gcmOpener(cipher: AeadSpec, keys: DirectionKeys): Opener {
  const iv = Buffer.from(keys.iv);
  return {
    blockSize: AES_BLOCK,
    lengthInClear: true,
    tagLength: GCM_TAG,
    headerLength: 4,
    packetLength: (header) => header.readUInt32BE(0),
    open(wire) {
      const tagStart = wire.length - GCM_TAG;
      const d = createDecipheriv(cipher.node, keys.key, iv, { authTagLength: GCM_TAG });
      d.setAAD(wire.subarray(0, 4));
      d.setAuthTag(wire.subarray(tagStart));
      const plain = d.update(wire.subarray(4, tagStart));
      try {
        d.final();
      } catch {
        throw new WireError('AES-GCM authentication failed');
      }
      bumpInvocation(iv);
      return plain;
    },
  };
}

// ---------------------------------------------------------------------------------------
// What we offer

const KEX_OFFER = Object.keys(KEX);

const HOST_KEY_OFFER = [
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp384-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ssh-ed25519-cert-v01@openssh.com',
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com',
  'rsa-sha2-256-cert-v01@openssh.com',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'rsa-sha2-512',
  'rsa-sha2-256',
];

/** Our KEXINIT lists. No ext-info-c or strict-kex marker: the probe stops at `none` auth. */
export function clientKexInitLists(): KexInitLists {
  const ciphers = Object.keys(CIPHERS);
  const macs = Object.keys(MACS);
  return {
    kex: [...KEX_OFFER],
    hostKey: [...HOST_KEY_OFFER],
    cipherCtoS: [...ciphers],
    cipherStoC: [...ciphers],
    macCtoS: [...macs],
    macStoC: [...macs],
    compCtoS: ['none'],
    compStoC: ['none'],
    langCtoS: [],
    langStoC: [],
  };
}

/** The first negotiated list whose choice is not implemented here (should never happen: we offer only what we implement). */
export function unimplementedChoice(chosen: Negotiated): { list: keyof Negotiated; name: string } | undefined {
  if (!KEX[chosen.kex]) return { list: 'kex', name: chosen.kex };
  for (const list of ['cipherCtoS', 'cipherStoC'] as const) {
    if (!CIPHERS[chosen[list]]) return { list, name: chosen[list] };
  }
  for (const [list, cipher] of [
    ['macCtoS', 'cipherCtoS'],
    ['macStoC', 'cipherStoC'],
  ] as const) {
    if (!isAeadCipher(chosen[cipher]) && !MACS[chosen[list]]) return { list, name: chosen[list] };
  }
  for (const list of ['compCtoS', 'compStoC'] as const) {
    if (chosen[list] !== 'none') return { list, name: chosen[list] };
  }
  return undefined;
}

/**
 * Algorithms a default OpenSSH client offers that this probe does not implement. When a
 * server offers only these, the probe fails where `ssh` would succeed, and says so.
 */
export const OPENSSH_ONLY: Readonly<Partial<Record<keyof KexInitLists, readonly string[]>>> = {
  kex: ['sntrup761x25519-sha512', 'sntrup761x25519-sha512@openssh.com', 'diffie-hellman-group-exchange-sha256'],
  macCtoS: ['umac-64-etm@openssh.com', 'umac-128-etm@openssh.com', 'umac-64@openssh.com', 'umac-128@openssh.com'],
  macStoC: ['umac-64-etm@openssh.com', 'umac-128-etm@openssh.com', 'umac-64@openssh.com', 'umac-128@openssh.com'],
};
