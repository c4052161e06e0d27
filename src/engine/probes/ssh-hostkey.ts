// Host keys: the server's proof that it holds the key it names. The exchange hash H is
// signed with the host key (RFC 4253 §8); checking that signature is what tells "the host
// answered" from "something on the path answered for it". Formats: RFC 8709 (Ed25519),
// RFC 5656 (ECDSA), RFC 8332 (RSA with SHA-2), OpenSSH's PROTOCOL.certkeys (certificates)
// and PROTOCOL.u2f (security-key host keys). All primitives are node:crypto's.
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { SshReader, SshWriter, WireError } from './ssh-wire.js';
import { errorMessage } from '../../errors.js';

/** Fields of the certified key in an OpenSSH certificate (PROTOCOL.certkeys), after the nonce. */
const CERT_KEY_FIELDS: Readonly<Record<string, { plain: string; fields: number }>> = {
  'ssh-ed25519-cert-v01@openssh.com': { plain: 'ssh-ed25519', fields: 1 },
  'ssh-rsa-cert-v01@openssh.com': { plain: 'ssh-rsa', fields: 2 },
  'ecdsa-sha2-nistp256-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp256', fields: 2 },
  'ecdsa-sha2-nistp384-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp384', fields: 2 },
  'ecdsa-sha2-nistp521-cert-v01@openssh.com': { plain: 'ecdsa-sha2-nistp521', fields: 2 },
  'sk-ssh-ed25519-cert-v01@openssh.com': { plain: 'sk-ssh-ed25519@openssh.com', fields: 2 },
  'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com': { plain: 'sk-ecdsa-sha2-nistp256@openssh.com', fields: 3 },
};

/** The key a host certificate certifies, as a plain public-key blob; undefined for a plain key. */
export function certifiedKey(blob: Buffer): Buffer | undefined {
  try {
    const r = new SshReader(blob);
    const spec = CERT_KEY_FIELDS[r.string().toString('latin1')];
    if (!spec) return undefined;
    r.string(); // nonce
    const w = new SshWriter().string(spec.plain);
    for (let i = 0; i < spec.fields; i++) w.string(r.string());
    return w.toBuffer();
  } catch {
    return undefined;
  }
}

/**
 * The signing CA of a host certificate (the `signature key` field), for `@cert-authority`
 * lines; undefined for a plain key or a certificate that does not parse.
 */
export function certificateAuthority(blob: Buffer): Buffer | undefined {
  try {
    const r = new SshReader(blob);
    const spec = CERT_KEY_FIELDS[r.string().toString('latin1')];
    if (!spec) return undefined;
    r.string(); // nonce
    for (let i = 0; i < spec.fields; i++) r.string();
    r.bytes(8); // serial
    r.uint32(); // type
    r.string(); // key id
    r.string(); // valid principals
    r.bytes(16); // valid after, valid before
    r.string(); // critical options
    r.string(); // extensions
    r.string(); // reserved
    return Buffer.from(r.string());
  } catch {
    return undefined;
  }
}

/** `SHA256:` and unpadded base64, as ssh and ssh-keygen print a fingerprint. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The fingerprint ssh shows for a host key: a certificate's is that of the key it certifies. */
export function hostKeyFingerprint(blob: Buffer): string {
  return fingerprintOf(certifiedKey(blob) ?? blob);
}

// ---------------------------------------------------------------------------------------
// Signature verification

type HashName = 'sha256' | 'sha384' | 'sha512';

const ECDSA_CURVES: Readonly<Record<string, { jwk: string; hash: HashName; size: number }>> = {
  nistp256: { jwk: 'P-256', hash: 'sha256', size: 32 },
  nistp384: { jwk: 'P-384', hash: 'sha384', size: 48 },
  nistp521: { jwk: 'P-521', hash: 'sha512', size: 66 },
};

/** Which signature format each negotiated host-key algorithm must carry (RFC 8332 §3). */
const SIGNATURE_NAME: Readonly<Record<string, string>> = {
  'rsa-sha2-256': 'rsa-sha2-256',
  'rsa-sha2-512': 'rsa-sha2-512',
  'rsa-sha2-256-cert-v01@openssh.com': 'rsa-sha2-256',
  'rsa-sha2-512-cert-v01@openssh.com': 'rsa-sha2-512',
};

