// Direct DNS queries to each resolver of /etc/resolv.conf, asked the way glibc's resolver
// library asks them (same names, same order; the names are sent at once and their answers
// taken in that order, see walkSearchList), so the report can say which resolver fails and
// how. Messages are built and parsed with dns2's Packet; the transport is our own UDP socket:
// dns2's UDPClient cannot be aborted and its TC→TCP fallback has no timeout.

// dgram's first bind loads node:cluster (to ask cluster.isWorker): 1 to 8 ms on this VM, paid
// inside the first run's round trip. Loaded with this module instead, as a bot pays it once.
import 'node:cluster';
import dgram from 'node:dgram';
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import type dns2 from 'dns2';
import type { ProbeContext, Updater } from './context.js';
import { remainingMs } from './context.js';
import { candidateNames, parseResolvConf } from './resolv-conf.js';
import { filesBeforeDns, nsswitchHosts, onlyFilesAndDns, parseHostsFile } from './local-names.js';
import type { DnsObs, DnsOutcome, DnsQueryObs, DnsRecordType, PtrObs } from '../observations.js';
import { errorMessage } from '../../errors.js';

// Only dns2's message codec. Its index also loads its TCP, UDP and DoH servers and clients
// (http, https, http2, tls): 0.15–0.3 s of every CLI start on a busy bastion, for code the
// probe never runs. packet.js is not in the package's exports map, hence the explicit path.
const requireCjs = createRequire(import.meta.url);
const Packet = requireCjs(join(dirname(requireCjs.resolve('dns2/package.json')), 'packet.js')) as typeof dns2.Packet;
type Resource = dns2.Packet.Resource;

export const DNS_PORT = 53;
const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';
const DEFAULT_HOSTS = '/etc/hosts';
const DEFAULT_NSSWITCH = '/etc/nsswitch.conf';
/** resolv.conf is small; a bigger file is read only this far. */
const MAX_RESOLV_CONF_BYTES = 64 * 1024;
/** Hosts files can be long (block lists); past this a name is not looked for there, and DNS is asked as before. */
const MAX_HOSTS_BYTES = 1024 * 1024;
/**
 * We send no EDNS record, so a conforming server answers in at most 512 bytes. Some send
 * more and glibc accepts it, so we do too, up to a bound that keeps parsing cheap: anything
 * bigger is not a sane reply to one question.
 */
export const MAX_REPLY_BYTES = 4096;
/** Datagrams that do not match the query (wrong id or question) tolerated before giving up. */
const MAX_IGNORED = 32;
const MAX_CNAME_HOPS = 8;
const MAX_NAME = 253;
const MAX_ANSWERS = 32;

const RCODE_NAMES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
};

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

const TYPE_CODES: Record<DnsRecordType, number> = {
  A: Packet.TYPE.A,
  AAAA: Packet.TYPE.AAAA,
  PTR: Packet.TYPE.PTR,
};

// ---------------------------------------------------------------------------------------
// Pure parts: names, messages, verdicts

/** Untrusted text from the wire, made safe to show: printable ASCII only, bounded length. */
export function sanitizeName(name: string): string {
  return name.replace(/[^\x21-\x7e]/g, '?').slice(0, MAX_NAME);
}

function sameName(a: string, b: string): boolean {
  return a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();
}

