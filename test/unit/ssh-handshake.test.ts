// probeHandshake against loopback only: a real OpenSSH sshd restricted to each algorithm
// the probe implements (root), hostile fake peers (HTTP, TLS, floods, tarpits, resets),
// and a fake SSH server that runs a real key exchange from the server side to reach the
// paths sshd will not show (a `none` login accepted, a corrupted MAC, a stalled kex).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HandshakeEndKind, HandshakeObs, HandshakePhase } from '../../src/engine/observations.js';
import type { HandshakeOptions } from '../../src/engine/probes/ssh-handshake.js';
import { MAX_BYTES_IN, probeHandshake } from '../../src/engine/probes/ssh-handshake.js';
import type { KexInitLists, Negotiated } from '../../src/engine/probes/ssh-wire.js';
import { MSG, PacketReader, PacketWriter, SshReader, SshWriter, buildKexInit, negotiate, parseKexInit } from '../../src/engine/probes/ssh-wire.js';
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
import { buildKexReply, parseKexInitRequest } from '../support/ssh-kex-server.js';
import type { TransportKeys } from '../../src/engine/probes/ssh-kex.js';
import { testContext } from '../support/context.js';
import { keygen, sshKeygen, sshdUnavailable, startSshd } from '../support/openssh-server.js';

const LOOPBACK = '127.0.0.1';
/** Boundedness, not speed: a probe must resolve by its deadline plus this. */
const SLACK_MS = 750;
const USER = 'sshcheck-probe';

interface Timed {
  obs: HandshakeObs;
  elapsedMs: number;
  updates: HandshakeObs[];
}

async function run(port: number, deadlineMs = 5000, extra: Partial<HandshakeOptions> = {}): Promise<Timed> {
  const ctx = testContext(deadlineMs);
  const updates: HandshakeObs[] = [];
  const started = performance.now();
  const obs = await probeHandshake({ address: LOOPBACK, port, user: USER, ...extra }, ctx, (s) => updates.push(s));
  const elapsedMs = performance.now() - started;
  assert.ok(elapsedMs <= deadlineMs + SLACK_MS, `resolved after ${elapsedMs.toFixed(0)} ms, deadline ${deadlineMs} ms`);
  assert.equal(obs.state, 'done');
  assert.ok(obs.end, 'an end is always set');
  assert.ok(obs.bytesIn <= MAX_BYTES_IN + 128 * 1024, `read ${obs.bytesIn} bytes`);
  return { obs, elapsedMs, updates };
}

function assertEnd(obs: HandshakeObs, kind: HandshakeEndKind, phase?: HandshakePhase): void {
  assert.equal(obs.end?.kind, kind, `end: ${JSON.stringify(obs.end)}`);
  if (phase) assert.equal(obs.end?.phase, phase, `end: ${JSON.stringify(obs.end)}`);
}

function assertPrintable(text: string | undefined, max: number): void {
  assert.ok(text !== undefined);
  assert.ok(text.length <= max, `${text.length} > ${max}`);
  assert.match(text, /^[\x20-\x7e]*$/);
}

// ---------------------------------------------------------------------------------------
// Fake peers

interface Fake {
  port: number;
  connections: number;
  /** Resolves when the first accepted socket has closed (the probe let go of it). */
  firstClosed: Promise<void>;
  close(): Promise<void>;
}

