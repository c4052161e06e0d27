import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChatCommand } from '../../src/chat/grammar.js';
import { parseFleetCommand } from '../../src/chat/fleet-grammar.js';
import { DISCORD_CUSTOM_ID_MAX, decodeRerun, decodeRerunCustomId, encodeFleetRerun, encodeRerun, fleetRerunCustomId, rerunCustomId } from '../../src/chat/rerun.js';

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

function fleetOf(text: string, options: Parameters<typeof parseFleetCommand>[1] = {}): NonNullable<ReturnType<typeof parseFleetCommand>> {
  const fleet = parseFleetCommand(text, options);
  assert.ok(fleet, text);
  return fleet;
}

const hostsOf = (targets: ReadonlyArray<{ user: string; host: string; port: number }>): string[] => targets.map((t) => `${t.user}@${t.host}:${t.port}`);

test('a fleet round-trips through the button value: the same hosts, in order, with a port or user given apart from the text', () => {
  const cases: Array<[string, Parameters<typeof parseFleetCommand>[1], string]> = [
    ['db-[1-3]', {}, 'db-[1-3] 22 sshcheck'],
    ['db-1, db-2 2222 ops', {}, 'db-1,db-2 2222 ops'],
    ['db-1,db-2', { port: 2200, user: 'ops' }, 'db-1,db-2 2200 ops'],
    ['db-1:2222,db-2', {}, 'db-1:2222,db-2'],
    ['db-1:2222,db-2', { user: 'ops' }, 'ops@db-1:2222,ops@db-2'],
    ['root@db-1,db-2:2222', {}, 'root@db-1,db-2:2222'],
    ['10.0.0.[1-4],[2001:db8::1]:2200', {}, '10.0.0.[1-4],[2001:db8::1]:2200'],
  ];
  for (const [text, options, value] of cases) {
    const fleet = fleetOf(text, options);
    assert.equal(encodeFleetRerun(fleet), value, text);
    const back = decodeRerun(value);
    assert.equal(back.kind, 'fleet', value);
    if (back.kind !== 'fleet') continue;
    assert.deepEqual(hostsOf(back.fleet.targets), hostsOf(fleet.targets), value);
    assert.equal(encodeFleetRerun(back.fleet), value, 'the value is its own canonical form');
  }
  assert.equal(fleetRerunCustomId(fleetOf('db-[1-40]')), 'sshcheck_rerun:db-[1-40] 22 sshcheck');
  assert.equal(decodeRerunCustomId('sshcheck_rerun:db-[1-40] 22 sshcheck').kind, 'fleet');
  assert.equal(fleetRerunCustomId(fleetOf(Array.from({ length: 12 }, (_, i) => `host-${i}.example`).join(','))), undefined, 'too long for a custom_id: no button');
});

test('a forged or garbled fleet value is refused: not canonical, a bad host, too many hosts or words', () => {
  for (const value of ['db-[1-3]', 'db-1,db-2', 'db-1, db-2 22 sshcheck', 'db-1,db-2 22 sshcheck extra', 'db-1,-oProxyCommand=x 22 sshcheck', 'db-[1-3] 22 $(id)', 'db-[1-300] 22 sshcheck', 'db-1,<!channel> 22 sshcheck', 'db-1,db-2 22 sshcheck via b1']) {
    const d = decodeRerun(value, { bastions: ['b1'] });
    assert.equal(d.kind, 'refused', value);
    if (d.kind === 'refused') assert.match(d.message, /nothing was checked/i);
  }
});