/** Expands an IPv6 address into its 8 groups; undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  const bare = address.replace(/%.*$/, '');
  if (isIP(bare) !== 6) return undefined;
  let text = bare;
  // An embedded IPv4 tail (::ffff:10.0.0.1) becomes two hex groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const middle = new Array<number>(8 - left.length - right.length).fill(0);
  const groups = [...left, ...middle, ...right];
  return groups.length === 8 ? groups : undefined;
}

/** The PTR owner name of an address (in-addr.arpa / ip6.arpa); undefined for non-addresses. */
export function reverseName(address: string): string | undefined {
  if (isIP(address) === 4) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  const groups = ipv6Groups(address);
  if (groups === undefined) return undefined;
  const nibbles = groups.map((g) => g.toString(16).padStart(4, '0')).join('').split('');
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

const MAX_LABEL_OCTETS = 63;
const MAX_NAME_OCTETS = 255;

/**
 * A recursive query for one name and type, as the resolver library sends it: RD set, one
 * question, no EDNS record. Throws when the name cannot be encoded (a label over 63 octets, a
 * name over 255). Written directly rather than with dns2's Packet, whose bit-at-a-time writer
 * took a millisecond and more per query on the first run of a process, on the way to the wire.
 */
export function buildQuery(id: number, name: string, type: DnsRecordType): Buffer {
  // As dns2 encodes names: empty labels are dropped, each character is one octet.
  const labels = name.split('.').filter((label) => label.length > 0);
  const long = labels.find((label) => label.length > MAX_LABEL_OCTETS);
  if (long !== undefined) throw new Error(`the label "${sanitizeName(long)}" is ${long.length} octets (at most ${MAX_LABEL_OCTETS})`);
  const nameOctets = labels.reduce((n, label) => n + 1 + label.length, 1);
  if (nameOctets > MAX_NAME_OCTETS) throw new Error(`the name is ${nameOctets} octets on the wire (at most ${MAX_NAME_OCTETS})`);
  const message = Buffer.alloc(12 + nameOctets + 4);
  message.writeUInt16BE(id, 0);
  message.writeUInt16BE(0x0100, 2); // RD
  message.writeUInt16BE(1, 4); // QDCOUNT
  let at = 12;
  for (const label of labels) {
    message[at++] = label.length;
    at += message.write(label, at, 'latin1');
  }
  message[at++] = 0;
  message.writeUInt16BE(TYPE_CODES[type], at);
  message.writeUInt16BE(Packet.CLASS.IN, at + 2);
  return message;
}

export interface Expected {
  id: number;
  name: string;
  type: DnsRecordType;
}

/** What one received datagram means for the query it may answer. */
export type ReplyVerdict =
  | { kind: 'ignore'; why: string }
  | { kind: 'final'; outcome: DnsOutcome; rcode?: string; answers: string[]; detail?: string };

function finalVerdict(outcome: DnsOutcome, answers: string[], rcode?: string, detail?: string): ReplyVerdict {
  const v: ReplyVerdict = { kind: 'final', outcome, answers };
  if (rcode !== undefined) v.rcode = rcode;
  if (detail !== undefined) v.detail = detail;
  return v;
}

function parsePacket(message: Buffer): dns2.Packet | string {
  try {
    const packet = Packet.parse(message);
    const h = packet.header;
    // dns2 skips records it fails to decode; a count that does not add up is a broken message.
    if (
      packet.questions.length !== h.qdcount ||
      packet.answers.length !== h.ancount ||
      packet.authorities.length !== h.nscount ||
      packet.additionals.length !== h.arcount
    ) {
      return `malformed reply (${message.length} bytes): the record counts do not match the records that could be decoded`;
    }
    return packet;
  } catch (err) {
    return `unparseable reply (${message.length} bytes): ${errorMessage(err)}`;
  }
}

/** Follows CNAMEs from the question's name through the answer section: the chain and the final name. */
export function followCnames(answers: readonly Resource[], qname: string): { chain: string[]; final: string } {
  const chain: string[] = [];
  let current = qname;
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    const cname = answers.find((r) => r.type === Packet.TYPE.CNAME && sameName(r.name, current));
    if (cname?.domain === undefined || chain.some((n) => sameName(n, cname.domain ?? ''))) break;
    current = cname.domain;
    chain.push(current);
  }
  return { chain, final: current };
}

/** The answers of the asked type at the end of the CNAME chain, validated. */
function extractAnswers(answers: readonly Resource[], owner: string, type: DnsRecordType): { values: string[]; dropped: number } {
  const values: string[] = [];
  let dropped = 0;
  for (const r of answers) {
    if (r.type !== TYPE_CODES[type] || !sameName(r.name, owner)) continue;
    let value: string | undefined;
    if (type === 'PTR') {
      value = r.domain !== undefined && r.domain.length > 0 ? sanitizeName(r.domain) : undefined;
    } else {
      const family = type === 'A' ? 4 : 6;
      value = r.address !== undefined && isIP(r.address) === family ? r.address : undefined;
    }
    if (value === undefined) dropped++;
    else if (!values.includes(value) && values.length < MAX_ANSWERS) values.push(value);
  }
  return { values, dropped };
}

