import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duration, endpoint, listing } from '../../src/engine/checklist/format.js';

test('durations keep sub-millisecond LAN round trips readable', () => {
  assert.equal(duration(0.043), '0.04 ms');
  assert.equal(duration(4.26), '4.3 ms');
  assert.equal(duration(412.4), '412 ms');
  assert.equal(duration(1234), '1.2 s');
  assert.equal(duration(15_400), '15 s');
  assert.equal(duration(-3), '0.00 ms');
  assert.equal(duration(Number.NaN), '?');
});

test('endpoints bracket IPv6 and lists read as prose', () => {
  assert.equal(endpoint('10.0.0.5', 22), '10.0.0.5:22');
  assert.equal(endpoint('2001:db8::1', 22), '[2001:db8::1]:22');
  assert.equal(listing(['a']), 'a');
  assert.equal(listing(['a', 'b', 'c']), 'a, b and c');
});