async function fakeServer(onConnection: (socket: Socket) => void): Promise<Fake> {
  const sockets = new Set<Socket>();
  let markClosed: () => void = () => undefined;
  const firstClosed = new Promise<void>((resolve) => (markClosed = resolve));
  const fake: Fake = {
    port: 0,
    connections: 0,
    firstClosed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((socket) => {
    fake.connections++;
    if (fake.connections === 1) socket.on('close', markClosed);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // the probe destroys sockets; EPIPE/ECONNRESET are expected here
    onConnection(socket);
    // Keep reading even when the handler does not, or the probe's FIN would go unnoticed.
    socket.resume();
  });
  fake.port = await new Promise<number>((resolve) => server.listen(0, LOOPBACK, () => resolve((server.address() as AddressInfo).port)));
  return fake;
}

async function withFake<T>(onConnection: (socket: Socket) => void, fn: (fake: Fake) => Promise<T>): Promise<T> {
  const fake = await fakeServer(onConnection);
  try {
    return await fn(fake);
  } finally {
    await fake.close();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await new Promise<number>((resolve) => server.listen(0, LOOPBACK, () => resolve((server.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Unencrypted packets, as a server sends them before NEWKEYS. */
function plainPackets(...payloads: Buffer[]): Buffer {
  const w = new PacketWriter();
  return Buffer.concat(payloads.map((p) => w.encode(p)));
}

function disconnectPayload(code: number, description: string): Buffer {
  return new SshWriter().byte(MSG.DISCONNECT).uint32(code).string(description).string('').toBuffer();
}

/** Calls `onPacket` with each packet the client sends after its identification line. */
function readClientPackets(socket: Socket, onPacket: (payload: Buffer, ident: Buffer, reader: PacketReader) => void): void {
  const reader = new PacketReader();
  let ident: Buffer | undefined;
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    if (!ident) {
      pending = Buffer.concat([pending, chunk]);
      const lf = pending.indexOf(0x0a);
      if (lf < 0) return;
      ident = pending.subarray(0, lf > 0 && pending[lf - 1] === 0x0d ? lf - 1 : lf);
      chunk = pending.subarray(lf + 1);
    }
    reader.push(chunk);
    try {
      for (let p = reader.next(); p; p = reader.next()) onPacket(p, ident, reader);
    } catch {
      socket.destroy();
    }
  });
}

interface FakeSshOptions {
  lists?: Partial<KexInitLists>;
  /** Payloads sent after NEWKEYS, before SERVICE_ACCEPT. */
  beforeAccept?: Buffer[];
  auth?: 'success' | 'failure';
  corruptAccept?: boolean;
  /** Go silent instead of sending this message. */
  silentAt?: 'kex-reply' | 'newkeys';
  /** Sign something other than the exchange hash. */
  forge?: boolean;
}

const HOST_KEY = generateKeyPairSync('ed25519');
const HOST_KEY_RAW = Buffer.from(HOST_KEY.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');

interface FakeSshRecord {
  clientLists?: KexInitLists;
  clientDisconnect?: number;
  authRequest?: { user: string; service: string; method: string };
}

/**
 * A server side of the transport written with the probe's own codec: it checks behaviour
 * (what the probe does with each message), while the real sshd checks interoperability.
 */
function fakeSsh(options: FakeSshOptions, record: FakeSshRecord): (socket: Socket) => void {
  return (socket) => {
    const serverIdent = Buffer.from('SSH-2.0-FakeSSH_1.0');
    const serverLists: KexInitLists = { ...clientKexInitLists(), ...options.lists };
    const serverKexInit = buildKexInit(randomBytes(16), serverLists);
    const writer = new PacketWriter();
    const send = (payload: Buffer): boolean => socket.write(writer.encode(payload));
    let clientKexInit = Buffer.alloc(0);
    let chosen: Negotiated | undefined;
    let keys: TransportKeys | undefined;
    socket.write(Buffer.concat([serverIdent, Buffer.from('\r\n')]));
    send(serverKexInit);

    readClientPackets(socket, (p, clientIdent, reader) => {
      const r = new SshReader(p);
      switch (r.byte()) {
        case MSG.KEXINIT: {
          clientKexInit = Buffer.from(p);
          record.clientLists = parseKexInit(p).lists;
          const result = negotiate(record.clientLists, serverLists, isAeadCipher);
          if (!result.ok) return socket.end();
          chosen = result.chosen;
          return;
        }
        case MSG.KEX_INIT: {
          if (!chosen || options.silentAt === 'kex-reply') return;
          const encoding = startKeyAgreement(chosen.kex)?.encoding ?? 'string';
          const clientPublic = parseKexInitRequest(p, encoding);
          const agreement = answerKeyAgreement(chosen.kex, clientPublic);
          assert.ok(agreement);
          const secret = agreement.secret;
          const hostKey = new SshWriter().string('ssh-ed25519').string(HOST_KEY_RAW).toBuffer();
          const h = exchangeHash(agreement.hash, {
            clientIdent,
            serverIdent,
            clientKexInit,
            serverKexInit,
            hostKey,
            clientPublic,
            serverPublic: agreement.serverPublic,
            encoding: agreement.encoding,
            secret,
            secretEncoding: agreement.secretEncoding,
          });
          keys = deriveTransportKeys(agreement.hash, secret, h, h, chosen, agreement.secretEncoding);
          // A forged reply signs something else than H with the right key.
          const signed = options.forge ? Buffer.concat([h, Buffer.from([1])]) : h;
          const signature = new SshWriter().string('ssh-ed25519').string(sign(null, signed, HOST_KEY.privateKey)).toBuffer();
          send(buildKexReply({ hostKey, serverPublic: agreement.serverPublic, signature }, agreement.encoding));
          if (options.silentAt === 'newkeys') return;
          send(Buffer.from([MSG.NEWKEYS]));
          writer.setSealer(createSealer(chosen.cipherStoC, chosen.macStoC, keys.sToC));
          return;
        }
        case MSG.NEWKEYS:
          if (chosen && keys) reader.setOpener(createOpener(chosen.cipherCtoS, chosen.macCtoS, keys.cToS));
          return;
        case MSG.SERVICE_REQUEST: {
          for (const extra of options.beforeAccept ?? []) send(extra);
          const accept = writer.encode(new SshWriter().byte(MSG.SERVICE_ACCEPT).string('ssh-userauth').toBuffer());
          if (options.corruptAccept) accept[accept.length - 1] = (accept[accept.length - 1] ?? 0) ^ 0x01;
          socket.write(accept);
          return;
        }
        case MSG.USERAUTH_REQUEST: {
          record.authRequest = { user: r.text(), service: r.text(), method: r.text() };
          send(new SshWriter().byte(MSG.USERAUTH_BANNER).string('Authorized use only\r\n').string('').toBuffer());
          if (options.auth === 'success') send(Buffer.from([MSG.USERAUTH_SUCCESS]));
          else send(new SshWriter().byte(MSG.USERAUTH_FAILURE).nameList(['publickey', 'password']).bool(false).toBuffer());
          return;
        }
        case MSG.DISCONNECT:
          record.clientDisconnect = r.uint32();
          socket.end();
          return;
      }
    });
  };
}

// ---------------------------------------------------------------------------------------
// Hostile and broken peers

describe('probeHandshake against hostile and broken peers', () => {
  void it('a refused port: refused during connect', async () => {
    const port = await freePort();
    const { obs } = await run(port);
    assertEnd(obs, 'refused', 'connect');
    assert.equal(obs.tcp.outcome, 'refused');
    assert.equal(obs.tcp.errno, 'ECONNREFUSED');
    assert.equal(typeof obs.tcp.atMs, 'number');
  });

  void it('an HTTP server: not-ssh, with its status line as the sample', async () => {
    await withFake(
      (socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n')),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'not-ssh', 'banner');
        assert.match(obs.end?.detail ?? '', /HTTP/);
        assert.equal(obs.preBanner.sample[0], 'HTTP/1.1 400 Bad Request');
        assert.equal(obs.at.banner, undefined);
        assert.equal(obs.tcp.outcome, 'connected');
      },
    );
  });

  void it('TLS-looking bytes: not-ssh', async () => {
    await withFake(
      (socket) => socket.write(Buffer.from('160301002a0200002603030000000000', 'hex')),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'not-ssh', 'banner');
        assert.match(obs.end?.detail ?? '', /TLS/);
        await within(fake.firstClosed, 2000, 'the probe closing its socket');
      },
    );
  });

  void it('an endless stream of pre-banner lines: not-ssh after the line cap, socket released', async () => {
    await withFake(
      (socket) => {
        const pump = (): void => {
          while (!socket.destroyed && socket.write('Please hold, your call is important to us\r\n'));
          if (!socket.destroyed) socket.once('drain', pump);
        };
        pump();
      },
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'not-ssh', 'banner');
        assert.ok(obs.preBanner.lines <= 65);
        assert.ok(obs.preBanner.bytes <= 16 * 1024 + 1024);
        assert.equal(obs.preBanner.sample.length, 3);
        await within(fake.firstClosed, 2000, 'the probe closing its socket');
      },
    );
  });

  void it('a single 1 MB line: not-ssh without buffering it', async () => {
    await withFake(
      (socket) => socket.write(Buffer.alloc(1 << 20, 0x41)),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'not-ssh', 'banner');
        assert.match(obs.end?.detail ?? '', /longer than 1024/);
        assertPrintable(obs.preBanner.sample[0], 120);
      },
    );
  });

  void it('a 1 MB line that starts like an identification: protocol-error at 255 bytes', async () => {
    await withFake(
      (socket) => socket.write(Buffer.concat([Buffer.from('SSH-2.0-'), Buffer.alloc(1 << 20, 0x41)])),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'protocol-error', 'banner');
        assert.match(obs.end?.detail ?? '', /255/);
        assert.equal(obs.banner, undefined);
      },
    );
  });

  void it('binary bytes before any identification: not-ssh', async () => {
    await withFake(
      (socket) => socket.write(Buffer.from([0x00, 0x00, 0x00, 0x0c, 0x0a, 0x14, 0xff])),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'not-ssh', 'banner');
        assert.match(obs.end?.detail ?? '', /binary/);
      },
    );
  });

  void it('a hostile banner is stored sanitized and bounded, and the close after it is reported', async () => {
    const line = 'SSH-2.0-<!channel> @everyone [x](http://evil) \x1b[31mred\x1b[0m \u202eevil\u0007';
    await withFake(
      (socket) => socket.end(Buffer.from(`${line}\r\n`, 'utf8')),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'closed', 'kexinit');
        assert.equal(typeof obs.at.banner, 'number');
        assert.ok(obs.banner);
        assertPrintable(obs.banner.line, 255);
        assert.equal(obs.banner.software, '<!channel>');
        assert.equal(obs.banner.protoVersion, '2.0');
        assertPrintable(obs.banner.comments, 255);
        assert.ok(obs.banner.comments?.startsWith('@everyone [x](http://evil) ?[31mred'));
      },
    );
  });

  void it('lines before the identification are counted and sampled', async () => {
    await withFake(
      (socket) => socket.end('Welcome to the jump host\r\nNo control\r\nSSH-2.0-OpenSSH_9.9\r\n'),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'closed', 'kexinit');
        assert.equal(obs.preBanner.lines, 2);
        assert.deepEqual(obs.preBanner.sample, ['Welcome to the jump host', 'No control']);
        assert.equal(obs.banner?.software, 'OpenSSH_9.9');
      },
    );
  });

  void it('a close after only non-SSH lines: not-ssh', async () => {
    await withFake(
      (socket) => socket.end('Go away\r\n'),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'not-ssh', 'banner');
        assert.deepEqual(obs.preBanner.sample, ['Go away']);
      },
    );
  });

  void it('a close before the banner: closed', async () => {
    await withFake(
      (socket) => socket.once('data', () => socket.end()),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'closed', 'banner');
        assert.equal(obs.tcp.outcome, 'connected');
        assert.ok(obs.bytesOut >= 'SSH-2.0-sshcheck_0.1\r\n'.length);
      },
    );
  });

  void it('a reset before the banner: reset', async () => {
    await withFake(
      (socket) => socket.once('data', () => socket.resetAndDestroy()),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'reset', 'banner');
      },
    );
  });

  void it('a silent tarpit: aborted at the deadline, socket destroyed', async () => {
    await withFake(
      () => undefined,
      async (fake) => {
        const { obs, elapsedMs } = await run(fake.port, 300);
        assertEnd(obs, 'aborted', 'banner');
        assert.equal(obs.aborted, true);
        assert.ok(elapsedMs >= 250, `ended after ${elapsedMs} ms`);
        assert.match(obs.end?.detail ?? '', /deadline/);
        await within(fake.firstClosed, 2000, 'the probe closing its socket');
      },
    );
  });

  void it('a trickle of one byte every 50 ms: aborted at the deadline with what arrived', async () => {
    await withFake(
      (socket) => {
        const text = Buffer.from('SSH-2.0-slowloris_1.0\r\n');
        let i = 0;
        const timer = setInterval(() => {
          if (socket.destroyed) return clearInterval(timer);
          socket.write(text.subarray(i % text.length, (i % text.length) + 1));
          i++;
        }, 50);
        socket.on('close', () => clearInterval(timer));
      },
      async (fake) => {
        const { obs } = await run(fake.port, 400);
        assertEnd(obs, 'aborted', 'banner');
        assert.ok(obs.bytesIn >= 3 && obs.bytesIn <= 12, `bytesIn ${obs.bytesIn}`);
      },
    );
  });

  void it('a reset right after its KEXINIT: reset while waiting for the kex reply', async () => {
    await withFake(
      (socket) => {
        socket.write('SSH-2.0-OpenSSH_9.9\r\n');
        socket.write(plainPackets(buildKexInit(randomBytes(16), clientKexInitLists())));
        // Reset once the probe has answered the KEXINIT, so the phase is deterministic.
        readClientPackets(socket, (p) => {
          if (p[0] === MSG.KEX_INIT) socket.resetAndDestroy();
        });
      },
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'reset', 'kex-reply');
        assert.equal(typeof obs.at.kexinit, 'number');
        assert.equal(obs.negotiated?.kex, 'curve25519-sha256');
      },
    );
  });

  void it('a DISCONNECT with a hostile description: disconnect, reason named, text sanitized', async () => {
    const description = `<!here> \x1b]8;;http://evil\x07click\x1b]8;;\x07 ${'A'.repeat(10_000)}`;
    await withFake(
      (socket) => socket.end(Buffer.concat([Buffer.from('SSH-2.0-x\r\n'), plainPackets(disconnectPayload(12, description))])),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'disconnect', 'kexinit');
        assertPrintable(obs.end?.detail, 1200);
        assert.match(obs.end?.detail ?? '', /reason 12 \(too many connections\): "<!here> \?\]8;;http:\/\/evil\?click/);
      },
    );
  });

  void it('an absurd packet length: protocol-error', async () => {
    await withFake(
      (socket) => socket.write(Buffer.concat([Buffer.from('SSH-2.0-x\r\n'), Buffer.from('ffffffff0a14', 'hex')])),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'protocol-error', 'kexinit');
        assert.match(obs.end?.detail ?? '', /bad packet length/);
      },
    );
  });

  void it('an unexpected message instead of KEXINIT: protocol-error', async () => {
    await withFake(
      (socket) => socket.write(Buffer.concat([Buffer.from('SSH-2.0-x\r\n'), plainPackets(Buffer.from([MSG.IGNORE, 0, 0, 0, 0]), Buffer.from([MSG.SERVICE_ACCEPT]))])),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'protocol-error', 'kexinit');
        assert.match(obs.end?.detail ?? '', /unexpected message 6/);
      },
    );
  });

  void it('an SSH-1 only server: unsupported', async () => {
    await withFake(
      (socket) => socket.write('SSH-1.5-OldSSH\n'),
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'unsupported', 'banner');
        assert.equal(obs.banner?.protoVersion, '1.5');
      },
    );
  });

  void it('a flood of IGNORE packets: protocol-error at the byte cap', async () => {
    await withFake(
      (socket) => {
        socket.write('SSH-2.0-x\r\n');
        const packet = plainPackets(new SshWriter().byte(MSG.IGNORE).string(Buffer.alloc(30_000)).toBuffer());
        const pump = (): void => {
          while (!socket.destroyed && socket.write(packet));
          if (!socket.destroyed) socket.once('drain', pump);
        };
        pump();
      },
      async (fake) => {
        const { obs } = await run(fake.port);
        assertEnd(obs, 'protocol-error', 'kexinit');
        assert.match(obs.end?.detail ?? '', /more than 262144 bytes/);
      },
    );
  });

  void it('a server offering only ssh-rsa host keys: kex-failed naming the list', async () => {
    const record: FakeSshRecord = {};
    await withFake(fakeSsh({ lists: { hostKey: ['ssh-rsa', 'ssh-dss'] } }, record), async (fake) => {
      const { obs } = await run(fake.port);
      assertEnd(obs, 'kex-failed', 'kexinit');
      assert.match(obs.end?.detail ?? '', /host key type \(server_host_key_algorithms\); their offer: ssh-rsa,ssh-dss/);
      assert.deepEqual(obs.server?.hostKey, ['ssh-rsa', 'ssh-dss']);
      assert.equal(obs.negotiated, undefined);
    });
  });

  void it('hostile algorithm names are stored sanitized and bounded', async () => {
    const evil = [`<!channel>\x1b[2J${'x'.repeat(500)}`, ...Array.from({ length: 200 }, (_, i) => `alg-${i}`)];
    await withFake(fakeSsh({ lists: { kex: evil } }, {}), async (fake) => {
      const { obs } = await run(fake.port);
      assertEnd(obs, 'kex-failed', 'kexinit');
      assert.ok(obs.server);
      assert.ok(obs.server.kex.length <= 64);
      for (const name of obs.server.kex) assertPrintable(name, 64);
      assertPrintable(obs.end?.detail, 1200);
    });
  });

  void it('abort mid-wait: aborted promptly, socket destroyed', async () => {
    await withFake(
      () => undefined,
      async (fake) => {
        const ctx = testContext(10_000);
        const started = performance.now();
        setTimeout(() => ctx.abort(), 100);
        const obs = await probeHandshake({ address: LOOPBACK, port: fake.port, user: USER }, ctx);
        assert.ok(performance.now() - started < 100 + SLACK_MS);
        assertEnd(obs, 'aborted', 'banner');
        assert.equal(obs.aborted, true);
        assert.match(obs.end?.detail ?? '', /stopped by the run/);
        await within(fake.firstClosed, 2000, 'the probe closing its socket');
      },
    );
  });

  void it('an already aborted run or a spent deadline: aborted without connecting', async () => {
    await withFake(
      () => undefined,
      async (fake) => {
        const ctx = testContext(5000);
        ctx.abort();
        const aborted = await probeHandshake({ address: LOOPBACK, port: fake.port, user: USER }, ctx);
        assertEnd(aborted, 'aborted', 'connect');
        const spent = await probeHandshake({ address: LOOPBACK, port: fake.port, user: USER }, testContext(0));
        assertEnd(spent, 'aborted', 'connect');
        assert.equal(fake.connections, 0);
      },
    );
  });

  void it('a throwing update listener cannot break the probe', async () => {
    await withFake(
      (socket) => socket.end('SSH-2.0-x\r\n'),
      async (fake) => {
        const obs = await probeHandshake({ address: LOOPBACK, port: fake.port, user: USER }, testContext(3000), () => {
          throw new Error('listener bug');
        });
        assertEnd(obs, 'closed', 'kexinit');
      },
    );
  });
});

