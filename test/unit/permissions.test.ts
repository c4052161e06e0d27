// Who may run checks: the pure permission rules per platform, and the permissions: and
// limits: sections of the bot's config with their line-numbered errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAccessConfig } from '../../src/chat/access-config.js';
import { DEFAULT_LIMITS } from '../../src/chat/limits.js';
import type { PermissionsConfig, Requester } from '../../src/chat/permissions.js';
import { checkPermission, needsGroups } from '../../src/chat/permissions.js';
import { loadRoutingConfig } from '../../src/chat/routing-config.js';

const slack = (over: Partial<Requester> = {}): Requester => ({ platform: 'slack', workspace: 'T0TEAM', channel: 'C0OPS', user: 'U0ALICE', ...over });
const discord = (over: Partial<Requester> = {}): Requester => ({ platform: 'discord', workspace: '111111111111111111', channel: '222222222222222222', user: '333333333333333333', ...over });

test('no permissions section: everyone may run checks', () => {
  assert.deepEqual(checkPermission(undefined, slack()), { allowed: true });
  assert.deepEqual(checkPermission(undefined, discord({ workspace: undefined })), { allowed: true });
  assert.equal(needsGroups(undefined, slack()), false);
});

test('a permissions section closes the platforms it does not list', () => {
  const config: PermissionsConfig = { slack: {} };
  assert.deepEqual(checkPermission(config, slack()), { allowed: true });
  const verdict = checkPermission(config, discord());
  assert.ok(!verdict.allowed);
  assert.equal(verdict.dimension, 'platform');
  assert.match(verdict.message, /sshcheck is not enabled on Discord: .*permissions\.discord/);
});

