// The SSH codec and transport crypto as pure functions: data types, framing (plain and
// protected), KEXINIT, negotiation, identification scanning, and the key agreement
// primitives, including what hostile peers send.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, getDiffieHellman } from 'node:crypto';
import type { KexInitLists, Negotiated, ScanResult } from '../../src/engine/probes/ssh-wire.js';
import {
  IMPLICIT_MAC,
  IdentScanner,
  MAX_PACKET_LENGTH,
  MSG,
  PacketReader,
  PacketWriter,
  SshReader,
  SshWriter,
  WireError,
  buildKexInit,
  chooseAlgorithm,
  hexPreview,
  isSsh2Version,
  mpintBytes,
  negotiate,
  paddingLength,
  parseIdentification,
  parseKexInit,
  sanitizeText,
} from '../../src/engine/probes/ssh-wire.js';
import {
  OPENSSH_ONLY,
  answerKeyAgreement,
  buildKexInitRequest,
  clientKexInitLists,
  createOpener,
  createSealer,
  deriveKey,
  deriveTransportKeys,
  exchangeHash,
  hostKeyInfo,
  isAeadCipher,
  parseKexReply,
  startKeyAgreement,
  unimplementedChoice,
} from '../../src/engine/probes/ssh-kex.js';
import { buildKexReply, parseKexInitRequest } from '../support/ssh-kex-server.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function lists(partial: Partial<KexInitLists> = {}): KexInitLists {
  return { ...clientKexInitLists(), ...partial };
}

describe('sanitizeText', () => {
  void it('replaces control and non-ASCII characters', () => {
    assert.equal(sanitizeText('a\x1b[31mb\u202ec\u0000d\u00e9', 100), 'a?[31mb?c?d?');
  });

  void it('caps the length and marks the cut', () => {
    const out = sanitizeText('x'.repeat(1000), 20);
    assert.equal(out.length, 20);
    assert.ok(out.endsWith('...'));
  });

  void it('leaves printable ASCII alone, markup included (renderers escape)', () => {
    assert.equal(sanitizeText('<!channel> @everyone [x](http://evil)', 100), '<!channel> @everyone [x](http://evil)');
  });

  void it('bounds the work on huge inputs', () => {
    assert.equal(sanitizeText('\u0000'.repeat(5_000_000), 10).length, 10);
  });
});

describe('data types (RFC 4251 §5)', () => {
  void it('encodes the mpint examples of RFC 4251', () => {
    const enc = (h: string): string => new SshWriter().mpint(hex(h)).toBuffer().toString('hex');
    assert.equal(enc(''), '00000000');
    assert.equal(enc('00'), '00000000');
    assert.equal(enc('09a378f9b2e332a7'), '0000000809a378f9b2e332a7');
    assert.equal(enc('80'), '000000020080');
    assert.equal(enc('000080'), '000000020080');
  });

  void it('round-trips uint32, string, name-list, bool and mpint', () => {
    const buf = new SshWriter().uint32(0xdeadbeef).string('héllo').nameList(['a', 'b-c@x']).nameList([]).bool(true).mpint(hex('ff01')).toBuffer();
    const r = new SshReader(buf);
    assert.equal(r.uint32(), 0xdeadbeef);
    assert.equal(r.text(), 'héllo');
    assert.deepEqual(r.nameList(), ['a', 'b-c@x']);
    assert.deepEqual(r.nameList(), []);
    assert.equal(r.bool(), true);
    assert.deepEqual(r.mpint(), hex('ff01'));
    assert.equal(r.remaining, 0);
  });

  void it('rejects reads past the end, huge string lengths and negative mpints', () => {
    assert.throws(() => new SshReader(hex('0000')).uint32(), WireError);
    assert.throws(() => new SshReader(hex('ffffffff00')).string(), WireError);
    assert.throws(() => new SshReader(hex('00000005616263')).string(), WireError);
    assert.throws(() => new SshReader(hex('00000002edcc')).mpint(), /negative/);
  });

  void it('strips leading zeros from mpint bodies', () => {
    assert.deepEqual(mpintBytes(hex('0000007f')), hex('7f'));
    assert.deepEqual(mpintBytes(hex('00ff')), hex('00ff'));
    assert.deepEqual(new SshReader(hex('0000000300 00ff')).mpint(), hex('ff'));
  });
});

