// The in-process SSH handshake probe: connect, exchange identification lines, run a real
// key exchange, ask for the auth methods with a `none` request, then leave politely. It
// records when each phase completed, so the engine can tell "the banner came at 3 ms but
// KEXINIT never did" from "nothing listens". It checks the host-key signature over the
// exchange (a forged one ends the probe before NEWKEYS) but never authenticates itself.
//
// Every server byte is hostile until proven otherwise: reads are capped, text is
// sanitized before it is stored, and the socket dies on abort, on the deadline and at
// every end. Waiting is bounded only by the run's deadline: judging a slow phase is the
// engine's job, so there are no shorter timeouts here.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import type { AlgorithmLists, HandshakeEndKind, HandshakeObs, HandshakePhase, TcpOutcome } from '../observations.js';
import type { ProbeContext, Updater } from './context.js';
import { remainingMs } from './context.js';
import type { KexInitLists, NegotiationResult, Negotiated } from './ssh-wire.js';
import {
  DISCONNECT_BY_APPLICATION,
  IDENT_MAX_BYTES,
  IdentScanner,
  LIST_LABELS,
  MSG,
  PacketReader,
  PacketWriter,
  SshReader,
  SshWriter,
  WireError,
  buildKexInit,
  chooseAlgorithm,
  disconnectReasonName,
  isSsh2Version,
  negotiate,
  parseIdentification,
  parseKexInit,
  sanitizeText,
} from './ssh-wire.js';
import type { KeyAgreement } from './ssh-kex.js';
import { certificateAuthority, fingerprintOf, verifyHostSignature } from './ssh-hostkey.js';
import {
  OPENSSH_ONLY,
  buildKexInitRequest,
  clientKexInitLists,
  createOpener,
  createSealer,
  deriveTransportKeys,
  exchangeHash,
  hostKeyInfo,
  isAeadCipher,
  parseKexReply,
  startKeyAgreement,
  unimplementedChoice,
} from './ssh-kex.js';
import { errorMessage } from '../../errors.js';

export interface HandshakeOptions {
  address: string;
  port: number;
  /**
   * Login name for the `none` request (servers answer with the methods for that user). Absent:
   * no user name is sent at all; the probe leaves once the ssh-userauth service is accepted,
   * because a name the target does not know is logged as `Invalid user`, which bans the bastion.
   */
  user?: string;
  /** Our identification line without CR LF; must start with `SSH-2.0-`. */
  clientIdent?: string;
}

export const DEFAULT_CLIENT_IDENT = 'SSH-2.0-sshcheck_0.1';

/** Total bytes accepted from one server: a full handshake is a few KiB. */
export const MAX_BYTES_IN = 256 * 1024;

const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_STORED_NAMES = 64;
const NAME_CHARS = 64;
const OFFER_CHARS = 400;
const DETAIL_CHARS = 1200;
const DESCRIPTION_CHARS = 200;

const WAITING_FOR: Readonly<Record<HandshakePhase, string>> = {
  connect: 'while connecting',
  banner: "while waiting for the server's identification line",
  kexinit: "while waiting for the server's KEXINIT",
  'kex-reply': 'while waiting for the key exchange reply',
  newkeys: "while waiting for the server's NEWKEYS",
  service: 'while waiting for SERVICE_ACCEPT',
  'auth-methods': 'while waiting for the list of authentication methods',
  complete: 'after the handshake completed',
};

const LIST_NAMES: Readonly<Record<keyof Negotiated, string>> = {
  kex: 'key exchange method',
  hostKey: 'host key type',
  cipherCtoS: 'cipher (client to server)',
  cipherStoC: 'cipher (server to client)',
  macCtoS: 'MAC (client to server)',
  macStoC: 'MAC (server to client)',
  compCtoS: 'compression method (client to server)',
  compStoC: 'compression method (server to client)',
};

/** Runs the handshake. Never rejects: always resolves a final observation with `end` set. */
export function probeHandshake(opts: HandshakeOptions, ctx: ProbeContext, onUpdate?: Updater<HandshakeObs>): Promise<HandshakeObs> {
  return new Promise((resolve) => {
    new HandshakeRun(opts, ctx, onUpdate, resolve).start();
  });
}

