// The checklist and the diagnosis as pure functions: observation snapshots at chosen
// moments on the run's clock in, step verdicts and the settled diagnosis out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessAll } from '../../src/engine/checklist/assess.js';
import { diagnose } from '../../src/engine/checklist/diagnose.js';
import type { Observations } from '../../src/engine/observations.js';
import type { StepId } from '../../src/engine/report.js';
import { STEP_IDS } from '../../src/engine/report.js';
import { ADDRESS, completeHandshake, control, handshake, input, pingReply, pingSilent, verboseDone } from '../support/observations.js';

function judge(obs: Partial<Observations>, now: number, opts: { final?: boolean; target?: string } = {}) {
  const i = input(obs, now, opts);
  const steps = assessAll(i);
  const state = diagnose(steps, i.target, 'bastion-1', i.final);
  const step = (id: StepId) => {
    const s = steps.find((x) => x.id === id);
    assert.ok(s);
    return s;
  };
  return { steps, step, ...state };
}

test('every assessment has the ten steps in checklist order', () => {
  const { steps } = judge({}, 0);
  assert.deepEqual(steps.map((s) => s.id), [...STEP_IDS]);
});

test('healthy settles only once ssh -vvv has confirmed the handshake', () => {
  const obs = { handshakes: [completeHandshake()], ping: pingSilent(), control: control('refused') };
  const early = judge({ ...obs, verbose: { ...verboseDone('connecting'), state: 'running' as const } }, 20);
  assert.equal(early.settled, false);
  const done = judge({ ...obs, verbose: verboseDone('auth-denied') }, 200);
  assert.equal(done.settled, true);
  assert.equal(done.diagnosis.cause, 'healthy');
  assert.equal(done.diagnosis.step, null);
  assert.equal(done.step('connectivity').status, 'pass', 'blocked ICMP is not "down"');
});

test('a SYN dropped while the host answers ping becomes port-filtered only after the retransmission', () => {
  const obs = { handshakes: [handshake()], ping: pingReply(), control: control('refused') };
  const before = judge(obs, 1000);
  assert.equal(before.settled, false);
  assert.equal(before.step('firewall').status, 'running');
  const after = judge(obs, 1250);
  assert.equal(after.settled, true);
  assert.equal(after.diagnosis.cause, 'port-filtered');
  assert.equal(after.diagnosis.step, 'firewall');
  assert.equal(after.diagnosis.confidence, 'high');
  assert.ok(after.diagnosis.alternatives.some((a) => a.cause === 'banned'));
});

test('total silence waits out the ARP window, then says no-response with banned as an alternative', () => {
  const obs = { handshakes: [handshake()], ping: pingSilent(), control: control(undefined) };
  assert.equal(judge(obs, 3300).settled, false, 'a router may still report the host unreachable');
  const later = judge(obs, 3700);
  assert.equal(later.settled, true);
  assert.equal(later.diagnosis.cause, 'no-response');
  assert.ok(later.diagnosis.alternatives.some((a) => a.cause === 'banned'));
});

test('a TCP reset settles port-closed at once', () => {
  const h = handshake({ state: 'done', tcp: { outcome: 'refused', atMs: 0.4 }, end: { kind: 'refused', phase: 'connect', atMs: 0.4, detail: 'ECONNREFUSED' } });
  const r = judge({ handshakes: [h], ping: pingSilent() }, 1);
  assert.equal(r.settled, true);
  assert.equal(r.diagnosis.cause, 'port-closed');
  assert.equal(r.diagnosis.step, 'sshd');
  assert.ok(r.diagnosis.alternatives.some((a) => a.cause === 'port-rejected'));
});

test('an ICMP reject while ping says "Packet filtered" is port-rejected', () => {
  const h = handshake({ state: 'done', tcp: { outcome: 'host-unreachable', errno: 'EHOSTUNREACH', atMs: 0.5 } });
  const ping = { ...pingSilent('done'), errors: [{ from: ADDRESS, kind: 'admin-prohibited' as const, text: 'Packet filtered' }] };
  const r = judge({ handshakes: [h], ping }, 2);
  assert.equal(r.diagnosis.cause, 'port-rejected');
  assert.equal(r.diagnosis.confidence, 'high');
  assert.equal(r.settled, true);
});