/**
 * Judges one datagram received on the query's connected socket. Replies to someone else's
 * query (wrong id or question) are ignored, as the resolver library ignores them; anything
 * that claims to be our reply but cannot be read is an error.
 */
export function interpretReply(message: Buffer, expected: Expected): ReplyVerdict {
  if (message.length > MAX_REPLY_BYTES) {
    return finalVerdict('error', [], undefined, `oversized reply: ${message.length} bytes (at most ${MAX_REPLY_BYTES} expected)`);
  }
  if (message.length < 12) {
    return finalVerdict('error', [], undefined, `garbage reply: ${message.length} bytes, shorter than a DNS header`);
  }
  const id = message.readUInt16BE(0);
  if (id !== expected.id) return { kind: 'ignore', why: `id ${id} instead of ${expected.id}` };

  const parsed = parsePacket(message);
  if (typeof parsed === 'string') return finalVerdict('error', [], undefined, parsed);
  const h = parsed.header;
  if (h.qr !== 1 || h.opcode !== 0) return { kind: 'ignore', why: 'not a response to a standard query' };

  const rcode = rcodeName(h.rcode);
  const question = parsed.questions[0];
  // Servers may leave the question out of an error reply (FORMERR, REFUSED); glibc accepts that.
  const questionless = h.qdcount === 0 && h.rcode !== 0;
  if (!questionless) {
    if (
      h.qdcount !== 1 ||
      question === undefined ||
      !sameName(question.name, expected.name) ||
      question.type !== TYPE_CODES[expected.type] ||
      question.class !== Packet.CLASS.IN
    ) {
      return { kind: 'ignore', why: `question ${sanitizeName(question?.name ?? '(none)')} does not match` };
    }
  }

  const { chain, final } = followCnames(parsed.answers, expected.name);
  const { values, dropped } = extractAnswers(parsed.answers, final, expected.type);
  const notes: string[] = [];
  if (chain.length > 0) notes.push(`CNAME ${[expected.name, ...chain].map(sanitizeName).join(' → ')}`);
  if (dropped > 0) notes.push(`${dropped} ${expected.type} record(s) with invalid data ignored`);

  if (h.tc === 1) {
    notes.unshift('TC bit set: the reply did not fit in UDP; the resolver library would retry over TCP');
    return finalVerdict('truncated', values, rcode, notes.join('; '));
  }
  const detail = notes.length > 0 ? notes.join('; ') : undefined;
  switch (h.rcode) {
    case 0:
      if (values.length > 0) return finalVerdict('answer', values, rcode, detail);
      if (dropped > 0) return finalVerdict('error', [], rcode, detail);
      return finalVerdict('nodata', [], rcode, detail ?? `no ${expected.type} record`);
    case 3:
      return finalVerdict('nxdomain', [], rcode, detail);
    case 2:
      return finalVerdict('servfail', [], rcode, detail);
    case 5:
      return finalVerdict('refused', [], rcode, detail);
    default:
      return finalVerdict('error', [], rcode, `the server answered ${rcode}`);
  }
}

// ---------------------------------------------------------------------------------------
// One query over UDP

export interface QueryOptions {
  server: string;
  port: number;
  name: string;
  type: DnsRecordType;
  timeoutMs: number;
  signal: AbortSignal;
  now: () => number;
}

function describeSocketError(err: NodeJS.ErrnoException, server: string, port: number): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return `ICMP port unreachable from ${server}: nothing listens on UDP port ${port}`;
    case 'EHOSTUNREACH':
      return `resolver unreachable: ${server} is unreachable (EHOSTUNREACH)`;
    case 'ENETUNREACH':
      return `resolver unreachable: this bastion has no route to ${server} (ENETUNREACH)`;
    case 'EADDRNOTAVAIL':
    case 'EAFNOSUPPORT':
      return `resolver unreachable: this bastion has no ${isIP(server) === 6 ? 'IPv6' : 'IPv4'} address or route to reach ${server} (${err.code})`;
    default:
      return `${err.code ?? 'socket error'}: ${err.message}`;
  }
}