describe('binary packet framing (RFC 4253 §6)', () => {
  void it('pads to the block size with at least 4 bytes', () => {
    for (const [payload, block, clear] of [
      [1, 8, false],
      [3, 8, false],
      [10, 16, false],
      [11, 16, true],
      [0, 16, true],
      [27, 16, true],
    ] as const) {
      const pad = paddingLength(payload, block, clear);
      assert.ok(pad >= 4 && pad < 4 + Math.max(8, block), `pad ${pad}`);
      assert.equal(((clear ? 1 : 5) + payload + pad) % Math.max(8, block), 0);
    }
  });

  void it('round-trips plain packets, fed one byte at a time', () => {
    const w = new PacketWriter();
    const payloads = [Buffer.from([MSG.IGNORE, 1, 2, 3]), Buffer.alloc(1000, 7), Buffer.from([MSG.NEWKEYS])];
    const wire = Buffer.concat(payloads.map((p) => w.encode(p)));
    const r = new PacketReader();
    const out: Buffer[] = [];
    for (const byte of wire) {
      r.push(Buffer.from([byte]));
      for (let p = r.next(); p; p = r.next()) out.push(p);
    }
    assert.deepEqual(out, payloads);
  });

  void it('rejects bad packet lengths and paddings', () => {
    const packet = (length: number, pad: number, bodyBytes = 0): Buffer => {
      const b = Buffer.alloc(5 + bodyBytes);
      b.writeUInt32BE(length >>> 0, 0);
      b[4] = pad;
      return b;
    };
    const read = (b: Buffer): Buffer | undefined => {
      const r = new PacketReader();
      r.push(b);
      return r.next();
    };
    assert.throws(() => read(packet(0xffffffff, 4)), /bad packet length/);
    assert.throws(() => read(packet(MAX_PACKET_LENGTH + 4, 4)), /bad packet length/);
    assert.throws(() => read(packet(0, 4)), /bad packet length/);
    assert.throws(() => read(packet(13, 4, 20)), /multiple of the block size/);
    assert.throws(() => read(packet(12, 3, 12)), /below 4/);
    assert.throws(() => read(packet(12, 11, 12)), /no payload/);
    // A plausible length with too few bytes is simply incomplete.
    assert.equal(read(packet(1020, 4, 8)), undefined);
  });

  const cryptoCases: Array<[string, string]> = [];
  for (const cipher of ['aes128-ctr', 'aes192-ctr', 'aes256-ctr']) {
    for (const mac of ['hmac-sha2-256', 'hmac-sha2-512', 'hmac-sha1', 'hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha1-etm@openssh.com']) {
      cryptoCases.push([cipher, mac]);
    }
  }
  cryptoCases.push(['aes128-gcm@openssh.com', IMPLICIT_MAC], ['aes256-gcm@openssh.com', IMPLICIT_MAC]);

  for (const [cipher, mac] of cryptoCases) {
    void it(`round-trips protected packets with ${cipher} + ${mac}, and detects tampering`, () => {
      const secret = Buffer.alloc(32, 9);
      const h = createHash('sha256').update('h').digest();
      const keys = deriveTransportKeys('sha256', secret, h, h, { cipherCtoS: cipher, cipherStoC: cipher, macCtoS: mac, macStoC: mac });
      const wire = (): Buffer[] => {
        const w = new PacketWriter();
        w.encode(Buffer.from([MSG.KEXINIT])); // sequence numbers carry over from the plain packets
        w.setSealer(createSealer(cipher, mac, keys.cToS));
        return [Buffer.from([MSG.SERVICE_REQUEST, 1]), Buffer.alloc(3000, 0xab), Buffer.from([MSG.IGNORE])].map((p) => w.encode(p));
      };
      const reader = (): PacketReader => {
        const r = new PacketReader();
        r.push(new PacketWriter().encode(Buffer.from([MSG.KEXINIT])));
        assert.deepEqual(r.next(), Buffer.from([MSG.KEXINIT]));
        r.setOpener(createOpener(cipher, mac, keys.cToS));
        return r;
      };

      const r = reader();
      const packets = wire();
      r.push(Buffer.concat(packets));
      assert.deepEqual(r.next(), Buffer.from([MSG.SERVICE_REQUEST, 1]));
      assert.deepEqual(r.next(), Buffer.alloc(3000, 0xab));
      assert.deepEqual(r.next(), Buffer.from([MSG.IGNORE]));
      assert.equal(r.next(), undefined);

      const tampered = wire();
      const first = Buffer.from(tampered[0] ?? Buffer.alloc(0));
      first[first.length - 1] = (first[first.length - 1] ?? 0) ^ 1;
      const r2 = reader();
      r2.push(first);
      assert.throws(() => r2.next(), WireError);
    });
  }

  void it('switches keys between two packets that arrived in one chunk', () => {
    const secret = Buffer.alloc(32, 1);
    const h = Buffer.alloc(32, 2);
    const choice = { cipherCtoS: 'aes256-ctr', cipherStoC: 'aes256-ctr', macCtoS: 'hmac-sha2-512', macStoC: 'hmac-sha2-512' };
    const keys = deriveTransportKeys('sha512', secret, h, h, choice);
    const w = new PacketWriter();
    const newkeys = w.encode(Buffer.from([MSG.NEWKEYS]));
    w.setSealer(createSealer('aes256-ctr', 'hmac-sha2-512', keys.sToC));
    const accept = w.encode(Buffer.from([MSG.SERVICE_ACCEPT]));
    const r = new PacketReader();
    r.push(Buffer.concat([newkeys, accept]));
    assert.deepEqual(r.next(), Buffer.from([MSG.NEWKEYS]));
    r.setOpener(createOpener('aes256-ctr', 'hmac-sha2-512', keys.sToC));
    assert.deepEqual(r.next(), Buffer.from([MSG.SERVICE_ACCEPT]));
  });
});