/** Our identification line: the caller's when it is a valid SSH-2.0 line, else the default. */
export function clientIdentLine(requested: string | undefined): string {
  if (requested === undefined) return DEFAULT_CLIENT_IDENT;
  const valid = requested.startsWith('SSH-2.0-') && requested.length + 2 <= IDENT_MAX_BYTES && /^[\x21-\x7e][\x20-\x7e]*$/.test(requested);
  return valid ? requested : DEFAULT_CLIENT_IDENT;
}

/** Which of our end kinds a connect() failure is, and the TCP outcome to record. */
export function classifyConnectError(code: string | undefined): { outcome: TcpOutcome; kind: HandshakeEndKind } {
  switch (code) {
    case 'ECONNREFUSED':
      return { outcome: 'refused', kind: 'refused' };
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return { outcome: 'host-unreachable', kind: 'unreachable' };
    case 'ENETUNREACH':
      return { outcome: 'net-unreachable', kind: 'unreachable' };
    case 'ETIMEDOUT':
      return { outcome: 'timeout', kind: 'timeout' };
    case 'ECONNRESET':
      // A reset only reads as ECONNRESET once the handshake completed (a reset answering the
      // SYN is ECONNREFUSED): the peer accepted, then dropped the connection at once.
      return { outcome: 'connected', kind: 'reset' };
    default:
      // No end kind fits a local failure (EADDRNOTAVAIL, EPERM from a local firewall):
      // the connection could not be made, and errno says why.
      return { outcome: 'error', kind: 'unreachable' };
  }
}

/** What an error on an established connection means. */
export function classifyStreamError(code: string | undefined): HandshakeEndKind {
  switch (code) {
    case 'ECONNRESET':
      return 'reset';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
      return 'unreachable';
    default:
      return 'closed';
  }
}

/** The server's lists as stored in the observation: bounded and sanitized. */
export function storedLists(lists: KexInitLists): AlgorithmLists {
  const clean = (names: string[]): string[] => names.slice(0, MAX_STORED_NAMES).map((n) => sanitizeText(n, NAME_CHARS));
  return {
    kex: clean(lists.kex),
    hostKey: clean(lists.hostKey),
    cipherCtoS: clean(lists.cipherCtoS),
    cipherStoC: clean(lists.cipherStoC),
    macCtoS: clean(lists.macCtoS),
    macStoC: clean(lists.macStoC),
  };
}

/** "no matching host key type (server_host_key_algorithms); their offer: ssh-rsa" and, when `ssh` would get further, why. */
export function kexFailedDetail(failure: Extract<NegotiationResult, { ok: false }>): string {
  const offer = failure.server.length === 0 ? '(empty)' : sanitizeText(failure.server.join(','), OFFER_CHARS);
  const ours = sanitizeText(failure.client.join(','), OFFER_CHARS);
  let detail = `no matching ${LIST_NAMES[failure.list]} (${LIST_LABELS[failure.list]}); their offer: ${offer}`;
  const openssh = chooseAlgorithm(OPENSSH_ONLY[failure.list] ?? [], failure.server);
  if (openssh !== undefined) detail += `; OpenSSH's default offer would match ${openssh}, which sshcheck does not implement`;
  return `${detail}; our offer: ${ours}`;
}

/** Reason code and description of an SSH_MSG_DISCONNECT, sanitized. */
export function describeDisconnect(payload: Buffer): string {
  const r = new SshReader(payload);
  r.byte();
  const code = r.uint32();
  let description = '';
  try {
    description = r.text();
  } catch {
    // A truncated description still leaves a useful reason code.
  }
  const text = description.length > 0 ? `: "${sanitizeText(description, DESCRIPTION_CHARS)}"` : '';
  return `server disconnected, reason ${code} (${disconnectReasonName(code)})${text}`;
}