// ---------------------------------------------------------------------------------------
// A fake server that completes the key exchange

describe('probeHandshake against a fake SSH server (real key exchange)', () => {
  void it('skips IGNORE, DEBUG, EXT_INFO and the auth banner, and reports an accepted none login', async () => {
    const record: FakeSshRecord = {};
    const extras = [
      Buffer.from([MSG.IGNORE, 0, 0, 0, 0]),
      new SshWriter().byte(MSG.DEBUG).bool(false).string('debug').string('').toBuffer(),
      new SshWriter().byte(MSG.EXT_INFO).uint32(1).string('server-sig-algs').string('ssh-ed25519').toBuffer(),
    ];
    const lists = { cipherCtoS: ['aes256-gcm@openssh.com'], cipherStoC: ['aes128-gcm@openssh.com'] };
    await withFake(fakeSsh({ lists, beforeAccept: extras, auth: 'success' }, record), async (fake) => {
      const { obs } = await run(fake.port);
      assertEnd(obs, 'complete', 'complete');
      assert.equal(obs.noneAccepted, true);
      assert.equal(obs.authMethods, undefined);
      assert.equal(obs.negotiated?.macCtoS, '<implicit>');
      assert.equal(obs.hostKey?.type, 'ssh-ed25519');
      await within(fake.firstClosed, 2000, 'the connection closing');
      assert.equal(record.clientDisconnect, 11);
      assert.deepEqual(record.authRequest, { user: USER, service: 'ssh-connection', method: 'none' });
    });
  });

  void it('offers exactly the client lists and no protocol extensions', async () => {
    const record: FakeSshRecord = {};
    await withFake(fakeSsh({}, record), async (fake) => {
      const { obs } = await run(fake.port);
      assertEnd(obs, 'complete');
      assert.deepEqual(obs.authMethods, ['publickey', 'password']);
      assert.deepEqual(record.clientLists, clientKexInitLists());
    });
  });

  void it('a corrupted MAC after NEWKEYS: protocol-error while waiting for SERVICE_ACCEPT', async () => {
    const lists = { cipherCtoS: ['aes128-ctr'], cipherStoC: ['aes128-ctr'], macStoC: ['hmac-sha2-256'] };
    await withFake(fakeSsh({ lists, corruptAccept: true }, {}), async (fake) => {
      const { obs } = await run(fake.port);
      assertEnd(obs, 'protocol-error', 'service');
      assert.match(obs.end?.detail ?? '', /MAC/);
      assert.equal(typeof obs.at.newkeys, 'number');
    });
  });

  void it('mlkem768x25519-sha256 with chacha20-poly1305: the post-quantum hybrid exchange completes', async () => {
    const lists = { kex: ['mlkem768x25519-sha256'], cipherCtoS: ['chacha20-poly1305@openssh.com'], cipherStoC: ['chacha20-poly1305@openssh.com'] };
    await withFake(fakeSsh({ lists }, {}), async (fake) => {
      const { obs } = await run(fake.port);
      assertEnd(obs, 'complete', 'complete');
      assert.equal(obs.negotiated?.kex, 'mlkem768x25519-sha256');
      assert.equal(obs.negotiated?.cipherStoC, 'chacha20-poly1305@openssh.com');
      assert.deepEqual(obs.authMethods, ['publickey', 'password']);
    });
  });

  void it('a forged host-key signature: bad-signature after the reply, no NEWKEYS, no auth request', async () => {
    const record: FakeSshRecord = {};
    await withFake(fakeSsh({ forge: true }, record), async (fake) => {
      const { obs } = await run(fake.port);
      assertEnd(obs, 'bad-signature', 'kex-reply');
      assert.match(obs.end?.detail ?? '', /does not verify/);
      assert.equal(obs.at.newkeys, undefined);
      assert.equal(obs.hostKey?.type, 'ssh-ed25519');
      assert.match(obs.hostKey?.sha256 ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
      assert.equal(record.authRequest, undefined);
    });
  });

  void it('a kex reply that never comes: aborted at the deadline while waiting for it', async () => {
    await withFake(fakeSsh({ silentAt: 'kex-reply' }, {}), async (fake) => {
      const { obs } = await run(fake.port, 400);
      assertEnd(obs, 'aborted', 'kex-reply');
      assert.equal(typeof obs.at.kexinit, 'number');
      assert.equal(obs.at['kex-reply'], undefined);
    });
  });

  void it('a NEWKEYS that never comes: aborted at the deadline while waiting for it', async () => {
    await withFake(fakeSsh({ silentAt: 'newkeys' }, {}), async (fake) => {
      const { obs } = await run(fake.port, 400);
      assertEnd(obs, 'aborted', 'newkeys');
      assert.equal(typeof obs.at['kex-reply'], 'number');
      assert.equal(obs.hostKey?.type, 'ssh-ed25519');
    });
  });
});

// ---------------------------------------------------------------------------------------
// A real OpenSSH sshd on loopback

let dir = '';

function fingerprint(pubFile: string): string {
  const out = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile], { encoding: 'utf8' }).stdout;
  const match = /(SHA256:\S+)/.exec(out);
  assert.ok(match?.[1], `no fingerprint in ${out}`);
  return match[1];
}

