// manifest.yml: valid YAML with what Slack's manifest schema (v1) requires, Socket Mode on,
// the /sshcheck command with a usage hint, the events the adapter listens to (app_mention;
// message.channels and message.groups for logs pasted into its threads), and exactly the bot
// scopes the adapter's code needs: every Web API method it calls, every event it subscribes
// to and the file downloads are covered, no scope is spare.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const adapterDir = join(here, '..', '..', 'adapters', 'slack');

type Obj = Record<string, unknown>;

function obj(value: unknown, what: string): Obj {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value), `${what} is a mapping`);
  return value as Obj;
}

function str(value: unknown, what: string, min: number, max: number): string {
  assert.equal(typeof value, 'string', `${what} is a string`);
  const s = value as string;
  assert.ok(s.length >= min && s.length <= max, `${what}: ${s.length} characters, must be ${min}-${max}`);
  return s;
}

function onlyKeys(o: Obj, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(o)) assert.ok(allowed.includes(key), `${what}.${key} is not a manifest field`);
}

/** Bot scopes each Web API method needs (auth.test and apps.connections.open need none). */
const METHOD_SCOPES: Readonly<Record<string, string | null>> = {
  'auth.test': null,
  'apps.connections.open': null, // app-level token with connections:write, not a bot scope
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  // Finding the bot's own post again when Slack's answer to it was lost (surface.ts): the
  // history scopes the message events already need (groups:history for private channels).
  'conversations.history': 'channels:history',
  'conversations.replies': 'channels:history',
};

/** Bot scopes each subscribed event needs. */
const EVENT_SCOPES: Readonly<Record<string, string>> = {
  app_mention: 'app_mentions:read',
  'message.channels': 'channels:history',
  'message.groups': 'groups:history',
};

const manifest = obj(parse(readFileSync(join(root, 'manifest.yml'), 'utf8')), 'the manifest');

test('manifest.yml: the fields Slack requires, within their limits', () => {
  onlyKeys(manifest, ['_metadata', 'display_information', 'features', 'oauth_config', 'settings'], 'manifest');
  const meta = obj(manifest['_metadata'], '_metadata');
  assert.equal(meta['major_version'], 1);
  const info = obj(manifest['display_information'], 'display_information');
  onlyKeys(info, ['name', 'description', 'background_color', 'long_description'], 'display_information');
  assert.equal(str(info['name'], 'name', 1, 35), 'sshcheck');
  str(info['description'], 'description', 1, 140);
  str(info['long_description'], 'long_description', 175, 4000);
  assert.match(str(info['background_color'], 'background_color', 4, 7), /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/);

  const features = obj(manifest['features'], 'features');
  onlyKeys(features, ['bot_user', 'slash_commands', 'app_home'], 'features');
  const bot = obj(features['bot_user'], 'bot_user');
  str(bot['display_name'], 'bot_user.display_name', 1, 80);
  const commands = features['slash_commands'];
  assert.ok(Array.isArray(commands) && commands.length === 1, 'one slash command');
  const command = obj(commands[0], 'the slash command');
  onlyKeys(command, ['command', 'url', 'description', 'usage_hint', 'should_escape'], 'slash_commands[0]');
  assert.equal(str(command['command'], 'command', 2, 32), '/sshcheck');
  str(command['description'], 'command description', 1, 2000);
  assert.match(str(command['usage_hint'], 'usage_hint', 1, 1000), /<target> \[port\] \[user\]/);
  assert.equal(typeof command['should_escape'], 'boolean');

  const settings = obj(manifest['settings'], 'settings');
  onlyKeys(settings, ['event_subscriptions', 'interactivity', 'org_deploy_enabled', 'socket_mode_enabled', 'token_rotation_enabled'], 'settings');
  assert.equal(settings['socket_mode_enabled'], true, 'Socket Mode on: the bastion connects out');
  // In Socket Mode no request URL is needed; none may point anywhere.
  assert.equal(command['url'], undefined);
  const events = obj(settings['event_subscriptions'], 'event_subscriptions');
  assert.equal(events['request_url'], undefined);
  assert.deepEqual(events['bot_events'], ['app_mention', 'message.channels', 'message.groups']);
  // The Re-run button needs interactivity; in Socket Mode its clicks need no request URL either.
  const interactivity = obj(settings['interactivity'], 'interactivity');
  onlyKeys(interactivity, ['is_enabled'], 'interactivity');
  assert.equal(interactivity['is_enabled'], true);
});

test('manifest.yml: exactly the bot scopes the adapter uses', () => {
  const scopes = obj(obj(manifest['oauth_config'], 'oauth_config')['scopes'], 'scopes');
  onlyKeys(scopes, ['bot'], 'scopes');
  const bot = scopes['bot'];
  assert.ok(Array.isArray(bot));
  // Every Web API method the compiled adapter calls.
  const source = readdirSync(adapterDir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(join(adapterDir, f), 'utf8'))
    .join('\n');
  const called = new Set([...source.matchAll(/\bclient\.(auth|apps|chat|conversations|users|reactions|views|files)\.(?:connections\.)?(\w+)\(/g)].map((m) => `${m[1]}.${m[2]}`));
  assert.ok(called.has('chat.postMessage') && called.has('chat.update') && called.has('chat.postEphemeral'), [...called].join(', '));
  const needed = new Set<string>(['commands']); // the slash command
  // The events the compiled adapter listens to, and the manifest subscriptions they need.
  const listened = new Set([...source.matchAll(/\bapp\.event\('(\w+)'/g)].map((m) => m[1]));
  assert.deepEqual([...listened].sort(), ['app_mention', 'message']);
  const subscribed = obj(obj(manifest['settings'], 'settings')['event_subscriptions'], 'event_subscriptions')['bot_events'] as string[];
  for (const event of subscribed) {
    assert.ok(listened.has(event.split('.')[0] ?? ''), `${event}: subscribed, but no listener handles it`);
    const scope = EVENT_SCOPES[event];
    assert.ok(scope !== undefined, `${event}: which scope does it need? add it to EVENT_SCOPES`);
    needed.add(scope);
  }
  // Files shared in a thread are downloaded from url_private_download with the bot token.
  if (/url_private/.test(source)) needed.add('files:read');
  for (const method of called) {
    assert.ok(method in METHOD_SCOPES, `${method}: which scope does it need? add it to METHOD_SCOPES and the manifest`);
    const scope = METHOD_SCOPES[method];
    if (scope) needed.add(scope);
  }
  assert.deepEqual([...(bot as string[])].sort(), [...needed].sort());
});