function buildDisconnect(description: string): Buffer {
  return new SshWriter().byte(MSG.DISCONNECT).uint32(DISCONNECT_BY_APPLICATION).string(description).string('').toBuffer();
}

class HandshakeRun {
  private readonly obs: HandshakeObs;
  private readonly clientIdent: string;
  private readonly clientLists = clientKexInitLists();
  private readonly scanner = new IdentScanner();
  private readonly reader = new PacketReader();
  private readonly writer = new PacketWriter();
  private phase: HandshakePhase = 'connect';
  private socket: net.Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private serverIdent: Buffer = Buffer.alloc(0);
  private clientKexInit: Buffer = Buffer.alloc(0);
  private serverKexInit: Buffer = Buffer.alloc(0);
  private chosen: Negotiated | undefined;
  private agreement: KeyAgreement | undefined;
  private pendingOpener: ReturnType<typeof createOpener> | undefined;
  private readonly onAbort = (): void => this.finish('aborted', `stopped by the run ${WAITING_FOR[this.phase]}`);

  constructor(
    private readonly opts: HandshakeOptions,
    private readonly ctx: ProbeContext,
    private readonly onUpdate: Updater<HandshakeObs> | undefined,
    private readonly resolve: (obs: HandshakeObs) => void,
  ) {
    this.clientIdent = clientIdentLine(opts.clientIdent);
    this.obs = {
      state: 'running',
      startedMs: ctx.now(),
      address: opts.address,
      port: opts.port,
      tcp: {},
      at: {},
      preBanner: { lines: 0, bytes: 0, sample: [] },
      bytesIn: 0,
      bytesOut: 0,
    };
  }

  start(): void {
    if (this.ctx.signal.aborted) return this.finish('aborted', 'stopped by the run before connecting');
    const left = remainingMs(this.ctx);
    if (left <= 0) return this.finish('aborted', 'deadline reached before connecting');
    // setTimeout fires at once beyond 2^31-1 ms; a deadline that far away is "no deadline".
    this.timer = setTimeout(() => this.finish('aborted', `deadline reached ${WAITING_FOR[this.phase]}`), Math.min(left, MAX_TIMER_MS));
    this.ctx.signal.addEventListener('abort', this.onAbort, { once: true });
    try {
      this.connect();
    } catch (err) {
      // net.connect throws synchronously on arguments it rejects (a port out of range).
      this.connectFailed(errorCode(err), errorMessage(err));
    }
  }

  private connect(): void {
    const socket = net.connect({ host: this.opts.address, port: this.opts.port, noDelay: true });
    this.socket = socket;
    socket.on('connect', () => this.guarded(() => this.onConnect()));
    socket.on('data', (chunk: Buffer) => this.guarded(() => this.onData(chunk)));
    socket.on('end', () => this.guarded(() => this.onEnd()));
    socket.on('error', (err: NodeJS.ErrnoException) => this.guarded(() => this.onError(err)));
    socket.on('close', () => this.finish('closed', `connection closed ${WAITING_FOR[this.phase]}`));
  }

  /** Parse failures are the server's fault; anything else is ours, and still must not reject. */
  private guarded(fn: () => void): void {
    if (this.ended) return;
    try {
      fn();
    } catch (err) {
      if (err instanceof WireError) this.finish('protocol-error', `${err.message} ${WAITING_FOR[this.phase]}`);
      else this.finish('internal-error', `sshcheck internal error ${WAITING_FOR[this.phase]}: ${errorMessage(err)}`);
    }
  }

  private onConnect(): void {
    const socket = this.socket;
    this.obs.tcp = { outcome: 'connected', atMs: this.ctx.now(), ...(socket?.localAddress ? { localAddress: socket.localAddress } : {}) };
    this.phase = 'banner';
    // Sent at once: many non-SSH services speak only after the client does, and OpenSSH
    // does not wait for the server's line either.
    this.send(Buffer.from(`${this.clientIdent}\r\n`, 'latin1'));
    this.update();
  }