/**
 * dgram resolves the address it binds to and the one it connects to through dns.lookup, which
 * loads Node's resolver module on a process's first query (1 to 2 ms of it, in the first
 * run's round trip). Both are address literals here (queryUdp checks the server's): handed
 * back as they are.
 */
function literalLookup(address: string, _options: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  process.nextTick(callback, null, address, isIP(address) === 6 ? 6 : 4);
}

/**
 * Asks one question of one server: a connected UDP socket (so an ICMP port unreachable shows
 * up at once as ECONNREFUSED) and one retransmission at half the timeout (a single lost
 * datagram must not read as a dead resolver). Resolves undefined when aborted; never rejects.
 */
export function queryUdp(opts: QueryOptions): Promise<DnsQueryObs | undefined> {
  const { server, port, name, type } = opts;
  const base: DnsQueryObs = { server, name: sanitizeName(name), type, outcome: 'error', answers: [] };
  const family = isIP(server);
  if (family === 0) return Promise.resolve({ ...base, detail: 'not an IP address' });
  if (opts.signal.aborted) return Promise.resolve(undefined);

  const id = Packet.uuid();
  let query: Buffer;
  try {
    query = buildQuery(id, name, type);
  } catch (err) {
    return Promise.resolve({ ...base, detail: `cannot encode the name: ${errorMessage(err)}` });
  }

  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
    const sentAt = opts.now();
    let done = false;
    let retransmitted = false;
    const ignored: string[] = [];
    let retransmitTimer: NodeJS.Timeout | undefined;

    const finish = (obs: DnsQueryObs | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timeoutTimer);
      clearTimeout(retransmitTimer);
      opts.signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('message');
      // Errors after we are done (a late ICMP) must not crash the process.
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      try {
        socket.close();
      } catch {
        // Already closed.
      }
      resolve(obs);
    };
    const result = (outcome: DnsOutcome, extra: Partial<DnsQueryObs> = {}): DnsQueryObs => {
      const obs: DnsQueryObs = { ...base, outcome, latencyMs: round(opts.now() - sentAt), ...extra };
      const notes = [obs.detail, retransmitted ? 'after a retransmission' : undefined];
      if (ignored.length > 0) notes.push(`ignored ${ignored.length} non-matching datagram(s): ${ignored.slice(0, 3).join(', ')}`);
      const detail = notes.filter((n): n is string => n !== undefined).join('; ');
      if (detail.length > 0) obs.detail = detail;
      else delete obs.detail;
      return obs;
    };
    const timeoutTimer = setTimeout(() => {
      finish(result('timeout', { detail: `no reply in ${Math.round(opts.timeoutMs)} ms` }));
    }, opts.timeoutMs);
    const onAbort = (): void => finish(undefined);
    opts.signal.addEventListener('abort', onAbort, { once: true });

    socket.on('error', (err: NodeJS.ErrnoException) => {
      finish(result('error', { detail: describeSocketError(err, server, port) }));
    });
    socket.on('message', (message: Buffer) => {
      let verdict: ReplyVerdict;
      try {
        verdict = interpretReply(message, { id, name, type });
      } catch (err) {
        finish(result('error', { detail: `unreadable reply: ${errorMessage(err)}` }));
        return;
      }
      if (verdict.kind === 'ignore') {
        ignored.push(verdict.why);
        if (ignored.length > MAX_IGNORED) finish(result('error', { detail: 'too many datagrams that do not answer the query' }));
        return;
      }
      const extra: Partial<DnsQueryObs> = { answers: verdict.answers };
      if (verdict.rcode !== undefined) extra.rcode = verdict.rcode;
      if (verdict.detail !== undefined) extra.detail = verdict.detail;
      finish(result(verdict.outcome, extra));
    });

    const send = (): void => {
      if (done) return;
      try {
        socket.send(query, (err) => {
          if (err) finish(result('error', { detail: describeSocketError(err, server, port) }));
        });
      } catch (err) {
        finish(result('error', { detail: describeSocketError(err as NodeJS.ErrnoException, server, port) }));
      }
    };
    try {
      // Node hands a failed connect (no route: ENETUNREACH, an IPv6 server without IPv6)
      // to this callback; sending on the unconnected socket would throw.
      socket.connect(port, server, (err?: Error) => {
        if (done) return;
        if (err) {
          finish(result('error', { detail: describeSocketError(err, server, port) }));
          return;
        }
        send();
        retransmitTimer = setTimeout(() => {
          retransmitted = true;
          send();
        }, opts.timeoutMs / 2);
      });
    } catch (err) {
      // Invalid port or address: thrown synchronously, reported like any socket error.
      finish(result('error', { detail: errorMessage(err) }));
    }
  });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

