// traceroute and mtr parsers on fixtures recorded in the namespace lab
// (scripts/record-probe-fixtures.ts), the argument lists, and a live trace to loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseMtrJson, parseTraceroute, reachedDestination, sameAddress } from '../../src/engine/probes/parse-path.js';
import { mtrArguments, probePath, tracerouteArguments } from '../../src/engine/probes/path.js';
import type { PathHop } from '../../src/engine/observations.js';
import { testContext } from '../support/context.js';

const DIR = new URL('../../../test/fixtures/path/', import.meta.url);
const text = (name: string): string => readFileSync(new URL(name, DIR), 'utf8');
const brief = (hops: PathHop[]): Array<[number, string | null, string | undefined]> => hops.map((h) => [h.ttl, h.address, h.annotation]);

interface ManifestEntry {
  file: string;
  command: string[];
}
const manifest = (JSON.parse(text('manifest.json')) as { entries: ManifestEntry[] }).entries;

test('traceroute arguments: TCP SYNs to the port, one probe per hop, 16 at once, -- before the address', () => {
  assert.deepEqual(tracerouteArguments({ address: '10.77.2.2', port: 22, maxHops: 6, waitS: 1 }), [
    '-T', '-p', '22', '-n', '-q', '1', '-N', '16', '-w', '1', '-m', '6', '--', '10.77.2.2',
  ]);
  assert.deepEqual(tracerouteArguments({ address: '10.0.0.1', port: 0, maxHops: 99, waitS: 0 }).slice(2, 13), [
    '1', '-n', '-q', '1', '-N', '16', '-w', '0.5', '-m', '30', '--',
  ]);
});

test('mtr arguments: TCP mode, JSON, one cycle, short grace time', () => {
  assert.deepEqual(mtrArguments({ address: '10.77.2.2', port: 22, maxHops: 6, waitS: 1 }), [
    '--tcp', '-P', '22', '-n', '-c', '1', '--json', '-G', '1', '-m', '6', '--', '10.77.2.2',
  ]);
});

test('the fixtures were recorded with the arguments the probe builds', () => {
  const byFile = new Map(manifest.map((e) => [e.file, e.command]));
  assert.deepEqual(byFile.get('traceroute-reached.txt'), ['traceroute', ...tracerouteArguments({ address: '10.77.2.2', port: 22, maxHops: 6, waitS: 1 })]);
  assert.deepEqual(byFile.get('mtr-reached.json'), ['mtr', ...mtrArguments({ address: '10.77.2.2', port: 22, maxHops: 6, waitS: 1 })]);
});

test('traceroute: reached (the target answered the SYN)', () => {
  const hops = parseTraceroute(text('traceroute-reached.txt'));
  assert.deepEqual(brief(hops), [
    [1, '10.77.1.1', undefined],
    [2, '10.77.2.2', undefined],
  ]);
  assert.ok(hops.every((h) => h.rttMs !== null && h.rttMs >= 0));
  assert.equal(reachedDestination(hops, '10.77.2.2'), true);
  assert.equal(reachedDestination(parseTraceroute(text('traceroute-reached-ipv6.txt')), 'fd77:2:0::2'), true);
  // A RST from a closed port is an answer from the destination too.
  assert.equal(reachedDestination(parseTraceroute(text('traceroute-closed-port.txt')), '10.77.2.2'), true);
});

test('traceroute: silent drop on port 22 — the router answers, then only stars', () => {
  const hops = parseTraceroute(text('traceroute-silent-drop.txt'));
  assert.equal(hops.length, 6);
  assert.deepEqual(hops[0]?.address, '10.77.1.1');
  assert.ok(hops.slice(1).every((h) => h.address === null && h.rttMs === null));
  assert.equal(reachedDestination(hops, '10.77.2.2'), false);
});

test('traceroute: annotations !X (rejected), !H (host unreachable), !N (no route)', () => {
  assert.deepEqual(brief(parseTraceroute(text('traceroute-rejected.txt'))), [
    [1, '10.77.1.1', undefined],
    [2, '10.77.2.2', '!X'],
  ]);
  const unreachable = parseTraceroute(text('traceroute-host-unreachable.txt'));
  assert.deepEqual(brief(unreachable), [
    [1, '10.77.1.1', undefined],
    [2, '10.77.1.1', '!H'],
  ]);
  assert.ok((unreachable[1]?.rttMs ?? 0) > 2000, 'the router answers only after its ARP gave up');
  assert.deepEqual(brief(parseTraceroute(text('traceroute-net-unreachable.txt'))), [[1, '10.77.1.1', '!N']]);
});

