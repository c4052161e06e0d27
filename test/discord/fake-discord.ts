// A local fake of Discord for the adapter's tests: the REST API (v10, the routes sshcheck and
// discord.js call) and the gateway (a ws server speaking the real protocol: HELLO, IDENTIFY →
// READY + GUILD_CREATE, heartbeats and ACKs, RESUME, dispatches), on 127.0.0.1 only.
// Every REST call is recorded with its body, status and time; responses can be overridden
// per call (429s with Discord's rate-limit headers, 403s, expired tokens). Message bodies are
// checked against Discord's embed limits and refused with 50035 as Discord does.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';

const DISCORD_EPOCH = 1420070400000n;
let increment = 0n;

/** A real-looking snowflake (discord.js treats 17-19 digit ids as snowflakes). */
export function snowflake(): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface RecordedCall {
  method: string;
  /** The path after /api/v10, e.g. /channels/123/messages. */
  path: string;
  query: Record<string, string>;
  body: Json | undefined;
  /** performance.now() when the request arrived. */
  at: number;
  status: number;
  /** 'bot' when it carried the right bot token, 'none' without one, 'wrong' otherwise. */
  auth: 'bot' | 'none' | 'wrong';
}

export interface FakeResponse {
  status: number;
  body?: Json;
  headers?: Record<string, string>;
}

interface Override {
  match: (call: { method: string; path: string; body: Json | undefined }) => boolean;
  remaining: number;
  respond: FakeResponse;
}

export interface StoredMessage extends JsonObject {
  id: string;
  channel_id: string;
}

interface InteractionState {
  id: string;
  token: string;
  channelId: string;
  guildId: string | undefined;
  acknowledged: boolean;
  expired: boolean;
  expireAfterReply: boolean;
  originalId: string | undefined;
  dispatchedAt: number;
}

interface Session {
  id: string;
  seq: number;
  /** Dispatches sent (or buffered while disconnected), for replay on RESUME. */
  sent: JsonObject[];
  socket: WebSocket | undefined;
}

export interface GatewayStats {
  connections: number;
  urls: string[];
  identifies: JsonObject[];
  resumes: number;
  heartbeats: number;
  acks: number;
}

export interface InteractionOptions {
  target?: string;
  port?: number;
  user?: string;
  /** Where the command was used. */
  where?: 'text' | 'voice' | 'dm';
  /** The bot's permissions in that channel (defaults to everything it needs). */
  appPermissions?: bigint;
  userId?: string;
  /** The token stops working right after the reply, as if 15 minutes had passed since. */
  expireAfterReply?: boolean;
  /** The /sshcheck history option. */
  history?: boolean;
  /** The requester's role ids (add them to `guildRoles` so the guild knows them). */
  roles?: string[];
  /** The /sshcheck watch option ("every 30s for 2h", "on", "stop"). */
  watch?: string;
}

/** Where a command is used and by whom (every command). */
export interface CommandPlace {
  where?: 'text' | 'voice' | 'dm' | 'thread';
  /** With `where: 'thread'`: a thread made by createThread (default: a new one). */
  threadId?: string;
  appPermissions?: bigint;
  userId?: string;
  expireAfterReply?: boolean;
  /** The requester's role ids (add them to `guildRoles` so the guild knows them). */
  roles?: string[];
}

export interface ExplainInteractionOptions extends CommandPlace {
  text?: string;
  attachment?: {
    filename: string;
    /** What the fake serves for it (at its own host, as Discord's CDN would). */
    content?: string | Buffer;
    /** The size Discord reports (default: the content's). */
    size?: number;
    contentType?: string;
    /** A URL elsewhere instead of the fake's own. */
    url?: string;
  };
}

export interface AttachmentDownload {
  path: string;
  /** The Authorization header, if any (CDN URLs are signed; none is needed). */
  auth: string | undefined;
  at: number;
}

export interface DispatchedInteraction {
  id: string;
  token: string;
  channelId: string;
  dispatchedAt: number;
}

/** Discord's answer to a request over a rate limit, with the headers it sends. */
export function rateLimited(retryAfterS = 0.5): FakeResponse {
  return {
    status: 429,
    headers: {
      'retry-after': String(Math.ceil(retryAfterS)),
      'x-ratelimit-limit': '5',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': String(Date.now() / 1000 + retryAfterS),
      'x-ratelimit-reset-after': String(retryAfterS),
      'x-ratelimit-bucket': 'f2b41e0cbd6c3b9d2b4c5d6e7f8a9b0c',
      'x-ratelimit-scope': 'user',
    },
    body: { message: 'You are being rate limited.', retry_after: retryAfterS, global: false },
  };
}