interface ParsedKey {
  type: string;
  key: KeyObject;
  /** ECDSA's curve (its hash and scalar size); security keys' application string. */
  curve?: { hash: HashName; size: number };
  application?: Buffer;
}

function b64u(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** Leading zero bytes are allowed in mpints; JWK wants the bare magnitude. */
function magnitude(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

function ecPublicKey(curveName: string, point: Buffer): { key: KeyObject; curve: { hash: HashName; size: number } } {
  const curve = ECDSA_CURVES[curveName];
  if (!curve) throw new WireError(`unknown ECDSA curve ${curveName}`);
  if (point.length !== 1 + 2 * curve.size || point[0] !== 0x04) throw new WireError(`ECDSA point of ${point.length} bytes is not an uncompressed ${curveName} point`);
  const x = point.subarray(1, 1 + curve.size);
  const y = point.subarray(1 + curve.size);
  // createPublicKey rejects a point that is not on the curve.
  const key = createPublicKey({ key: { kty: 'EC', crv: curve.jwk, x: b64u(x), y: b64u(y) }, format: 'jwk' });
  return { key, curve: { hash: curve.hash, size: curve.size } };
}

function ed25519PublicKey(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new WireError(`Ed25519 key of ${raw.length} bytes`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(raw) }, format: 'jwk' });
}

