// The gate on Slack: one call per /sshcheck or @mention, before anything is posted or probed.
// A refusal, a history answer and the queue notice go to the requester only (the slash
// command's ack, or an ephemeral message for a mention). User groups are looked up only
// when the permissions name some (usergroups.list needs the usergroups:read scope, which
// the manifest leaves out unless you configure user_groups: docs/security.md).
import type { webApi } from '@slack/bolt';
import type { Gate, GateActor, Ticket } from '../../src/chat/gate.js';
import type { ChatCommand } from '../../src/chat/grammar.js';
import { STATUS_EMOJI } from '../../src/chat/views.js';
import type { Logger } from '../../src/log.js';
import { renderHistory } from '../../src/store/history-view.js';
import { errorText } from './errors.js';
import { fitCodeBlock, fitInline, fitMessageText, SLACK_LIMITS } from './limits.js';
import type { SlackMessage } from './render.js';

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
        throw new Error(`usergroups.list failed: ${errorText(err)} (the app needs the usergroups:read scope when permissions.slack.user_groups is set)`, { cause: err });
      } finally {
        this.pending = undefined;
      }
    })();
    return this.pending;
  }
}

export interface SlackGateDeps {
  gate?: Gate;
  userGroups?: SlackUserGroups;
  logger: Logger;
}

export type SlackGated = { kind: 'answer'; message: SlackMessage } | { kind: 'run'; ticket?: Ticket; notice?: string };

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

/**
 * Asks the gate about one parsed command. Without a gate (tests of other things) a check
 * just runs and history has no store to read.
 */
export async function gateSlackCommand(deps: SlackGateDeps, command: Extract<ChatCommand, { kind: 'check' | 'history' }>, who: { team?: string; channel: string; user: string }): Promise<SlackGated> {
  const { gate, userGroups } = deps;
  if (!gate) return command.kind === 'history' ? { kind: 'answer', message: renderHistoryMessage(command.target.host, [], Date.now(), false) } : { kind: 'run' };
  const decision = await gate.admit({
    action: command.kind,
    target: command.target,
    ...(command.via !== undefined ? { via: command.via } : {}),
    ...(command.from !== undefined ? { from: command.from } : {}),
    actor: slackActor(who, userGroups),
  });
  switch (decision.kind) {
    case 'denied':
      return { kind: 'answer', message: renderRefusal(decision.message) };
    case 'history':
      return { kind: 'answer', message: renderHistoryMessage(command.target.host, decision.runs, Date.now(), decision.available) };
    case 'admitted':
      return { kind: 'run', ticket: decision.ticket, ...(decision.ticket.queueMessage !== undefined ? { notice: decision.ticket.queueMessage } : {}) };
  }
}
