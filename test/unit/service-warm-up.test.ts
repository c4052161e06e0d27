// serve's start-up warm-up (src/service/warm-up.ts): every sample request is one the
// admission rules accept as a request (so the whole path runs, not an early error), the
// policy judges them as it judges any request, and a warm-up that meets a refusal stops
// quietly instead of stopping the service from starting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import { defaultPolicy } from '../../src/policy/target-policy.js';
import type { TargetPolicy } from '../../src/policy/target-policy.js';
import { TokenSet } from '../../src/service/tokens.js';
import { WARM_UP_ROUNDS, warmAdmission } from '../../src/service/warm-up.js';

const tokens = new TokenSet(['warm-up-test-token-0123456789']);

test('every sample is a valid request: all rounds run; the default policy allows the private addresses and the names', () => {
  assert.deepEqual(warmAdmission(defaultPolicy(), tokens), { rounds: WARM_UP_ROUNDS, refused: 0 });
});

test('a policy that denies 10.0.0.0/8 refuses the address samples, as it would refuse such requests', () => {
  const policy = parseEngineConfig('policy:\n  deny: [10.0.0.0/8]\n').policy as TargetPolicy;
  assert.deepEqual(warmAdmission(policy, tokens, 100), { rounds: 100, refused: 50 });
});

test('a failing sample ends the warm-up without an error', () => {
  const throwing = { ...defaultPolicy(), entries: null } as unknown as TargetPolicy;
  const result = warmAdmission(throwing, tokens, 10);
  assert.ok(result.rounds < 10, `stopped early (${result.rounds} rounds)`);
});