export function apiError(status: number, code: number, message: string): FakeResponse {
  return { status, body: { message, code } };
}

// Permission bits (https://discord.com/developers/docs/topics/permissions).
const P = {
  viewChannel: 1n << 10n,
  sendMessages: 1n << 11n,
  embedLinks: 1n << 14n,
  readHistory: 1n << 16n,
  useCommands: 1n << 31n,
  createPublicThreads: 1n << 35n,
  sendMessagesInThreads: 1n << 38n,
};
export const BOT_PERMISSIONS = P.viewChannel | P.sendMessages | P.embedLinks | P.readHistory | P.useCommands | P.createPublicThreads | P.sendMessagesInThreads;
export const PERMISSION_BITS = P;

export class FakeDiscord {
  readonly token = `MTA${randomBytes(20).toString('base64url')}.GhJk${randomBytes(3).toString('base64url')}.${randomBytes(28).toString('base64url')}`;
  readonly applicationId = snowflake();
  readonly guildId = snowflake();
  readonly textChannelId = snowflake();
  readonly voiceChannelId = snowflake();
  readonly commandId = snowflake();
  readonly explainCommandId = snowflake();
  /** Every attachment download from the fake's CDN path. */
  readonly attachmentDownloads: AttachmentDownload[] = [];
  private readonly attachmentFiles = new Map<string, Buffer>();
  readonly requesterId = '987654321098765432';
  readonly calls: RecordedCall[] = [];
  /** Dispatch to every identified session (two bot replicas), not only the newest. */
  everySession = false;
  readonly gateway: GatewayStats = { connections: 0, urls: [], identifies: [], resumes: 0, heartbeats: 0, acks: 0 };
  /** Messages by channel (threads included), in the order they were created. */
  readonly messages = new Map<string, StoredMessage[]>();
  readonly threads = new Map<string, JsonObject>();
  readonly ephemeral: StoredMessage[] = [];
  /** Messages deleted through the interaction's webhook (a deferral that made way for a private answer). */
  readonly deleted: StoredMessage[] = [];
  /** Roles the guild has besides @everyone (sent in GUILD_CREATE): set before start(). */
  guildRoles: string[] = [];
  readonly commands = { global: [] as JsonObject[], guild: new Map<string, JsonObject[]>() };
  /** HELLO's heartbeat interval. */
  heartbeatIntervalMs = 41_250;
  private readonly interactions = new Map<string, InteractionState>();
  private readonly overrides: Override[] = [];
  private readonly byId = new Map<string, StoredMessage>();
  /** The definition each registered command was last uploaded with, to keep its version when unchanged. */
  private readonly definitions = new Map<string, string>();
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<WebSocket>();
  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private port = 0;

  constructor() {
    this.http = createServer((req, res) => void this.handle(req, res));
    this.wss = new WebSocketServer({ server: this.http });
    this.wss.on('connection', (socket, req) => this.onConnection(socket, req));
    this.messages.set(this.textChannelId, []);
  }