// ---------------------------------------------------------------------------------------
// The probes

/**
 * A configuration file under /etc (resolv.conf, nsswitch.conf, hosts), at most `maxBytes` of
 * it. Read synchronously, as glibc reads them in every lookup: a few small local files, tens
 * of microseconds, between the run's start and its first DNS query. Read asynchronously, each
 * file took three trips through the threadpool and the event loop (open, read, close), and
 * they came back only after the run's first look at the evidence: 4 to 10 ms before the
 * first query left, on a busy bastion.
 */
function readCapped(path: string, maxBytes = MAX_RESOLV_CONF_BYTES): string {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(maxBytes, Math.max(fstatSync(fd).size, 4096)));
    let length = 0;
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, length);
      if (n === 0) break;
      length += n;
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function readOrUndefined(path: string, maxBytes?: number): string | undefined {
  try {
    return readCapped(path, maxBytes);
  } catch {
    return undefined;
  }
}

/** resolv.conf's nameservers (none when it cannot be read), for reverse lookups. */
export function resolvConfNameservers(path = DEFAULT_RESOLV_CONF): string[] {
  const text = readOrUndefined(path);
  return text === undefined ? [] : parseResolvConf(text).nameservers;
}

export interface LocalNamesOptions {
  /** Default /etc/hosts. */
  hostsPath?: string;
  /** Default /etc/nsswitch.conf. */
  nsswitchPath?: string;
  /** Default: nscd's sockets under /run and /var/run. */
  nscdSocketPaths?: readonly string[];
}

interface LocalNames {
  /** The hosts file as getaddrinfo sees it, when nsswitch.conf reads it before DNS. */
  first?: { path: string; byName: Map<string, string[]>; byAddress: Map<string, string[]> };
  /** The hosts file, when getaddrinfo consults only it and DNS (see onlyFilesAndDns) and no nscd cache answers first. */
  only?: { path: string; byName: Map<string, string[]> };
}

/** nscd caches getaddrinfo's answers, positive and negative: with it running, only getent tells. */
const NSCD_SOCKETS = ['/run/nscd/socket', '/var/run/nscd/socket'];

/** What getaddrinfo's local sources say, from nsswitch.conf and the hosts file (unreadable: nothing). */
function localNames(opts: LocalNamesOptions): LocalNames {
  const nsswitch = readOrUndefined(opts.nsswitchPath ?? DEFAULT_NSSWITCH);
  const sources = nsswitchHosts(nsswitch);
  const only = onlyFilesAndDns(nsswitch);
  if (!filesBeforeDns(sources) && !only) return {};
  const path = opts.hostsPath ?? DEFAULT_HOSTS;
  const text = readOrUndefined(path, MAX_HOSTS_BYTES);
  if (text === undefined) return {};
  const file = { path, ...parseHostsFile(text) };
  const cached = only && (opts.nscdSocketPaths ?? NSCD_SOCKETS).some((socket) => existsSync(socket));
  return { ...(filesBeforeDns(sources) ? { first: file } : {}), ...(only && !cached ? { only: file } : {}) };
}

function goesOn(outcome: DnsOutcome): boolean {
  return outcome === 'nxdomain' || outcome === 'nodata' || outcome === 'servfail';
}