test('"host unreachable" after the ARP timeout is host-unreachable', () => {
  const h = handshake({ state: 'done', tcp: { outcome: 'host-unreachable', errno: 'EHOSTUNREACH', atMs: 3010 } });
  const ping = { ...pingSilent('done'), errors: [{ from: '10.0.0.1', kind: 'host-unreachable' as const, text: 'Destination Host Unreachable' }] };
  const r = judge({ handshakes: [h], ping }, 3020);
  assert.equal(r.diagnosis.cause, 'host-unreachable');
  assert.equal(r.diagnosis.step, 'connectivity');
});

test('the control port\'s late "host unreachable" names an address nobody owns when the SSH port\'s answer was rate-limited away', () => {
  // A router sends a burst of 6 "host unreachable" after a failed ARP; with ping, ssh -vvv and
  // the path trace queued too, the one for our SSH-port SYN may be the one it did not send.
  const ctl = control('host-unreachable', 3100);
  const obs = { handshakes: [handshake()], ping: pingSilent('done'), control: ctl };
  const r = judge(obs, 3300);
  assert.equal(r.settled, true);
  assert.equal(r.diagnosis.cause, 'host-unreachable');
  assert.match(r.diagnosis.summary, /port 1 got "host unreachable" after 3\.1 s/);
  // An immediate unreachable on the control port is a REJECT rule there, not an ARP failure:
  // it says nothing about the SSH port, which stays silent.
  const quick = judge({ ...obs, control: control('host-unreachable', 2) }, 3700);
  assert.equal(quick.diagnosis.cause, 'no-response');
});

test('a connection closed 5 s after the connect without a banner is TCP wrappers', () => {
  const h = handshake({ state: 'done', tcp: { outcome: 'connected', atMs: 1 }, end: { kind: 'reset', phase: 'banner', atMs: 5003, detail: 'ECONNRESET' } });
  const r = judge({ handshakes: [h], ping: pingReply(), verbose: verboseDone('connected', { kind: 'reset-before-banner', line: 'kex_exchange_identification: read: Connection reset by peer', t: 5002 }) }, 5004);
  assert.equal(r.diagnosis.cause, 'connection-closed');
  assert.equal(r.diagnosis.confidence, 'high');
  assert.equal(r.step('tcp-wrappers').status, 'fail');
});

test('a silent peer after the connect is a banner timeout only after the banner timeout', () => {
  const h = handshake({ tcp: { outcome: 'connected', atMs: 1 } });
  assert.equal(judge({ handshakes: [h], ping: pingReply() }, 5000).step('sshd').status, 'running');
  const r = judge({ handshakes: [h], ping: pingReply() }, 8002);
  assert.equal(r.diagnosis.cause, 'banner-timeout');
});

test('a key exchange that stalls after the banner is kex-stall, high with a blackhole in the MTU sweep', () => {
  const h = handshake({ tcp: { outcome: 'connected', atMs: 1 }, at: { banner: 2 }, banner: { line: 'SSH-2.0-OpenSSH_9.2p1', protoVersion: '2.0', software: 'OpenSSH_9.2p1' } });
  const mtu = {
    state: 'done' as const,
    startedMs: 300,
    endedMs: 1300,
    address: ADDRESS,
    localMtu: 1500,
    probes: [
      { mtu: 1500, outcome: 'no-reply' as const },
      { mtu: 1200, outcome: 'no-reply' as const },
      { mtu: 1000, outcome: 'reply' as const },
      { mtu: 576, outcome: 'reply' as const },
    ],
  };
  assert.equal(judge({ handshakes: [h], ping: pingReply() }, 1000).settled, false);
  const r = judge({ handshakes: [h], ping: pingReply(), mtu }, 1600);
  assert.equal(r.diagnosis.cause, 'kex-stall');
  assert.equal(r.diagnosis.confidence, 'high');
  assert.match(r.diagnosis.summary, /MTU/);
});

// Under packet loss a banner lost once is resent merged with the KEXINIT queued behind it,
// and an MTU blackhole then eats it on every retransmission (lab: mtu-blackhole with loss).
const blackholeSweep = {
  state: 'done' as const,
  startedMs: 1000,
  endedMs: 3000,
  address: ADDRESS,
  localMtu: 1500,
  probes: [
    { mtu: 1500, outcome: 'no-reply' as const },
    { mtu: 1200, outcome: 'no-reply' as const },
    { mtu: 1000, outcome: 'reply' as const },
    { mtu: 576, outcome: 'reply' as const },
  ],
};

