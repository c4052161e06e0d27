// The ping parser and the DF sweep's judgement, on fixtures recorded from real runs in the
// namespace lab (scripts/record-probe-fixtures.ts); the argument lists the probes build; and
// live runs against loopback only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { icmpErrorKind, localErrorKind, parsePing } from '../../src/engine/probes/parse-ping.js';
import { echoArguments, pingArguments, probePing } from '../../src/engine/probes/ping.js';
import { SshcheckError } from '../../src/errors.js';
import { mergeEchoes, mtuOutcome, mtuPingArguments, parseRouteGet, probeMtu } from '../../src/engine/probes/mtu.js';
import type { PingObs } from '../../src/engine/observations.js';
import { testContext } from '../support/context.js';

const DIR = new URL('../../../test/fixtures/ping/', import.meta.url);
const lines = (name: string): string[] => readFileSync(new URL(name, DIR), 'utf8').split('\n');

interface ManifestEntry {
  file: string;
  command: string[];
  exitCode: number | null;
}
const manifest = (JSON.parse(readFileSync(new URL('manifest.json', DIR), 'utf8')) as { entries: ManifestEntry[] }).entries;

test('the argument list: numeric, wait, count, size, family flag, interval, and -- before the target', () => {
  assert.deepEqual(pingArguments({ address: '10.77.2.2', count: 3, intervalS: 0.2, waitS: 1 }), [
    '-n', '-W', '1', '-c', '3', '-s', '56', '-4', '-i', '0.2', '--', '10.77.2.2',
  ]);
  // -W takes whole seconds: a wait of 1.5 s waits 2.
  assert.deepEqual(pingArguments({ address: 'fd77:2::2', count: 2, intervalS: 1, waitS: 1.5 }), [
    '-n', '-W', '2', '-c', '2', '-s', '56', '-6', '-i', '1', '--', 'fd77:2::2',
  ]);
  assert.deepEqual(echoArguments({ address: '10.77.2.2', count: 2, waitS: 1, intervalS: 0.2, flags: ['-t', '1'] }), [
    '-n', '-W', '1', '-c', '2', '-s', '56', '-4', '-i', '0.2', '-t', '1', '--', '10.77.2.2',
  ]);
});

test('options ping would refuse or read otherwise are refused with E_PROBE_OPTION, not changed', () => {
  const ok = { address: '10.0.0.1', count: 3, intervalS: 0.2, waitS: 1 };
  const refused = (opts: typeof ok, what: RegExp): void => {
    assert.throws(() => pingArguments(opts), (err: unknown) => err instanceof SshcheckError && err.code === 'E_PROBE_OPTION' && what.test(err.message), JSON.stringify(opts));
  };
  refused({ ...ok, count: 500 }, /^ping: count 500 is not a whole number from 1 to 20$/);
  refused({ ...ok, count: 0 }, /count 0/);
  refused({ ...ok, count: 2.5 }, /count 2\.5/);
  refused({ ...ok, count: Number.NaN }, /count NaN/);
  // Below 0.2 s iputils needs privileges; above 5 s a diagnosis waits for nothing.
  refused({ ...ok, intervalS: 0.001 }, /interval 0\.001 s is not from 0\.2 to 5/);
  refused({ ...ok, intervalS: 6 }, /interval 6 s/);
  refused({ ...ok, waitS: 0 }, /wait 0 s is not more than 0/);
  refused({ ...ok, waitS: -1 }, /wait -1 s/);
  refused({ ...ok, waitS: Number.POSITIVE_INFINITY }, /wait Infinity s/);
  refused({ ...ok, address: 'db-3.corp.example' }, /must be an IP address/);
  refused({ ...ok, address: '-f' }, /must be an IP address/);
  assert.throws(() => echoArguments({ address: '10.0.0.1', count: 1, waitS: 1, packetSize: 70_000 }), /packet size 70000 is not a whole number from 0 to 65507/);
  assert.throws(() => mtuPingArguments('10.0.0.1', 20, 1), /packet size -8/);
  // The edges themselves are accepted.
  assert.equal(pingArguments({ ...ok, count: 20, intervalS: 5, waitS: 60 }).length, 12);
});