export interface ProbeDnsOptions extends LocalNamesOptions {
  name: string;
  /** Default /etc/resolv.conf. */
  resolvConfPath?: string;
  queryTimeoutMs: number;
  /** Default 53; tests point it at their own server. */
  port?: number;
}

export async function probeDns(opts: ProbeDnsOptions, ctx: ProbeContext, onUpdate?: Updater<DnsObs>): Promise<DnsObs> {
  const path = opts.resolvConfPath ?? DEFAULT_RESOLV_CONF;
  const port = opts.port ?? DNS_PORT;
  const obs: DnsObs = { state: 'running', startedMs: ctx.now(), resolvers: [], search: [], ndots: 1, candidates: [], queries: [] };
  const perResolver: DnsQueryObs[][] = [];
  const snapshot = (): DnsObs => ({ ...obs, queries: perResolver.flat() });
  const finish = (): DnsObs => ({ ...snapshot(), state: 'done', endedMs: ctx.now(), ...(ctx.signal.aborted ? { aborted: true } : {}) });

  let text: string;
  try {
    text = readCapped(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    obs.configNote = `cannot read ${path} (${code}): the resolver library would fall back to 127.0.0.1; not queried`;
    return finish();
  }
  const conf = parseResolvConf(text);
  obs.resolvers = conf.nameservers;
  obs.search = conf.search;
  obs.ndots = conf.ndots;
  if (isIP(opts.name) !== 0) {
    obs.configNote = `${sanitizeName(opts.name)} is an address literal: getaddrinfo does not ask DNS for it`;
    return finish();
  }
  // getaddrinfo stops at the hosts file when it answers: the name never reaches DNS. For a
  // name the file maps to this machine (localhost) DNS has nothing to add, and it is not asked.
  // Any other name in the file still is: DNS's answer is what shows a stale hosts line.
  const names = localNames(opts);
  const first = names.first;
  const key = opts.name.toLowerCase().replace(/\.$/, '');
  const fromFile = first?.byName.get(key);
  if (names.only) obs.filesAndDnsOnly = { hostsPath: names.only.path, addresses: names.only.byName.get(key) ?? [] };
  if (first && fromFile?.every(isLoopback)) {
    obs.configNote = `${sanitizeName(opts.name)} → ${fromFile.join(', ')} (this machine) from ${first.path}, which nsswitch.conf reads before DNS: ssh does not ask DNS for this name, so neither does this check`;
    return finish();
  }
  obs.candidates = candidateNames(opts.name, conf);
  if (conf.nameservers.length === 0) {
    // Deliberately no fallback to public servers: they say nothing about what ssh gets here.
    obs.configNote = `${path} lists no usable nameserver: the resolver library would fall back to 127.0.0.1; not queried`;
    return finish();
  }
  const timeoutMs = Math.min(opts.queryTimeoutMs, remainingMs(ctx));
  if (timeoutMs <= 0 || ctx.signal.aborted) return finish();
  // The queries' sockets open before the run hears of the candidates: its first look waits.
  const heard = (server: string): void => {
    if (obs.answeredBy?.includes(server) === true) return;
    obs.answeredBy = [...(obs.answeredBy ?? []), server];
    onUpdate?.(snapshot());
  };
  const walks = conf.nameservers.map((server, index) => {
    const asked: DnsQueryObs[] = [];
    perResolver[index] = asked;
    const walk = { server, port, candidates: obs.candidates, timeoutMs, ctx, heard: () => heard(server) };
    return walkSearchList(walk, (answers) => {
      asked.push(...answers);
      if (answers.length === 2) onUpdate?.(snapshot());
    });
  });
  onUpdate?.(snapshot());
  await Promise.all(walks);
  return finish();
}

interface Walk {
  server: string;
  port: number;
  candidates: readonly string[];
  timeoutMs: number;
  ctx: ProbeContext;
  /** The resolver answered one of the walk's queries (any rcode), counted in the walk yet or not. */
  heard: () => void;
}

/**
 * One resolver's search-list walk, as glibc's res_search makes it, in one round trip: every
 * candidate name is asked at once (A and AAAA), and the answers are taken in the library's
 * order. A candidate's answers count only once every earlier candidate has its own and each
 * of those moved on (a clean "no such name / no such record", or SERVFAIL: "try next search
 * element"); an answer, REFUSED, a timeout or an error ends the walk there, and the later
 * names' queries are dropped unread (their sockets closed): glibc would not have asked them,
 * so nothing they said reaches the observation. `take` gets each counted candidate's answers
 * in order (only one of the two when the run aborted the probe before the other came).
 * Asked one after the other, the walk cost a round trip and a turn of a busy event loop per
 * name, and a child process spawned in between held the last answer back for tens of ms.
 */
async function walkSearchList(walk: Walk, take: (answers: DnsQueryObs[]) => void): Promise<void> {
  const { server, port, candidates, timeoutMs, ctx } = walk;
  const unread = new AbortController();
  const stop = (): void => unread.abort();
  ctx.signal.addEventListener('abort', stop, { once: true });
  const common = { server, port, timeoutMs, signal: unread.signal, now: () => ctx.now() };
  const ask = (name: string, type: 'A' | 'AAAA'): Promise<DnsQueryObs | undefined> =>
    queryUdp({ ...common, name, type }).then((q) => {
      if (q !== undefined && q.outcome !== 'timeout' && q.outcome !== 'error') walk.heard();
      return q;
    });
  const asked = candidates.map((name) => Promise.all([ask(name, 'A'), ask(name, 'AAAA')]));
  try {
    for (const pair of asked) {
      const [a, aaaa] = await pair;
      take([a, aaaa].filter((q): q is DnsQueryObs => q !== undefined));
      // Undefined: the run aborted the probe before this name's answer came.
      if (!a || !aaaa) return;
      if (!(goesOn(a.outcome) && goesOn(aaaa.outcome))) return;
    }
  } finally {
    ctx.signal.removeEventListener('abort', stop);
    stop();
    await Promise.all(asked);
  }
}

export interface ProbePtrOptions extends LocalNamesOptions {
  address: string;
  role: 'target' | 'bastion';
  resolvers: string[];
  queryTimeoutMs: number;
  /** Default 53. */
  port?: number;
}

function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  const groups = ipv6Groups(address);
  if (groups === undefined) return false;
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] === 1) return true;
  // ::ffff:127.x.y.z
  return groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff && (groups[6] ?? 0) >> 8 === 127;
}