  get botUser(): JsonObject {
    // A modern application's bot user has the application's id.
    return { id: this.applicationId, username: 'sshcheck', discriminator: '0', global_name: null, avatar: null, bot: true, flags: 0 };
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    this.port = (this.http.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  /** The next `times` calls that match get this response instead of the normal one. */
  override(match: Override['match'], respond: FakeResponse, times = 1): void {
    this.overrides.push({ match, remaining: times, respond });
  }

  interaction(id: string): Readonly<InteractionState> | undefined {
    return this.interactions.get(id);
  }

  /** Resolves once a call matching `match` has been recorded. */
  async waitFor(match: (c: RecordedCall) => boolean, timeoutMs = 10_000): Promise<RecordedCall> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.calls.find(match);
      if (found) return found;
      if (performance.now() > deadline) throw new Error('timed out waiting for a Discord call');
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Drops every gateway connection as Discord does on a fault (close code 4000: resume). */
  dropGateway(code = 4000): void {
    for (const s of this.sockets) s.close(code, 'fake: dropped');
  }

  // ---------------------------------------------------------------- gateway

  private onConnection(socket: WebSocket, req: IncomingMessage): void {
    this.gateway.connections += 1;
    this.gateway.urls.push(req.url ?? '');
    this.sockets.add(socket);
    const url = new URL(req.url ?? '/', 'ws://localhost');
    // This fake speaks JSON without transport compression; discord.js asks for exactly that
    // unless zlib-sync is installed. Anything else is refused as Discord refuses bad input.
    if (url.searchParams.get('v') !== '10' || url.searchParams.get('encoding') !== 'json' || url.searchParams.has('compress')) {
      socket.close(4002, 'fake: only v=10, encoding=json, no compress');
      return;
    }
    let session: Session | undefined;
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (session?.socket === socket) session.socket = undefined;
    });
    socket.on('message', (data: RawData) => {
      const payload = JSON.parse(rawText(data)) as { op: number; d: Json };
      switch (payload.op) {
        case 1:
          this.gateway.heartbeats += 1;
          socket.send(JSON.stringify({ op: 11, d: null }));
          this.gateway.acks += 1;
          break;
        case 2: {
          const d = payload.d as JsonObject;
          this.gateway.identifies.push(d);
          if (d.token !== this.token) {
            socket.close(4004, 'Authentication failed.');
            return;
          }
          if (d.compress === true) {
            socket.close(4002, 'fake: payload compression is not supported');
            return;
          }
          session = { id: randomBytes(16).toString('hex'), seq: 0, sent: [], socket };
          this.sessions.set(session.id, session);
          this.send(session, 'READY', {
            v: 10,
            user: this.botUser,
            guilds: [{ id: this.guildId, unavailable: true }],
            session_id: session.id,
            resume_gateway_url: this.gatewayUrl,
            shard: [0, 1],
            application: { id: this.applicationId, flags: 0 },
          });
          this.send(session, 'GUILD_CREATE', this.guildPayload());
          break;
        }
        case 6: {
          const d = payload.d as { token: string; session_id: string; seq: number };
          this.gateway.resumes += 1;
          const known = this.sessions.get(d.session_id);
          if (d.token !== this.token || !known) {
            socket.send(JSON.stringify({ op: 9, d: false }));
            return;
          }
          session = known;
          session.socket = socket;
          for (const missed of session.sent.filter((p) => (p.s as number) > d.seq)) socket.send(JSON.stringify(missed));
          this.send(session, 'RESUMED', null);
          break;
        }
        default:
          break;
      }
    });
    socket.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatIntervalMs }, s: null, t: null }));
  }

  private send(session: Session, t: string, d: Json): number {
    session.seq += 1;
    const payload: JsonObject = { op: 0, t, s: session.seq, d };
    session.sent.push(payload);
    // While disconnected the event waits for the RESUME, as Discord keeps it.
    if (session.socket?.readyState === 1) session.socket.send(JSON.stringify(payload));
    return performance.now();
  }

  private dispatch(t: string, d: Json): number {
    const sessions = [...this.sessions.values()];
    const session = sessions.pop();
    if (!session) throw new Error('no gateway session: the client has not identified');
    // Several bot replicas logged in with one token: Discord gives each the same interaction.
    if (this.everySession) for (const other of sessions) this.send(other, t, d);
    return this.send(session, t, d);
  }

  private guildPayload(): JsonObject {
    const channel = (id: string, type: number, name: string, position: number): JsonObject => ({
      id,
      type,
      guild_id: this.guildId,
      name,
      position,
      permission_overwrites: [],
      nsfw: false,
      parent_id: null,
      ...(type === 0 ? { topic: null, last_message_id: null, rate_limit_per_user: 0, default_auto_archive_duration: 1440 } : { bitrate: 64000, user_limit: 0, rtc_region: null }),
    });
    return {
      id: this.guildId,
      name: 'incident room',
      icon: null,
      owner_id: this.requesterId,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [
        { id: this.guildId, name: '@everyone', permissions: String(BOT_PERMISSIONS), position: 0, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 },
        ...this.guildRoles.map((id, i) => ({ id, name: `role-${i + 1}`, permissions: '0', position: i + 1, color: 0, hoist: false, managed: false, mentionable: false, flags: 0 })),
      ],
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      system_channel_id: null,
      system_channel_flags: 0,
      premium_tier: 0,
      preferred_locale: 'en-US',
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      joined_at: new Date().toISOString(),
      large: false,
      unavailable: false,
      member_count: 2,
      voice_states: [],
      members: [],
      channels: [channel(this.textChannelId, 0, 'incidents', 0), channel(this.voiceChannelId, 2, 'war room', 1)],
      threads: [],
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
      soundboard_sounds: [],
    };
  }

  /** Sends INTERACTION_CREATE for /sshcheck, as a person typing it would cause. */
  dispatchInteraction(options: InteractionOptions = {}): DispatchedInteraction {
    const commandOptions: Json[] = [];
    if (options.target !== undefined) commandOptions.push({ name: 'target', type: 3, value: options.target });
    if (options.port !== undefined) commandOptions.push({ name: 'port', type: 4, value: options.port });
    if (options.user !== undefined) commandOptions.push({ name: 'user', type: 3, value: options.user });
    if (options.history !== undefined) commandOptions.push({ name: 'history', type: 5, value: options.history });
    if (options.watch !== undefined) commandOptions.push({ name: 'watch', type: 3, value: options.watch });
    return this.dispatchCommand({ name: 'sshcheck', commandId: this.commandId, options: commandOptions }, options);
  }

  /**
   * Sends INTERACTION_CREATE for /sshcheck-explain: the `text` option, and/or the `log`
   * attachment as Discord resolves it (its CDN URL; here the fake's own host serves `content`,
   * unless `url` points elsewhere). `where: 'thread'` uses it inside a thread of the text channel.
   */
  dispatchExplain(options: ExplainInteractionOptions = {}): DispatchedInteraction {
    const commandOptions: Json[] = [];
    let resolved: JsonObject | undefined;
    if (options.attachment !== undefined) {
      const a = options.attachment;
      const attachmentId = snowflake();
      const body = a.content === undefined ? Buffer.alloc(0) : Buffer.isBuffer(a.content) ? a.content : Buffer.from(a.content, 'utf8');
      this.attachmentFiles.set(attachmentId, body);
      const url = a.url ?? `http://127.0.0.1:${this.port}/attachments/${this.textChannelId}/${attachmentId}/${encodeURIComponent(a.filename)}?ex=0&is=0&hm=fake`;
      commandOptions.push({ name: 'log', type: 11, value: attachmentId });
      resolved = {
        attachments: {
          [attachmentId]: {
            id: attachmentId,
            filename: a.filename,
            size: a.size ?? body.length,
            url,
            proxy_url: url.replace('/attachments/', '/proxy/attachments/'),
            ...(a.contentType !== undefined ? { content_type: a.contentType } : {}),
            ephemeral: true,
          },
        },
      };
    }
    if (options.text !== undefined) commandOptions.push({ name: 'text', type: 3, value: options.text });
    return this.dispatchCommand({ name: 'sshcheck-explain', commandId: this.explainCommandId, options: commandOptions, ...(resolved ? { resolved } : {}) }, options);
  }

  /** Creates a thread in the text channel (as a person would), known to the bot through THREAD_CREATE. */
  createThread(name = 'incident db-3'): string {
    const id = snowflake();
    const now = new Date().toISOString();
    const thread: JsonObject = {
      id,
      type: 11,
      guild_id: this.guildId,
      parent_id: this.textChannelId,
      owner_id: this.requesterId,
      name,
      last_message_id: null,
      rate_limit_per_user: 0,
      flags: 0,
      message_count: 0,
      member_count: 1,
      total_message_sent: 0,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: now, locked: false, create_timestamp: now },
    };
    this.threads.set(id, thread);
    this.messages.set(id, []);
    this.dispatch('THREAD_CREATE', { ...thread, newly_created: true });
    return id;
  }

  /**
   * Sends INTERACTION_CREATE for a click on a button of `message` (type 3, MESSAGE_COMPONENT):
   * `data.custom_id` is whatever the caller gives, as a forged click could carry anything.
   */
  dispatchComponent(customId: string, message: StoredMessage, options: Omit<CommandPlace, 'where' | 'threadId'> = {}): DispatchedInteraction {
    return this.dispatchCommand({ name: '', commandId: '', options: [] }, options, { customId, message });
  }

  private dispatchCommand(command: { name: string; commandId: string; options: Json[]; resolved?: JsonObject }, options: CommandPlace, component?: { customId: string; message: StoredMessage }): DispatchedInteraction {
    const id = snowflake();
    const token = `aW50ZXJhY3Rpb246${id}${randomBytes(96).toString('base64url')}`;
    const where = options.where ?? 'text';
    const user = { id: options.userId ?? this.requesterId, username: 'oncall', discriminator: '0', global_name: 'On Call', avatar: null };
    const permissions = String(options.appPermissions ?? BOT_PERMISSIONS);
    let channelId: string;
    let place: JsonObject;
    if (where === 'dm') {
      channelId = snowflake();
      this.messages.set(channelId, []);
      place = { channel_id: channelId, channel: { id: channelId, type: 1, last_message_id: null, flags: 0, recipients: [user] }, user, context: 1, authorizing_integration_owners: { '0': this.guildId } };
    } else {
      let channel: JsonObject;
      if (where === 'thread') {
        channelId = options.threadId ?? this.createThread();
        channel = { ...(this.threads.get(channelId) ?? {}), permissions };
      } else {
        channelId = where === 'voice' ? this.voiceChannelId : this.textChannelId;
        channel = { id: channelId, type: where === 'voice' ? 2 : 0, guild_id: this.guildId, name: where === 'voice' ? 'war room' : 'incidents', position: 0, permission_overwrites: [], nsfw: false, parent_id: null, permissions };
      }
      if (!this.messages.has(channelId)) this.messages.set(channelId, []);
      place = {
        guild_id: this.guildId,
        guild: { id: this.guildId, locale: 'en-US', features: [] },
        channel_id: channelId,
        channel,
        member: { user, roles: options.roles ?? [], permissions: String(BOT_PERMISSIONS), joined_at: new Date().toISOString(), deaf: false, mute: false, flags: 0, pending: false, nick: null, avatar: null, premium_since: null, communication_disabled_until: null },
        guild_locale: 'en-US',
        context: 0,
        authorizing_integration_owners: { '0': this.guildId },
      };
    }
    const d: JsonObject = {
      id,
      application_id: this.applicationId,
      ...(component
        ? { type: 3, data: { custom_id: component.customId, component_type: 2 }, message: component.message }
        : {
            type: 2,
            data: { id: command.commandId, name: command.name, type: 1, options: command.options, ...(command.resolved ? { resolved: command.resolved } : {}), ...(where === 'dm' ? {} : { guild_id: this.guildId }) },
          }),
      token,
      version: 1,
      app_permissions: permissions,
      locale: 'en-US',
      entitlements: [],
      attachment_size_limit: 10485760,
      ...place,
    };
    const state: InteractionState = { id, token, channelId, guildId: where === 'dm' ? undefined : this.guildId, acknowledged: false, expired: false, expireAfterReply: options.expireAfterReply ?? false, originalId: undefined, dispatchedAt: 0 };
    this.interactions.set(id, state);
    state.dispatchedAt = this.dispatch('INTERACTION_CREATE', d);
    return { id, token, channelId, dispatchedAt: state.dispatchedAt };
  }

  // ---------------------------------------------------------------- REST

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    // Attachments, as cdn.discordapp.com serves them: signed URLs, no token.
    const attachment = /^\/(?:proxy\/)?attachments\/\d+\/(\d+)\//.exec(url.pathname);
    if (attachment && req.method === 'GET') {
      this.attachmentDownloads.push({ path: url.pathname, auth: req.headers.authorization, at });
      const body = this.attachmentFiles.get(attachment[1] ?? '');
      if (body === undefined) res.writeHead(404, { 'content-type': 'text/plain' }).end('This content is no longer available.');
      else res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(body.length) }).end(body);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: Json | undefined;
    if (text.length > 0) {
      if (!(req.headers['content-type'] ?? '').includes('application/json')) {
        return this.reply(res, { method: req.method ?? 'GET', path: url.pathname, query: {}, body: text, at, status: 0, auth: 'none' }, { status: 400, body: { message: 'fake: only JSON bodies', code: 50109 } });
      }
      body = JSON.parse(text) as Json;
    }
    const header = req.headers.authorization;
    const auth: RecordedCall['auth'] = header === undefined ? 'none' : header === `Bot ${this.token}` ? 'bot' : 'wrong';
    // discord.js encodes "@original" as %40original.
    const path = decodeURIComponent(url.pathname).replace(/^\/api\/v10(?=\/)/, '');
    const call: RecordedCall = { method: req.method ?? 'GET', path, query: Object.fromEntries(url.searchParams), body, at, status: 0, auth };
    if (!url.pathname.startsWith('/api/v10/')) return this.reply(res, call, apiError(404, 0, '404: Not Found (the fake serves /api/v10 only)'));
    const override = this.overrides.find((o) => o.remaining > 0 && o.match({ method: call.method, path, body }));
    if (override) {
      override.remaining -= 1;
      return this.reply(res, call, override.respond);
    }
    return this.reply(res, call, this.route(call));
  }

  private reply(res: ServerResponse, call: RecordedCall, response: FakeResponse): void {
    call.status = response.status;
    this.calls.push(call);
    const headers: Record<string, string> = { ...(response.headers ?? {}) };
    if (response.body !== undefined) headers['content-type'] = 'application/json';
    res.writeHead(response.status, headers);
    res.end(response.body !== undefined ? JSON.stringify(response.body) : undefined);
  }

  private route(call: RecordedCall): FakeResponse {
    const { method, path } = call;
    let m: RegExpExecArray | null;
    const needsBot = (): FakeResponse | undefined => (call.auth === 'bot' ? undefined : apiError(401, 0, '401: Unauthorized'));

    if (method === 'GET' && path === '/gateway/bot') {
      return needsBot() ?? { status: 200, body: { url: this.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 86_400_000, max_concurrency: 1 } } };
    }
    if (method === 'GET' && path === '/users/@me') return needsBot() ?? { status: 200, body: this.botUser };

    if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path)) && method === 'POST') return this.callback(m[1] ?? '', m[2] ?? '', call);
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)\/messages\/([^/]+)$/.exec(path))) return this.webhookMessage(m[1] ?? '', m[2] ?? '', m[3] ?? '', call);
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)$/.exec(path)) && method === 'POST') return this.followUp(m[1] ?? '', m[2] ?? '', call);

    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(path)) && method === 'POST') return needsBot() ?? this.startThread(m[1] ?? '', m[2] ?? '', call.body);
    if ((m = /^\/channels\/(\d+)\/messages$/.exec(path)) && method === 'POST') return needsBot() ?? this.channelMessage(m[1] ?? '', call.body);
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path)) && method === 'PATCH') return needsBot() ?? this.editChannelMessage(m[1] ?? '', m[2] ?? '', call.body);
    if ((m = /^\/channels\/(\d+)$/.exec(path)) && method === 'GET') {
      const thread = this.threads.get(m[1] ?? '');
      return needsBot() ?? (thread ? { status: 200, body: thread } : apiError(404, 10003, 'Unknown Channel'));
    }

    if ((m = /^\/applications\/(\d+)\/commands$/.exec(path))) return needsBot() ?? this.commandsRoute(m[1] ?? '', undefined, call);
    if ((m = /^\/applications\/(\d+)\/guilds\/(\d+)\/commands$/.exec(path))) return needsBot() ?? this.commandsRoute(m[1] ?? '', m[2] ?? '', call);

    return apiError(404, 0, '404: Not Found');
  }

  private interactionFor(token: string): InteractionState | undefined {
    for (const state of this.interactions.values()) if (state.token === token) return state;
    return undefined;
  }

  private callback(id: string, token: string, call: RecordedCall): FakeResponse {
    const state = this.interactions.get(id);
    if (!state || state.token !== token || state.expired) return apiError(404, 10062, 'Unknown interaction');
    if (state.acknowledged) return apiError(400, 40060, 'Interaction has already been acknowledged.');
    const body = call.body as { type: number; data?: JsonObject } | undefined;
    if (!body || (body.type !== 4 && body.type !== 5)) return apiError(400, 50035, 'Invalid Form Body');
    const data = body.data ?? {};
    const invalid = body.type === 4 ? checkMessageBody(data) : undefined;
    if (invalid) return invalid;
    state.acknowledged = true;
    const flags = typeof data.flags === 'number' ? data.flags : 0;
    const loading = body.type === 5;
    const message = this.newMessage(state.channelId, { ...(loading ? {} : pickMessageFields(data)), flags: loading ? flags | 128 : flags, type: 20, webhook_id: this.applicationId, application_id: this.applicationId });
    const ephemeral = (flags & 64) === 64;
    if (ephemeral) this.ephemeral.push(message);
    else this.store(message);
    state.originalId = message.id;
    if (state.expireAfterReply) state.expired = true;
    if (call.query.with_response !== 'true') return { status: 204 };
    return {
      status: 200,
      body: {
        interaction: { id, type: 2, response_message_id: message.id, response_message_loading: loading, response_message_ephemeral: ephemeral },
        resource: { type: body.type, message },
      },
    };
  }

  private webhookMessage(appId: string, token: string, messageId: string, call: RecordedCall): FakeResponse {
    const state = this.interactionFor(token);
    if (appId !== this.applicationId || !state || state.expired) return apiError(404, 10015, 'Unknown Webhook');
    const id = messageId === '@original' ? state.originalId : messageId;
    const message = id === undefined ? undefined : (this.byId.get(id) ?? this.ephemeral.find((e) => e.id === id));
    if (!message) return apiError(404, 10008, 'Unknown Message');
    if (call.method === 'GET') return { status: 200, body: message };
    if (call.method === 'PATCH') {
      const invalid = checkMessageBody(call.body as JsonObject);
      if (invalid) return invalid;
      Object.assign(message, pickMessageFields(call.body as JsonObject), { edited_timestamp: new Date().toISOString(), flags: ((message.flags as number) ?? 0) & ~128 });
      return { status: 200, body: message };
    }
    if (call.method === 'DELETE') {
      const list = this.messages.get(message.channel_id) ?? [];
      const at = list.indexOf(message);
      if (at >= 0) list.splice(at, 1);
      this.byId.delete(message.id);
      this.deleted.push(message);
      return { status: 204 };
    }
    return apiError(405, 0, '405: Method Not Allowed');
  }

  private followUp(appId: string, token: string, call: RecordedCall): FakeResponse {
    const state = this.interactionFor(token);
    if (appId !== this.applicationId || !state || state.expired) return apiError(404, 10015, 'Unknown Webhook');
    if (!state.acknowledged) return apiError(400, 40060, 'fake: follow-up before the interaction was answered');
    const data = call.body as JsonObject;
    const invalid = checkMessageBody(data);
    if (invalid) return invalid;
    const message = this.newMessage(state.channelId, { ...pickMessageFields(data), webhook_id: this.applicationId, application_id: this.applicationId, type: 0 });
    if (((message.flags as number) & 64) === 64) this.ephemeral.push(message);
    else this.store(message);
    return { status: 200, body: message };
  }

  private startThread(channelId: string, messageId: string, body: Json | undefined): FakeResponse {
    if (channelId === this.voiceChannelId) return apiError(400, 50024, 'Cannot execute action on this channel type');
    const message = this.byId.get(messageId);
    if (!message || message.channel_id !== channelId) return apiError(404, 10008, 'Unknown Message');
    if (this.threads.has(messageId)) return apiError(400, 160004, 'A thread has already been created for this message');
    const b = (body ?? {}) as JsonObject;
    const name = typeof b.name === 'string' ? b.name : '';
    if (name.length < 1 || name.length > 100) return apiError(400, 50035, 'Invalid Form Body: name');
    const now = new Date().toISOString();
    // A thread started from a message has that message's id.
    const thread: JsonObject = {
      id: messageId,
      type: 11,
      guild_id: this.guildId,
      parent_id: channelId,
      owner_id: this.applicationId,
      name,
      last_message_id: null,
      rate_limit_per_user: 0,
      flags: 0,
      message_count: 0,
      member_count: 1,
      total_message_sent: 0,
      thread_metadata: { archived: false, auto_archive_duration: typeof b.auto_archive_duration === 'number' ? b.auto_archive_duration : 1440, archive_timestamp: now, locked: false, create_timestamp: now },
      member: { id: messageId, user_id: this.applicationId, join_timestamp: now, flags: 0 },
    };
    this.threads.set(messageId, thread);
    this.messages.set(messageId, []);
    message.thread = thread;
    this.dispatch('THREAD_CREATE', { ...thread, newly_created: true });
    return { status: 201, body: thread };
  }

  private channelMessage(channelId: string, body: Json | undefined): FakeResponse {
    if (!this.messages.has(channelId)) return apiError(404, 10003, 'Unknown Channel');
    const invalid = checkMessageBody(body as JsonObject);
    if (invalid) return invalid;
    const message = this.newMessage(channelId, { ...pickMessageFields(body as JsonObject), type: 0 });
    this.store(message);
    const thread = this.threads.get(channelId);
    if (thread) {
      thread.message_count = (thread.message_count as number) + 1;
      thread.last_message_id = message.id;
    }
    return { status: 200, body: message };
  }

  private editChannelMessage(channelId: string, messageId: string, body: Json | undefined): FakeResponse {
    const message = this.byId.get(messageId);
    if (!message || message.channel_id !== channelId) return apiError(404, 10008, 'Unknown Message');
    const invalid = checkMessageBody(body as JsonObject);
    if (invalid) return invalid;
    Object.assign(message, pickMessageFields(body as JsonObject), { edited_timestamp: new Date().toISOString() });
    return { status: 200, body: message };
  }

  private commandsRoute(appId: string, guildId: string | undefined, call: RecordedCall): FakeResponse {
    if (appId !== this.applicationId) return apiError(403, 50001, 'Missing Access');
    if (guildId !== undefined && guildId !== this.guildId) return apiError(403, 50001, 'Missing Access');
    const current = guildId === undefined ? this.commands.global : (this.commands.guild.get(guildId) ?? []);
    if (call.method === 'GET') return { status: 200, body: current };
    if (call.method !== 'PUT') return apiError(405, 0, '405: Method Not Allowed');
    if (!Array.isArray(call.body)) return apiError(400, 50035, 'Invalid Form Body');
    // Bulk overwrite: the set becomes exactly what was sent; a command keeps its id (and its
    // version when unchanged), as Discord does.
    const next = (call.body as JsonObject[]).map((def) => {
      const before = current.find((c) => c.name === def.name);
      const key = `${guildId ?? 'global'}:${JSON.stringify(def.name)}`;
      const same = before !== undefined && this.definitions.get(key) === JSON.stringify(def);
      this.definitions.set(key, JSON.stringify(def));
      const command: JsonObject = {
        ...def,
        id: (before?.id as string | undefined) ?? snowflake(),
        application_id: this.applicationId,
        version: same ? (before.version as string) : snowflake(),
        default_member_permissions: def.default_member_permissions ?? null,
        type: def.type ?? 1,
        nsfw: false,
        ...(guildId !== undefined ? { guild_id: guildId } : {}),
      };
      return command;
    });
    if (guildId === undefined) this.commands.global = next;
    else this.commands.guild.set(guildId, next);
    return { status: 200, body: next };
  }

  private newMessage(channelId: string, fields: JsonObject): StoredMessage {
    return {
      id: snowflake(),
      channel_id: channelId,
      author: this.botUser,
      content: '',
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      components: [],
      pinned: false,
      type: 0,
      flags: 0,
      ...fields,
    };
  }

  private store(message: StoredMessage): void {
    const list = this.messages.get(message.channel_id);
    if (!list) throw new Error(`fake: unknown channel ${message.channel_id}`);
    list.push(message);
    this.byId.set(message.id, message);
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** What a message create/edit stores: the visible fields (allowed_mentions is not kept). */
function pickMessageFields(body: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of ['content', 'embeds', 'components', 'flags'] as const) if (body[key] !== undefined && body[key] !== null) out[key] = body[key];
  return out;
}