describe('KEXINIT and negotiation (RFC 4253 §7.1)', () => {
  void it('round-trips a KEXINIT', () => {
    const cookie = Buffer.alloc(16, 0x5a);
    const payload = buildKexInit(cookie, clientKexInitLists());
    const parsed = parseKexInit(payload);
    assert.deepEqual(parsed.cookie, cookie);
    assert.deepEqual(parsed.lists, clientKexInitLists());
    assert.equal(parsed.firstKexPacketFollows, false);
  });

  void it('rejects a truncated KEXINIT and another message', () => {
    const payload = buildKexInit(Buffer.alloc(16), clientKexInitLists());
    assert.throws(() => parseKexInit(payload.subarray(0, 40)), WireError);
    assert.throws(() => parseKexInit(Buffer.from([MSG.NEWKEYS])), /not a KEXINIT/);
  });

  void it('picks the first client algorithm the server supports', () => {
    assert.equal(chooseAlgorithm(['a', 'b', 'c'], ['c', 'b']), 'b');
    assert.equal(chooseAlgorithm(['a'], ['b']), undefined);
    assert.equal(chooseAlgorithm([], ['b']), undefined);
    assert.equal(chooseAlgorithm(['a'], []), undefined);
  });

  void it('negotiates every list and names the one that fails', () => {
    const ok = negotiate(lists(), lists({ kex: ['ecdh-sha2-nistp384', 'curve25519-sha256'], cipherStoC: ['aes256-ctr'] }), isAeadCipher);
    assert.ok(ok.ok);
    assert.equal(ok.chosen.kex, 'curve25519-sha256');
    assert.equal(ok.chosen.cipherStoC, 'aes256-ctr');

    const bad = negotiate(lists(), lists({ hostKey: ['ssh-rsa', 'ssh-dss'] }), isAeadCipher);
    assert.equal(bad.ok, false);
    assert.ok(!bad.ok && bad.list === 'hostKey' && bad.server.join(',') === 'ssh-rsa,ssh-dss');

    const comp = negotiate(lists(), lists({ compStoC: ['zlib@openssh.com'] }), isAeadCipher);
    assert.ok(!comp.ok && comp.list === 'compStoC');
  });

  void it('does not need a common MAC when the cipher is an AEAD', () => {
    const server = lists({ cipherCtoS: ['aes256-gcm@openssh.com'], cipherStoC: ['aes128-ctr'], macCtoS: ['umac-64@openssh.com'], macStoC: ['hmac-sha1'] });
    const result = negotiate(lists(), server, isAeadCipher);
    assert.ok(result.ok);
    assert.equal(result.chosen.macCtoS, IMPLICIT_MAC);
    assert.equal(result.chosen.macStoC, 'hmac-sha1');
    const noMac = negotiate(lists(), { ...server, macStoC: ['umac-64@openssh.com'] }, isAeadCipher);
    assert.ok(!noMac.ok && noMac.list === 'macStoC');
  });
});