test('no banner on a path that eats large packets is the blackhole, not a banner timeout', () => {
  const h = handshake({ tcp: { outcome: 'connected', atMs: 1 } });
  // ssh -vvv's own connection got sshd's banner, then stalled: sshd greets, the path loses.
  const verbose = { ...verboseDone('kexinit-sent'), state: 'running' as const, parsed: { phases: [{ id: 'ident-received' as const, t: 90, line: 'Remote protocol version 2.0' }], last: 'kexinit-sent' as const } };
  const early = judge({ handshakes: [h], ping: pingReply(), control: control('refused'), verbose, mtu: blackholeSweep }, 3100);
  assert.equal(early.settled, true, 'settled before the banner timeout');
  assert.equal(early.diagnosis.cause, 'kex-stall');
  assert.equal(early.diagnosis.step, 'vpn-proxy');
  assert.equal(early.diagnosis.confidence, 'high');
  assert.match(early.diagnosis.summary, /MTU blackhole, path MTU ≈ 1000/);
  assert.equal(early.step('sshd').status, 'warn');
  // Without ssh -vvv's banner the blackhole is named only once the banner timed out, with
  // medium confidence, and the banner timeout stays a weak alternative.
  const alone = judge({ handshakes: [h], ping: pingReply(), control: control('refused'), mtu: blackholeSweep }, 3100);
  assert.equal(alone.step('sshd').status, 'running');
  const late = judge({ handshakes: [h], ping: pingReply(), control: control('refused'), mtu: blackholeSweep }, 8002);
  assert.equal(late.diagnosis.cause, 'kex-stall');
  assert.equal(late.diagnosis.confidence, 'medium');
  assert.ok(late.diagnosis.alternatives.some((a) => a.cause === 'banner-timeout' && a.confidence === 'low'));
});

test('no banner while every don\'t-fragment size crosses stays a banner timeout', () => {
  const h = handshake({ tcp: { outcome: 'connected', atMs: 1 } });
  const clear = { ...blackholeSweep, probes: blackholeSweep.probes.map((p) => ({ ...p, outcome: 'reply' as const })) };
  const r = judge({ handshakes: [h], ping: pingReply(), mtu: clear }, 8002);
  assert.equal(r.diagnosis.cause, 'banner-timeout');
  assert.equal(r.diagnosis.confidence, 'high');
});

test('a peer that is not SSH is not-ssh', () => {
  const h = handshake({ state: 'done', tcp: { outcome: 'connected', atMs: 1 }, end: { kind: 'not-ssh', phase: 'banner', atMs: 2, detail: 'it answered "HTTP/1.1 400 Bad Request"' } });
  const r = judge({ handshakes: [h], ping: pingReply() }, 3);
  assert.equal(r.diagnosis.cause, 'not-ssh');
  assert.equal(r.diagnosis.step, 'vpn-proxy');
});

test('slow authentication methods are auth-slow', () => {
  const h = completeHandshake();
  h.at['auth-methods'] = (h.at.newkeys ?? 0) + 6000;
  const r = judge({ handshakes: [h], ping: pingReply(), verbose: verboseDone('auth-denied') }, 7000);
  assert.equal(r.diagnosis.cause, 'auth-slow');
  assert.equal(r.diagnosis.confidence, 'high');
});

test('OpenSSH refusing the algorithms is kex-failed', () => {
  const h = handshake({ state: 'done', tcp: { outcome: 'connected', atMs: 1 }, at: { banner: 2, kexinit: 3 }, end: { kind: 'kex-failed', phase: 'kexinit', atMs: 3, detail: 'no common host key algorithm; server offers ssh-rsa' } });
  const verbose = verboseDone('kexinit-received', { kind: 'kex-no-match', line: 'Unable to negotiate with 10.0.0.5 port 22: no matching host key type found. Their offer: ssh-rsa', t: 5 });
  verbose.parsed.noMatch = { what: 'host key type', theirOffer: 'ssh-rsa' };
  const r = judge({ handshakes: [h], ping: pingReply(), verbose }, 10);
  assert.equal(r.diagnosis.cause, 'kex-failed');
  assert.equal(r.diagnosis.step, 'verbose');
});

