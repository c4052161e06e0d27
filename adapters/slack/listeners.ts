// What every Slack listener shares: the check runner, the record of deliveries already seen,
// the pace, and turning a person's text into a command.
import type { webApi } from '@slack/bolt';
import type { RecentIds } from '../../src/chat/dedupe.js';
import { parseChatCommand } from '../../src/chat/grammar.js';
import type { ChatCommand } from '../../src/chat/grammar.js';
import type { FleetCommand } from '../../src/chat/fleet-grammar.js';
import { parseFleetCommand } from '../../src/chat/fleet-grammar.js';
import type { Pacer } from '../../src/chat/pacer.js';
import { isSshcheckError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { CheckRunner } from './checks.js';
import type { SlackGateDeps } from './gate.js';
import type { MentionLogs } from './log-replies.js';
import type { WatchRunner } from '../../src/chat/watch-runner.js';

export interface ListenerDeps extends SlackGateDeps {
  runner: CheckRunner;
  recent: RecentIds;
  /** With several bot replicas: true for the one replica that answers a request (AdapterContext.claim). */
  claim?: (id: string) => Promise<boolean>;
  pacer: Pacer;
  logger: Logger;
  vantage: string;
  client: webApi.WebClient;
  /** The bot's user name once auth.test answered, for the invite hint. */
  botName(): string | undefined;
  /** The bastions `via` may name; none when the probes run in this process. */
  bastions(): readonly string[];
  /** ssh logs in mentions and the threads mentions are answered in (issue 5). */
  logs?: MentionLogs;
  /** /sshcheck watch and unwatch, and the Stop button (watch.ts); absent: watches are not available. */
  watches?: WatchRunner;
}

export type ParsedRequest = ChatCommand | FleetCommand | { kind: 'error'; message: string };

/**
 * The grammar's verdict; a usage error is an answer for the person, not a failure. An unknown
 * `via <bastion>` is one too, caught here before anything is posted.
 */
export function parseRequest(text: string, bastions: readonly string[]): Exclude<ParsedRequest, FleetCommand> {
  try {
    return parseChatCommand(text, { bastions });
  } catch (err) {
    if (isSshcheckError(err)) return { kind: 'error', message: err.message };
    throw err;
  }
}

/** A slash command's text: several hosts (a fleet), one, help, or a usage error. */
export function parseSlashRequest(text: string, bastions: readonly string[]): ParsedRequest {
  try {
    return parseFleetCommand(text) ?? parseChatCommand(text, { bastions });
  } catch (err) {
    if (isSshcheckError(err)) return { kind: 'error', message: err.message };
    throw err;
  }
}