describe('the client offer', () => {
  const offer = clientKexInitLists();
  const all = [...offer.kex, ...offer.hostKey, ...offer.cipherCtoS, ...offer.macCtoS];

  void it('leaves out SHA-1 legacy, what is not implemented, and protocol extensions', () => {
    for (const name of ['ssh-rsa', 'diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1', 'sntrup761x25519-sha512@openssh.com', 'ext-info-c', 'kex-strict-c-v00@openssh.com']) {
      assert.ok(!all.includes(name), name);
    }
    for (const names of Object.values(OPENSSH_ONLY)) for (const name of names) assert.ok(!all.includes(name), name);
  });

  void it('implements every kex, cipher and MAC it offers', () => {
    for (const kex of offer.kex) assert.ok(startKeyAgreement(kex), kex);
    const base: Negotiated = { kex: 'curve25519-sha256', hostKey: 'ssh-ed25519', cipherCtoS: 'aes128-ctr', cipherStoC: 'aes128-ctr', macCtoS: 'hmac-sha1', macStoC: 'hmac-sha1', compCtoS: 'none', compStoC: 'none' };
    for (const kex of offer.kex) assert.equal(unimplementedChoice({ ...base, kex }), undefined);
    for (const c of offer.cipherCtoS) assert.equal(unimplementedChoice({ ...base, cipherCtoS: c, cipherStoC: c }), undefined);
    for (const m of offer.macCtoS) assert.equal(unimplementedChoice({ ...base, macCtoS: m, macStoC: m }), undefined);
    assert.deepEqual(unimplementedChoice({ ...base, cipherStoC: 'aes128-cbc' }), { list: 'cipherStoC', name: 'aes128-cbc' });
    assert.deepEqual(unimplementedChoice({ ...base, compCtoS: 'zlib' }), { list: 'compCtoS', name: 'zlib' });
  });

  void it('mirrors the order of an OpenSSH client', () => {
    assert.deepEqual(offer.kex.slice(0, 3), ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256']);
    assert.ok(offer.hostKey.indexOf('ssh-ed25519') < offer.hostKey.indexOf('rsa-sha2-512'));
    assert.ok(offer.hostKey.indexOf('rsa-sha2-512') < offer.hostKey.indexOf('rsa-sha2-256'));
    assert.deepEqual(offer.compCtoS, ['none']);
  });
});

describe('identification lines (RFC 4253 §4.2)', () => {
  void it('parses protocol, software and comments', () => {
    assert.deepEqual(parseIdentification('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10'), { protoVersion: '2.0', software: 'OpenSSH_9.2p1', comments: 'Debian-2+deb12u10' });
    assert.deepEqual(parseIdentification('SSH-2.0-dropbear_2022.83'), { protoVersion: '2.0', software: 'dropbear_2022.83' });
    assert.deepEqual(parseIdentification('SSH-1.99-Cisco-1.25'), { protoVersion: '1.99', software: 'Cisco-1.25' });
    assert.deepEqual(parseIdentification('SSH-2.0-x a b  c'), { protoVersion: '2.0', software: 'x', comments: 'a b  c' });
  });

  void it('rejects lines without the shape', () => {
    for (const line of ['SSH-', 'SSH-2.0', 'SSH--x', 'SSH-2.0-', 'SSH-2.0- comment', 'ssh-2.0-x', 'HTTP/1.1 200 OK']) {
      assert.equal(parseIdentification(line), undefined, line);
    }
  });

  void it('knows which versions carry SSH-2', () => {
    assert.ok(isSsh2Version('2.0'));
    assert.ok(isSsh2Version('1.99'));
    assert.ok(!isSsh2Version('1.5'));
    assert.ok(!isSsh2Version('3.0'));
  });
});

describe('IdentScanner', () => {
  const scanAll = (input: Buffer | string, chunk = Infinity): { result: ScanResult; scanner: IdentScanner } => {
    const scanner = new IdentScanner();
    const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input, 'latin1');
    let result: ScanResult = { kind: 'more' };
    for (let i = 0; i < bytes.length && result.kind === 'more'; i += Math.min(chunk, bytes.length)) {
      result = scanner.push(bytes.subarray(i, i + Math.min(chunk, bytes.length)));
    }
    return { result, scanner };
  };

  void it('finds the identification after other lines and returns the bytes after it', () => {
    for (const chunk of [1, 3, Infinity]) {
      const { result, scanner } = scanAll('Welcome\r\nto the host\nSSH-2.0-OpenSSH_9.6\r\n\x00\x00\x01\x2c\x0a\x14', chunk);
      assert.equal(result.kind, 'ident');
      assert.ok(result.kind === 'ident');
      assert.equal(result.raw.toString('latin1'), 'SSH-2.0-OpenSSH_9.6');
      if (chunk === Infinity) assert.deepEqual(result.rest, hex('0000012c0a14'));
      assert.equal(scanner.lines, 2);
      assert.equal(scanner.bytes, 'Welcome\r\nto the host\n'.length);
      assert.deepEqual(scanner.sample, ['Welcome', 'to the host']);
    }
  });

  void it('accepts LF-only identification lines and UTF-8 pre-banner lines', () => {
    const { result } = scanAll(Buffer.from('Grüße\nSSH-2.0-x\n', 'utf8'));
    assert.equal(result.kind, 'ident');
  });

  void it('calls TLS, HTTP, binary data and invalid UTF-8 not SSH', () => {
    assert.match(reason(scanAll(hex('160301002a0100')).result), /TLS/);
    assert.match(reason(scanAll(hex('15030100020246')).result), /TLS alert/);
    assert.match(reason(scanAll('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n').result), /HTTP/);
    assert.match(reason(scanAll(hex('0000001c0a')).result), /binary/);
    assert.match(reason(scanAll(Buffer.concat([Buffer.from('hello'), hex('ff fe'), Buffer.from('\n')])).result), /binary/);
    assert.match(reason(scanAll('hello\x1b[2Jworld').result), /binary/);
  });

  void it('stops endless lines, long lines and too many bytes', () => {
    const many = scanAll('line\r\n'.repeat(100));
    assert.match(reason(many.result), /more than 64 lines/);
    assert.equal(many.scanner.lines, 65);
    assert.equal(many.scanner.sample.length, 3);

    const longLine = scanAll('A'.repeat(1 << 20), 4096);
    assert.match(reason(longLine.result), /longer than 1024/);

    const bulky = scanAll(`${'B'.repeat(1000)}\n`.repeat(20));
    assert.match(reason(bulky.result), /more than 16384 bytes/);
  });

  void it('bounds the identification line at 255 bytes', () => {
    const ok = scanAll(`SSH-2.0-${'v'.repeat(245)}\r\n`);
    assert.equal(ok.result.kind, 'ident');
    const tooLong = scanAll(`SSH-2.0-${'v'.repeat(246)}\r\n`);
    assert.equal(tooLong.result.kind, 'bad-ident');
    const endless = scanAll(`SSH-2.0-${'v'.repeat(100_000)}`, 1000);
    assert.equal(endless.result.kind, 'bad-ident');
  });

  void it('keeps control characters of the identification line for sanitizing, not rejection', () => {
    const { result } = scanAll('SSH-2.0-evil\x1b[31m <!channel>\r\n');
    assert.ok(result.kind === 'ident');
    assert.equal(sanitizeText(result.raw.toString('latin1'), 255), 'SSH-2.0-evil?[31m <!channel>');
  });

  void it('sanitizes and bounds the sample', () => {
    const { scanner } = scanAll(Buffer.from(`${'\u00e9'.repeat(400)}\n\u202eabc\nthird\nfourth\n`, 'utf8'));
    assert.equal(scanner.sample.length, 3);
    assert.ok(scanner.sample.every((s) => s.length <= 120 && /^[\x20-\x7e]*$/.test(s)));
  });

  void it('tells what the end of the stream means', () => {
    assert.equal(new IdentScanner().finish().kind, 'closed');
    const lines = scanAll('Go away\r\n').scanner.finish();
    assert.equal(lines.kind, 'not-ssh');
    const partial = scanAll('no newline').scanner;
    assert.equal(partial.finish().kind, 'not-ssh');
    assert.deepEqual(partial.sample, ['no newline']);
    assert.equal(scanAll('SSH-2.0-cut').scanner.finish().kind, 'closed');
  });

  void it('previews binary as hex', () => {
    assert.equal(hexPreview(hex('16030100'), 3), '16 03 01');
  });
});

