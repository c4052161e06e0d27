// The MTU blackhole's verdict on the sweep's evidence (issue 19): a key exchange that has not
// moved since a don't-fragment sweep began, which shows two or more sizes vanishing, is
// stalled without waiting out kexStallMs; a one-size blackhole or random loss still waits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyKex, plainBlackhole } from '../../src/engine/checklist/facts.js';
import type { MtuObs } from '../../src/engine/observations.js';
import { mtuWaitS } from '../../src/engine/scheduler.js';
import { echoArguments } from '../../src/engine/probes/ping.js';
import { ADDRESS, handshake, input, pingReply } from '../support/observations.js';

const sweep = (lost: number[], startedMs = 320): MtuObs => ({
  state: 'done',
  startedMs,
  endedMs: startedMs + 310,
  address: ADDRESS,
  probes: [1500, 1400, 1300, 1200, 1000, 800, 576].map((mtu) => (lost.includes(mtu) ? { mtu, outcome: 'no-reply' as const } : { mtu, outcome: 'reply' as const })),
});

// Connected at 2 ms, banner at 10 ms, then nothing: the server's KEXINIT never arrives.
const stuck = handshake({ tcp: { outcome: 'connected', atMs: 2 }, at: { banner: 10 }, banner: { line: 'SSH-2.0-OpenSSH_9.2p1', protoVersion: '2.0', software: 'OpenSSH_9.2p1' } });

test('two or more sizes lost above the largest that crossed: plain; one, or none crossing: not', () => {
  assert.equal(plainBlackhole(sweep([1500, 1400, 1300, 1200])), true);
  assert.equal(plainBlackhole(sweep([1500, 1400])), true);
  assert.equal(plainBlackhole(sweep([1500])), false, 'one size: random loss looks the same once in a hundred sweeps');
  assert.equal(plainBlackhole(sweep([1500, 1400, 1300, 1200, 1000, 800, 576])), false, 'nothing crossed: not an MTU problem');
  assert.equal(plainBlackhole(sweep([1400, 1200])), false, '1500 crossed: lost smaller sizes are loss, not a blackhole');
});

test('the stall on the sweep evidence, only when the exchange has not moved since the sweep began', () => {
  const at = (now: number, mtu?: MtuObs): string => classifyKex(input({ handshakes: [stuck], ...(mtu ? { mtu } : {}) }, now), stuck).kind;
  assert.equal(at(640), 'waiting', 'no sweep: wait for kexStallMs');
  assert.equal(at(640, sweep([1500, 1400, 1300, 1200])), 'stalled');
  assert.equal(at(640, sweep([1500])), 'waiting', 'a one-size blackhole waits');
  assert.equal(at(640, sweep([1500, 1400, 1300, 1200], 5)), 'waiting', 'the exchange moved (its banner) after the sweep began');
  assert.equal(at(640, { ...sweep([1500, 1400, 1300, 1200]), state: 'running' }), 'waiting');
  assert.equal(at(1510, sweep([1500])), 'stalled', 'kexStallMs still ends the wait');
});

test('the echo window: 0.3 s on a path ping measured at 50 ms or less, else a second; -W takes the fraction', () => {
  assert.equal(mtuWaitS({ ptr: [], handshakes: [], ping: pingReply(0.2) }, ADDRESS), 0.3);
  assert.equal(mtuWaitS({ ptr: [], handshakes: [], ping: pingReply(80) }, ADDRESS), 1);
  assert.equal(mtuWaitS({ ptr: [], handshakes: [] }, ADDRESS), 1);
  assert.equal(mtuWaitS({ ptr: [], handshakes: [], ping: pingReply(0.2) }, '10.9.9.9'), 1, 'another address');
  const args = echoArguments({ address: ADDRESS, count: 1, waitS: 0.3 });
  assert.equal(args[args.indexOf('-W') + 1], '0.3');
  const whole = echoArguments({ address: ADDRESS, count: 1, waitS: 1 });
  assert.equal(whole[whole.indexOf('-W') + 1], '1');
});