test('DNS: NXDOMAIN from the resolvers and nothing from getaddrinfo is dns-nxdomain', () => {
  const resolve = { state: 'done' as const, startedMs: 0, endedMs: 3, name: 'db-3', addresses: [], error: { kind: 'not-found' as const, detail: 'not found' } };
  const dns = {
    state: 'done' as const,
    startedMs: 0,
    endedMs: 2,
    resolvers: ['10.0.0.53'],
    search: ['lab.test'],
    ndots: 1,
    candidates: ['db-3.lab.test', 'db-3'],
    queries: [
      { server: '10.0.0.53', name: 'db-3.lab.test', type: 'A' as const, outcome: 'nxdomain' as const, answers: [] },
      { server: '10.0.0.53', name: 'db-3', type: 'A' as const, outcome: 'nxdomain' as const, answers: [] },
    ],
  };
  const r = judge({ resolve, dns }, 4, { target: 'db-3' });
  assert.equal(r.settled, true);
  assert.equal(r.diagnosis.cause, 'dns-nxdomain');
  assert.equal(r.step('connectivity').status, 'skip');
});

test('DNS: resolvers that answer nothing are dns-timeout after the dead-resolver wait', () => {
  const resolve = { state: 'running' as const, startedMs: 0, name: 'db-3', addresses: [] };
  const dns = { state: 'running' as const, startedMs: 0, resolvers: ['10.0.0.53'], search: [], ndots: 1, candidates: ['db-3'], queries: [] };
  assert.equal(judge({ resolve, dns }, 100, { target: 'db-3' }).settled, false);
  const r = judge({ resolve, dns }, 350, { target: 'db-3' });
  assert.equal(r.diagnosis.cause, 'dns-timeout');
  assert.equal(r.settled, true);
});

test('DNS: a stale /etc/hosts address that fails while the DNS address works is dns-mismatch', () => {
  const resolve = { state: 'done' as const, startedMs: 0, endedMs: 1, name: 'db-3', addresses: ['10.0.0.99'] };
  const dns = {
    state: 'done' as const,
    startedMs: 0,
    endedMs: 2,
    resolvers: ['10.0.0.53'],
    search: [],
    ndots: 1,
    candidates: ['db-3'],
    queries: [{ server: '10.0.0.53', name: 'db-3', type: 'A' as const, outcome: 'answer' as const, answers: [ADDRESS] }],
  };
  const stale = handshake({ address: '10.0.0.99', state: 'done', tcp: { outcome: 'refused', atMs: 1 } });
  const good = { ...completeHandshake(), address: ADDRESS };
  const r = judge({ resolve, dns, handshakes: [stale, good], verbose: verboseDone('connecting', { kind: 'connect-refused', line: 'ssh: connect to host db-3 port 22: Connection refused', t: 2 }) }, 20, { target: 'db-3' });
  assert.equal(r.diagnosis.cause, 'dns-mismatch');
  assert.equal(r.diagnosis.confidence, 'high');
});

test('the final assessment decides every step', () => {
  const r = judge({ handshakes: [handshake()] }, 500, { final: true });
  assert.ok(r.steps.every((s) => s.settled && s.status !== 'running'));
  assert.equal(r.settled, true);
});

test('requester-side hints are alternatives only when SSH works from here', () => {
  const resolve = { state: 'done' as const, startedMs: 0, endedMs: 1, name: 'db-3', addresses: [ADDRESS] };
  const dns = {
    state: 'done' as const,
    startedMs: 0,
    endedMs: 2,
    resolvers: ['10.0.0.53'],
    search: [],
    ndots: 1,
    candidates: ['db-3'],
    queries: [{ server: '10.0.0.53', name: 'db-3', type: 'A' as const, outcome: 'nxdomain' as const, answers: [] }],
  };
  const refused = handshake({ state: 'done', tcp: { outcome: 'refused', atMs: 1 } });
  const failing = judge({ resolve, dns, handshakes: [refused] }, 5, { target: 'db-3' });
  assert.equal(failing.diagnosis.cause, 'port-closed');
  assert.ok(!failing.diagnosis.alternatives.some((a) => a.cause === 'dns-mismatch'));
  const healthy = judge({ resolve, dns, handshakes: [completeHandshake()], verbose: verboseDone('auth-denied') }, 300, { target: 'db-3' });
  assert.equal(healthy.diagnosis.cause, 'healthy');
  assert.ok(healthy.diagnosis.alternatives.some((a) => a.cause === 'dns-mismatch'));
});