/**
 * Discord's checks on a message body that matter here: content and embed limits
 * (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
 * Returns the 400 Discord would send, or undefined.
 */
export function checkMessageBody(body: JsonObject | undefined): FakeResponse | undefined {
  const problems = messageProblems(body);
  return problems.length === 0 ? undefined : { status: 400, body: { message: 'Invalid Form Body', code: 50035, errors: { problems } } };
}

export function messageProblems(body: JsonObject | undefined): string[] {
  const problems: string[] = [];
  if (!body) return ['no body'];
  const content = typeof body.content === 'string' ? body.content : '';
  if (content.length > 2000) problems.push(`content is ${content.length} characters (max 2000)`);
  const embeds = Array.isArray(body.embeds) ? (body.embeds as JsonObject[]) : [];
  if (embeds.length > 10) problems.push(`${embeds.length} embeds (max 10)`);
  let total = 0;
  for (const [i, e] of embeds.entries()) {
    const len = (v: Json | undefined): number => (typeof v === 'string' ? v.length : 0);
    const title = len(e.title);
    const description = len(e.description);
    const footer = len((e.footer as JsonObject | undefined)?.text);
    if (title > 256) problems.push(`embed ${i}: title ${title} (max 256)`);
    if (description > 4096) problems.push(`embed ${i}: description ${description} (max 4096)`);
    if (footer > 2048) problems.push(`embed ${i}: footer ${footer} (max 2048)`);
    total += title + description + footer + len((e.author as JsonObject | undefined)?.name);
    const fields = Array.isArray(e.fields) ? (e.fields as JsonObject[]) : [];
    if (fields.length > 25) problems.push(`embed ${i}: ${fields.length} fields (max 25)`);
    for (const [j, f] of fields.entries()) {
      const name = len(f.name);
      const value = len(f.value);
      if (name < 1 || name > 256) problems.push(`embed ${i} field ${j}: name ${name} (1-256)`);
      if (value < 1 || value > 1024) problems.push(`embed ${i} field ${j}: value ${value} (1-1024)`);
      total += name + value;
    }
  }
  if (total > 6000) problems.push(`embeds total ${total} characters (max 6000)`);
  return problems;
}