async function withSshd(settings: Record<string, string>, hostKeys: string[], fn: (port: number) => Promise<void>): Promise<void> {
  const sshd = await startSshd({ settings: Object.entries(settings).map(([k, v]) => `${k} ${v}`), hostKeys: hostKeys.map((k) => join(dir, `host_${k}`)) });
  try {
    await fn(sshd.port);
  } finally {
    await sshd.stop();
  }
}

function assertHealthy(obs: HandshakeObs): void {
  assertEnd(obs, 'complete', 'complete');
  const times = [obs.startedMs, obs.tcp.atMs, obs.at.banner, obs.at.kexinit, obs.at['kex-reply'], obs.at.newkeys, obs.at.service, obs.at['auth-methods'], obs.end?.atMs];
  for (const [i, t] of times.entries()) assert.equal(typeof t, 'number', `time ${i} missing`);
  const numbers = times as number[];
  for (let i = 1; i < numbers.length; i++) assert.ok((numbers[i] ?? 0) >= (numbers[i - 1] ?? 0), `times out of order: ${numbers.join(', ')}`);
  assert.ok(obs.authMethods && obs.authMethods.length > 0);
  assert.equal(obs.banner?.protoVersion, '2.0');
  assert.match(obs.banner?.software ?? '', /^OpenSSH_/);
}