test('probePing with options out of range rejects before anything is spawned', async () => {
  await assert.rejects(probePing({ address: '127.0.0.1', count: 0, intervalS: 0.2, waitS: 1 }, testContext(5_000)), (err: unknown) => err instanceof SshcheckError && err.code === 'E_PROBE_OPTION');
});

test('the DF sweep arguments: packet size = MTU minus IPv4 (28) or IPv6 (48) headers', () => {
  assert.deepEqual(mtuPingArguments('10.77.2.2', 1500, 1), ['-n', '-W', '1', '-c', '1', '-s', '1472', '-4', '-M', 'do', '--', '10.77.2.2']);
  assert.deepEqual(mtuPingArguments('fd77:2::2', 1500, 1), ['-n', '-W', '1', '-c', '1', '-s', '1452', '-6', '-M', 'do', '--', 'fd77:2::2']);
});

test('two echoes of one size: a reply from either wins, then "fragmentation needed", then silence', () => {
  const reply = { mtu: 1500, outcome: 'reply' as const };
  const lost = { mtu: 1500, outcome: 'no-reply' as const };
  const frag = { mtu: 1500, outcome: 'frag-needed' as const, detail: '10.77.1.1: Frag needed and DF set (mtu = 1400)' };
  const error = { mtu: 1500, outcome: 'error' as const, detail: 'sendmsg: Operation not permitted' };
  assert.deepEqual(mergeEchoes([lost, reply]), reply, 'one echo lost at random is not a blackhole');
  assert.deepEqual(mergeEchoes([lost, frag]), frag);
  assert.deepEqual(mergeEchoes([error, lost]), lost);
  assert.deepEqual(mergeEchoes([lost, lost]), lost);
  assert.equal(mergeEchoes([]), undefined);
});

test('the fixtures were recorded with the arguments the probes build', () => {
  const byFile = new Map(manifest.map((e) => [e.file, e]));
  assert.deepEqual(byFile.get('reply.txt')?.command, ['ping', ...pingArguments({ address: '10.77.2.2', count: 3, intervalS: 0.2, waitS: 1 })]);
  assert.deepEqual(byFile.get('frag-needed.txt')?.command, ['ping', ...mtuPingArguments('10.77.2.2', 1500, 1)]);
  assert.deepEqual(byFile.get('ttl-exceeded.txt')?.command, ['ping', ...echoArguments({ address: '10.77.2.2', count: 2, waitS: 1, intervalS: 0.2, flags: ['-t', '1'] })]);
});

test('reply: counts, round-trip times in order, summary', () => {
  const p = parsePing(lines('reply.txt'));
  assert.equal(p.transmitted, 3);
  assert.equal(p.received, 3);
  assert.equal(p.rttsMs.length, 3);
  assert.ok(p.rttsMs.every((r) => r > 0 && r < 100));
  assert.deepEqual(p.errors, []);
  assert.equal(p.summary?.lossPercent, 0);
  assert.ok(p.summary?.rtt && p.summary.rtt.maxMs >= p.summary.rtt.minMs);
  assert.equal(p.unavailable, undefined);
});

test('reply over IPv6 (addresses with colons before ": icmp_seq")', () => {
  const p = parsePing(lines('reply-ipv6.txt'));
  assert.deepEqual([p.transmitted, p.received, p.rttsMs.length], [3, 3, 3]);
});

test('no reply: silence, no errors — not the same as an ICMP error', () => {
  const p = parsePing(lines('no-reply.txt'));
  assert.deepEqual([p.transmitted, p.received, p.errors.length], [3, 0, 0]);
  assert.equal(p.summary?.lossPercent, 100);
});

