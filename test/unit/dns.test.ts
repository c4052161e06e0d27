// The DNS probe against a real dns2 UDP server on 127.0.0.1 (a random port), one behaviour
// per name: answers, NODATA, NXDOMAIN, SERVFAIL, REFUSED, silence, TC, garbage, wrong ids,
// wrong questions, CNAME chains, search-list walks, PTR; plus ECONNREFUSED and abort.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dns2 from 'dns2';
import { buildQuery, interpretReply, probeDns, probePtr, queryUdp, reverseName, sanitizeName } from '../../src/engine/probes/dns.js';
import type { DnsObs, DnsQueryObs } from '../../src/engine/observations.js';
import { testContext } from '../support/context.js';

const { Packet } = dns2;
/** dns2 has these at runtime but not in its type declarations. */
const RCODE = { SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
const ZONE = 'example.test';
const V4 = '192.0.2.10';
const V6 = '2001:db8::10';

let server: dns2.UDPServer;
let port = 0;
let freePort = 0;
let dir = '';
/** Queries the server received, by name, to check retransmissions. */
const seen = new Map<string, number>();
/** Replies to `held.*` names, kept back until four questions are in (see respond). */
const held: Array<() => void> = [];

function resource(name: string, type: number, data: { address?: string; domain?: string }): dns2.Packet.Resource {
  return new Packet.Resource({ name, type, class: Packet.CLASS.IN, ttl: 60, ...data });
}

function respond(request: dns2.Packet, rinfo: dgram.RemoteInfo, send: (p: dns2.Packet | Buffer) => Promise<Buffer>): void {
  const q = request.questions[0];
  if (!q) return;
  const name = q.name.toLowerCase();
  const count = (seen.get(`${name}/${q.type}`) ?? 0) + 1;
  seen.set(`${name}/${q.type}`, count);
  const first = name.split('.')[0] ?? '';
  const response = Packet.createResponseFromRequest(request);
  response.header.ra = 1;
  const raw = (buffer: Buffer): void => server.send(buffer, rinfo.port, rinfo.address);
  const reply = (): void => void send(response).catch(() => undefined);

  if (q.type === Packet.TYPE.PTR) {
    if (name === reverseName(V4) || name === reverseName(V6)) response.answers.push(resource(q.name, Packet.TYPE.PTR, { domain: `www.${ZONE}` }));
    else if (name === reverseName('192.0.2.66')) response.answers.push(resource(q.name, Packet.TYPE.PTR, { domain: 'evil\u0007name.test' }));
    else response.header.rcode = RCODE.NXDOMAIN;
    return reply();
  }
  if (!name.endsWith(`.${ZONE}`)) {
    response.header.rcode = RCODE.NXDOMAIN;
    return reply();
  }
  switch (first) {
    case 'slow':
      return;
    case 'half':
      // The A query goes unanswered, the AAAA query is answered at once.
      if (q.type === Packet.TYPE.A) return;
      response.header.rcode = RCODE.NXDOMAIN;
      return reply();
    case 'held': {
      // Two search-list names, A and AAAA: no reply until all four questions are in, then
      // newest first. Only a probe that asks the names at once gets any answer, and the later
      // name's answers arrive before the earlier name's.
      const outcome = name.split('.')[1];
      if (outcome === 'nx') response.header.rcode = RCODE.NXDOMAIN;
      else if (outcome === 'refused') response.header.rcode = RCODE.REFUSED;
      else if (q.type === Packet.TYPE.A) response.answers.push(resource(q.name, Packet.TYPE.A, { address: V4 }));
      else if (q.type === Packet.TYPE.AAAA) response.answers.push(resource(q.name, Packet.TYPE.AAAA, { address: V6 }));
      held.push(reply);
      if (held.length === 4) for (const r of held.splice(0).reverse()) r();
      return;
    }
    case 'retx':
      if (count === 1) return; // only the retransmission is answered
      break;
    case 'nx':
      response.header.rcode = RCODE.NXDOMAIN;
      return reply();
    case 'fail':
      response.header.rcode = RCODE.SERVFAIL;
      return reply();
    case 'refused':
      response.header.rcode = RCODE.REFUSED;
      return reply();
    case 'refusedbare':
      response.header.rcode = RCODE.REFUSED;
      response.questions = [];
      return reply();
    case 'tc':
      response.header.tc = 1;
      return reply();
    case 'garbage':
      return raw(Buffer.from('garbage'));
    case 'garbageid': {
      // The right id, then junk: it claims to be our reply and cannot be read.
      const junk = Buffer.alloc(40, 0xff);
      junk.writeUInt16BE(request.header.id, 0);
      return raw(junk);
    }
    case 'oversized': {
      const big = Buffer.alloc(5000);
      big.writeUInt16BE(request.header.id, 0);
      return raw(big);
    }
    case 'badid':
    case 'badidthengood': {
      const wrong = Packet.createResponseFromRequest(request);
      wrong.header.id = (request.header.id + 1) & 0xffff;
      wrong.answers.push(resource(q.name, Packet.TYPE.A, { address: '198.51.100.66' }));
      raw(wrong.toBuffer());
      if (first === 'badid') return;
      break;
    }
    case 'wrongq': {
      const other = Packet.createResponseFromRequest(request);
      other.questions = [new Packet.Question(`other.${ZONE}`, q.type, Packet.CLASS.IN)];
      other.answers.push(resource(`other.${ZONE}`, Packet.TYPE.A, { address: '198.51.100.66' }));
      return raw(other.toBuffer());
    }
    case 'badaddr':
      if (q.type === Packet.TYPE.A) response.answers.push(resource(q.name, Packet.TYPE.A, { address: '1.2.3' }));
      return reply();
    default:
      break;
  }
  let owner = q.name;
  if (first === 'cname') {
    for (const next of [`alias1.${ZONE}`, `www.${ZONE}`]) {
      response.answers.push(resource(owner, Packet.TYPE.CNAME, { domain: next }));
      owner = next;
    }
  }
  if (first === 'cnameloop') {
    response.answers.push(resource(owner, Packet.TYPE.CNAME, { domain: `cnameloop2.${ZONE}` }));
    response.answers.push(resource(`cnameloop2.${ZONE}`, Packet.TYPE.CNAME, { domain: owner }));
    return reply();
  }
  if (q.type === Packet.TYPE.A) response.answers.push(resource(owner, Packet.TYPE.A, { address: V4 }));
  if (q.type === Packet.TYPE.AAAA && first !== 'v4only') response.answers.push(resource(owner, Packet.TYPE.AAAA, { address: V6 }));
  reply();
}

before(async () => {
  server = dns2.createUDPServer({ type: 'udp4' });
  server.on('request', (request, send, client) => respond(request, client as dgram.RemoteInfo, send));
  await server.listen(0, '127.0.0.1');
  port = server.address().port;
  // A port nobody listens on: bind, note, close.
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((ok) => probe.bind(0, '127.0.0.1', ok));
  freePort = probe.address().port;
  await new Promise<void>((ok) => probe.close(ok));
  dir = mkdtempSync(join(tmpdir(), 'sshcheck-dns-'));
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function resolvConf(body: string): string {
  const path = join(dir, `resolv-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(path, body);
  return path;
}

const ONE = (): string => resolvConf(`nameserver 127.0.0.1\nsearch ${ZONE}\n`);

function query(name: string, type: 'A' | 'AAAA' | 'PTR' = 'A', timeoutMs = 1000, atPort = port): Promise<DnsQueryObs | undefined> {
  const ctx = testContext();
  return queryUdp({ server: '127.0.0.1', port: atPort, name, type, timeoutMs, signal: ctx.signal, now: () => ctx.now() });
}

async function dnsFor(name: string, opts: { conf?: string; queryTimeoutMs?: number; deadlineMs?: number } = {}): Promise<DnsObs> {
  return probeDns({ name, resolvConfPath: opts.conf ?? ONE(), queryTimeoutMs: opts.queryTimeoutMs ?? 1000, port }, testContext(opts.deadlineMs ?? 5000));
}

const outcomes = (obs: DnsObs): string[] => obs.queries.map((q) => `${q.name} ${q.type} ${q.outcome}`);

// ---------------------------------------------------------------------------------------

test('answer: A and AAAA, latency, NOERROR', async () => {
  const obs = await dnsFor(`www.${ZONE}`);
  assert.equal(obs.state, 'done');
  assert.deepEqual(obs.resolvers, ['127.0.0.1']);
  assert.deepEqual(obs.candidates, [`www.${ZONE}`, `www.${ZONE}.${ZONE}`]);
  assert.deepEqual(outcomes(obs), [`www.${ZONE} A answer`, `www.${ZONE} AAAA answer`]);
  assert.deepEqual(obs.queries[0]?.answers, [V4]);
  assert.deepEqual(obs.queries[1]?.answers, [V6]);
  assert.equal(obs.queries[0]?.rcode, 'NOERROR');
  assert.ok((obs.queries[0]?.latencyMs ?? Infinity) < 500);
});

test('nodata: AAAA without records is NOERROR/NODATA, the A answer stops the walk', async () => {
  const obs = await dnsFor(`v4only.${ZONE}`);
  assert.deepEqual(outcomes(obs), [`v4only.${ZONE} A answer`, `v4only.${ZONE} AAAA nodata`]);
  assert.equal(obs.queries[1]?.rcode, 'NOERROR');
});

test('nxdomain: every candidate is asked, in the resolver library order', async () => {
  const obs = await dnsFor('nx');
  assert.deepEqual(outcomes(obs), [`nx.${ZONE} A nxdomain`, `nx.${ZONE} AAAA nxdomain`, 'nx A nxdomain', 'nx AAAA nxdomain']);
  assert.equal(obs.queries[0]?.rcode, 'NXDOMAIN');
});

test('search list: candidates walked until one answers', async () => {
  const conf = resolvConf(`nameserver 127.0.0.1\nsearch corp.test ${ZONE} other.test\noptions ndots:1\n`);
  const obs = await dnsFor('db', { conf });
  assert.deepEqual(obs.candidates, ['db.corp.test', `db.${ZONE}`, 'db.other.test', 'db']);
  assert.deepEqual(outcomes(obs), ['db.corp.test A nxdomain', 'db.corp.test AAAA nxdomain', `db.${ZONE} A answer`, `db.${ZONE} AAAA answer`]);
});

test('the search list is asked at once; a later name\'s answers count only after every earlier name has its own, in the resolver library order', async () => {
  // The server answers nothing until both names' questions are in, then the later name first.
  const conf = resolvConf(`nameserver 127.0.0.1\nsearch nx.${ZONE} ok.${ZONE}\n`);
  const snapshots: DnsObs[] = [];
  const obs = await probeDns({ name: 'held', resolvConfPath: conf, queryTimeoutMs: 2000, port }, testContext(), (s) => snapshots.push(s));
  assert.deepEqual(obs.candidates, [`held.nx.${ZONE}`, `held.ok.${ZONE}`, 'held']);
  assert.deepEqual(outcomes(obs), [`held.nx.${ZONE} A nxdomain`, `held.nx.${ZONE} AAAA nxdomain`, `held.ok.${ZONE} A answer`, `held.ok.${ZONE} AAAA answer`]);
  // No look at the probe ever saw the later name without the earlier one.
  for (const snapshot of snapshots) assert.deepEqual(outcomes(snapshot), outcomes(obs).slice(0, snapshot.queries.length));
});

test('an earlier name that ends the walk (REFUSED): a later name\'s answer, already in, is not used, and its socket is closed', async () => {
  const udpBefore = process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
  const bareBefore = seen.get('held/1') ?? 0;
  const conf = resolvConf(`nameserver 127.0.0.1\nsearch refused.${ZONE} ok.${ZONE}\n`);
  const obs = await probeDns({ name: 'held', resolvConfPath: conf, queryTimeoutMs: 2000, port }, testContext());
  assert.deepEqual(outcomes(obs), [`held.refused.${ZONE} A refused`, `held.refused.${ZONE} AAAA refused`]);
  assert.ok(obs.queries.every((q) => q.answers.length === 0));
  // glibc would not have asked `held` at all: asked here (the server sees it, in its own
  // time), its answer is dropped unread too.
  for (let turn = 0; turn < 1000 && seen.get('held/1') !== bareBefore + 1; turn++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(seen.get('held/1'), bareBefore + 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length, udpBefore);
});

test('a resolver that answered half a pair is alive before the walk counts the pair', async () => {
  const snapshots: DnsObs[] = [];
  const obs = await probeDns({ name: `half.${ZONE}.`, resolvConfPath: ONE(), queryTimeoutMs: 300, port }, testContext(), (s) => snapshots.push(s));
  assert.ok(snapshots.some((s) => s.queries.length === 0 && s.answeredBy?.includes('127.0.0.1') === true), 'heard from before the pair was complete');
  assert.deepEqual(outcomes(obs), [`half.${ZONE} A timeout`, `half.${ZONE} AAAA nxdomain`]);
  assert.deepEqual(obs.answeredBy, ['127.0.0.1']);
});

test('servfail goes on to the next search-list name (glibc res_search: "try next search element"); refused stops the walk', async () => {
  const fail = await dnsFor('fail');
  assert.deepEqual(outcomes(fail), [`fail.${ZONE} A servfail`, `fail.${ZONE} AAAA servfail`, 'fail A nxdomain', 'fail AAAA nxdomain']);
  assert.equal(fail.queries[0]?.rcode, 'SERVFAIL');
  const refused = await dnsFor(`refused.${ZONE}`);
  assert.deepEqual(outcomes(refused), [`refused.${ZONE} A refused`, `refused.${ZONE} AAAA refused`]);
  // A REFUSED without a question section is still this query's answer.
  assert.equal((await query(`refusedbare.${ZONE}`))?.outcome, 'refused');
});

test('timeout: one retransmission at half the timeout, then timeout', async () => {
  const obs = await query(`slow.${ZONE}`, 'A', 300);
  assert.equal(obs?.outcome, 'timeout');
  assert.ok((obs?.latencyMs ?? 0) >= 290 && (obs?.latencyMs ?? Infinity) < 600, `latency ${obs?.latencyMs}`);
  assert.match(obs?.detail ?? '', /no reply in 300 ms; after a retransmission/);
  assert.equal(seen.get(`slow.${ZONE}/1`), 2);
});

test('the retransmission gets the answer the first datagram did not', async () => {
  const obs = await query(`retx.${ZONE}`, 'A', 400);
  assert.equal(obs?.outcome, 'answer');
  assert.ok((obs?.latencyMs ?? 0) >= 190, `latency ${obs?.latencyMs}`);
  assert.match(obs?.detail ?? '', /after a retransmission/);
});

test('truncated: the TC bit', async () => {
  const obs = await query(`tc.${ZONE}`);
  assert.equal(obs?.outcome, 'truncated');
  assert.match(obs?.detail ?? '', /TC bit/);
});

test('garbage replies are errors: too short, unparseable, oversized', async () => {
  const short = await query(`garbage.${ZONE}`);
  assert.equal(short?.outcome, 'error');
  assert.match(short?.detail ?? '', /garbage reply: 7 bytes/);
  const junk = await query(`garbageid.${ZONE}`);
  assert.equal(junk?.outcome, 'error');
  assert.match(junk?.detail ?? '', /malformed|unparseable/);
  const big = await query(`oversized.${ZONE}`);
  assert.equal(big?.outcome, 'error');
  assert.match(big?.detail ?? '', /oversized reply: 5000 bytes/);
});

test('a reply with the wrong id is ignored: timeout if nothing else comes', async () => {
  const obs = await query(`badid.${ZONE}`, 'A', 300);
  assert.equal(obs?.outcome, 'timeout');
  assert.deepEqual(obs?.answers, []);
  assert.match(obs?.detail ?? '', /ignored 2 non-matching datagram\(s\): id \d+ instead of \d+/);
});

test('a reply with the wrong id, then the right one: the right one counts', async () => {
  const obs = await query(`badidthengood.${ZONE}`);
  assert.equal(obs?.outcome, 'answer');
  assert.deepEqual(obs?.answers, [V4]);
  assert.match(obs?.detail ?? '', /ignored 1/);
});

test('a reply to another question is ignored', async () => {
  const obs = await query(`wrongq.${ZONE}`, 'A', 300);
  assert.equal(obs?.outcome, 'timeout');
  assert.match(obs?.detail ?? '', /question other\.example\.test does not match/);
});

test('invalid addresses are not passed on', async () => {
  const obs = await query(`badaddr.${ZONE}`);
  assert.equal(obs?.outcome, 'error');
  assert.deepEqual(obs?.answers, []);
  assert.match(obs?.detail ?? '', /invalid data/);
});

test('ECONNREFUSED at once when nothing listens on the port', async () => {
  const obs = await query(`www.${ZONE}`, 'A', 2000, freePort);
  assert.equal(obs?.outcome, 'error');
  assert.match(obs?.detail ?? '', /nothing listens on UDP port/);
  assert.ok((obs?.latencyMs ?? Infinity) < 500, `latency ${obs?.latencyMs}`);
});

test('several resolvers are asked in parallel and reported in resolv.conf order', async () => {
  // 127.0.0.2 is loopback too, but the server is bound to 127.0.0.1 only.
  const conf = resolvConf(`nameserver 127.0.0.2\nnameserver 127.0.0.1\nsearch ${ZONE}\n`);
  const obs = await dnsFor(`www.${ZONE}`, { conf });
  assert.deepEqual(obs.resolvers, ['127.0.0.2', '127.0.0.1']);
  assert.deepEqual(
    obs.queries.map((q) => `${q.server} ${q.type} ${q.outcome}`),
    ['127.0.0.2 A error', '127.0.0.2 AAAA error', '127.0.0.1 A answer', '127.0.0.1 AAAA answer'],
  );
});

test('CNAME chain: followed inside the answer, answers are the final addresses', async () => {
  const obs = await dnsFor(`cname.${ZONE}`);
  assert.deepEqual(outcomes(obs), [`cname.${ZONE} A answer`, `cname.${ZONE} AAAA answer`]);
  assert.deepEqual(obs.queries[0]?.answers, [V4]);
  assert.equal(obs.queries[0]?.detail, `CNAME cname.${ZONE} → alias1.${ZONE} → www.${ZONE}`);
  const loop = await query(`cnameloop.${ZONE}`);
  assert.equal(loop?.outcome, 'nodata');
});

test('no nameserver in resolv.conf: a note, and nothing is asked (no public fallback)', async () => {
  const obs = await dnsFor(`www.${ZONE}`, { conf: resolvConf(`search ${ZONE}\n`) });
  assert.deepEqual(obs.queries, []);
  assert.match(obs.configNote ?? '', /no usable nameserver/);
  const missing = await dnsFor(`www.${ZONE}`, { conf: join(dir, 'does-not-exist.conf') });
  assert.match(missing.configNote ?? '', /cannot read .* \(ENOENT\)/);
  assert.deepEqual(missing.queries, []);
});

test('running snapshots while queries finish', async () => {
  const snapshots: DnsObs[] = [];
  const obs = await probeDns({ name: 'nx', resolvConfPath: ONE(), queryTimeoutMs: 1000, port }, testContext(), (s) => snapshots.push(s));
  assert.ok(snapshots.length >= 2);
  assert.ok(snapshots.every((s) => s.state === 'running'));
  assert.equal(obs.state, 'done');
});

test('abort: the probe returns at once, marked aborted, and leaves no socket open', async () => {
  const udpBefore = process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
  const ctx = testContext(10_000);
  setTimeout(() => ctx.abort(), 50);
  const obs = await probeDns({ name: `slow.${ZONE}`, resolvConfPath: ONE(), queryTimeoutMs: 5000, port }, ctx);
  assert.equal(obs.aborted, true);
  assert.equal(obs.state, 'done');
  assert.ok((obs.endedMs ?? Infinity) < 300, `ended at ${obs.endedMs}`);
  assert.deepEqual(obs.queries, []);
  await new Promise((r) => setImmediate(r));
  assert.equal(process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length, udpBefore);
});

test('the deadline shortens the query timeout', async () => {
  const obs = await dnsFor(`slow.${ZONE}`, { queryTimeoutMs: 5000, deadlineMs: 300 });
  assert.ok(obs.queries.every((q) => q.outcome === 'timeout'));
  assert.ok((obs.endedMs ?? Infinity) < 600, `ended at ${obs.endedMs}`);
});

test('PTR of IPv4 and IPv6 addresses at each resolver; names sanitized', async () => {
  const ptr = (address: string): ReturnType<typeof probePtr> =>
    probePtr({ address, role: 'target', resolvers: ['127.0.0.1'], queryTimeoutMs: 1000, port }, testContext());
  const v4 = await ptr(V4);
  assert.equal(v4.queries[0]?.name, '10.2.0.192.in-addr.arpa');
  assert.deepEqual(v4.queries[0]?.answers, [`www.${ZONE}`]);
  const v6 = await ptr(V6);
  assert.equal(v6.queries[0]?.name, `0.1.${'0.'.repeat(22)}8.b.d.0.1.0.0.2.ip6.arpa`);
  assert.equal(v6.queries[0]?.outcome, 'answer');
  const none = await probePtr({ address: '192.0.2.99', role: 'bastion', resolvers: ['127.0.0.1'], queryTimeoutMs: 1000, port }, testContext());
  assert.equal(none.role, 'bastion');
  assert.equal(none.queries[0]?.outcome, 'nxdomain');
  assert.deepEqual((await ptr('192.0.2.66')).queries[0]?.answers, ['evil?name.test']);
  assert.match((await ptr('db-3')).unavailable ?? '', /not an IP address/);
});

test('reverse names and sanitizing (pure)', () => {
  assert.equal(reverseName('10.77.2.2'), '2.2.77.10.in-addr.arpa');
  assert.equal(reverseName('::ffff:10.0.0.1'), `1.0.0.0.0.0.a.0.f.f.f.f.${'0.'.repeat(20)}ip6.arpa`);
  assert.equal(reverseName('example.test'), undefined);
  assert.equal(sanitizeName('a\u0000b c\u00e9'), 'a?b?c?');
  assert.equal(sanitizeName('x'.repeat(300)).length, 253);
});

test('a query packet echoed back (QR=0) is not taken for a reply', () => {
  const q = new Packet();
  q.header.id = 4242;
  q.questions.push(new Packet.Question(`www.${ZONE}`, Packet.TYPE.A, Packet.CLASS.IN));
  assert.equal(interpretReply(q.toBuffer(), { id: 4242, name: `www.${ZONE}`, type: 'A' }).kind, 'ignore');
});

test('a query is the message dns2 would encode: RD set, one question, no EDNS; names it cannot encode throw', () => {
  const types = { A: Packet.TYPE.A, AAAA: Packet.TYPE.AAAA, PTR: Packet.TYPE.PTR } as const;
  for (const [name, type] of [[`www.${ZONE}`, 'A'], ['db', 'AAAA'], [reverseName(V6) ?? '', 'PTR'], [`${'x'.repeat(63)}.${ZONE}`, 'A']] as const) {
    const packet = new Packet();
    packet.header.id = 0xbeef;
    packet.header.rd = 1;
    packet.questions.push(new Packet.Question(name, types[type], Packet.CLASS.IN));
    assert.deepEqual(buildQuery(0xbeef, name, type), packet.toBuffer(), `${name} ${type}`);
  }
  assert.throws(() => buildQuery(1, `${'x'.repeat(64)}.${ZONE}`, 'A'), /64 octets/);
  assert.throws(() => buildQuery(1, Array.from({ length: 5 }, () => 'y'.repeat(60)).join('.'), 'A'), /octets on the wire/);
});

test('a name that cannot be encoded (a label over 63 bytes) is an error, not a rejection', async () => {
  const obs = await dnsFor(`${'x'.repeat(64)}.${ZONE}`);
  assert.equal(obs.state, 'done');
  assert.ok(obs.queries.length > 0);
  assert.ok(obs.queries.every((q) => q.outcome === 'error' && /cannot encode/.test(q.detail ?? '')));
});
