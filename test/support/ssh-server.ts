// A small SSH server on loopback, written from RFC 4253/8709/8731 with node:crypto (and the
// probe's own framing), that can misbehave on purpose at one precise point of the
// transport: forge its host-key signature, drop the connection after KEXINIT, send
// impossible packet lengths, garbage, a truncated name-list, half a packet, no common
// algorithm, or simply go quiet. Checked once against the real OpenSSH client (see
// test/integration/ssh-server-cases.test.ts): in `normal` mode ssh reaches authentication.
//
// Every mode is bounded: nothing is written in a loop, and close() destroys every socket.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { KexInitLists, Negotiated } from '../../src/engine/probes/ssh-wire.js';
import { MSG, PacketReader, PacketWriter, SshReader, SshWriter, buildKexInit, negotiate, parseKexInit } from '../../src/engine/probes/ssh-wire.js';
import type { TransportKeys } from '../../src/engine/probes/ssh-kex.js';
import { buildKexReply, parseKexInitRequest } from './ssh-kex-server.js';
import {
  answerKeyAgreement,
  clientKexInitLists,
  createOpener,
  createSealer,
  deriveTransportKeys,
  exchangeHash,
  isAeadCipher,
  startKeyAgreement,
} from '../../src/engine/probes/ssh-kex.js';

export type SshServerMode =
  | 'normal'
  /** Signs something other than the exchange hash with its real key. */
  | 'forged-signature'
  | 'close-after-kexinit'
  | 'reset-after-kexinit'
  | 'length-zero'
  | 'length-max'
  | 'garbage'
  | 'truncated-namelist'
  | 'close-mid-packet'
  | 'no-common-kex'
  /** Sends its banner, reads the client's KEXINIT, then says nothing more (connection open). */
  | 'stall'
  /** Accepts the `none` login, then never answers a channel request. */
  | 'post-auth-hang';

export interface SshServerOptions {
  mode: SshServerMode;
  /** An Ed25519 host key; a fresh one by default. */
  hostKey?: KeyObject;
  /** Where to listen: 127.0.0.1 and a free port by default. */
  host?: string;
  port?: number;
}

export interface SshTestServer {
  port: number;
  /** The host key as a public-key blob and as an OpenSSH known_hosts key field. */
  hostKeyBlob: Buffer;
  knownHostsKey: string;
  connections: number;
  close(): Promise<void>;
}

const SERVER_IDENT = 'SSH-2.0-OpenSSH_9.9 sshcheck-test';

/** What this server speaks: curve25519 (and the rest of the probe's offer), an Ed25519 key. */
function serverLists(mode: SshServerMode): KexInitLists {
  const lists = { ...clientKexInitLists(), hostKey: ['ssh-ed25519'] };
  if (mode === 'no-common-kex') lists.kex = ['diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1'];
  return lists;
}

function ed25519Blob(key: KeyObject): Buffer {
  const x = (key.export({ format: 'jwk' }) as { x?: string }).x ?? '';
  return new SshWriter().string('ssh-ed25519').string(Buffer.from(x, 'base64url')).toBuffer();
}