  private connectFailed(code: string | undefined, message: string): void {
    const { outcome, kind } = classifyConnectError(code);
    this.obs.tcp = { outcome, atMs: this.ctx.now(), ...(code ? { errno: code } : {}) };
    if (outcome === 'connected') {
      // Accepted and reset before our identification went out: a reset before the banner.
      this.phase = 'banner';
      this.finish(kind, 'reset right after the connection was accepted, before any banner');
      return;
    }
    this.finish(kind, `connect failed: ${code ?? message}`);
  }

  private onData(chunk: Buffer): void {
    this.obs.bytesIn += chunk.length;
    if (this.obs.bytesIn > MAX_BYTES_IN) {
      return this.finish(this.phase === 'banner' ? 'not-ssh' : 'protocol-error', `more than ${MAX_BYTES_IN} bytes received ${WAITING_FOR[this.phase]}`);
    }
    if (this.phase === 'banner') this.scanIdent(chunk);
    else this.readPackets(chunk);
  }

  private scanIdent(chunk: Buffer): void {
    const result = this.scanner.push(chunk);
    this.syncPreBanner();
    switch (result.kind) {
      case 'more':
        return;
      case 'not-ssh':
        return this.finish('not-ssh', result.reason);
      case 'bad-ident':
        return this.finish('protocol-error', result.reason);
      case 'ident':
        this.onIdent(result.raw);
        if (!this.ended) this.readPackets(result.rest);
        return;
    }
  }

  private onIdent(raw: Buffer): void {
    const text = raw.toString('latin1');
    const parsed = parseIdentification(text);
    this.obs.at.banner = this.ctx.now();
    const line = sanitizeText(text, IDENT_MAX_BYTES);
    if (!parsed) {
      this.obs.banner = { line, protoVersion: '', software: '' };
      return this.finish('protocol-error', 'malformed identification line (expected SSH-protoversion-softwareversion)');
    }
    this.obs.banner = {
      line,
      protoVersion: sanitizeText(parsed.protoVersion, 32),
      software: sanitizeText(parsed.software, IDENT_MAX_BYTES),
      ...(parsed.comments !== undefined ? { comments: sanitizeText(parsed.comments, IDENT_MAX_BYTES) } : {}),
    };
    if (!isSsh2Version(parsed.protoVersion)) {
      return this.finish('unsupported', `the server speaks SSH protocol ${this.obs.banner.protoVersion} only (SSH-2.0 needed)`);
    }
    this.serverIdent = raw;
    this.phase = 'kexinit';
    this.clientKexInit = buildKexInit(randomBytes(16), this.clientLists);
    this.sendPacket(this.clientKexInit);
    this.update();
  }

  private readPackets(chunk: Buffer): void {
    this.reader.push(chunk);
    while (!this.ended) {
      const payload = this.reader.next();
      if (!payload) return;
      this.onPacket(payload);
    }
  }

  private onPacket(payload: Buffer): void {
    const type = payload[0] ?? 0;
    switch (type) {
      case MSG.DISCONNECT:
        return this.finish('disconnect', `${describeDisconnect(payload)} ${WAITING_FOR[this.phase]}`);
      case MSG.IGNORE:
      case MSG.DEBUG:
      case MSG.EXT_INFO:
        // Harmless at any time; EXT_INFO only comes unasked from servers that skip the check.
        return;
      case MSG.UNIMPLEMENTED:
        return this.finish('protocol-error', `the server answered UNIMPLEMENTED ${WAITING_FOR[this.phase]}`);
    }
    const handler = this.handlerFor(type);
    if (!handler) return this.finish('protocol-error', `unexpected message ${type} ${WAITING_FOR[this.phase]}`);
    handler(payload);
  }

  private handlerFor(type: number): ((payload: Buffer) => void) | undefined {
    switch (this.phase) {
      case 'kexinit':
        return type === MSG.KEXINIT ? (p) => this.onServerKexInit(p) : undefined;
      case 'kex-reply':
        return type === MSG.KEX_REPLY ? (p) => this.onKexReply(p) : undefined;
      case 'newkeys':
        return type === MSG.NEWKEYS ? () => this.onNewKeys() : undefined;
      case 'service':
        return type === MSG.SERVICE_ACCEPT ? () => this.onServiceAccept() : undefined;
      case 'auth-methods':
        if (type === MSG.USERAUTH_BANNER) return () => undefined;
        if (type === MSG.USERAUTH_FAILURE) return (p) => this.onAuthFailure(p);
        if (type === MSG.USERAUTH_SUCCESS) return () => this.onAuthSuccess();
        return undefined;
      default:
        return undefined;
    }
  }

