// The SSH transport's wire format (RFC 4251 §5, RFC 4253 §4-7) as pure functions: data
// types, binary packet framing, KEXINIT, algorithm negotiation, and the identification
// exchange. Everything here parses bytes from a server we do not trust, so every read is
// bounds-checked and every failure is a WireError the probe can turn into an observation.
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { AlgorithmLists } from '../observations.js';

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

// ---------------------------------------------------------------------------------------
// Message numbers (RFC 4250 §4.1.2, RFC 8308 for EXT_INFO)

export const MSG = {
  DISCONNECT: 1,
  IGNORE: 2,
  UNIMPLEMENTED: 3,
  DEBUG: 4,
  SERVICE_REQUEST: 5,
  SERVICE_ACCEPT: 6,
  EXT_INFO: 7,
  KEXINIT: 20,
  NEWKEYS: 21,
  KEX_INIT: 30,
  KEX_REPLY: 31,
  USERAUTH_REQUEST: 50,
  USERAUTH_FAILURE: 51,
  USERAUTH_SUCCESS: 52,
  USERAUTH_BANNER: 53,
} as const;

export const DISCONNECT_BY_APPLICATION = 11;

const DISCONNECT_REASONS: Readonly<Record<number, string>> = {
  1: 'host not allowed to connect',
  2: 'protocol error',
  3: 'key exchange failed',
  4: 'reserved',
  5: 'MAC error',
  6: 'compression error',
  7: 'service not available',
  8: 'protocol version not supported',
  9: 'host key not verifiable',
  10: 'connection lost',
  11: 'by application',
  12: 'too many connections',
  13: 'auth cancelled by user',
  14: 'no more auth methods available',
  15: 'illegal user name',
};

export function disconnectReasonName(code: number): string {
  return DISCONNECT_REASONS[code] ?? 'unknown reason';
}

// ---------------------------------------------------------------------------------------
// Sanitizing untrusted text

/**
 * Makes server-sent text safe to store: every character outside printable ASCII becomes
 * '?', so terminal escapes, bidi overrides and NULs cannot reach a report, and the result
 * is capped at `max` characters. Escaping for a chat's markup is the renderers' job.
 */
export function sanitizeText(text: string, max: number): string {
  const limit = Math.max(3, max);
  // Cut before replacing so a huge input costs no more than `limit` characters of work.
  const head = text.length > limit ? text.slice(0, limit) : text;
  const clean = head.replace(/[^\x20-\x7e]/g, '?');
  return text.length > limit ? `${clean.slice(0, limit - 3)}...` : clean;
}

