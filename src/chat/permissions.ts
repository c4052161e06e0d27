// Who may run checks from chat: per platform, allowlists of places (Slack workspaces and
// channels, Discord servers and channels) and of people (users, Slack user groups, Discord
// roles). Pure: the configuration and the requester in, a verdict with a message the person
// can act on out.
//
// The rules:
//  * No `permissions:` section at all: everyone who can reach the command may run checks
//    (the bot logs a warning at start). Once the section exists, a platform without an
//    entry is closed: forgetting Discord must not leave Discord open.
//  * Each list that is given must match (workspace AND channel); an empty list matches
//    nothing. People: when users and/or groups (roles) are given, the requester must be
//    one of the users OR in one of the groups.

export type Platform = 'slack' | 'discord';

export interface PlatformPermissions {
  /** Slack team ids / Discord guild (server) ids. */
  workspaces?: readonly string[];
  channels?: readonly string[];
  users?: readonly string[];
  /** Slack user group ids / Discord role ids. */
  groups?: readonly string[];
}

export interface PermissionsConfig {
  slack?: PlatformPermissions;
  discord?: PlatformPermissions;
}

export interface Requester {
  platform: Platform;
  /** Slack team id or Discord guild id; undefined in a Discord DM. */
  workspace?: string;
  channel?: string;
  user: string;
}

export type PermissionVerdict = { allowed: true } | { allowed: false; dimension: 'platform' | 'workspace' | 'channel' | 'user'; message: string };

const NAMES = {
  slack: { platform: 'Slack', workspace: 'workspace', workspaces: 'workspaces', groups: 'user_groups', group: 'user group' },
  discord: { platform: 'Discord', workspace: 'server', workspaces: 'guilds', groups: 'roles', group: 'role' },
} as const;

/** True when the decision depends on the requester's groups (or roles), so they must be looked up. */
export function needsGroups(config: PermissionsConfig | undefined, requester: Requester): boolean {
  const p = config?.[requester.platform];
  if (!p || p.groups === undefined || p.groups.length === 0) return false;
  return !(p.users ?? []).includes(requester.user);
}

/** `groups`: the requester's groups or roles, when needsGroups() said they matter. */
export function checkPermission(config: PermissionsConfig | undefined, requester: Requester, groups: readonly string[] = []): PermissionVerdict {
  if (config === undefined) return { allowed: true };
  const n = NAMES[requester.platform];
  const p = config[requester.platform];
  const ask = "ask the bot's admin";
  if (p === undefined) {
    return { allowed: false, dimension: 'platform', message: `sshcheck is not enabled on ${n.platform}: the bot's permissions list no ${n.platform} ${n.workspaces} (${ask} to add permissions.${requester.platform})` };
  }
  if (p.workspaces !== undefined && (requester.workspace === undefined || !p.workspaces.includes(requester.workspace))) {
    const where = requester.workspace === undefined ? `outside a ${n.workspace} (a direct message)` : `in this ${n.workspace} (${requester.workspace})`;
    return { allowed: false, dimension: 'workspace', message: `sshcheck may not be used ${where}: ${ask} to add it to permissions.${requester.platform}.${n.workspaces}` };
  }
  if (p.channels !== undefined && (requester.channel === undefined || !p.channels.includes(requester.channel))) {
    return { allowed: false, dimension: 'channel', message: `sshcheck may not be used in this channel (${requester.channel ?? 'unknown'}): use it in an allowed channel, or ${ask} to add this one to permissions.${requester.platform}.channels` };
  }
  if (p.users === undefined && p.groups === undefined) return { allowed: true };
  if ((p.users ?? []).includes(requester.user)) return { allowed: true };
  if ((p.groups ?? []).some((g) => groups.includes(g))) return { allowed: true };
  const lists = [p.users !== undefined ? `permissions.${requester.platform}.users` : undefined, p.groups !== undefined ? `one of its ${n.groups}` : undefined].filter((x) => x !== undefined).join(' or ');
  return { allowed: false, dimension: 'user', message: `you (${requester.user}) are not allowed to run sshcheck: ${ask} to add you to ${lists}` };
}