  private onServerKexInit(payload: Buffer): void {
    const kexinit = parseKexInit(payload);
    this.serverKexInit = Buffer.from(payload);
    this.obs.at.kexinit = this.ctx.now();
    this.obs.server = storedLists(kexinit.lists);
    // first_kex_packet_follows needs no handling: in these methods the client speaks first.
    const result = negotiate(this.clientLists, kexinit.lists, isAeadCipher);
    if (!result.ok) return this.finish('kex-failed', kexFailedDetail(result));
    const chosen = result.chosen;
    this.obs.negotiated = {
      kex: chosen.kex,
      hostKey: chosen.hostKey,
      cipherCtoS: chosen.cipherCtoS,
      cipherStoC: chosen.cipherStoC,
      macCtoS: chosen.macCtoS,
      macStoC: chosen.macStoC,
    };
    const missing = unimplementedChoice(chosen);
    const agreement = startKeyAgreement(chosen.kex);
    if (missing || !agreement) {
      const what = missing ?? { list: 'kex' as const, name: chosen.kex };
      return this.finish('unsupported', `negotiated ${LIST_NAMES[what.list]} ${sanitizeText(what.name, NAME_CHARS)}, which sshcheck does not implement`);
    }
    this.chosen = chosen;
    this.agreement = agreement;
    this.sendPacket(buildKexInitRequest(agreement));
    this.phase = 'kex-reply';
    this.update();
  }

  private onKexReply(payload: Buffer): void {
    const agreement = this.agreement;
    const chosen = this.chosen;
    if (!agreement || !chosen) throw new WireError('key exchange reply before negotiation');
    const reply = parseKexReply(payload, agreement.encoding);
    this.obs.at['kex-reply'] = this.ctx.now();
    const ca = certificateAuthority(reply.hostKey);
    this.obs.hostKey = { ...hostKeyInfo(reply.hostKey), ...(ca ? { caSha256: fingerprintOf(ca) } : {}) };
    const secret = agreement.computeSecret(reply.serverPublic);
    const h = exchangeHash(agreement.hash, {
      clientIdent: Buffer.from(this.clientIdent, 'latin1'),
      serverIdent: this.serverIdent,
      clientKexInit: this.clientKexInit,
      serverKexInit: this.serverKexInit,
      hostKey: reply.hostKey,
      clientPublic: agreement.publicKey,
      serverPublic: reply.serverPublic,
      encoding: agreement.encoding,
      secret,
      secretEncoding: agreement.secretEncoding,
    });
    // A signature that does not verify means whoever answered does not hold the host key it
    // sent: nothing after this point may count as the host's answer, so no NEWKEYS is sent.
    const check = verifyHostSignature(chosen.hostKey, reply.hostKey, reply.signature, h);
    if (!check.ok) return this.finish('bad-signature', `${check.reason} (${this.obs.hostKey.type} ${this.obs.hostKey.sha256})`);
    this.obs.hostKey.verified = true;
    const keys = deriveTransportKeys(agreement.hash, secret, h, h, chosen, agreement.secretEncoding);
    this.sendPacket(Buffer.from([MSG.NEWKEYS]));
    this.writer.setSealer(createSealer(chosen.cipherCtoS, chosen.macCtoS, keys.cToS));
    this.pendingOpener = createOpener(chosen.cipherStoC, chosen.macStoC, keys.sToC);
    this.phase = 'newkeys';
    this.update();
  }