/** A plain public-key blob (not a certificate) as a node:crypto key. */
export function parsePublicKey(blob: Buffer): ParsedKey {
  const r = new SshReader(blob);
  const type = r.string().toString('latin1');
  try {
    switch (type) {
      case 'ssh-ed25519':
        return { type, key: ed25519PublicKey(r.string()) };
      case 'sk-ssh-ed25519@openssh.com': {
        const key = ed25519PublicKey(r.string());
        return { type, key, application: Buffer.from(r.string()) };
      }
      case 'ecdsa-sha2-nistp256':
      case 'ecdsa-sha2-nistp384':
      case 'ecdsa-sha2-nistp521': {
        const curveName = r.string().toString('latin1');
        if (`ecdsa-sha2-${curveName}` !== type) throw new WireError(`ECDSA key names curve ${curveName} in a ${type} key`);
        return { type, ...ecPublicKey(curveName, r.string()) };
      }
      case 'sk-ecdsa-sha2-nistp256@openssh.com': {
        const curveName = r.string().toString('latin1');
        if (curveName !== 'nistp256') throw new WireError(`security-key ECDSA key on curve ${curveName}`);
        const ec = ecPublicKey(curveName, r.string());
        return { type, ...ec, application: Buffer.from(r.string()) };
      }
      case 'ssh-rsa': {
        const e = magnitude(r.string());
        const n = magnitude(r.string());
        if (n.length * 8 < 1024) throw new WireError(`RSA modulus of ${n.length * 8} bits`);
        return { type, key: createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' }) };
      }
      default:
        throw new WireError(`host key type ${type.slice(0, 64)} is not supported`);
    }
  } catch (err) {
    if (err instanceof WireError) throw err;
    throw new WireError(`the ${type.slice(0, 64)} host key does not parse: ${errorMessage(err)}`);
  }
}

/** ECDSA's (mpint r, mpint s) as the fixed-width r||s that node:crypto's ieee-p1363 wants. */
function ecdsaP1363(sigBody: Buffer, size: number): Buffer {
  const r = new SshReader(sigBody);
  const parts = [r.mpint(), r.mpint()];
  if (r.remaining !== 0) throw new WireError('trailing bytes in an ECDSA signature');
  return Buffer.concat(
    parts.map((p) => {
      if (p.length > size) throw new WireError('ECDSA signature value larger than the curve');
      return Buffer.concat([Buffer.alloc(size - p.length), p]);
    }),
  );
}

/** Security keys sign SHA256(application) || flags || counter || SHA256(data) (PROTOCOL.u2f). */
function skSignedData(application: Buffer, flags: number, counter: number, data: Buffer): Buffer {
  const tail = Buffer.alloc(5);
  tail[0] = flags;
  tail.writeUInt32BE(counter >>> 0, 1);
  return Buffer.concat([createHash('sha256').update(application).digest(), tail, createHash('sha256').update(data).digest()]);
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks that `signature` (the KEX reply's signature blob) is the host key's signature of
 * `data` (the exchange hash H) in the format `algorithm` (the negotiated host-key algorithm)
 * requires. Never throws: a key or signature that does not parse is a failed check.
 */
export function verifyHostSignature(algorithm: string, hostKeyBlob: Buffer, signature: Buffer, data: Buffer): SignatureCheck {
  try {
    const plain = certifiedKey(hostKeyBlob) ?? hostKeyBlob;
    const parsed = parsePublicKey(plain);
    const r = new SshReader(signature);
    const sigName = r.string().toString('latin1');
    const sigBody = r.string();
    const wanted = SIGNATURE_NAME[algorithm] ?? parsed.type;
    if (sigName !== wanted) return { ok: false, reason: `signature of type ${sigName.slice(0, 64)} where ${wanted} is required` };
    const valid = checkSignature(parsed, sigName, sigBody, r, data);
    return valid ? { ok: true } : { ok: false, reason: `the ${sigName} signature over the exchange hash does not verify with the host key` };
  } catch (err) {
    return { ok: false, reason: err instanceof WireError ? err.message : `signature check failed: ${errorMessage(err)}` };
  }
}

function checkSignature(parsed: ParsedKey, sigName: string, sigBody: Buffer, rest: SshReader, data: Buffer): boolean {
  switch (parsed.type) {
    case 'ssh-ed25519':
      if (sigBody.length !== 64) throw new WireError(`Ed25519 signature of ${sigBody.length} bytes`);
      return verify(null, data, parsed.key, sigBody);
    case 'sk-ssh-ed25519@openssh.com': {
      if (sigBody.length !== 64) throw new WireError(`Ed25519 signature of ${sigBody.length} bytes`);
      const signed = skSignedData(parsed.application ?? Buffer.alloc(0), rest.byte(), rest.uint32(), data);
      return verify(null, signed, parsed.key, sigBody);
    }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521': {
      const curve = parsed.curve ?? { hash: 'sha256', size: 32 };
      return verify(curve.hash, data, { key: parsed.key, dsaEncoding: 'ieee-p1363' }, ecdsaP1363(sigBody, curve.size));
    }
    case 'sk-ecdsa-sha2-nistp256@openssh.com': {
      const p1363 = ecdsaP1363(sigBody, 32);
      const signed = skSignedData(parsed.application ?? Buffer.alloc(0), rest.byte(), rest.uint32(), data);
      return verify('sha256', signed, { key: parsed.key, dsaEncoding: 'ieee-p1363' }, p1363);
    }
    case 'ssh-rsa':
      // Only the SHA-2 formats are accepted (wanted above): ssh-rsa (SHA-1) is never offered.
      if (sigName !== 'rsa-sha2-256' && sigName !== 'rsa-sha2-512') throw new WireError(`RSA signature of type ${sigName.slice(0, 64)}`);
      return rsaVerify(parsed.key, sigName === 'rsa-sha2-512' ? 'sha512' : 'sha256', sigBody, data);
    default:
      return false;
  }
}

function rsaVerify(key: KeyObject, hash: 'sha256' | 'sha512', sigBody: Buffer, data: Buffer): boolean {
  const modulusBytes = Math.ceil((key.asymmetricKeyDetails?.modulusLength ?? sigBody.length * 8) / 8);
  if (sigBody.length > modulusBytes) throw new WireError('RSA signature longer than the modulus');
  // RFC 8332 lets a signer drop leading zero bytes; the verifier pads them back.
  const padded = Buffer.concat([Buffer.alloc(modulusBytes - sigBody.length), sigBody]);
  return verify(hash, data, key, padded);
}