const errorCases: Array<[string, string, string, number]> = [
  ['host-unreachable.txt', 'host-unreachable', '10.77.1.1', 3],
  ['net-unreachable.txt', 'net-unreachable', '10.77.1.1', 2],
  ['net-unreachable-ipv6.txt', 'net-unreachable', 'fd77:1::1', 2],
  ['packet-filtered.txt', 'admin-prohibited', '10.77.2.2', 2],
  ['host-prohibited.txt', 'host-prohibited', '10.77.2.2', 2],
  ['net-prohibited.txt', 'admin-prohibited', '10.77.2.2', 2],
  ['port-unreachable.txt', 'port-unreachable', '10.77.2.2', 2],
  ['admin-prohibited-ipv6.txt', 'admin-prohibited', 'fd77:2::2', 2],
  ['ttl-exceeded.txt', 'time-exceeded', '10.77.1.1', 2],
  ['frag-needed.txt', 'frag-needed', '10.77.1.1', 1],
  ['packet-too-big-ipv6.txt', 'frag-needed', 'fd77:1::1', 1],
];
for (const [file, kind, from, count] of errorCases) {
  test(`ICMP error fixture ${file} → ${kind} from ${from}`, () => {
    const p = parsePing(lines(file));
    assert.equal(p.received, 0);
    assert.equal(p.errors.length, count);
    for (const e of p.errors) {
      assert.equal(e.kind, kind);
      assert.equal(e.from, from);
    }
    assert.equal(p.summary?.errors, count);
  });
}

test('host unreachable: transmitted counts the packet that got no error yet', () => {
  const p = parsePing(lines('host-unreachable.txt'));
  assert.equal(p.transmitted, 4);
  assert.equal(p.errors[0]?.text, 'Destination Host Unreachable');
});

test('frag needed: the MTU the router named', () => {
  assert.equal(parsePing(lines('frag-needed.txt')).mtu, 1000);
  assert.equal(parsePing(lines('packet-too-big-ipv6.txt')).mtu, 1280);
});

test('local "message too long": a local error with the cached path MTU (both spellings)', () => {
  const v4 = parsePing(lines('message-too-long.txt'));
  assert.deepEqual(v4.localErrors, ['local error: message too long, mtu=1000']);
  assert.equal(v4.mtu, 1000);
  assert.deepEqual(v4.errors, []);
  const v6 = parsePing(lines('message-too-long-ipv6.txt'));
  assert.equal(v6.mtu, 1280);
});

test('no route on the bastion itself: a local error, no ICMP at all', () => {
  const p = parsePing(lines('local-no-route.txt'));
  assert.deepEqual(p.localErrors, ['connect: Network is unreachable']);
  assert.deepEqual([p.transmitted, p.received, p.errors.length], [0, 0, 0]);
  assert.equal(p.unavailable, undefined);
  assert.equal(localErrorKind(p.localErrors[0] ?? ''), 'net-unreachable');
});

test('no permission: ping cannot open a socket → unavailable, nothing else', () => {
  const p = parsePing(lines('no-permission.txt'));
  assert.match(p.unavailable ?? '', /cannot open an ICMP socket \(socket: Operation not permitted\)/);
  assert.deepEqual(p.localErrors, []);
  assert.equal(p.transmitted, 0);
});

test('a killed ping (no summary): transmitted from the highest sequence seen; DUP! not counted', () => {
  const p = parsePing(lines('reply.txt').slice(0, 3).concat(['64 bytes from 10.77.2.2: icmp_seq=2 ttl=63 time=0.1 ms (DUP!)']));
  assert.equal(p.summary, undefined);
  assert.deepEqual([p.transmitted, p.received, p.rttsMs.length], [2, 2, 2]);
});

test('error kinds by text, unknown ones as other', () => {
  assert.equal(icmpErrorKind('Destination Port Unreachable'), 'port-unreachable');
  assert.equal(icmpErrorKind('Destination unreachable: Address unreachable'), 'host-unreachable');
  assert.equal(icmpErrorKind('Time exceeded: Hop limit'), 'time-exceeded');
  assert.equal(icmpErrorKind('Source Quench'), 'other');
});

test('the DF sweep judges reply, remote frag-needed, local frag-needed', () => {
  assert.deepEqual(mtuOutcome(1000, lines('mtu-fits.txt')), { mtu: 1000, outcome: 'reply' });
  // Recorded in the lab: the veth peer's MTU (1000) drops the packet and the kernel reports ENOBUFS.
  assert.deepEqual(mtuOutcome(1300, lines('enobufs-next-hop-mtu.txt')), { mtu: 1300, outcome: 'no-reply', detail: 'dropped on the way out: sendmsg: No buffer space available' });
  assert.deepEqual(mtuOutcome(1500, lines('frag-needed.txt')), { mtu: 1500, outcome: 'frag-needed', detail: '10.77.1.1: Frag needed and DF set (mtu = 1000)' });
  assert.deepEqual(mtuOutcome(1500, lines('message-too-long.txt')), { mtu: 1500, outcome: 'frag-needed', detail: 'local: local error: message too long, mtu=1000' });
  assert.deepEqual(mtuOutcome(1500, lines('no-reply.txt')), { mtu: 1500, outcome: 'no-reply' });
  assert.equal(mtuOutcome(1500, lines('host-unreachable.txt')).outcome, 'error');
});