export async function probePtr(opts: ProbePtrOptions, ctx: ProbeContext): Promise<PtrObs> {
  const startedMs = ctx.now();
  const base: PtrObs = { state: 'running', startedMs, address: opts.address, role: opts.role, queries: [] };
  const finish = (queries: DnsQueryObs[], unavailable?: string): PtrObs => {
    const obs: PtrObs = { ...base, queries, state: 'done', endedMs: ctx.now() };
    if (unavailable !== undefined) obs.unavailable = unavailable;
    if (ctx.signal.aborted) obs.aborted = true;
    return obs;
  };
  const name = reverseName(opts.address);
  if (name === undefined) return finish([], `${sanitizeName(opts.address)} is not an IP address`);
  // The hosts file answers reverse lookups before DNS too; a loopback address (the target is
  // this machine, and so is the sshd that looks the bastion up) is not a question for DNS.
  if (isLoopback(opts.address)) {
    const local = localNames(opts).first;
    const names = local?.byAddress.get(opts.address);
    if (local && names) {
      const detail = `from ${local.path}, which nsswitch.conf reads before DNS: not asked of DNS`;
      return finish([{ server: local.path, name, type: 'PTR', outcome: 'answer', answers: names.map(sanitizeName), detail }]);
    }
  }
  const timeoutMs = Math.min(opts.queryTimeoutMs, remainingMs(ctx));
  if (timeoutMs <= 0) return finish([]);

  const results = await Promise.all(
    opts.resolvers.slice(0, 3).map((server) =>
      queryUdp({ server, port: opts.port ?? DNS_PORT, name, type: 'PTR', timeoutMs, signal: ctx.signal, now: () => ctx.now() }),
    ),
  );
  return finish(results.filter((q): q is DnsQueryObs => q !== undefined));
}