function plain(payload: Buffer): Buffer {
  return new PacketWriter().encode(payload);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A KEXINIT whose first name-list claims more bytes than the packet holds. */
function truncatedKexInit(): Buffer {
  const payload = Buffer.concat([Buffer.from([MSG.KEXINIT]), randomBytes(16), u32(5000), Buffer.from('curve25519-sha256')]);
  return plain(payload);
}

function serve(socket: Socket, mode: SshServerMode, privateKey: KeyObject, hostKey: Buffer): void {
  socket.on('error', () => undefined);
  const writer = new PacketWriter();
  const reader = new PacketReader();
  const lists = serverLists(mode);
  const serverIdent = Buffer.from(SERVER_IDENT, 'latin1');
  const serverKexInit = buildKexInit(randomBytes(16), lists);
  const send = (payload: Buffer): void => {
    if (!socket.destroyed) socket.write(writer.encode(payload));
  };
  let clientIdent: Buffer | undefined;
  let pending = Buffer.alloc(0);
  let clientKexInit = Buffer.alloc(0);
  let chosen: Negotiated | undefined;
  let keys: TransportKeys | undefined;

  socket.write(`${SERVER_IDENT}\r\n`);
  switch (mode) {
    case 'length-zero':
      socket.write(Buffer.concat([u32(0), Buffer.alloc(12)]));
      return;
    case 'length-max':
      socket.write(Buffer.concat([u32(0xffffffff), Buffer.alloc(12)]));
      return;
    case 'garbage':
      socket.write(randomBytes(64));
      return;
    case 'truncated-namelist':
      socket.write(truncatedKexInit());
      return;
    case 'close-mid-packet': {
      const whole = writer.encode(serverKexInit);
      socket.end(whole.subarray(0, Math.floor(whole.length / 2)));
      return;
    }
    case 'stall':
      // The banner, and then nothing: the bytes stop after the client's KEXINIT.
      socket.resume();
      return;
    default:
      send(serverKexInit);
  }

  const onPacket = (p: Buffer): void => {
    const r = new SshReader(p);
    switch (r.byte()) {
      case MSG.KEXINIT: {
        clientKexInit = Buffer.from(p);
        if (mode === 'close-after-kexinit') return void socket.end();
        if (mode === 'reset-after-kexinit') return void socket.resetAndDestroy();
        const result = negotiate(parseKexInit(p).lists, lists, isAeadCipher);
        if (!result.ok) return void socket.end();
        chosen = result.chosen;
        return;
      }
      case MSG.KEX_INIT: {
        if (!chosen || !clientIdent) return;
        const encoding = startKeyAgreement(chosen.kex)?.encoding ?? 'string';
        const clientPublic = parseKexInitRequest(p, encoding);
        const answer = answerKeyAgreement(chosen.kex, clientPublic);
        if (!answer) return void socket.end();
        const h = exchangeHash(answer.hash, {
          clientIdent,
          serverIdent,
          clientKexInit,
          serverKexInit,
          hostKey,
          clientPublic,
          serverPublic: answer.serverPublic,
          encoding: answer.encoding,
          secret: answer.secret,
          secretEncoding: answer.secretEncoding,
        });
        keys = deriveTransportKeys(answer.hash, answer.secret, h, h, chosen, answer.secretEncoding);
        const signed = mode === 'forged-signature' ? Buffer.concat([h, Buffer.from('forged')]) : h;
        const signature = new SshWriter().string('ssh-ed25519').string(sign(null, signed, privateKey)).toBuffer();
        send(buildKexReply({ hostKey, serverPublic: answer.serverPublic, signature }, answer.encoding));
        send(Buffer.from([MSG.NEWKEYS]));
        writer.setSealer(createSealer(chosen.cipherStoC, chosen.macStoC, keys.sToC));
        return;
      }
      case MSG.NEWKEYS:
        if (chosen && keys) reader.setOpener(createOpener(chosen.cipherCtoS, chosen.macCtoS, keys.cToS));
        return;
      case MSG.SERVICE_REQUEST:
        send(new SshWriter().byte(MSG.SERVICE_ACCEPT).string(r.text()).toBuffer());
        return;
      case MSG.USERAUTH_REQUEST:
        if (mode === 'post-auth-hang') send(Buffer.from([MSG.USERAUTH_SUCCESS]));
        else send(new SshWriter().byte(MSG.USERAUTH_FAILURE).nameList(['publickey']).bool(false).toBuffer());
        return;
      case MSG.DISCONNECT:
        socket.end();
        return;
      default:
        // Channel requests after a post-auth login, and anything else: never answered.
        return;
    }
  };

  socket.on('data', (chunk: Buffer) => {
    if (!clientIdent) {
      pending = Buffer.concat([pending, chunk]);
      const lf = pending.indexOf(0x0a);
      if (lf < 0) {
        if (pending.length > 1024) socket.destroy();
        return;
      }
      clientIdent = pending.subarray(0, lf > 0 && pending[lf - 1] === 0x0d ? lf - 1 : lf);
      chunk = pending.subarray(lf + 1);
    }
    reader.push(chunk);
    try {
      for (let p = reader.next(); p && !socket.destroyed; p = reader.next()) onPacket(p);
    } catch {
      socket.destroy();
    }
  });
}

export async function startSshServer(options: SshServerOptions): Promise<SshTestServer> {
  const privateKey = options.hostKey ?? generateKeyPairSync('ed25519').privateKey;
  const hostKeyBlob = ed25519Blob(privateKey);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    handle.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket, options.mode, privateKey, hostKeyBlob);
  });
  const port = await new Promise<number>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
  const handle: SshTestServer = {
    port,
    hostKeyBlob,
    knownHostsKey: `ssh-ed25519 ${hostKeyBlob.toString('base64')}`,
    connections: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  return handle;
}