test('traceroute: no privileges → no hops (the probe ends there with the reason)', () => {
  assert.deepEqual(parseTraceroute(text('traceroute-no-permission.txt')), []);
});

test('traceroute: several probes per hop, names with addresses, !F-<mtu>', () => {
  const hops = parseTraceroute(
    [
      'traceroute to 192.0.2.9 (192.0.2.9), 30 hops max, 60 byte packets',
      ' 1  * 198.51.100.1  1.234 ms  1.100 ms',
      ' 2  gw.example (198.51.100.2)  2.5 ms !F-1400  *  *',
      ' 3  * * *',
    ].join('\n'),
  );
  assert.deepEqual(hops, [
    { ttl: 1, address: '198.51.100.1', rttMs: 1.234 },
    { ttl: 2, address: '198.51.100.2', rttMs: 2.5, annotation: '!F-1400' },
    { ttl: 3, address: null, rttMs: null },
  ]);
});

test('mtr: reached, silent drop (??? hop), rejected, host unreachable, no route', () => {
  const reached = parseMtrJson(text('mtr-reached.json'));
  assert.deepEqual(brief(reached), [
    [1, '10.77.1.1', undefined],
    [2, '10.77.2.2', undefined],
  ]);
  assert.equal(reachedDestination(reached, '10.77.2.2'), true);

  const drop = parseMtrJson(text('mtr-silent-drop.json'));
  assert.deepEqual(drop.map((h) => [h.ttl, h.address, h.rttMs]), [
    [1, '10.77.1.1', drop[0]?.rttMs],
    [2, null, null],
  ]);
  assert.equal(reachedDestination(drop, '10.77.2.2'), false);

  // mtr has no annotations: an ICMP reject from the target looks like an answer.
  assert.equal(reachedDestination(parseMtrJson(text('mtr-rejected.json')), '10.77.2.2'), true);
  const unreachable = parseMtrJson(text('mtr-host-unreachable.json'));
  assert.deepEqual(unreachable.map((h) => h.address), ['10.77.1.1', '10.77.1.1']);
  assert.equal(reachedDestination(unreachable, '10.77.2.97'), false);
  // mtr shows no annotation for a router's "net unreachable" either, and what it lists varies
  // from run to run (no hops at all, or the router as a late answer): never the destination.
  assert.equal(reachedDestination(parseMtrJson(text('mtr-net-unreachable.json')), '10.77.3.5'), false);
});

test('mtr: odd input yields no hops; string counts are accepted', () => {
  assert.deepEqual(parseMtrJson('not json'), []);
  assert.deepEqual(parseMtrJson('{"report":{"hubs":{}}}'), []);
  assert.deepEqual(parseMtrJson('{"report":{"hubs":[{"count":"3","host":"10.0.0.1","Loss%":0,"Last":1.5},{"count":0,"host":"x"}]}}'), [
    { ttl: 3, address: '10.0.0.1', rttMs: 1.5 },
  ]);
});

test('IPv6 addresses compare by value, not spelling', () => {
  assert.equal(sameAddress('fd77:2::2', 'FD77:0002:0:0:0:0:0:2'), true);
  assert.equal(sameAddress('fd77:2::2', 'fd77:2::3'), false);
  assert.equal(sameAddress('10.0.0.1', '10.0.0.1'), true);
});

test('live (root): TCP trace to a listening port on 127.0.0.1', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('traceroute -T needs CAP_NET_RAW: run the tests as root');
    return;
  }
  const server = createServer((s) => s.destroy());
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  try {
    const obs = await probePath({ address: '127.0.0.1', port, maxHops: 3, waitS: 1 }, testContext(10_000));
    if (obs.unavailable !== undefined) {
      t.skip(`no path tool here: ${obs.unavailable}`);
      return;
    }
    assert.equal(obs.state, 'done');
    assert.equal(obs.tool, 'traceroute');
    assert.equal(obs.reached, true);
    assert.equal(obs.hops[0]?.address, '127.0.0.1');
  } finally {
    server.close();
  }
});

test('live: an abort stops the trace at once', async () => {
  const ctx = testContext(10_000);
  ctx.abort();
  const obs = await probePath({ address: '127.0.0.1', port: 22, maxHops: 3, waitS: 1 }, ctx);
  assert.equal(obs.state, 'done');
  assert.equal(obs.aborted, true);
});