function reason(result: ScanResult): string {
  assert.ok(result.kind === 'not-ssh' || result.kind === 'bad-ident', `expected a verdict, got ${result.kind}`);
  return result.reason;
}

describe('key agreement', () => {
  for (const name of clientKexInitLists().kex) {
    void it(`${name}: both sides derive the same secret, and the messages round-trip`, () => {
      const client = startKeyAgreement(name);
      assert.ok(client);
      const init = parseKexInitRequest(buildKexInitRequest(client), client.encoding);
      assert.deepEqual(init, mpintOrRaw(client.publicKey, client.encoding));
      const server = answerKeyAgreement(name, init);
      assert.ok(server);
      assert.equal(server.secretEncoding, client.secretEncoding);
      const reply = parseKexReply(buildKexReply({ hostKey: Buffer.from('k'), serverPublic: server.serverPublic, signature: Buffer.from('s') }, server.encoding), client.encoding);
      assert.deepEqual(client.computeSecret(reply.serverPublic), server.secret);
    });
  }

  void it('rejects peer values that would weaken the secret', () => {
    const x = startKeyAgreement('curve25519-sha256');
    assert.ok(x);
    assert.throws(() => x.computeSecret(Buffer.alloc(31)), WireError);
    assert.throws(() => x.computeSecret(Buffer.alloc(32)), WireError); // a low-order point: all-zero secret

    const ec = startKeyAgreement('ecdh-sha2-nistp256');
    assert.ok(ec);
    assert.throws(() => ec.computeSecret(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)])), WireError);

    const dh = startKeyAgreement('diffie-hellman-group14-sha256');
    assert.ok(dh);
    const p = BigInt(`0x${getDiffieHellman('modp14').getPrime('hex')}`);
    for (const bad of [0n, 1n, p - 1n, p, p + 5n]) {
      const bytes = bad === 0n ? Buffer.alloc(0) : Buffer.from(bad.toString(16).padStart(Math.ceil(bad.toString(16).length / 2) * 2, '0'), 'hex');
      assert.throws(() => dh.computeSecret(bytes), WireError, bad.toString(16).slice(0, 8));
    }
  });

  void it('derives keys as RFC 4253 §7.2 specifies, extending beyond one hash', () => {
    const k = Buffer.from([0x80, 1]);
    const h = Buffer.alloc(32, 3);
    const session = Buffer.alloc(32, 4);
    const kEnc = new SshWriter().mpint(k).toBuffer();
    const k1 = createHash('sha256').update(kEnc).update(h).update('C').update(session).digest();
    const k2 = createHash('sha256').update(kEnc).update(h).update(k1).digest();
    assert.deepEqual(deriveKey('sha256', k, h, session, 'C', 16), k1.subarray(0, 16));
    assert.deepEqual(deriveKey('sha256', k, h, session, 'C', 64), Buffer.concat([k1, k2]));
  });

  void it('hashes DH public values as mpints and EC points as strings', () => {
    const base = {
      clientIdent: Buffer.from('SSH-2.0-a'),
      serverIdent: Buffer.from('SSH-2.0-b'),
      clientKexInit: Buffer.from([20]),
      serverKexInit: Buffer.from([20]),
      hostKey: Buffer.from('key'),
      clientPublic: hex('80'),
      serverPublic: hex('01'),
      secret: hex('02'),
    };
    const expected = (publics: Buffer): Buffer =>
      createHash('sha256')
        .update(new SshWriter().string(base.clientIdent).string(base.serverIdent).string(base.clientKexInit).string(base.serverKexInit).string(base.hostKey).raw(publics).mpint(base.secret).toBuffer())
        .digest();
    assert.deepEqual(exchangeHash('sha256', { ...base, encoding: 'mpint' }), expected(hex('000000020080 0000000101')));
    assert.deepEqual(exchangeHash('sha256', { ...base, encoding: 'string' }), expected(hex('0000000180 0000000101')));
  });
});