test('sshd refusing with "Exceeded MaxStartups" is overload, not a non-SSH peer', () => {
  const h = handshake({
    state: 'done',
    tcp: { outcome: 'connected', atMs: 1 },
    preBanner: { lines: 1, bytes: 22, sample: ['Exceeded MaxStartups'] },
    end: { kind: 'not-ssh', phase: 'banner', atMs: 2, detail: 'closed after 22 bytes without an SSH identification line' },
  });
  const r = judge({ handshakes: [h], ping: pingReply(), verbose: verboseDone('connecting') }, 10);
  assert.equal(r.diagnosis.cause, 'server-overloaded');
  assert.ok(!r.diagnosis.alternatives.some((a) => a.cause === 'not-ssh'));
});

test('OpenSSH penalties refusing the bastion are a ban', () => {
  const h = handshake({
    state: 'done',
    tcp: { outcome: 'connected', atMs: 1 },
    preBanner: { lines: 1, bytes: 26, sample: ['Not allowed at this time'] },
    end: { kind: 'not-ssh', phase: 'banner', atMs: 2, detail: 'closed after 26 bytes without an SSH identification line' },
  });
  const r = judge({ handshakes: [h], ping: pingReply(), verbose: verboseDone('connecting') }, 10);
  assert.equal(r.diagnosis.cause, 'banned');
  assert.equal(r.diagnosis.confidence, 'high');
});

test('step 9 times banners only where they are measured: never "banner in 0.00 ms" from ssh -vvv chunk stamps', () => {
  const verbose = verboseDone('auth-denied');
  // Two lines of one output chunk share one stamp: their difference is no measurement.
  verbose.parsed.phases = [
    { id: 'connected', t: 537, line: 'debug1: Connection established.' },
    { id: 'ident-received', t: 537, line: 'debug1: Remote protocol version 2.0' },
  ];
  const { steps } = judge({ handshakes: [completeHandshake(1, 3.5)], ping: pingReply(), verbose }, 600);
  const load = steps.find((s) => s.id === 'load');
  assert.equal(load?.status, 'pass');
  assert.doesNotMatch(JSON.stringify(load), /0\.00 ms/);
  assert.match(load?.summary ?? '', /^banner in 2\.5 ms on 1 timed connection/);
  assert.ok(load?.evidence.some((e) => /ssh -vvv: banner received \(not timed/.test(e.detail)), JSON.stringify(load?.evidence));
});

test("ssh's second try after its own lookup failed while getaddrinfo found the name: healthy, with medium confidence and the first try in the evidence", () => {
  const nxLine = 'ssh: Could not resolve hostname 10.0.0.5: Name or service not known';
  const firstTry = { line: nxLine, endedMs: 40 };
  const obs = { handshakes: [completeHandshake()], ping: pingReply(), control: control('refused') };
  const clean = judge({ ...obs, verbose: verboseDone('auth-denied') }, 300);
  assert.equal(clean.diagnosis.confidence, 'high');
  const retried = judge({ ...obs, verbose: { ...verboseDone('auth-denied'), firstTry } }, 300);
  assert.equal(retried.settled, true);
  assert.equal(retried.diagnosis.cause, 'healthy');
  assert.equal(retried.diagnosis.confidence, 'medium', 'a lookup failed once on the way');
  assert.equal(retried.step('verbose').status, 'warn');
  assert.match(retried.step('verbose').summary, /first try could not resolve the name .*Name or service not known.* while getaddrinfo resolved it/);
  assert.ok(retried.step('verbose').evidence.some((e) => e.detail === `first try: ${nxLine}`));
  // The second try failing the same way stands, with the first in the evidence too.
  const again = judge({ ...obs, verbose: { ...verboseDone('start', { kind: 'resolve-failed', line: nxLine, t: 90 }), firstTry } }, 300);
  assert.equal(again.step('verbose').status, 'fail');
  assert.ok(again.step('verbose').evidence.some((e) => e.detail === `first try: ${nxLine}`));
  assert.notEqual(again.diagnosis.cause, 'healthy');
});
