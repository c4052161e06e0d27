import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatCommand } from '../../src/chat/grammar.js';
import { DISCORD_CUSTOM_ID_MAX, decodeRerun, decodeRerunCustomId, encodeRerun, rerunCustomId } from '../../src/chat/rerun.js';

function checkOf(text: string, bastions?: readonly string[]): Parameters<typeof encodeRerun>[0] {
  const c = parseChatCommand(text, bastions ? { bastions } : {});
  assert.equal(c.kind, 'check');
  if (c.kind !== 'check') throw new Error('not a check');
  return { target: c.target, ...(c.via !== undefined ? { via: c.via } : {}), ...(c.from !== undefined ? { from: c.from } : {}) };
}

test('a check round-trips through the button value: target, port, user, via, from', () => {
  for (const text of ['db-3', 'ops@db-3:2222', 'ops@[2001:db8::1]:2200', '[2001:db8::1]', '10.0.0.5 2222 ops via b1 from 203.0.113.7', 'db-3 from 2001:db8::7']) {
    const request = checkOf(text, ['b1']);
    const value = encodeRerun(request);
    const back = decodeRerun(value, { bastions: ['b1'] });
    assert.equal(back.kind, 'check', `${text} → ${value}`);
    if (back.kind !== 'check') continue;
    assert.equal(back.target.host, request.target.host);
    assert.equal(back.target.port, request.target.port);
    assert.equal(back.target.user, request.target.user);
    assert.equal(back.via, request.via);
    assert.equal(back.from, request.from);
  }
  assert.equal(encodeRerun(checkOf('ops@db-3:2222 via b1 from 203.0.113.7', ['b1'])), 'db-3 2222 ops via b1 from 203.0.113.7');
});

test('a forged or garbled value is refused: not a string, not a check, not canonical, hostile', () => {
  const forged: unknown[] = [undefined, null, 42, {}, '', 'help', 'history db-3', 'db-3', 'db-3 22', 'db-3  22 sshcheck', 'DB-3 22 sshcheck', 'db-3 22 sshcheck extra words',
    '-oProxyCommand=x 22 sshcheck', '<!channel> 22 sshcheck', 'db-3 22 $(id)', 'db-3 70000 sshcheck', 'x'.repeat(501), 'db-3 22 sshcheck from db-4', 'db-3 22 sshcheck\n'];
  for (const value of forged) {
    const d = decodeRerun(value);
    assert.equal(d.kind, 'refused', JSON.stringify(value));
    if (d.kind === 'refused') assert.match(d.message, /nothing was checked/i);
  }
});

test('a bastion no longer configured is refused with the reason a typed command would get', () => {
  const d = decodeRerun('db-3 22 sshcheck via gone', { bastions: ['b1'] });
  assert.equal(d.kind, 'refused');
  if (d.kind === 'refused') assert.match(d.message, /unknown bastion "gone"/);
});

test('Discord custom_id: prefixed, at most 100 characters, none when the check does not fit', () => {
  const id = rerunCustomId(checkOf('ops@db-3:2222'));
  assert.equal(id, 'sshcheck_rerun:db-3 2222 ops');
  const back = decodeRerunCustomId(id);
  assert.ok(back.kind === 'check' && back.target.port === 2222);
  assert.equal(rerunCustomId(checkOf(`${'a'.repeat(60)}.${'b'.repeat(40)}`)), undefined);
  for (const bad of ['db-3 2222 ops', 'other:db-3 2222 ops', `sshcheck_rerun:${'a'.repeat(DISCORD_CUSTOM_ID_MAX)}`, 7]) assert.equal(decodeRerunCustomId(bad).kind, 'refused');
});