function mpintOrRaw(value: Buffer, encoding: 'mpint' | 'string'): Buffer {
  // What a reader gets back from an mpint: the magnitude without leading zeros.
  return encoding === 'mpint' ? new SshReader(new SshWriter().mpint(value).toBuffer()).mpint() : value;
}

describe('host key record', () => {
  void it('fingerprints like ssh-keygen -l: SHA256, base64 without padding', () => {
    const blob = new SshWriter().string('ssh-ed25519').string(Buffer.alloc(32, 1)).toBuffer();
    const info = hostKeyInfo(blob);
    assert.equal(info.type, 'ssh-ed25519');
    assert.equal(info.sha256, `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`);
    assert.ok(!info.sha256.endsWith('='));
  });

  void it('fingerprints a host certificate by the key it certifies', () => {
    const pk = Buffer.alloc(32, 7);
    const plain = new SshWriter().string('ssh-ed25519').string(pk).toBuffer();
    const cert = new SshWriter().string('ssh-ed25519-cert-v01@openssh.com').string(Buffer.alloc(32, 9)).string(pk).uint32(0).toBuffer();
    const info = hostKeyInfo(cert);
    assert.equal(info.type, 'ssh-ed25519-cert-v01@openssh.com');
    assert.equal(info.sha256, hostKeyInfo(plain).sha256);
  });

  void it('survives garbage and sanitizes the type', () => {
    assert.equal(hostKeyInfo(hex('ff')).type, 'unknown');
    assert.equal(hostKeyInfo(new SshWriter().string('evil\x1b[2J').toBuffer()).type, 'evil?[2J');
    assert.equal(hostKeyInfo(new SshWriter().string('ssh-rsa-cert-v01@openssh.com').string('nonce').toBuffer()).type, 'ssh-rsa-cert-v01@openssh.com');
  });
});