const skipReason = sshdUnavailable();

describe('probeHandshake against a real OpenSSH sshd on 127.0.0.1', { skip: skipReason ?? false }, () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sshcheck-sshd-keys-'));
    keygen(join(dir, 'host_ed25519'));
    for (const bits of [256, 384, 521]) keygen(join(dir, `host_ecdsa${bits}`), { type: 'ecdsa', bits });
    keygen(join(dir, 'host_rsa'), { type: 'rsa', bits: 2048 });
    keygen(join(dir, 'ca'));
    sshKeygen(['-s', join(dir, 'ca'), '-I', 'sshcheck-test-host', '-h', '-n', LOOPBACK, join(dir, 'host_ed25519.pub')]);
    writeFileSync(join(dir, 'banner.txt'), 'Authorized use only. <!channel>\n');
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  void it('the default configuration: complete, timings ordered, snapshots copied', async (t) => {
    await withSshd({}, ['ed25519'], async (port) => {
      await run(port); // warm up: the first handshake in a process pays for JIT and crypto init
      const { obs, elapsedMs, updates } = await run(port);
      assertHealthy(obs);
      t.diagnostic(`healthy handshake: ${elapsedMs.toFixed(1)} ms wall, auth methods at ${obs.at['auth-methods']?.toFixed(1)} ms`);
      assert.deepEqual(obs.authMethods, ['publickey', 'password', 'keyboard-interactive']);
      assert.equal(obs.hostKey?.sha256, fingerprint(join(dir, 'host_ed25519.pub')));
      assert.equal(obs.negotiated?.kex, 'curve25519-sha256');
      assert.ok(obs.server?.kex.includes('curve25519-sha256'));

      const phases = updates.map((u) => Object.keys(u.at).length);
      for (let i = 1; i < phases.length; i++) assert.ok((phases[i] ?? 0) >= (phases[i - 1] ?? 0));
      assert.ok(updates.length >= 7, `${updates.length} updates`);
      assert.ok(updates.slice(0, -1).every((u) => u.state === 'running'));
      assert.deepEqual(updates.at(-1), obs);
      const first = updates[0];
      assert.ok(first);
      first.at.banner = -1;
      assert.notEqual(updates.at(-1)?.at.banner, -1, 'snapshots must be copies');
    });
  });

  // The Debian sshd may be older than a method the probe speaks (mlkem768x25519 is 9.9+).
  const sshdKex = new Set(spawnSync('ssh', ['-Q', 'kex'], { encoding: 'utf8' }).stdout.split('\n'));
  for (const kex of clientKexInitLists().kex) {
    const missing = sshdKex.has(kex) ? false : `this OpenSSH does not speak ${kex} (the fake server tests it)`;
    void it(`kex ${kex}`, { skip: missing }, async () => {
      await withSshd({ KexAlgorithms: kex }, ['ed25519'], async (port) => {
        const { obs } = await run(port);
        assertHealthy(obs);
        assert.equal(obs.negotiated?.kex, kex);
      });
    });
  }

  for (const cipher of ['aes128-ctr', 'aes192-ctr', 'aes256-ctr']) {
    for (const mac of ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha1-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512', 'hmac-sha1']) {
      void it(`cipher ${cipher} with MAC ${mac}`, async () => {
        await withSshd({ Ciphers: cipher, MACs: mac }, ['ed25519'], async (port) => {
          const { obs } = await run(port);
          assertHealthy(obs);
          assert.deepEqual([obs.negotiated?.cipherCtoS, obs.negotiated?.cipherStoC, obs.negotiated?.macCtoS, obs.negotiated?.macStoC], [cipher, cipher, mac, mac]);
        });
      });
    }
  }

  for (const cipher of ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com', 'aes256-gcm@openssh.com']) {
    void it(`cipher ${cipher} (MAC implicit)`, async () => {
      await withSshd({ Ciphers: cipher, MACs: 'umac-128@openssh.com' }, ['ed25519'], async (port) => {
        const { obs } = await run(port);
        assertHealthy(obs);
        assert.equal(obs.negotiated?.cipherStoC, cipher);
        assert.equal(obs.negotiated?.macStoC, '<implicit>');
      });
    });
  }

  const hostKeyCases: Array<[string, string, string, Record<string, string>]> = [
    ['ed25519', 'ssh-ed25519', 'ssh-ed25519', {}],
    ['ecdsa256', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256', {}],
    ['ecdsa384', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384', {}],
    ['ecdsa521', 'ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp521', {}],
    ['rsa', 'rsa-sha2-512', 'ssh-rsa', {}],
    ['rsa', 'rsa-sha2-256', 'ssh-rsa', { HostKeyAlgorithms: 'rsa-sha2-256' }],
  ];
  for (const [key, algorithm, type, settings] of hostKeyCases) {
    void it(`host key ${key} (${algorithm})`, async () => {
      await withSshd(settings, [key], async (port) => {
        const { obs } = await run(port);
        assertHealthy(obs);
        assert.equal(obs.negotiated?.hostKey, algorithm);
        assert.equal(obs.hostKey?.type, type);
        assert.equal(obs.hostKey?.sha256, fingerprint(join(dir, `host_${key}.pub`)));
      });
    });
  }

  void it('a host certificate: recorded with the fingerprint of the certified key', async () => {
    await withSshd({ HostCertificate: join(dir, 'host_ed25519-cert.pub') }, ['ed25519'], async (port) => {
      const { obs } = await run(port);
      assertHealthy(obs);
      assert.equal(obs.negotiated?.hostKey, 'ssh-ed25519-cert-v01@openssh.com');
      assert.equal(obs.hostKey?.type, 'ssh-ed25519-cert-v01@openssh.com');
      assert.equal(obs.hostKey?.sha256, fingerprint(join(dir, 'host_ed25519.pub')));
    });
  });

  void it('auth methods follow the configuration', async () => {
    await withSshd({ AuthenticationMethods: 'publickey' }, ['ed25519'], async (port) => {
      assert.deepEqual((await run(port)).obs.authMethods, ['publickey']);
    });
    await withSshd({ PasswordAuthentication: 'no', KbdInteractiveAuthentication: 'no' }, ['ed25519'], async (port) => {
      assert.deepEqual((await run(port)).obs.authMethods, ['publickey']);
    });
    await withSshd({ AuthenticationMethods: 'publickey,password publickey,keyboard-interactive' }, ['ed25519'], async (port) => {
      assert.deepEqual((await run(port)).obs.authMethods, ['publickey']);
    });
  });

  void it('a pre-auth Banner is skipped', async () => {
    await withSshd({ Banner: join(dir, 'banner.txt') }, ['ed25519'], async (port) => {
      assertHealthy((await run(port)).obs);
    });
  });

  const failCases: Array<[string, Record<string, string>, string[], RegExp]> = [
    ['KexAlgorithms diffie-hellman-group1-sha1', { KexAlgorithms: 'diffie-hellman-group1-sha1' }, ['ed25519'], /kex_algorithms\); their offer: diffie-hellman-group1-sha1/],
    ['KexAlgorithms diffie-hellman-group14-sha1', { KexAlgorithms: 'diffie-hellman-group14-sha1' }, ['ed25519'], /kex_algorithms\); their offer: diffie-hellman-group14-sha1/],
    ['HostKeyAlgorithms ssh-rsa', { HostKeyAlgorithms: 'ssh-rsa', PubkeyAcceptedAlgorithms: '+ssh-rsa' }, ['rsa'], /server_host_key_algorithms\); their offer: ssh-rsa; our offer: ssh-ed25519-cert-v01@openssh.com,/],
    ['MACs umac-64@openssh.com', { Ciphers: 'aes128-ctr', MACs: 'umac-64@openssh.com' }, ['ed25519'], /mac_algorithms_client_to_server\).*would match umac-64@openssh.com/],
    ['KexAlgorithms sntrup761x25519-sha512@openssh.com', { KexAlgorithms: 'sntrup761x25519-sha512@openssh.com' }, ['ed25519'], /kex_algorithms\).*would match sntrup761x25519-sha512@openssh.com/],
  ];
  for (const [label, settings, keys, detail] of failCases) {
    void it(`a server restricted to ${label}: kex-failed naming the list`, async () => {
      await withSshd(settings, keys, async (port) => {
        const { obs } = await run(port);
        assertEnd(obs, 'kex-failed', 'kexinit');
        assert.match(obs.end?.detail ?? '', detail);
        assert.equal(typeof obs.at.kexinit, 'number');
        assert.equal(obs.at['kex-reply'], undefined);
      });
    });
  }
});
