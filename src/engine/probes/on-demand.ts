// Primitives only some handshakes need, loaded the first time one does: ML-KEM-768 (a server
// offering mlkem768x25519-sha256, OpenSSH 9.9+) and ChaCha20-Poly1305 (a server that takes
// only chacha20-poly1305@openssh.com, e.g. TinySSH). Imported with the rest they cost every
// `sshcheck` start about 40 ms of its ~150 ms of module loading, for handshakes that mostly
// use neither. The handshake needs them synchronously, in the middle of a packet, hence
// require() of these ES modules (Node ≥ 20.19, package.json's engines).
import { createRequire } from 'node:module';
import type * as ChachaModule from '@noble/ciphers/chacha.js';
import type * as Poly1305Module from '@noble/ciphers/_poly1305.js';
import type * as MlKemModule from '@noble/post-quantum/ml-kem.js';

type MlKem = typeof MlKemModule;
type Chacha = typeof ChachaModule;
type Poly1305 = typeof Poly1305Module;

const load = createRequire(import.meta.url);
let mlKem: MlKem | undefined;
let chacha: Chacha | undefined;
let poly: Poly1305 | undefined;

export function mlKem768(): MlKem['ml_kem768'] {
  mlKem ??= load('@noble/post-quantum/ml-kem.js') as MlKem;
  return mlKem.ml_kem768;
}

export function chacha20orig(...args: Parameters<Chacha['chacha20orig']>): ReturnType<Chacha['chacha20orig']> {
  chacha ??= load('@noble/ciphers/chacha.js') as Chacha;
  return chacha.chacha20orig(...args);
}

export function poly1305(...args: Parameters<Poly1305['poly1305']>): ReturnType<Poly1305['poly1305']> {
  poly ??= load('@noble/ciphers/_poly1305.js') as Poly1305;
  return poly.poly1305(...args);
}