test('places: the workspace and the channel must each be listed when a list is given', () => {
  const config: PermissionsConfig = { slack: { workspaces: ['T0TEAM'], channels: ['C0OPS', 'C0INCIDENT'] }, discord: { workspaces: ['111111111111111111'] } };
  assert.deepEqual(checkPermission(config, slack()), { allowed: true });
  const team = checkPermission(config, slack({ workspace: 'T0OTHER' }));
  assert.ok(!team.allowed);
  assert.equal(team.dimension, 'workspace');
  assert.match(team.message, /may not be used in this workspace \(T0OTHER\): ask the bot's admin to add it to permissions\.slack\.workspaces/);
  const channel = checkPermission(config, slack({ channel: 'C0RANDOM' }));
  assert.ok(!channel.allowed);
  assert.equal(channel.dimension, 'channel');
  assert.match(channel.message, /this channel \(C0RANDOM\)/);
  const dm = checkPermission(config, discord({ workspace: undefined }));
  assert.ok(!dm.allowed);
  assert.match(dm.message, /outside a server \(a direct message\).*permissions\.discord\.guilds/);
  // An empty list matches nothing.
  assert.equal(checkPermission({ slack: { channels: [] } }, slack()).allowed, false);
});

test('people: a listed user, or a member of a listed group (role); groups are looked up only when needed', () => {
  const config: PermissionsConfig = { slack: { users: ['U0ALICE'], groups: ['S0ONCALL'] }, discord: { groups: ['444444444444444444'] } };
  assert.equal(needsGroups(config, slack()), false, 'a listed user needs no group lookup');
  assert.equal(needsGroups(config, slack({ user: 'U0BOB' })), true);
  assert.deepEqual(checkPermission(config, slack()), { allowed: true });
  assert.deepEqual(checkPermission(config, slack({ user: 'U0BOB' }), ['S0ONCALL']), { allowed: true });
  const bob = checkPermission(config, slack({ user: 'U0BOB' }), ['S0OTHER']);
  assert.ok(!bob.allowed);
  assert.equal(bob.dimension, 'user');
  assert.match(bob.message, /you \(U0BOB\) are not allowed to run sshcheck: ask the bot's admin to add you to permissions\.slack\.users or one of its user_groups/);
  assert.deepEqual(checkPermission(config, discord(), ['444444444444444444']), { allowed: true });
  const role = checkPermission(config, discord(), ['555555555555555555']);
  assert.ok(!role.allowed);
  assert.match(role.message, /one of its roles/);
});

test('access config: permissions and limits parse; ids are validated per platform', () => {
  const text = [
    'bastions: []',
    'permissions:',
    '  slack:',
    '    workspaces: [T0TEAM]',
    '    channels: [C0OPS]',
    '    users: [U0ALICE, W0BOB]',
    '    user_groups: [S0ONCALL]',
    '  discord:',
    '    guilds: ["111111111111111111"]',
    '    roles: ["444444444444444444"]',
    'limits:',
    '  per_user: { burst: 3, per_minute: 1 }',
    '  global: { burst: 50, per_minute: 20 }',
    '  concurrent: 2',
    '  queue: 5',
  ].join('\n');
  const config = loadAccessConfig(text, 'sshcheck.yml');
  assert.deepEqual(config.permissions, {
    slack: { workspaces: ['T0TEAM'], channels: ['C0OPS'], users: ['U0ALICE', 'W0BOB'], groups: ['S0ONCALL'] },
    discord: { workspaces: ['111111111111111111'], groups: ['444444444444444444'] },
  });
  assert.deepEqual(config.limits, { ...DEFAULT_LIMITS, perUser: { burst: 3, perMinute: 1 }, global: { burst: 50, perMinute: 20 }, concurrent: 2, queue: 5 });
  // The routing loader accepts the same file.
  assert.deepEqual(loadRoutingConfig(text, 'sshcheck.yml').bastions, []);
  // Nothing configured: no permissions (open), default limits.
  assert.deepEqual(loadAccessConfig('bastions: []\n', 'sshcheck.yml'), { limits: DEFAULT_LIMITS });
  assert.deepEqual(loadAccessConfig('', 'sshcheck.yml'), { limits: DEFAULT_LIMITS });
  // `permissions:` with `slack:` alone: Slack open to all, Discord closed.
  assert.deepEqual(loadAccessConfig('permissions:\n  slack:\n', 'sshcheck.yml').permissions, { slack: {} });
});

const ERRORS: Array<[string, string, RegExp]> = [
  ['a Slack channel that is a name', 'permissions:\n  slack:\n    channels:\n      - C0OPS\n      - "#ops"\n', /^sshcheck\.yml:5: permissions\.slack\.channels\[1\]: "#ops" is not a Slack channel id \(C…, G… or D…\)$/],
  ['a Discord id as a YAML number', 'permissions:\n  discord:\n    guilds: [111111111111111111]\n', /^sshcheck\.yml:3: permissions\.discord\.guilds\[0\]: write ids in quotes: YAML reads .* as a number and loses digits of a Discord id$/],
  ['an unknown platform', 'permissions:\n  teams:\n    users: [x]\n', /^sshcheck\.yml:2: permissions\.teams: unknown field; the fields here are slack, discord$/],
  ['a Slack field on Discord', 'permissions:\n  discord:\n    user_groups: ["1"]\n', /^sshcheck\.yml:3: permissions\.discord\.user_groups: unknown field; the fields here are guilds, channels, users, roles$/],
  ['a zero burst', 'limits:\n  per_user:\n    burst: 0\n', /^sshcheck\.yml:3: limits\.per_user\.burst: must be a whole number from 1 to 10000$/],
  ['a fractional cap', 'limits:\n  concurrent: 1.5\n', /^sshcheck\.yml:2: limits\.concurrent: must be a whole number from 1 to 64$/],
  ['a negative rate', 'limits:\n  global: { burst: 5, per_minute: -1 }\n', /^sshcheck\.yml:2: limits\.global\.per_minute: must be a number from 0\.01 to 10000$/],
  ['an unknown limit', 'limits:\n  per_team: 3\n', /^sshcheck\.yml:2: limits\.per_team: unknown field; the fields here are per_user, global, concurrent, queue$/],
];

for (const [what, text, message] of ERRORS) {
  test(`access config error, ${what}: line and field`, () => {
    assert.throws(() => loadAccessConfig(text, 'sshcheck.yml'), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, message);
      return true;
    });
  });
}
