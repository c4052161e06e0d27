// A fake of Slack on loopback that speaks the real wire formats: the Web API (form-encoded
// POSTs to /api/<method>, JSON answers, 429 with Retry-After), Socket Mode (apps.connections.open
// hands out a ws:// URL; the socket says hello, delivers envelopes and takes acks) and
// response_url. Every call is recorded with its arguments, the token it carried and when it
// arrived, so tests can check what the real Bolt app sent and in which order.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

export const BOT_TOKEN = 'xoxb-1111111111-2222222222-FakeBotTokenForTests1';
export const APP_TOKEN = 'xapp-1-A0FAKEAPP-3333333333-fakeapptokenfortests0123456789abcdef';
export const SIGNING_SECRET = 'fake-signing-secret-0123456789abcdef';
export const BOT_USER_ID = 'U0SSHCHECK';
export const BOT_ID = 'B0SSHCHECK';
export const TEAM_ID = 'T0FAKETEAM';

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  /** The bearer token the call carried. */
  token: string | undefined;
  /** performance.now() when the request arrived. */
  at: number;
  status: number;
  response: Record<string, unknown>;
}

export interface RecordedResponse {
  id: string;
  body: Record<string, unknown>;
  at: number;
}

export interface AckRecord {
  envelopeId: string;
  payload: Record<string, unknown> | undefined;
  at: number;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body: Record<string, unknown>;
}

interface Rule {
  method: string;
  match: (args: Record<string, unknown>) => boolean;
  times: number;
  reply: Reply;
}

/** How a taken request's answer goes missing: the connection closed unanswered, or the answer held back. */
export type LostAnswer = { drop: true } | { delayMs: number };

interface LossRule {
  method: string;
  match: (args: Record<string, unknown>) => boolean;
  times: number;
  loss: LostAnswer;
}