  private onNewKeys(): void {
    if (!this.pendingOpener) throw new WireError('NEWKEYS before the key exchange reply');
    this.reader.setOpener(this.pendingOpener);
    this.obs.at.newkeys = this.ctx.now();
    this.sendPacket(new SshWriter().byte(MSG.SERVICE_REQUEST).string('ssh-userauth').toBuffer());
    this.phase = 'service';
    this.update();
  }

  private onServiceAccept(): void {
    this.obs.at.service = this.ctx.now();
    if (this.opts.user === undefined) return this.complete('the ssh-userauth service was accepted; no user name was sent (none is configured), so the authentication methods were not asked for');
    const request = new SshWriter().byte(MSG.USERAUTH_REQUEST).string(this.opts.user).string('ssh-connection').string('none').toBuffer();
    this.sendPacket(request);
    this.phase = 'auth-methods';
    this.update();
  }

  private onAuthFailure(payload: Buffer): void {
    const r = new SshReader(payload);
    r.byte();
    const methods = r.nameList();
    this.obs.at['auth-methods'] = this.ctx.now();
    this.obs.authMethods = methods.slice(0, MAX_STORED_NAMES).map((m) => sanitizeText(m, NAME_CHARS));
    this.complete(`authentication methods offered: ${this.obs.authMethods.join(',') || '(none)'}`);
  }

  private onAuthSuccess(): void {
    this.obs.at['auth-methods'] = this.ctx.now();
    this.obs.noneAccepted = true;
    this.complete('the server accepted the "none" authentication request: it asks for no credentials');
  }

  private complete(detail: string): void {
    this.phase = 'complete';
    this.sendPacket(buildDisconnect('sshcheck probe finished'));
    this.finish('complete', detail);
  }

  private onEnd(): void {
    if (this.phase === 'banner') {
      const verdict = this.scanner.finish();
      this.syncPreBanner();
      return this.finish(verdict.kind, verdict.reason);
    }
    // A stream that ends inside a packet was not cut by an SSH server (sshd writes whole
    // packets, then closes): something on the way, or a peer that is not SSH.
    if (this.reader.pendingBytes > 0) return this.finish('protocol-error', `connection closed in the middle of a packet (${this.reader.pendingBytes} bytes of it received) ${WAITING_FOR[this.phase]}`);
    this.finish('closed', `connection closed by the server ${WAITING_FOR[this.phase]}`);
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (this.phase === 'connect') return this.connectFailed(err.code, err.message);
    const kind = classifyStreamError(err.code);
    this.finish(kind, `${err.code ?? err.message} ${WAITING_FOR[this.phase]}`);
  }

  private sendPacket(payload: Buffer): void {
    this.send(this.writer.encode(payload));
  }

  private send(bytes: Buffer): void {
    const socket = this.socket;
    if (!socket || socket.destroyed || !socket.writable) return;
    socket.write(bytes);
    this.obs.bytesOut += bytes.length;
  }

  private syncPreBanner(): void {
    this.obs.preBanner = { lines: this.scanner.lines, bytes: this.scanner.bytes, sample: [...this.scanner.sample] };
  }

  private finish(kind: HandshakeEndKind, detail: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.ctx.signal.removeEventListener('abort', this.onAbort);
    const now = this.ctx.now();
    this.obs.end = { kind, phase: this.phase, atMs: now, detail: sanitizeText(detail, DETAIL_CHARS) };
    this.obs.state = 'done';
    this.obs.endedMs = now;
    if (kind === 'aborted') this.obs.aborted = true;
    this.closeSocket(kind === 'complete');
    this.update();
    this.resolve(this.snapshot());
  }

  private closeSocket(graceful: boolean): void {
    const socket = this.socket;
    if (!socket) return;
    // After a clean end our DISCONNECT is queued: let it flush, then destroy. Otherwise
    // there is nothing worth waiting for.
    if (graceful && socket.writable) socket.destroySoon();
    else socket.destroy();
  }

  private snapshot(): HandshakeObs {
    return structuredClone(this.obs);
  }

  private update(): void {
    if (!this.onUpdate) return;
    try {
      this.onUpdate(this.snapshot());
    } catch {
      // A failing listener must not break the probe or turn into a rejection.
    }
  }
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