test('ip route get: the device (never a path) and a cached MTU', () => {
  assert.deepEqual(parseRouteGet('10.77.2.2 via 10.77.1.1 dev b0h3 src 10.77.1.2 uid 0 \n    cache expires 598sec mtu 1000 \n'), { dev: 'b0h3', mtu: 1000 });
  assert.deepEqual(parseRouteGet('local 127.0.0.1 dev lo src 127.0.0.1 uid 0 \n    cache <local> \n'), { dev: 'lo' });
  assert.deepEqual(parseRouteGet('1.2.3.4 dev ../../etc src 1.1.1.1'), {});
});

// ---------------------------------------------------------------------------------------
// Live, loopback only

test('live: ping 127.0.0.1 streams each reply before the end', async (t) => {
  const ctx = testContext(5000);
  const updates: Array<{ at: number; snapshot: PingObs }> = [];
  const order: string[] = [];
  const obs = await probePing({ address: '127.0.0.1', count: 3, intervalS: 0.2, waitS: 1 }, ctx, (snapshot) => {
    updates.push({ at: ctx.now(), snapshot });
    order.push(`reply ${snapshot.received} (${snapshot.state})`);
  });
  order.push('probe done');
  if (obs.unavailable !== undefined) {
    t.skip(`ping cannot run here: ${obs.unavailable}`);
    return;
  }
  assert.equal(obs.state, 'done');
  assert.equal(obs.received, 3);
  assert.equal(obs.exitCode, 0);
  assert.equal(updates.length, 3);
  assert.equal(updates[0]?.snapshot.state, 'running');
  assert.equal(updates[0]?.snapshot.received, 1);
  // Each reply is passed on as its own running snapshot, in order, before the probe ends.
  // Ordering, not time: on a loaded machine the three lines may be read in one go, and how
  // long before the end the first one arrives says nothing about the probe.
  assert.deepEqual(order, ['reply 1 (running)', 'reply 2 (running)', 'reply 3 (running)', 'probe done']);
  assert.deepEqual(updates.map((u) => u.snapshot.rttsMs.length), [1, 2, 3]);
  assert.ok((updates[0]?.at ?? Infinity) <= (obs.endedMs ?? 0), 'the first update is not later than the end');
});

test('live: abort kills ping at once and says so', async () => {
  const ctx = testContext(20_000);
  setTimeout(() => ctx.abort(), 150);
  const obs = await probePing({ address: '127.0.0.1', count: 20, intervalS: 1, waitS: 1 }, ctx);
  assert.equal(obs.state, 'done');
  assert.ok((obs.endedMs ?? Infinity) < 1000, `ended at ${obs.endedMs}`);
  if (obs.unavailable === undefined) assert.equal(obs.aborted, true);
});

test('live: not an IP address → unavailable, nothing run', async () => {
  const obs = await probePing({ address: '-c1', count: 1, intervalS: 1, waitS: 1 }, testContext());
  assert.equal(obs.unavailable, 'not an IP address');
});

test('live: DF sweep to 127.0.0.1 (loopback MTU is 65536: every size replies)', async (t) => {
  const obs = await probeMtu({ address: '127.0.0.1', mtus: [1500, 1280, 576, 20], waitS: 1 }, testContext(5000));
  if (obs.unavailable !== undefined) {
    t.skip(`ping cannot run here: ${obs.unavailable}`);
    return;
  }
  assert.deepEqual(
    obs.probes.map((p) => [p.mtu, p.outcome]),
    [
      [1500, 'reply'],
      [1280, 'reply'],
      [576, 'reply'],
    ],
  );
  assert.equal(obs.localMtu, 65536);
});
