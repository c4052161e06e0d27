import { afterEach, test, mock } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { bearerToken, parseTokenLines, TokenSet, tokensFromEnv } from '../../src/service/tokens.js';

const OLD = 'old-token-0123456789abcdef';
const NEW = 'new-token-fedcba9876543210';

afterEach(() => {
  mock.restoreAll();
  syncBuiltinESMExports();
});

test('valid, wrong, missing and malformed Authorization headers', () => {
  const set = new TokenSet([NEW]);
  assert.equal(set.verify(`Bearer ${NEW}`), true);
  assert.equal(set.verify(`bearer  ${NEW} `), true, 'the scheme is case-insensitive');
  assert.equal(set.verify(`Bearer ${OLD}`), false);
  assert.equal(set.verify(`Bearer ${NEW}x`), false, 'a longer token is not a match');
  assert.equal(set.verify(`Bearer ${NEW.slice(0, -1)}`), false, 'a prefix is not a match');
  assert.equal(set.verify(undefined), false);
  assert.equal(set.verify(''), false);
  assert.equal(set.verify(NEW), false, 'the Bearer scheme is required');
  assert.equal(set.verify(`Basic ${NEW}`), false);
  assert.equal(bearerToken('Bearer a b'), undefined);
});

test('rotation: two tokens valid at once, then the old one removed', () => {
  const set = new TokenSet([OLD, NEW]);
  assert.equal(set.verify(`Bearer ${OLD}`), true);
  assert.equal(set.verify(`Bearer ${NEW}`), true);
  set.replace([NEW]);
  assert.equal(set.verify(`Bearer ${OLD}`), false);
  assert.equal(set.verify(`Bearer ${NEW}`), true);
  assert.throws(() => set.replace([]), /at least one/);
});

test('comparison is constant time: timingSafeEqual on equal-length digests, against every token', () => {
  const calls: Array<[number, number]> = [];
  const original = crypto.timingSafeEqual;
  mock.method(crypto, 'timingSafeEqual', (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls.push([a.byteLength, b.byteLength]);
    return original(a, b);
  });
  syncBuiltinESMExports();
  const set = new TokenSet([OLD, NEW, 'third-token-0123456789abc']);
  // A match on the first token still compares against all three: no early exit.
  assert.equal(set.verify(`Bearer ${OLD}`), true);
  assert.equal(calls.length, 3);
  assert.ok(calls.every(([a, b]) => a === 32 && b === 32), 'SHA-256 digests of equal length');
  calls.length = 0;
  assert.equal(set.verify(undefined), false);
  assert.equal(calls.length, 3, 'a missing token costs the same comparisons');
});

test('tokens from the variable and the file; comments and blank lines; errors never show a token', () => {
  const files: Record<string, string> = { '/etc/sshcheck/tokens': `# rotated 2026-11-24\n${OLD}\n\n${NEW}\n` };
  const read = (p: string): string => {
    const text = files[p];
    if (text === undefined) throw new Error(`ENOENT: no such file ${p}`);
    return text;
  };
  assert.deepEqual(tokensFromEnv({ SSHCHECK_SERVICE_TOKENS_FILE: '/etc/sshcheck/tokens' }, read), { tokens: [OLD, NEW], file: '/etc/sshcheck/tokens' });
  assert.deepEqual(tokensFromEnv({ SSHCHECK_SERVICE_TOKENS: `${OLD},${NEW}` }, read).tokens, [OLD, NEW]);
  assert.throws(() => tokensFromEnv({}, read), /SSHCHECK_SERVICE_TOKENS_FILE.*openssl rand -hex 32/);
  assert.throws(() => tokensFromEnv({ SSHCHECK_SERVICE_TOKENS_FILE: '/nope' }, read), /cannot read SSHCHECK_SERVICE_TOKENS_FILE \/nope/);
  assert.throws(() => parseTokenLines('short\n', 'tokens'), (err: unknown) => err instanceof Error && /^tokens:1: .*at least 16/.test(err.message) && !err.message.includes('short'));
  assert.throws(() => parseTokenLines(`${OLD}\nhas a space in it 0123456789\n`, 'tokens'), /tokens:2: a token is one word/);
});
