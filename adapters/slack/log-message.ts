// A Slack message as a possible ssh log: the fields that matter, read defensively from the
// event (Bolt types message events as a wide union), Slack's own markup taken back out of the
// text, and what to do with it — explain the text, download a text file, refuse a file with a
// reason, or nothing at all. Pure.
import type { AllowedOrigin } from '../../src/chat/log-reply.js';
import { allowedDownloadUrl, describeOrigins, isTextAttachment, looksLikeSshLog, originOf, sizeProblem } from '../../src/chat/log-reply.js';
import { unwrapSlackLinks } from '../../src/chat/grammar.js';

/** Slack's file host: url_private(_download) of every file a workspace holds. */
export const SLACK_FILE_ORIGIN: AllowedOrigin = { protocol: 'https:', host: 'files.slack.com' };

/** Where file downloads may go: Slack's file host, and the configured API URL's host (a proxy, a test double). */
export function slackFileOrigins(apiUrl?: string): AllowedOrigin[] {
  const api = apiUrl !== undefined ? originOf(apiUrl) : undefined;
  return api && !(api.protocol === SLACK_FILE_ORIGIN.protocol && api.host === SLACK_FILE_ORIGIN.host) ? [SLACK_FILE_ORIGIN, api] : [SLACK_FILE_ORIGIN];
}

export interface SlackFile {
  name: string;
  mimetype?: string;
  size?: number;
  /** url_private_download, else url_private. */
  url?: string;
}

export interface SlackLogMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  user?: string;
  botId?: string;
  subtype?: string;
  parentUserId?: string;
  text: string;
  files: SlackFile[];
}

type Obj = Readonly<Record<string, unknown>>;

const str = (o: Obj, key: string): string | undefined => (typeof o[key] === 'string' && o[key] !== '' ? o[key] : undefined);

function fileOf(value: unknown): SlackFile | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const f = value as Obj;
  const name = str(f, 'name') ?? str(f, 'title');
  if (name === undefined) return undefined;
  const mimetype = str(f, 'mimetype');
  const url = str(f, 'url_private_download') ?? str(f, 'url_private');
  const size = typeof f['size'] === 'number' ? f['size'] : undefined;
  return { name, ...(mimetype !== undefined ? { mimetype } : {}), ...(size !== undefined ? { size } : {}), ...(url !== undefined ? { url } : {}) };
}

/** The fields of a message (or app_mention) event, or undefined when it has no channel or ts. */
export function slackLogMessage(event: unknown): SlackLogMessage | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const e = event as Obj;
  const channel = str(e, 'channel');
  const ts = str(e, 'ts');
  if (channel === undefined || ts === undefined) return undefined;
  const files = Array.isArray(e['files']) ? (e['files'] as unknown[]).map(fileOf).filter((f): f is SlackFile => f !== undefined) : [];
  const pick = (key: string): string | undefined => str(e, key);
  const optional: Partial<SlackLogMessage> = {};
  for (const [field, key] of [
    ['threadTs', 'thread_ts'],
    ['user', 'user'],
    ['botId', 'bot_id'],
    ['subtype', 'subtype'],
    ['parentUserId', 'parent_user_id'],
  ] as const) {
    const v = pick(key);
    if (v !== undefined) optional[field] = v;
  }
  return { channel, ts, text: pick('text') ?? '', files, ...optional };
}

/**
 * The log as the person pasted it: Slack wraps link-like words in <…|…>, escapes &, < and >,
 * and a paste in a code block arrives between ``` fences.
 */
export function slackPlainText(text: string): string {
  return unwrapSlackLinks(text)
    .replace(/```/g, '\n')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Message subtypes that carry what a person wrote; edits, joins and bots' posts do not. */
const PERSON_SUBTYPES = new Set([undefined, 'file_share', 'thread_broadcast']);

export function fromPerson(msg: SlackLogMessage, botUserId: string | undefined): boolean {
  return PERSON_SUBTYPES.has(msg.subtype) && msg.botId === undefined && msg.user !== undefined && msg.user !== botUserId;
}

export type LogRequest =
  | { kind: 'text'; text: string }
  | { kind: 'file'; file: SlackFile; url: URL }
  | { kind: 'refused'; file: SlackFile; reason: string };

/**
 * What the message asks for: the first text file attached (a long paste becomes a snippet
 * file, and the message text is then only a comment), else the text when it looks like an
 * ssh log; undefined for anything else (chatter, images). A file is refused, with the reason,
 * when it is too large or not on an allowed host: nothing is fetched then.
 */
export function logRequest(msg: SlackLogMessage, allowed: readonly AllowedOrigin[]): LogRequest | undefined {
  const file = msg.files.find((f) => isTextAttachment(f));
  if (file) {
    const tooBig = sizeProblem(file.size);
    if (tooBig !== undefined) return { kind: 'refused', file, reason: tooBig };
    if (file.url === undefined) return { kind: 'refused', file, reason: 'Slack sent no download link for it' };
    const url = allowedDownloadUrl(file.url, allowed);
    if (!url) return { kind: 'refused', file, reason: `its download link is not on ${describeOrigins(allowed)}, so it was not fetched` };
    return { kind: 'file', file, url };
  }
  const text = slackPlainText(msg.text);
  return looksLikeSshLog(text) ? { kind: 'text', text } : undefined;
}
