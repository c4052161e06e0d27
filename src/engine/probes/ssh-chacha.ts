// chacha20-poly1305@openssh.com (OpenSSH's PROTOCOL.chacha20poly1305): the cipher TinySSH
// and a default OpenSSH prefer. node:crypto has no ChaCha20 with the original 64-bit nonce,
// so the primitives come from @noble/ciphers (audited); only the SSH framing is here.
//
// The 64 bytes of key material are two keys: the second 32 bytes (K_1) encrypt the 4-byte
// length, the first 32 (K_2) the packet. Both use the sequence number as the nonce; K_2's
// block 0 gives the Poly1305 key and the packet starts at block 1. The tag covers the
// encrypted length and the encrypted packet.
import { chacha20orig, poly1305 } from './on-demand.js';
import { timingSafeEqual } from 'node:crypto';
import type { Opener, Sealer } from './ssh-wire.js';
import { WireError } from './ssh-wire.js';

export const CHACHA_NAME = 'chacha20-poly1305@openssh.com';
export const CHACHA_KEY_LENGTH = 64;
const TAG = 16;
const BLOCK = 8;

function nonce(seq: number): Uint8Array {
  const n = new Uint8Array(8);
  new DataView(n.buffer).setUint32(4, seq >>> 0);
  return n;
}

function u8(bytes: Uint8Array): Uint8Array {
  // noble wants plain, aligned Uint8Arrays; a Buffer slice may be neither.
  return Uint8Array.from(bytes);
}

interface ChachaKeys {
  main: Uint8Array;
  header: Uint8Array;
}

function split(key: Buffer): ChachaKeys {
  if (key.length !== CHACHA_KEY_LENGTH) throw new WireError(`${CHACHA_NAME} needs ${CHACHA_KEY_LENGTH} bytes of key, got ${key.length}`);
  return { main: u8(key.subarray(0, 32)), header: u8(key.subarray(32, 64)) };
}

function polyKey(keys: ChachaKeys, n: Uint8Array): Uint8Array {
  return chacha20orig(keys.main, n, new Uint8Array(32), undefined, 0);
}

export function chachaSealer(key: Buffer): Sealer {
  const keys = split(key);
  return {
    blockSize: BLOCK,
    // The length is encrypted, but with its own key: padding aligns what follows it.
    lengthInClear: true,
    seal(packet, seq) {
      const n = nonce(seq);
      const length = chacha20orig(keys.header, n, u8(packet.subarray(0, 4)), undefined, 0);
      const body = chacha20orig(keys.main, n, u8(packet.subarray(4)), undefined, 1);
      const sealed = Buffer.concat([length, body]);
      return Buffer.concat([sealed, poly1305(u8(sealed), polyKey(keys, n))]);
    },
  };
}

export function chachaOpener(key: Buffer): Opener {
  const keys = split(key);
  return {
    blockSize: BLOCK,
    lengthInClear: true,
    tagLength: TAG,
    headerLength: 4,
    packetLength(header, seq) {
      return Buffer.from(chacha20orig(keys.header, nonce(seq), u8(header.subarray(0, 4)), undefined, 0)).readUInt32BE(0);
    },
    open(wire, seq) {
      const n = nonce(seq);
      const tagStart = wire.length - TAG;
      const expected = Buffer.from(poly1305(u8(wire.subarray(0, tagStart)), polyKey(keys, n)));
      const received = wire.subarray(tagStart);
      if (received.length !== TAG || !timingSafeEqual(expected, received)) throw new WireError('chacha20-poly1305 authentication failed');
      return Buffer.from(chacha20orig(keys.main, n, u8(wire.subarray(4, tagStart)), undefined, 1));
    },
  };
}
