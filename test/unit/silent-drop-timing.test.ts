// When an unanswered SYN becomes a silent drop (issue 19): one SYN retransmission (1 s), the
// kernel timer's lateness and twice the round trip this run measured, else the fixed 1.2 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyReach, filteredAfter } from '../../src/engine/checklist/facts.js';
import { DEFAULT_THRESHOLDS } from '../../src/engine/checklist/thresholds.js';
import type { Observations } from '../../src/engine/observations.js';
import { ADDRESS, control, handshake, input, pingReply, pingSilent } from '../support/observations.js';

const obs = (over: Partial<Observations>): Observations => ({ ptr: [], handshakes: [], ...over });

test('the wait: retransmission + timer lateness + twice the slowest measured round trip, capped at filteredAfterMs', () => {
  assert.equal(filteredAfter(obs({ ping: pingReply(0.2) }), ADDRESS, DEFAULT_THRESHOLDS), 1000 + 80 + 0.4);
  assert.equal(filteredAfter(obs({ ping: pingReply(0.2), control: control('refused', 30) }), ADDRESS, DEFAULT_THRESHOLDS), 1000 + 80 + 0.4, 'echo replies first: the reset is timed by the event loop');
  assert.equal(filteredAfter(obs({ ping: pingSilent('done'), control: control('refused', 30) }), ADDRESS, DEFAULT_THRESHOLDS), 1000 + 80 + 60, 'without an echo, the reset');
  assert.equal(filteredAfter(obs({ ping: { ...pingReply(0.2), rttsMs: [0.2, 35, 0.3] } }), ADDRESS, DEFAULT_THRESHOLDS), 1000 + 80 + 70, 'the slowest echo');
  assert.equal(filteredAfter(obs({ ping: pingReply(90) }), ADDRESS, DEFAULT_THRESHOLDS), 1200, 'a slow path keeps the fixed wait');
  assert.equal(filteredAfter(obs({ ping: pingSilent('done') }), ADDRESS, DEFAULT_THRESHOLDS), 1200, 'no round trip measured');
  assert.equal(filteredAfter(obs({ control: control('connected', 1) }), ADDRESS, DEFAULT_THRESHOLDS), 1200, 'a connect is not a round trip measured here');
  assert.equal(filteredAfter(obs({ ping: { ...pingReply(0.2), address: '10.9.9.9' } }), ADDRESS, DEFAULT_THRESHOLDS), 1200, 'another address says nothing');
});

test('a SYN unanswered while the host answers ping: waiting until the measured wait, filtered after it', () => {
  const syn = handshake({ tcp: {} });
  const at = (now: number, ping = pingReply(0.2)): string => classifyReach(input({ handshakes: [syn], ping }, now), syn).kind;
  assert.equal(at(1050), 'waiting', 'the retransmission may still be in flight');
  assert.equal(at(1090), 'filtered');
  assert.equal(at(1150, pingReply(40)), 'waiting', '1000 + 80 + 2 × 40 ms');
  assert.equal(at(1170, pingReply(40)), 'filtered');
});
