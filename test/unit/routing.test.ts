import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blockContainsAddress as cidrContains, parseCidrBlock } from '../../src/policy/ip.js';
import type { CidrBlock as Cidr } from '../../src/policy/ip.js';

const parseCidr = (text: string): ReturnType<typeof parseCidrBlock> => parseCidrBlock(text, { requirePrefix: true });
import { AgentDirectory } from '../../src/nats/directory.js';
import type { RouteRule } from '../../src/chat/routing-config.js';
import { parseChatCommand, CHAT_USAGE } from '../../src/chat/grammar.js';
import { isSshcheckError } from '../../src/errors.js';
import { parseTarget } from '../../src/target.js';

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if ('error' in c) throw new Error(c.error);
  return c;
}

test('CIDR parsing and matching, IPv4 and IPv6', () => {
  assert.ok(cidrContains(cidr('10.77.2.0/25'), '10.77.2.127'));
  assert.ok(!cidrContains(cidr('10.77.2.0/25'), '10.77.2.128'));
  assert.ok(cidrContains(cidr('0.0.0.0/0'), '192.0.2.1'));
  assert.ok(cidrContains(cidr('10.0.0.5/32'), '10.0.0.5'));
  assert.ok(cidrContains(cidr('2001:db8::/32'), '2001:db8:ffff::1'));
  assert.ok(!cidrContains(cidr('2001:db8::/32'), '2001:db9::1'));
  assert.ok(!cidrContains(cidr('10.0.0.0/8'), '2001:db8::1'), 'families never mix');
  // An IPv4-mapped address is routed as the IPv4 address it carries.
  assert.ok(cidrContains(cidr('10.0.0.0/8'), '::ffff:10.1.2.3'));
  for (const bad of ['10.0.0.0/33', '10.0.0.0', '10.0.0/8', 'db/8', '2001:db8::/129', '10.0.0.1/8']) assert.ok('error' in parseCidr(bad), bad);
  const hint = parseCidr('2001:db8::1/32');
  assert.ok('error' in hint && /did you mean 2001:db8::\/32/.test(hint.error), JSON.stringify(hint));
});

const rules: RouteRule[] = [
  { kind: 'cidr', cidr: cidr('10.0.0.0/8'), bastion: 'eu-1' },
  { kind: 'cidr', cidr: cidr('10.20.0.0/16'), bastion: 'us-1' },
  { kind: 'cidr', cidr: cidr('2001:db8:20::/48'), bastion: 'us-1' },
  { kind: 'suffix', suffix: 'example.com', bastion: 'eu-1' },
  { kind: 'suffix', suffix: 'us.example.com', bastion: 'us-1' },
];
// The bot's static routes, as the NATS client applies them (no agent has declared anything here).
const config = { bastions: ['eu-1', 'us-1'], rules, default: 'eu-1' };
const directory = new AgentDirectory(() => 0);
const route = (text: string, via?: string): string => {
  const r = directory.route(config, parseTarget(text), via);
  return `${r.bastion} (${r.reason})`;
};

test('IP literals go by the most specific CIDR; names by the longest suffix, on label boundaries', () => {
  assert.equal(route('10.1.2.3'), 'eu-1 (cidr 10.0.0.0/8)');
  assert.equal(route('10.20.2.3'), 'us-1 (cidr 10.20.0.0/16)');
  assert.equal(route('[2001:db8:20::5]:2222'), 'us-1 (cidr 2001:db8:20::/48)');
  assert.equal(route('db-3.us.example.com'), 'us-1 (suffix us.example.com)');
  assert.equal(route('us.example.com'), 'us-1 (suffix us.example.com)');
  assert.equal(route('db-3.eu.example.com'), 'eu-1 (suffix example.com)');
  assert.equal(route('db-3.notexample.com'), 'eu-1 (default)', 'a suffix matches whole labels only');
  assert.equal(route('192.0.2.1'), 'eu-1 (default)');
  assert.equal(route('db-3'), 'eu-1 (default)');
});

test('via wins over every rule; a via that is no bastion name is a usage error', () => {
  assert.equal(route('10.20.2.3', 'eu-1'), 'eu-1 (via)');
  assert.equal(route('db-3', 'US-1'), 'us-1 (via)');
  assert.throws(() => route('db-3', 'eu 1'), (err: unknown) => isSshcheckError(err) && err.code === 'E_USAGE' && /"eu 1" is not a bastion name/.test(err.message));
});

test('no rule and no default: an error that says what to do', () => {
  assert.throws(() => directory.route({ ...config, default: undefined }, parseTarget('db-3')), /no bastion covers db-3: add "via <bastion>" \(the bastions are eu-1, us-1\)/);
});

test('the chat grammar: via <bastion> after any of the existing forms', () => {
  assert.deepEqual(parseChatCommand('db-3 via eu-1'), { kind: 'check', target: parseTarget('db-3'), via: 'eu-1' });
  const c = parseChatCommand('db-3 2222 ops VIA US-1');
  assert.ok(c.kind === 'check' && c.target.port === 2222 && c.target.user === 'ops' && c.via === 'us-1');
  const d = parseChatCommand('ops@[2001:db8::1]:2200 via eu-1', { bastions: ['eu-1'] });
  assert.ok(d.kind === 'check' && d.target.port === 2200 && d.via === 'eu-1');
  assert.deepEqual(parseChatCommand('db-3'), { kind: 'check', target: parseTarget('db-3') }, 'no via key when none was given');
  assert.match(CHAT_USAGE, /via <bastion>/);
});

test('the chat grammar: via errors', () => {
  const usage = (text: string, bastions?: string[]): string => {
    try {
      parseChatCommand(text, bastions ? { bastions } : {});
    } catch (err) {
      assert.ok(isSshcheckError(err) && err.code === 'E_USAGE');
      return err.message;
    }
    return 'no error';
  };
  assert.match(usage('db-3 via'), /"via" needs a bastion name/);
  assert.match(usage('db-3 via ap-1', ['eu-1', 'us-1']), /unknown bastion "ap-1": the configured bastions are eu-1, us-1/);
  assert.match(usage('db-3 via eu-1', []), /no bastions are configured: this bot probes from its own machine/);
  assert.match(usage('db-3 via <!here>'), /is not a bastion name/);
  assert.match(usage('db-3 22 ops extra via eu-1'), /too many words/);
});