/** Hex of the first bytes, for describing binary data without storing it. */
export function hexPreview(bytes: Uint8Array, count = 8): string {
  return Array.from(bytes.subarray(0, count), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

// ---------------------------------------------------------------------------------------
// Data types (RFC 4251 §5)

/** Accumulates SSH data types into one buffer. */
export class SshWriter {
  private readonly parts: Buffer[] = [];

  byte(value: number): this {
    this.parts.push(Buffer.from([value & 0xff]));
    return this;
  }

  bool(value: boolean): this {
    return this.byte(value ? 1 : 0);
  }

  uint32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0);
    this.parts.push(b);
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.parts.push(Buffer.from(bytes));
    return this;
  }

  string(value: Uint8Array | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    return this.uint32(bytes.length).raw(bytes);
  }

  nameList(names: readonly string[]): this {
    return this.string(names.join(','));
  }

  /** An unsigned big-endian magnitude, as a two's-complement mpint. */
  mpint(magnitude: Uint8Array): this {
    return this.string(mpintBytes(magnitude));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** The body of an mpint for a non-negative integer: minimal, with a 0x00 when the top bit is set. */
export function mpintBytes(magnitude: Uint8Array): Buffer {
  let start = 0;
  while (start < magnitude.length && magnitude[start] === 0) start++;
  const trimmed = Buffer.from(magnitude.subarray(start));
  if (trimmed.length === 0) return trimmed;
  return (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
}

/** Reads SSH data types from a buffer; any read past the end throws WireError. */
export class SshReader {
  private offset = 0;

  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  private take(n: number, what: string): Buffer {
    if (n < 0 || n > this.remaining) throw new WireError(`truncated ${what}`);
    const out = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  byte(): number {
    return this.take(1, 'byte')[0] ?? 0;
  }

  bool(): boolean {
    return this.byte() !== 0;
  }

  uint32(): number {
    return this.take(4, 'uint32').readUInt32BE(0);
  }

  bytes(n: number): Buffer {
    return this.take(n, 'bytes');
  }

  string(): Buffer {
    return this.take(this.uint32(), 'string');
  }

  /** Strings that are text by the RFC (names, descriptions): decoded as UTF-8, still untrusted. */
  text(): string {
    return this.string().toString('utf8');
  }

  nameList(): string[] {
    const s = this.string().toString('latin1');
    return s.length === 0 ? [] : s.split(',');
  }

  /** The magnitude of a non-negative mpint; negative values are a protocol error here. */
  mpint(): Buffer {
    const body = this.string();
    if (body.length > 0 && (body[0] ?? 0) & 0x80) throw new WireError('negative mpint');
    let start = 0;
    while (start < body.length && body[start] === 0) start++;
    return Buffer.from(body.subarray(start));
  }

  rest(): Buffer {
    return this.take(this.remaining, 'rest');
  }
}

// ---------------------------------------------------------------------------------------
// Binary packet protocol (RFC 4253 §6)

/** RFC 4253 §6.1 requires 35000; a bigger length is a broken or hostile peer. */
export const MAX_PACKET_LENGTH = 35000;
const MIN_PADDING = 4;

/** Protects outgoing packets for one direction (cipher + MAC, or nothing before NEWKEYS). */
export interface Sealer {
  readonly blockSize: number;
  /** packet_length stays in clear (EtM MACs and AEAD ciphers): padding then excludes it. */
  readonly lengthInClear: boolean;
  /** `packet` is uint32 length || padding_length || payload || padding; returns wire bytes. */
  seal(packet: Buffer, seq: number): Buffer;
}

/**
 * Unprotects incoming packets for one direction. Stateful ciphers (CTR) decrypt the
 * header once, so for each packet `packetLength` is called exactly once, then `open`.
 */
export interface Opener {
  readonly blockSize: number;
  readonly lengthInClear: boolean;
  /** Bytes after the packet that carry its MAC or AEAD tag. */
  readonly tagLength: number;
  /** Bytes needed before the length is known: 4 in clear, else one cipher block. */
  readonly headerLength: number;
  packetLength(header: Buffer, seq: number): number;
  /** `wire` is the whole packet with its tag; returns padding_length || payload || padding. Throws WireError on a bad MAC. */
  open(wire: Buffer, seq: number): Buffer;
}

/** No encryption and no MAC: the state before the first NEWKEYS. */
export function plainSealer(): Sealer {
  return { blockSize: 8, lengthInClear: false, seal: (packet) => packet };
}

export function plainOpener(): Opener {
  return {
    blockSize: 8,
    lengthInClear: false,
    tagLength: 0,
    headerLength: 4,
    packetLength: (header) => header.readUInt32BE(0),
    open: (wire) => wire.subarray(4),
  };
}

/** Padding that aligns the packet to the cipher's block (at least 8) with at least 4 bytes. */
export function paddingLength(payloadLength: number, blockSize: number, lengthInClear: boolean): number {
  const block = Math.max(8, blockSize);
  const covered = (lengthInClear ? 1 : 5) + payloadLength;
  let pad = block - (covered % block);
  if (pad < MIN_PADDING) pad += block;
  return pad;
}

/** Frames payloads into packets and numbers them (the MAC covers the sequence number). */
export class PacketWriter {
  private sealer: Sealer = plainSealer();
  private seq = 0;

  constructor(private readonly random: (n: number) => Buffer = randomBytes) {}

  /** Switches protection for the packets after this one (on sending NEWKEYS). */
  setSealer(sealer: Sealer): void {
    this.sealer = sealer;
  }

  encode(payload: Buffer): Buffer {
    const pad = paddingLength(payload.length, this.sealer.blockSize, this.sealer.lengthInClear);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(1 + payload.length + pad, 0);
    header[4] = pad;
    const packet = Buffer.concat([header, payload, this.random(pad)]);
    const wire = this.sealer.seal(packet, this.seq);
    this.seq = (this.seq + 1) >>> 0;
    return wire;
  }
}

/**
 * Reassembles packets from stream chunks. Decrypts lazily, one packet per `next()`, so the
 * caller can switch keys after NEWKEYS even when the next packet is already buffered.
 */
export class PacketReader {
  private opener: Opener = plainOpener();
  private seq = 0;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private pendingLength: number | undefined;

  setOpener(opener: Opener): void {
    this.opener = opener;
  }

  /** Bytes of a packet that has begun but not ended: non-zero when a stream stops mid-packet. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next payload, or undefined until more bytes arrive. Throws WireError on a bad packet. */
  next(): Buffer | undefined {
    const o = this.opener;
    if (this.pendingLength === undefined) {
      if (this.buffered < o.headerLength) return undefined;
      const length = o.packetLength(this.peek(o.headerLength), this.seq);
      checkPacketLength(length, o);
      this.pendingLength = length;
    }
    const total = 4 + this.pendingLength + o.tagLength;
    if (this.buffered < total) return undefined;
    const wire = this.consume(total);
    this.pendingLength = undefined;
    const body = o.open(wire, this.seq);
    this.seq = (this.seq + 1) >>> 0;
    return payloadOf(body);
  }

  private peek(n: number): Buffer {
    if ((this.chunks[0]?.length ?? 0) < n) this.compact();
    return (this.chunks[0] ?? Buffer.alloc(0)).subarray(0, n);
  }

  private consume(n: number): Buffer {
    if ((this.chunks[0]?.length ?? 0) < n) this.compact();
    const head = this.chunks[0] ?? Buffer.alloc(0);
    const out = head.subarray(0, n);
    const rest = head.subarray(n);
    if (rest.length > 0) this.chunks[0] = rest;
    else this.chunks.shift();
    this.buffered -= n;
    return out;
  }

  private compact(): void {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
  }
}

function checkPacketLength(length: number, o: Opener): void {
  if (length < 5 || length > MAX_PACKET_LENGTH) throw new WireError(`bad packet length ${length}`);
  const block = Math.max(8, o.blockSize);
  const aligned = o.lengthInClear ? length : 4 + length;
  if (aligned % block !== 0) throw new WireError(`packet length ${length} is not a multiple of the block size ${block}`);
}

function payloadOf(body: Buffer): Buffer {
  const pad = body[0] ?? 0;
  if (pad < MIN_PADDING) throw new WireError(`padding length ${pad} is below 4`);
  const payloadLength = body.length - 1 - pad;
  if (payloadLength < 1) throw new WireError(`padding length ${pad} leaves no payload`);
  return body.subarray(1, 1 + payloadLength);
}

// ---------------------------------------------------------------------------------------
// KEXINIT (RFC 4253 §7.1)

/** The ten name-lists of a KEXINIT, in wire order: the six the report keeps, and four more. */
export interface KexInitLists extends AlgorithmLists {
  compCtoS: string[];
  compStoC: string[];
  langCtoS: string[];
  langStoC: string[];
}

export interface KexInit {
  cookie: Buffer;
  lists: KexInitLists;
  firstKexPacketFollows: boolean;
}

const LIST_ORDER = [
  'kex',
  'hostKey',
  'cipherCtoS',
  'cipherStoC',
  'macCtoS',
  'macStoC',
  'compCtoS',
  'compStoC',
  'langCtoS',
  'langStoC',
] as const satisfies ReadonlyArray<keyof KexInitLists>;

export function buildKexInit(cookie: Buffer, lists: KexInitLists): Buffer {
  if (cookie.length !== 16) throw new WireError('KEXINIT cookie must be 16 bytes');
  const w = new SshWriter().byte(MSG.KEXINIT).raw(cookie);
  for (const key of LIST_ORDER) w.nameList(lists[key]);
  return w.bool(false).uint32(0).toBuffer();
}

export function parseKexInit(payload: Buffer): KexInit {
  const r = new SshReader(payload);
  if (r.byte() !== MSG.KEXINIT) throw new WireError('not a KEXINIT');
  const cookie = r.bytes(16);
  const lists = {} as KexInitLists;
  for (const key of LIST_ORDER) lists[key] = r.nameList();
  const firstKexPacketFollows = r.bool();
  r.uint32(); // reserved
  return { cookie, lists, firstKexPacketFollows };
}

// ---------------------------------------------------------------------------------------
// Negotiation (RFC 4253 §7.1)

/** The first algorithm on the client's list that the server also supports. */
export function chooseAlgorithm(client: readonly string[], server: readonly string[]): string | undefined {
  const offered = new Set(server);
  return client.find((name) => offered.has(name));
}

export interface Negotiated {
  kex: string;
  hostKey: string;
  cipherCtoS: string;
  cipherStoC: string;
  /** '<implicit>' when the cipher is an AEAD that authenticates by itself (OpenSSH's word). */
  macCtoS: string;
  macStoC: string;
  compCtoS: string;
  compStoC: string;
}

export const IMPLICIT_MAC = '<implicit>';

/** Names of the negotiated lists as RFC 4253 §7.1 spells them, for messages. */
export const LIST_LABELS: Readonly<Record<keyof Negotiated, string>> = {
  kex: 'kex_algorithms',
  hostKey: 'server_host_key_algorithms',
  cipherCtoS: 'encryption_algorithms_client_to_server',
  cipherStoC: 'encryption_algorithms_server_to_client',
  macCtoS: 'mac_algorithms_client_to_server',
  macStoC: 'mac_algorithms_server_to_client',
  compCtoS: 'compression_algorithms_client_to_server',
  compStoC: 'compression_algorithms_server_to_client',
};

export type NegotiationResult =
  | { ok: true; chosen: Negotiated }
  | { ok: false; list: keyof Negotiated; client: string[]; server: string[] };

/**
 * Negotiates every list the way OpenSSH does: per list, the client's first supported
 * choice. The MAC is skipped when the chosen cipher is an AEAD (`isAead`), since then the
 * cipher's tag replaces it and a MAC list with nothing in common does not fail the kex.
 */
export function negotiate(client: KexInitLists, server: KexInitLists, isAead: (cipher: string) => boolean): NegotiationResult {
  const chosen: Partial<Negotiated> = {};
  const pick = (list: keyof Negotiated & keyof KexInitLists): boolean => {
    const name = chooseAlgorithm(client[list], server[list]);
    if (name === undefined) return false;
    chosen[list] = name;
    return true;
  };
  const fail = (list: keyof Negotiated & keyof KexInitLists): NegotiationResult => ({
    ok: false,
    list,
    client: client[list],
    server: server[list],
  });

  for (const list of ['kex', 'hostKey', 'cipherCtoS', 'cipherStoC'] as const) {
    if (!pick(list)) return fail(list);
  }
  for (const [mac, cipher] of [
    ['macCtoS', 'cipherCtoS'],
    ['macStoC', 'cipherStoC'],
  ] as const) {
    if (isAead(chosen[cipher] ?? '')) chosen[mac] = IMPLICIT_MAC;
    else if (!pick(mac)) return fail(mac);
  }
  for (const list of ['compCtoS', 'compStoC'] as const) {
    if (!pick(list)) return fail(list);
  }
  return { ok: true, chosen: chosen as Negotiated };
}

// ---------------------------------------------------------------------------------------
// Identification exchange (RFC 4253 §4.2)

export interface Identification {
  protoVersion: string;
  software: string;
  comments?: string;
}

/**
 * Splits `SSH-protoversion-softwareversion SP comments` (the line without CR LF).
 * Returns undefined when the line does not have that shape.
 */
export function parseIdentification(line: string): Identification | undefined {
  if (!line.startsWith('SSH-')) return undefined;
  const rest = line.slice(4);
  const dash = rest.indexOf('-');
  if (dash <= 0) return undefined;
  const protoVersion = rest.slice(0, dash);
  const tail = rest.slice(dash + 1);
  const space = tail.indexOf(' ');
  const software = space < 0 ? tail : tail.slice(0, space);
  if (software.length === 0) return undefined;
  const comments = space < 0 ? undefined : tail.slice(space + 1);
  return comments === undefined || comments.length === 0 ? { protoVersion, software } : { protoVersion, software, comments };
}

/** "2.0", and "1.99" (a server that also speaks SSH-1), can carry SSH-2. */
export function isSsh2Version(protoVersion: string): boolean {
  return protoVersion === '2.0' || protoVersion === '1.99';
}

export const IDENT_MAX_BYTES = 255;
export const PRE_BANNER_LINE_MAX_BYTES = 1024;
export const PRE_BANNER_MAX_LINES = 64;
export const PRE_BANNER_MAX_BYTES = 16 * 1024;
const SAMPLE_LINES = 3;
const SAMPLE_CHARS = 120;

export type ScanResult =
  | { kind: 'more' }
  /** `raw` is the identification line without its line end, byte for byte (it is hashed). */
  | { kind: 'ident'; raw: Buffer; rest: Buffer }
  | { kind: 'not-ssh'; reason: string }
  | { kind: 'bad-ident'; reason: string };

export type ScanEnd = { kind: 'closed'; reason: string } | { kind: 'not-ssh'; reason: string };

/**
 * Reads what the server sends before and including its identification line. RFC 4253
 * lets a server send other lines first, but a peer that sends binary, TLS, HTTP, or more
 * lines than any real sshd would, is not an SSH server and is stopped early.
 */
export class IdentScanner {
  /** Complete lines seen before the identification. */
  lines = 0;
  /** Bytes seen before the identification (complete lines and the pending one). */
  bytes = 0;
  readonly sample: string[] = [];
  private pending: Buffer = Buffer.alloc(0);
  private done = false;

  push(chunk: Buffer): ScanResult {
    if (this.done) throw new WireError('identification already scanned');
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const result = this.scan();
    if (result.kind !== 'more') this.done = true;
    return result;
  }

  /** What the end of the stream before any identification means. */
  finish(): ScanEnd {
    this.done = true;
    const partial = this.pending;
    if (partial.length > 0 && looksLikeIdentStart(partial)) return { kind: 'closed', reason: 'closed in the middle of its identification line' };
    if (this.lines === 0 && partial.length === 0) return { kind: 'closed', reason: 'closed before sending anything' };
    if (partial.length > 0) {
      this.bytes += partial.length;
      this.addSample(partial);
    }
    return {
      kind: 'not-ssh',
      reason: `closed after ${this.bytes} bytes without an SSH identification line`,
    };
  }

  private scan(): ScanResult {
    if (this.lines === 0 && this.bytes === 0) {
      const first = this.checkFirstBytes(this.pending);
      if (first) return first;
    }
    for (;;) {
      const lf = this.pending.indexOf(0x0a);
      if (lf < 0) return this.checkPartial();
      const line = this.pending.subarray(0, lf + 1);
      const text = stripLineEnd(line);
      if (startsWithSsh(text)) {
        if (line.length > IDENT_MAX_BYTES) return { kind: 'bad-ident', reason: `identification line of ${line.length} bytes (the limit is ${IDENT_MAX_BYTES})` };
        return { kind: 'ident', raw: Buffer.from(text), rest: Buffer.from(this.pending.subarray(lf + 1)) };
      }
      const verdict = this.acceptOtherLine(line, text);
      if (verdict) return verdict;
      this.pending = this.pending.subarray(lf + 1);
    }
  }

  private checkFirstBytes(buf: Buffer): ScanResult | undefined {
    if (buf.length >= 2 && buf[0] === 0x16 && buf[1] === 0x03) {
      return { kind: 'not-ssh', reason: `TLS handshake record (first bytes ${hexPreview(buf)})` };
    }
    // A TLS server answering our identification line with an alert ("protocol version").
    if (buf.length >= 2 && buf[0] === 0x15 && buf[1] === 0x03) {
      return { kind: 'not-ssh', reason: `TLS alert record (first bytes ${hexPreview(buf)}): a TLS server` };
    }
    return undefined;
  }

  private acceptOtherLine(line: Buffer, text: Buffer): ScanResult | undefined {
    this.lines++;
    this.bytes += line.length;
    this.addSample(text);
    if (line.length > PRE_BANNER_LINE_MAX_BYTES) return { kind: 'not-ssh', reason: `a line of ${line.length} bytes before any identification` };
    if (hasBinary(text) || !isUtf8(text)) return { kind: 'not-ssh', reason: `binary data before any identification (first bytes ${hexPreview(text)})` };
    if (text.subarray(0, 5).toString('latin1') === 'HTTP/') return { kind: 'not-ssh', reason: 'an HTTP response' };
    if (this.lines > PRE_BANNER_MAX_LINES) return { kind: 'not-ssh', reason: `more than ${PRE_BANNER_MAX_LINES} lines before any identification` };
    if (this.bytes > PRE_BANNER_MAX_BYTES) return { kind: 'not-ssh', reason: `more than ${PRE_BANNER_MAX_BYTES} bytes before any identification` };
    return undefined;
  }

  /** Limits that can be judged before the line ends, so an endless line cannot buffer forever. */
  private checkPartial(): ScanResult {
    const partial = this.pending;
    if (looksLikeIdentStart(partial)) {
      if (partial.length >= IDENT_MAX_BYTES) return { kind: 'bad-ident', reason: `identification line longer than ${IDENT_MAX_BYTES} bytes` };
      return { kind: 'more' };
    }
    const total = this.bytes + partial.length;
    if (hasBinary(partial)) {
      this.bytes = total;
      this.addSample(partial);
      return { kind: 'not-ssh', reason: `binary data before any identification (first bytes ${hexPreview(partial)})` };
    }
    if (partial.length > PRE_BANNER_LINE_MAX_BYTES || total > PRE_BANNER_MAX_BYTES) {
      this.bytes = total;
      this.addSample(partial);
      const what = partial.length > PRE_BANNER_LINE_MAX_BYTES ? `a line longer than ${PRE_BANNER_LINE_MAX_BYTES} bytes` : `more than ${PRE_BANNER_MAX_BYTES} bytes`;
      return { kind: 'not-ssh', reason: `${what} before any identification` };
    }
    return { kind: 'more' };
  }

  private addSample(text: Buffer): void {
    if (this.sample.length >= SAMPLE_LINES) return;
    const head = text.subarray(0, SAMPLE_CHARS * 4).toString('utf8');
    this.sample.push(sanitizeText(head, SAMPLE_CHARS));
  }
}

function stripLineEnd(line: Buffer): Buffer {
  let end = line.length;
  if (end > 0 && line[end - 1] === 0x0a) end--;
  if (end > 0 && line[end - 1] === 0x0d) end--;
  return line.subarray(0, end);
}

function startsWithSsh(text: Buffer): boolean {
  return text.length >= 4 && text.subarray(0, 4).toString('latin1') === 'SSH-';
}

/** True while the bytes could still become "SSH-...": too early to call them binary. */
function looksLikeIdentStart(buf: Buffer): boolean {
  const n = Math.min(4, buf.length);
  return n > 0 && buf.subarray(0, n).toString('latin1') === 'SSH-'.slice(0, n);
}

/** Control bytes other than TAB and CR; a text line never carries them. */
function hasBinary(buf: Buffer): boolean {
  for (const b of buf) {
    if ((b < 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) || b === 0x7f) return true;
  }
  return false;
}
