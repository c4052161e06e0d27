import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clip, codeBlock, safeInline } from '../../src/chat/safe-text.js';

/** Markup outside inline code spans, where chat clients would act on it. */
function outsideCode(text: string): string {
  return text.replace(/`[^`]*`/g, '');
}

test('mentions, links and formatting a server could send end up inert', () => {
  const hostile = 'banner <!channel> @everyone @here <@U123> <https://evil.example|click> [x](https://evil.example) evil.example *bold* _it_ ~s~ `tick` :emoji: #chan ||spoiler|| > quote';
  for (const dialect of ['slack', 'discord'] as const) {
    const out = safeInline(hostile, dialect);
    const live = outsideCode(out);
    assert.doesNotMatch(live, /[@<>*_~|[\]():#]|https?|evil\.example/, `${dialect}: ${live}`);
    // Slack parses <!channel>, <@U…> and <http…|…> before markdown, even inside code.
    if (dialect === 'slack') assert.doesNotMatch(out, /<!channel>|<@U123>|<https/);
  }
  assert.match(safeInline('<!channel>', 'slack'), /&lt;!channel&gt;/);
  assert.equal(safeInline('<!channel>', 'discord'), '`<!channel>`');
});

test('plain words stay plain; durations are not mistaken for domains', () => {
  assert.equal(safeInline('no answer in 1.2 s', 'slack'), 'no answer in 1.2 s');
  assert.equal(safeInline('10.0.0.5:22 refused: reachable (the host is up)', 'discord'), '10.0.0.5:22 refused: reachable (the host is up)');
  assert.equal(safeInline('db-3.example.com 2001:db8::1', 'discord'), '`db-3.example.com 2001:db8::1`');
});

test('sentence punctuation after an address stays outside its code span', () => {
  for (const dialect of ['slack', 'discord'] as const) {
    assert.equal(safeInline('connect to 10.78.2.2:2222: Connection refused', dialect), 'connect to `10.78.2.2:2222`: Connection refused');
    assert.equal(safeInline('10.78.2.2:1: timed out', dialect), '`10.78.2.2:1`: timed out');
    assert.equal(safeInline('see evil.example.', dialect), 'see `evil.example`.');
    // Whole, as before: an emoji name, and a masked link with its parenthesis.
    assert.equal(safeInline(':emoji:', dialect), '`:emoji:`');
    assert.equal(safeInline('[x](https://e.example)', dialect), '`[x](https://e.example)`');
  }
});

test('invisible and control characters are dropped, backticks cannot close code', () => {
  assert.equal(safeInline('a\u202eb\u200bc\u0007d', 'discord'), 'abcd');
  const out = safeInline('x`@everyone`y', 'discord');
  assert.equal((out.match(/`/g) ?? []).length % 2, 0);
  assert.doesNotMatch(outsideCode(out), /@/);
  const block = codeBlock(['```', '<!channel>'], 'slack');
  assert.equal((block.match(/```/g) ?? []).length, 2, 'only the block fences');
  assert.match(block, /&lt;!channel&gt;/);
});

test('clip marks the cut and never splits a surrogate pair', () => {
  assert.equal(clip('abcdef', 4), 'abc…');
  assert.equal(clip('abc', 4), 'abc');
  assert.equal(clip('a😀😀😀', 4), 'a😀…');
  assert.equal(clip('a😀😀😀', 3), 'a…', 'a pair that does not fit is left out whole');
});

test('an opening parenthesis of the sentence stays outside the code span, a masked link keeps its brackets', () => {
  assert.equal(safeInline('hosts (cdn.example, media.example, 127.0.0.1:80)', 'slack'), 'hosts (`cdn.example`, `media.example`, 127.0.0.1:80)');
  assert.equal(safeInline('see (evil.example)', 'slack'), 'see (`evil.example`)');
  assert.equal(safeInline('a:smile:', 'slack'), '`a:smile`:');
  assert.match(safeInline('[x](http://evil.example)', 'discord'), /^`\[x\]\(http:\/\/evil\.example\)`$/);
});
