// The gate on Slack: who the requester is (slackActor) and how its answers look. The gate is
// asked once per /sshcheck or @mention, after Slack was acknowledged and before anything is
// posted or probed (src/chat/admission.ts). A refusal, a history answer and the queue notice
// go to the requester only (respond() for a command, an ephemeral message for a mention). User groups are looked up only
// when the permissions name some (usergroups.list needs the usergroups:read scope, which
// the manifest leaves out unless you configure user_groups: docs/security.md).
import type { webApi } from '@slack/bolt';
import type { ChatGate, CommandDecision } from '../../src/chat/admission.js';
import type { GateActor } from '../../src/chat/gate.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import type { Logger } from '../../src/log.js';
import { renderHistory } from '../../src/store/history-view.js';
import { fitCodeBlock, fitInline, fitMessageText, SLACK_LIMITS } from './limits.js';
import type { SlackMessage } from './render.js';
import { errorMessage } from '../../src/errors.js';

/** Slack user groups with their members, cached: one usergroups.list call per few minutes. */
export class SlackUserGroups {
  private cached: { at: number; groups: Map<string, Set<string>> } | undefined;
  private pending: Promise<Map<string, Set<string>>> | undefined;

  constructor(
    private readonly client: webApi.WebClient,
    private readonly ttlMs = 300_000,
  ) {}

  /** The ids of the user groups `user` is in. */
  async of(user: string): Promise<string[]> {
    const groups = await this.load();
    return [...groups].filter(([, members]) => members.has(user)).map(([id]) => id);
  }

  private async load(): Promise<Map<string, Set<string>>> {
    if (this.cached && Date.now() - this.cached.at < this.ttlMs) return this.cached.groups;
    this.pending ??= (async () => {
      try {
        const res = await this.client.usergroups.list({ include_users: true, include_disabled: false });
        const groups = new Map<string, Set<string>>();
        for (const g of res.usergroups ?? []) if (typeof g.id === 'string') groups.set(g.id, new Set((g.users ?? []).filter((u): u is string => typeof u === 'string')));
        this.cached = { at: Date.now(), groups };
        return groups;
      } catch (err) {
        throw new Error(`usergroups.list failed: ${errorMessage(err)} (the app needs the usergroups:read scope when permissions.slack.user_groups is set)`, { cause: err });
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}

export interface SlackGateDeps {
  gate: ChatGate;
  userGroups?: SlackUserGroups;
  logger: Logger;
}

function plain(line: string): SlackMessage {
  const text = fitInline(line, SLACK_LIMITS.sectionText);
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
}

/** A refusal (nothing was checked), in the requester's own words. */
export function renderRefusal(message: string): SlackMessage {
  return plain(`${STATUS_EMOJI.warn} ${message}`);
}

/** The history of a host: the summary lines and the runs in a code block. */
export function renderHistoryMessage(host: string, runs: Parameters<typeof renderHistory>[1], now: number, available: boolean): SlackMessage {
  if (!available) return plain(`${STATUS_EMOJI.skip} This bot keeps no history: it runs without a store.`);
  const view = renderHistory(host, runs, { now, timeZone: 'utc' });
  const head = fitInline(`${view.title}`, 300);
  const summary = view.summary.slice(0, 10).map((l) => `• ${fitInline(l, 400)}`);
  const blocks: SlackMessage['blocks'] = [{ type: 'section', text: { type: 'mrkdwn', text: [`*${head}*`, ...summary].join('\n') } }];
  if (view.lines.length > 0) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: fitCodeBlock(view.lines, SLACK_LIMITS.sectionText, 200) } });
  return { text: fitMessageText([head, ...summary]), blocks };
}

/** The requester as the gate sees them; user groups are looked up only if the permissions ask. */
export function slackActor(who: { team?: string | undefined; channel: string; user: string }, userGroups: SlackUserGroups | undefined): GateActor {
  return {
    platform: 'slack',
    user: who.user,
    channel: who.channel,
    ...(who.team !== undefined ? { workspace: who.team } : {}),
    ...(userGroups ? { groups: () => userGroups.of(who.user) } : {}),
  };
}

/** What the requester alone sees when the gate does not run a check: a refusal, or the history. */
export function renderDecision(decision: Exclude<CommandDecision, { kind: 'run' }>, now = Date.now()): SlackMessage {
  return decision.kind === 'refused' ? renderRefusal(decision.message) : renderHistoryMessage(decision.host, decision.runs, now, decision.available);
}
