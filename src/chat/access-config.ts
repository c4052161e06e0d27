// The `permissions:` and `limits:` sections of the bot's config (SSHCHECK_CONFIG), next to
// the routing of routing-config.ts and in its style: yaml's document API, every problem
// reported with its line and field (`sshcheck.yml:12: permissions.slack.channels[1]: …`).
// Other top-level sections are routing-config's to check. Pure.
//
//   permissions:
//     slack:   { workspaces: [T0…], channels: [C0…], users: [U0…], user_groups: [S0…] }
//     discord: { guilds: ["1234…"], channels: ["…"], users: ["…"], roles: ["…"] }
//   limits:
//     per_user: { burst: 5, per_minute: 2 }
//     global:   { burst: 30, per_minute: 30 }
//     concurrent: 4
//     queue: 20
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node, Pair } from 'yaml';
import type { LimitsConfig } from './limits.js';
import { DEFAULT_LIMITS } from './limits.js';
import type { PermissionsConfig, Platform, PlatformPermissions } from './permissions.js';
import { configDocument, RoutingConfigError } from './routing-config.js';
import { safeKey } from '../config/config-file.js';

export interface AccessConfig {
  /** Undefined: no permissions section, everyone may run checks. */
  permissions?: PermissionsConfig;
  limits: LimitsConfig;
}

const ID_RULES: Record<Platform, Record<string, { key: keyof PlatformPermissions; re: RegExp; what: string }>> = {
  slack: {
    workspaces: { key: 'workspaces', re: /^[TE][A-Z0-9]{2,20}$/, what: 'a Slack team id (T…)' },
    channels: { key: 'channels', re: /^[CGD][A-Z0-9]{2,20}$/, what: 'a Slack channel id (C…, G… or D…)' },
    users: { key: 'users', re: /^[UW][A-Z0-9]{2,20}$/, what: 'a Slack user id (U… or W…)' },
    user_groups: { key: 'groups', re: /^S[A-Z0-9]{2,20}$/, what: 'a Slack user group id (S…)' },
  },
  discord: {
    guilds: { key: 'workspaces', re: /^[0-9]{15,25}$/, what: 'a Discord server (guild) id' },
    channels: { key: 'channels', re: /^[0-9]{15,25}$/, what: 'a Discord channel id' },
    users: { key: 'users', re: /^[0-9]{15,25}$/, what: 'a Discord user id' },
    roles: { key: 'groups', re: /^[0-9]{15,25}$/, what: 'a Discord role id' },
  },
};

export function loadAccessConfig(text: string, file: string): AccessConfig {
  const { doc, problems, problem } = configDocument(text, file);

  const config: AccessConfig = { limits: { ...DEFAULT_LIMITS, perUser: { ...DEFAULT_LIMITS.perUser }, global: { ...DEFAULT_LIMITS.global } } };
  const root = doc.contents;
  if (!isMap(root)) return config;

  const fields = (node: Node, path: string, allowed: readonly string[]): Map<string, Pair> => {
    const out = new Map<string, Pair>();
    if (!isMap(node)) {
      problem(node, path, `must be a mapping with ${allowed.join(', ')}`);
      return out;
    }
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key !== 'string') problem(pair, path, 'keys must be plain words');
      else if (!allowed.includes(key)) problem(pair, `${path}.${safeKey(key)}`, `unknown field; the fields here are ${allowed.join(', ')}`);
      else out.set(key, pair);
    }
    return out;
  };
  const isNull = (node: Node | null | undefined): boolean => node === null || node === undefined || (isScalar(node) && node.value === null);

  const permPair = root.items.find((p) => isScalar(p.key) && p.key.value === 'permissions');
  if (permPair) {
    const node = permPair.value as Node | null;
    const permissions: PermissionsConfig = {};
    if (!isNull(node)) {
      const platforms = fields(node as Node, 'permissions', ['slack', 'discord']);
      for (const platform of ['slack', 'discord'] as const) {
        const pair = platforms.get(platform);
        if (!pair) continue;
        const path = `permissions.${platform}`;
        const value = pair.value as Node | null;
        const rules = ID_RULES[platform];
        const entry: PlatformPermissions = {};
        // `slack:` with nothing under it: the platform is on, for everyone in it.
        if (!isNull(value)) {
          for (const [key, fieldPair] of fields(value as Node, path, Object.keys(rules))) {
            const rule = rules[key];
            if (!rule) continue;
            const list = fieldPair.value as Node | null;
            const ids: string[] = [];
            const items = isSeq(list) ? (list.items as Node[]) : isNull(list) ? [] : [list as Node];
            items.forEach((item, i) => {
              const at = isSeq(list) ? `${path}.${key}[${i}]` : `${path}.${key}`;
              if (isScalar(item) && typeof item.value === 'number') {
                return problem(item, at, `write ids in quotes: YAML reads ${String(item.value)} as a number${platform === 'discord' ? ' and loses digits of a Discord id' : ''}`);
              }
              if (!isScalar(item) || typeof item.value !== 'string') return problem(item, at, `must be ${rule.what}`);
              const id = item.value.trim();
              if (!rule.re.test(id)) return problem(item, at, `${JSON.stringify(id.slice(0, 40))} is not ${rule.what}`);
              ids.push(id);
            });
            entry[rule.key] = ids;
          }
        }
        permissions[platform] = entry;
      }
    }
    config.permissions = permissions;
  }

  const limitsPair = root.items.find((p) => isScalar(p.key) && p.key.value === 'limits');
  if (limitsPair && !isNull(limitsPair.value as Node | null)) {
    const limits = fields(limitsPair.value as Node, 'limits', ['per_user', 'global', 'concurrent', 'queue']);
    const number = (pair: Pair | undefined, field: string, min: number, max: number, integer: boolean): number | undefined => {
      if (!pair) return undefined;
      const node = pair.value as Node | null;
      const value = isScalar(node) ? node.value : undefined;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
        problem(node ?? pair, field, `must be a ${integer ? 'whole ' : ''}number from ${min} to ${max}`);
        return undefined;
      }
      return value;
    };
    for (const [key, target] of [['per_user', config.limits.perUser], ['global', config.limits.global]] as const) {
      const pair = limits.get(key);
      if (!pair) continue;
      const bucket = fields(pair.value as Node, `limits.${key}`, ['burst', 'per_minute']);
      const burst = number(bucket.get('burst'), `limits.${key}.burst`, 1, 10_000, true);
      const perMinute = number(bucket.get('per_minute'), `limits.${key}.per_minute`, 0.01, 10_000, false);
      if (burst !== undefined) target.burst = burst;
      if (perMinute !== undefined) target.perMinute = perMinute;
    }
    const concurrent = number(limits.get('concurrent'), 'limits.concurrent', 1, 64, true);
    if (concurrent !== undefined) config.limits.concurrent = concurrent;
    const queue = number(limits.get('queue'), 'limits.queue', 0, 1000, true);
    if (queue !== undefined) config.limits.queue = queue;
  }

  if (problems.length > 0) throw new RoutingConfigError(file, problems.sort((a, b) => a.line - b.line));
  return config;
}
