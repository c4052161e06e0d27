// Raw requests to the HTTP receiver, signed as Slack signs them (v0 HMAC-SHA256 of
// "v0:<timestamp>:<body>" with the signing secret), or deliberately not: what a forger, a
// replayer or a proxy that rewrites bodies would send.
import { createHmac } from 'node:crypto';
import { SIGNING_SECRET, TEAM_ID } from './fake-slack.js';
import type { FakeSlack } from './fake-slack.js';
import type { Harness } from './harness.js';

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

export interface Sent {
  status: number;
  body: string;
}

export function sign(secret: string, timestamp: number | string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface PostOptions {
  secret?: string;
  timestamp?: number;
  retryNum?: number;
  /** What was signed, when it is not what is sent (a body altered after signing). */
  signedBody?: string;
  /** Replace computed headers; undefined leaves one out. */
  headers?: Record<string, string | undefined>;
}

/** POSTs `body` to the receiver's /slack/events, signed with the signing secret unless told otherwise. */
export async function post(h: Pick<Harness, 'adapter'>, body: string, contentType: string, options: PostOptions = {}): Promise<Sent> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const computed: Record<string, string | undefined> = {
    'content-type': contentType,
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': sign(options.secret ?? SIGNING_SECRET, timestamp, options.signedBody ?? body),
  };
  if (options.retryNum !== undefined) {
    computed['x-slack-retry-num'] = String(options.retryNum);
    computed['x-slack-retry-reason'] = 'http_timeout';
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...computed, ...options.headers })) if (value !== undefined) headers[name] = value;
  const res = await fetch(`http://127.0.0.1:${h.adapter.httpPort ?? 0}/slack/events`, { method: 'POST', headers, body });
  return { status: res.status, body: await res.text() };
}

/** A /sshcheck slash command as Slack form-encodes it. */
export function commandBody(fake: FakeSlack, text: string, channel: string, triggerId: string): string {
  return new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: TEAM_ID,
    team_domain: 'fake',
    channel_id: channel,
    channel_name: 'incident',
    user_id: 'U0REQUESTER',
    user_name: 'alice',
    command: '/sshcheck',
    text,
    api_app_id: 'A0FAKEAPP',
    is_enterprise_install: 'false',
    response_url: `http://127.0.0.1:${fake.port}/respond/${triggerId}`,
    trigger_id: triggerId,
  }).toString();
}