export interface Delivery {
  envelopeId: string;
  sentAt: number;
  ack: Promise<AckRecord>;
  /** Which Socket Mode connection it went to (1 = the first the fake accepted). */
  connection: number;
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata']);

function parseForm(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(text)) {
    out[key] = JSON_FIELDS.has(key) ? (JSON.parse(value) as unknown) : value;
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A file as Slack's events describe it (the fields the adapter reads, and a few more). */
export interface FakeFile {
  id: string;
  name: string;
  title: string;
  mimetype: string;
  filetype: string;
  size: number;
  mode: 'hosted' | 'snippet';
  url_private: string;
  url_private_download: string;
}

export interface FileDownload {
  path: string;
  token: string | undefined;
  at: number;
}

export class FakeSlack {
  readonly calls: RecordedCall[] = [];
  /** Every request for a file (url_private / url_private_download), with the token it carried. */
  readonly fileDownloads: FileDownload[] = [];
  private readonly files = new Map<string, Buffer>();
  readonly responses: RecordedResponse[] = [];
  readonly acks: AckRecord[] = [];
  /** Every envelope delivered, for "what did the app get". */
  readonly delivered: Array<Record<string, unknown>> = [];
  private readonly rules: Rule[] = [];
  private readonly losses: LossRule[] = [];
  private readonly ackWaiters = new Map<string, Array<(a: AckRecord) => void>>();
  private readonly wss = new WebSocketServer({ noServer: true });
  /** Open Socket Mode connections, oldest first: Slack allows several per app (replicas) and gives each envelope to one. */
  private readonly sockets: WebSocket[] = [];
  private nextSocket = 0;
  private readonly socketIds = new Map<WebSocket, number>();
  private connectedWaiters: Array<() => void> = [];
  private pinger: NodeJS.Timeout | undefined;
  private seq = 0;
  private ticket = 0;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeSlack> {
    const server = createServer();
    const fake = new FakeSlack(server);
    server.on('request', (req, res) => void fake.handle(req, res));
    server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/link')) {
        socket.destroy();
        return;
      }
      fake.wss.handleUpgrade(req, socket, head, (ws) => fake.onSocket(ws));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** What SLACK_API_URL would be set to. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  get connections(): number {
    return this.wss.clients.size;
  }

  /** The next `times` calls of `method` (whose arguments match) get this answer. */
  failNext(method: string, reply: Reply, options: { match?: (args: Record<string, unknown>) => boolean; times?: number } = {}): void {
    this.rules.push({ method, match: options.match ?? (() => true), times: options.times ?? 1, reply });
  }

  /**
   * The next `times` calls of `method` (whose arguments match) are carried out as usual (a
   * message is posted, and recorded with its answer) but the answer never reaches the client
   * (`drop`: the connection is closed) or reaches it `delayMs` late: what a client sees when
   * Slack's answer is lost, or when its own process is too busy to read it in time.
   */
  loseAnswer(method: string, loss: LostAnswer, options: { match?: (args: Record<string, unknown>) => boolean; times?: number } = {}): void {
    this.losses.push({ method, match: options.match ?? (() => true), times: options.times ?? 1, loss });
  }

  /**
   * A file in the workspace, served (to the bot token only) from the fake's own host, as
   * files.slack.com serves url_private_download. `size` overrides the reported size.
   */
  addFile(name: string, content: string | Buffer, options: { mimetype?: string; filetype?: string; size?: number; mode?: 'hosted' | 'snippet' } = {}): FakeFile {
    const id = `F0${String(++this.seq).padStart(8, '0')}`;
    const body = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    this.files.set(id, body);
    const base = `http://127.0.0.1:${this.port}/files-pri/${TEAM_ID}-${id}`;
    return {
      id,
      name,
      title: name,
      mimetype: options.mimetype ?? 'text/plain',
      filetype: options.filetype ?? 'text',
      size: options.size ?? body.length,
      mode: options.mode ?? 'hosted',
      url_private: `${base}/${encodeURIComponent(name)}`,
      url_private_download: `${base}/download/${encodeURIComponent(name)}`,
    };
  }

  /** Every post to `channel` fails with `error`, as Slack answers where the bot is not a member. */
  refuseChannel(channel: string, error: string): void {
    for (const method of ['chat.postMessage', 'chat.update', 'chat.postEphemeral']) {
      this.failNext(method, { body: { ok: false, error } }, { match: (a) => a['channel'] === channel, times: Infinity });
    }
  }

  callsOf(method: string, channel?: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && c.status === 200 && c.response['ok'] === true && (channel === undefined || c.args['channel'] === channel));
  }

  /** Resolves once a Socket Mode client has connected and been greeted. */
  whenConnected(count = 1): Promise<void> {
    if (this.openSockets().length >= count) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.openSockets().length >= count) resolve();
        else this.connectedWaiters.push(check);
      };
      this.connectedWaiters.push(check);
    });
  }

  private openSockets(): WebSocket[] {
    return this.sockets.filter((ws) => ws.readyState === ws.OPEN);
  }

  /** The connection for the next envelope: round robin over the open ones, as Slack spreads envelopes over an app's connections. */
  private pickSocket(): { socket: WebSocket; index: number } {
    const open = this.openSockets();
    if (open.length === 0) throw new Error('no Socket Mode client is connected');
    const socket = open[this.nextSocket++ % open.length] as WebSocket;
    return { socket, index: this.socketIds.get(socket) ?? 0 };
  }

  sendSlashCommand(fields: { text: string; channel_id: string; user_id?: string; channel_name?: string; trigger_id?: string; envelope_id?: string }): Delivery & { responseUrl: string; triggerId: string } {
    const responseId = randomUUID();
    const triggerId = fields.trigger_id ?? `${Date.now()}.${++this.seq}.${randomUUID().slice(0, 8)}`;
    const payload = {
      token: 'legacy-verification-token',
      team_id: TEAM_ID,
      team_domain: 'fake',
      channel_id: fields.channel_id,
      channel_name: fields.channel_name ?? 'incident',
      user_id: fields.user_id ?? 'U0REQUESTER',
      user_name: 'alice',
      command: '/sshcheck',
      text: fields.text,
      api_app_id: 'A0FAKEAPP',
      is_enterprise_install: 'false',
      response_url: `http://127.0.0.1:${this.port}/respond/${responseId}`,
      trigger_id: triggerId,
    };
    return { ...this.deliver('slash_commands', payload, fields.envelope_id, true), responseUrl: payload.response_url, triggerId };
  }

  /**
   * A click on a Block Kit button, as Socket Mode delivers it: an `interactive` envelope whose
   * payload is a `block_actions` payload (user, channel, container, response_url, actions).
   * `thread_ts`: the clicked message's thread (a reply carries its thread's ts; a message that
   * starts a thread, its own), in the container and the message as Slack sends them.
   */
  sendBlockAction(fields: { action_id: string; value: unknown; channel_id: string; message_ts: string; thread_ts?: string; user_id?: string; envelope_id?: string }): Delivery & { responseUrl: string; triggerId: string } {
    const responseId = randomUUID();
    const triggerId = `${Date.now()}.${++this.seq}.${randomUUID().slice(0, 8)}`;
    const userId = fields.user_id ?? 'U0REQUESTER';
    const payload = {
      type: 'block_actions',
      user: { id: userId, username: 'alice', name: 'alice', team_id: TEAM_ID },
      api_app_id: 'A0FAKEAPP',
      token: 'legacy-verification-token',
      container: { type: 'message', message_ts: fields.message_ts, channel_id: fields.channel_id, is_ephemeral: false, ...(fields.thread_ts !== undefined ? { thread_ts: fields.thread_ts } : {}) },
      trigger_id: triggerId,
      team: { id: TEAM_ID, domain: 'fake' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: fields.channel_id, name: 'incident' },
      message: { type: 'message', ts: fields.message_ts, bot_id: BOT_ID, user: BOT_USER_ID, text: 'sshcheck', ...(fields.thread_ts !== undefined ? { thread_ts: fields.thread_ts } : {}) },
      state: { values: {} },
      response_url: `http://127.0.0.1:${this.port}/respond/${responseId}`,
      actions: [{ action_id: fields.action_id, block_id: 'rerun', text: { type: 'plain_text', text: 'Re-run', emoji: true }, value: fields.value, type: 'button', action_ts: `${Date.now() / 1000}` }],
    };
    return { ...this.deliver('interactive', payload, fields.envelope_id, false), responseUrl: payload.response_url, triggerId };
  }

  /** An Events API envelope (app_mention and the like); retry_attempt > 0 marks Slack's retries. */
  sendEvent(event: Record<string, unknown>, options: { eventId?: string; retryAttempt?: number; envelopeId?: string } = {}): Delivery & { eventId: string } {
    const eventId = options.eventId ?? `Ev${Date.now()}${++this.seq}`;
    const payload = this.eventCallback(event, eventId);
    const extra = options.retryAttempt ? { retry_attempt: options.retryAttempt, retry_reason: 'timeout' } : { retry_attempt: 0, retry_reason: '' };
    return { ...this.deliver('events_api', payload, options.envelopeId, false, extra), eventId };
  }

  /** The event_callback body Slack sends for an event (also what the HTTP receiver gets). */
  eventCallback(event: Record<string, unknown>, eventId: string): Record<string, unknown> {
    return {
      token: 'legacy-verification-token',
      team_id: TEAM_ID,
      api_app_id: 'A0FAKEAPP',
      event: { event_ts: event['ts'], ...event },
      type: 'event_callback',
      event_id: eventId,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [{ enterprise_id: null, team_id: TEAM_ID, user_id: BOT_USER_ID, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
      event_context: `4-${eventId}`,
    };
  }

  /** One frame sent as is (not JSON, an unknown envelope type…), as a broken or hostile Slack could. */
  sendRaw(frame: string): void {
    this.pickSocket().socket.send(frame);
  }

  async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (!predicate()) {
      if (performance.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Drops the Socket Mode connection (as Slack does when it recycles a server). */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private deliver(type: string, payload: Record<string, unknown>, envelopeId: string | undefined, acceptsResponse: boolean, extra: Record<string, unknown> = {}): Delivery {
    const { socket, index } = this.pickSocket();
    const id = envelopeId ?? randomUUID();
    const envelope = { envelope_id: id, payload, type, accepts_response_payload: acceptsResponse, ...extra };
    this.delivered.push(envelope);
    // A redelivered envelope (same id) waits for its own, later ack.
    const ack = new Promise<AckRecord>((resolve) => this.ackWaiters.set(id, [...(this.ackWaiters.get(id) ?? []), resolve]));
    const sentAt = performance.now();
    socket.send(JSON.stringify(envelope));
    return { envelopeId: id, sentAt, ack, connection: index };
  }

  private onSocket(ws: WebSocket): void {
    this.sockets.push(ws);
    this.socketIds.set(ws, this.socketIds.size + 1);
    ws.on('close', () => {
      const i = this.sockets.indexOf(ws);
      if (i >= 0) this.sockets.splice(i, 1);
    });
    ws.on('message', (data: Buffer) => {
      const at = performance.now();
      let message: { envelope_id?: unknown; payload?: unknown };
      try {
        message = JSON.parse(data.toString('utf8')) as typeof message;
      } catch {
        return;
      }
      if (typeof message.envelope_id !== 'string') return;
      const record: AckRecord = { envelopeId: message.envelope_id, payload: message.payload as Record<string, unknown> | undefined, at };
      this.acks.push(record);
      const [first, ...rest] = this.ackWaiters.get(record.envelopeId) ?? [];
      this.ackWaiters.set(record.envelopeId, rest);
      first?.(record);
    });
    // Slack pings the client; the SDK drops connections that stay silent for 30 s.
    clearInterval(this.pinger);
    this.pinger = setInterval(() => {
      for (const client of this.wss.clients) client.ping();
    }, 5_000);
    this.pinger.unref();
    ws.send(JSON.stringify({ type: 'hello', num_connections: this.openSockets().length, debug_info: { host: 'fake-applink', build_number: 1, approximate_connection_time: 18060 }, connection_info: { app_id: 'A0FAKEAPP' } }));
    const waiters = this.connectedWaiters;
    this.connectedWaiters = [];
    for (const w of waiters) w();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const url = req.url ?? '/';
    const body = await readBody(req);
    if (url.startsWith('/respond/')) {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(body) as Record<string, unknown>;
      } catch {
        parsed = { unparsable: body };
      }
      this.responses.push({ id: url.slice('/respond/'.length), body: parsed, at });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (url.startsWith('/files-pri/')) {
      const auth = req.headers.authorization;
      const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
      this.fileDownloads.push({ path: url, token, at });
      const id = /^\/files-pri\/[A-Z0-9]+-(F[0-9A-Z]+)\//.exec(url)?.[1];
      const file = id === undefined ? undefined : this.files.get(id);
      // Slack answers a request without the token with its sign-in page; a 403 says the same here.
      if (token !== BOT_TOKEN) res.writeHead(403, { 'content-type': 'text/plain' }).end('not authorized');
      else if (!file) res.writeHead(404, { 'content-type': 'text/plain' }).end('file_not_found');
      else res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(file.length) }).end(file);
      return;
    }
    if (!url.startsWith('/api/')) {
      res.writeHead(404).end();
      return;
    }
    const method = url.slice('/api/'.length).split('?')[0] ?? '';
    const type = req.headers['content-type'] ?? '';
    const args = type.includes('application/json') ? (JSON.parse(body || '{}') as Record<string, unknown>) : parseForm(body);
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : typeof args['token'] === 'string' ? args['token'] : undefined;
    const reply = this.answer(method, args, token);
    this.calls.push({ method, args, token, at, status: reply.status ?? 200, response: reply.body });
    const send = (): void => void res.writeHead(reply.status ?? 200, { 'content-type': 'application/json; charset=utf-8', ...reply.headers }).end(JSON.stringify(reply.body));
    const loss = this.losses.find((r) => r.method === method && r.times > 0 && r.match(args));
    if (!loss) return send();
    loss.times -= 1;
    if ('drop' in loss.loss) return void req.socket.destroy();
    setTimeout(() => {
      if (!res.destroyed) send();
    }, loss.loss.delayMs);
  }

  private answer(method: string, args: Record<string, unknown>, token: string | undefined): Reply {
    const expected = method === 'apps.connections.open' ? APP_TOKEN : BOT_TOKEN;
    if (token !== expected) return { body: { ok: false, error: 'invalid_auth' } };
    const rule = this.rules.find((r) => r.method === method && r.times > 0 && r.match(args));
    if (rule) {
      rule.times -= 1;
      return rule.reply;
    }
    const ts = (): string => `${1_700_000_000 + ++this.seq}.${String(this.seq).padStart(6, '0')}`;
    switch (method) {
      case 'auth.test':
        return { body: { ok: true, url: 'https://fake.slack.example/', team: 'Fake', user: 'sshcheck', team_id: TEAM_ID, user_id: BOT_USER_ID, bot_id: BOT_ID, is_enterprise_install: false } };
      case 'apps.connections.open':
        return { body: { ok: true, url: `ws://127.0.0.1:${this.port}/link/?ticket=fake-ticket-${++this.ticket}&app_id=A0FAKEAPP` } };
      case 'chat.postMessage': {
        const t = ts();
        return { body: { ok: true, channel: args['channel'], ts: t, message: { type: 'message', text: args['text'], ts: t, ...(args['thread_ts'] ? { thread_ts: args['thread_ts'] } : {}) } } };
      }
      case 'chat.update':
        return { body: { ok: true, channel: args['channel'], ts: args['ts'], text: args['text'] } };
      case 'conversations.history':
      case 'conversations.replies': {
        // The bot's own posts only (all this fake ever holds): a channel's, newest first, or a thread's, oldest first.
        const thread = method === 'conversations.replies' ? args['ts'] : undefined;
        const metadata = args['include_all_metadata'] === true || args['include_all_metadata'] === 'true';
        const messages = this.calls
          .filter((c) => c.method === 'chat.postMessage' && c.response['ok'] === true && c.args['channel'] === args['channel'] && c.args['thread_ts'] === thread)
          .map((c) => ({ type: 'message', ts: c.response['ts'], text: c.args['text'], bot_id: BOT_ID, user: BOT_USER_ID, ...(metadata && c.args['metadata'] !== undefined ? { metadata: c.args['metadata'] } : {}) }));
        return { body: { ok: true, messages: thread === undefined ? messages.reverse() : messages, has_more: false } };
      }
      case 'chat.postEphemeral':
        return { body: { ok: true, message_ts: ts() } };
      default:
        return { body: { ok: false, error: 'unknown_method' } };
    }
  }
}
