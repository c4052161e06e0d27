// The Bolt app: Socket Mode (the default: bastions accept no inbound traffic, so the bot
// connects out) or the HTTP receiver, and one Web API client whose base URL, retries and
// deadlines apply to every call, apps.connections.open included.
import type { RequestListener, Server } from 'node:http';
import { App, HTTPModuleFunctions, HTTPReceiver, SocketModeReceiver, webApi } from '@slack/bolt';
import { DEFAULT_LOST_MS, watchSocket } from './socket-watch.js';
import type { SlackConfig } from '../../src/chat/bot-config.js';
import type { Logger } from '../../src/log.js';
import { boltLogger } from './bolt-logger.js';
import { boundedFetch, REQUEST_TIMEOUT_MS, RETRY_CONFIG } from './requests.js';
import { errorMessage } from '../../src/errors.js';

/** auth.test, apps.connections.open and the WebSocket hello must be done within this. */
export const START_TIMEOUT_MS = 30_000;

/** Slack's requests are a few KB: a bigger body is refused with 413 before it is held (Bolt allows 4 MB). */
export const BODY_LIMIT = 1024 * 1024;
/** Slack signs with its current time: a timestamp further than this from ours, either way, is refused. */
const MAX_SKEW_S = 5 * 60;

/**
 * Closes two holes in Bolt's HTTPReceiver (5.1) before it sees a request to its endpoint: it
 * refuses timestamps too old but not ones too far ahead (a signed request dated ahead stays
 * replayable as long), and a signed body of JSON `null` makes it read `null.ssl_check`
 * outside any try: an unhandled rejection, which ends the process. Slack only ever sends a
 * JSON object, so anything else is refused (400) before the signature is even checked.
 */
function guardRequests(listener: RequestListener, endpoint: string, logger: Logger): RequestListener {
  return (req, res) => {
    if (req.method !== 'POST' || new URL(req.url ?? '/', 'http://localhost').pathname !== endpoint) {
      listener(req, res);
      return;
    }
    if (Number(req.headers['x-slack-request-timestamp']) > Date.now() / 1000 + MAX_SKEW_S) {
      logger.warn('slack request refused: its timestamp is ahead of this clock');
      res.writeHead(401).end();
      return;
    }
    void (async () => {
      let buffered: Awaited<ReturnType<typeof HTTPModuleFunctions.bufferIncomingMessage>>;
      try {
        buffered = await HTTPModuleFunctions.bufferIncomingMessage(req, BODY_LIMIT);
      } catch (err) {
        const tooLarge = HTTPModuleFunctions.isRawBodyError(err) && err.statusCode === 413;
        if (tooLarge) logger.warn('slack request refused: its body is over the limit', { limit: BODY_LIMIT });
        // The rest of the body is never read: the connection cannot carry another request.
        res.writeHead(tooLarge ? 413 : 400, { connection: 'close' }).end();
        return;
      }
      let body: unknown = {};
      try {
        body = HTTPModuleFunctions.parseHTTPRequestBody(buffered);
      } catch {
        // Not JSON: Bolt answers that itself (401 unsigned, else 400).
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        logger.warn('slack request refused: its body is not a JSON object');
        res.writeHead(400).end();
        return;
      }
      listener(buffered, res);
    })().catch((err: unknown) => {
      logger.error('slack request failed', { error: errorMessage(err) });
      if (!res.headersSent) res.writeHead(500).end();
    });
  };
}

export interface Started {
  /** The HTTP receiver's port (HTTP mode). */
  port?: number;
  /** The bot user's name and id, from auth.test. */
  botName?: string;
  botUserId: string;
}

export interface AppHandle {
  /** The Web API client with the bot token: every post and update goes through this one. */
  client: webApi.WebClient;
  /** Checks the token, builds the Bolt app, lets `register` add listeners, connects. */
  start(register: (app: App) => void): Promise<Started>;
  stop(): Promise<void>;
  /** Tells `listener` when the Socket Mode connection is gone for good after start (socket-watch.ts). */
  onLost(listener: (err: Error) => void): void;
}

export interface AppOptions {
  /** The HTTP receiver's listen address (default: every interface, since Slack must reach it). */
  listenHost?: string;
  /** How long a lost Socket Mode connection may stay lost before the app counts as failed (default DEFAULT_LOST_MS). */
  lostMs?: number;
  /** How long one Web API request may take (default REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not complete within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function createApp(config: SlackConfig, logger: Logger, options: AppOptions = {}): AppHandle {
  const sdkLogger = boltLogger(logger);
  const clientOptions: webApi.WebClientOptions = {
    ...(config.apiUrl !== undefined ? { slackApiUrl: config.apiUrl } : {}),
    logger: sdkLogger,
    retryConfig: RETRY_CONFIG,
    rejectRateLimitedCalls: false,
    timeout: options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    // A method name can never send the token to another host than apiUrl.
    allowAbsoluteUrls: false,
    fetch: boundedFetch(options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS),
  };
  // One client, one request queue: a 429 pauses every call of this bot until Retry-After.
  const client = new webApi.WebClient(config.botToken, clientOptions);
  let socket: SocketModeReceiver | undefined;
  let http: HTTPReceiver | undefined;
  let server: Server | undefined;
  let unwatch: (() => void) | undefined;
  const lostListeners: Array<(err: Error) => void> = [];

  const connect = async (): Promise<number | undefined> => {
    if (http) {
      const port = config.mode.kind === 'http' ? config.mode.port : 0;
      server = await withTimeout(options.listenHost !== undefined ? http.start({ port, host: options.listenHost }) : http.start(port), START_TIMEOUT_MS, 'starting the HTTP receiver');
      const address = server.address();
      return typeof address === 'object' && address !== null ? address.port : undefined;
    }
    try {
      await withTimeout<unknown>(socket?.start() ?? Promise.resolve(), START_TIMEOUT_MS, 'connecting in Socket Mode (apps.connections.open, then hello)');
    } catch (err) {
      const failed = socket;
      socket = undefined;
      await failed?.client.disconnect();
      throw new Error(`connecting to Slack in Socket Mode failed (SLACK_APP_TOKEN must be an app-level token with connections:write): ${errorMessage(err)}`, { cause: err });
    }
    if (socket) {
      unwatch = watchSocket(socket.client, options.lostMs ?? DEFAULT_LOST_MS, (err) => {
        logger.error('slack socket mode connection lost for good', { error: errorMessage(err) });
        for (const l of lostListeners) l(err);
      });
    }
    return undefined;
  };

  return {
    client,
    async start(register) {
      let auth: webApi.AuthTestResponse;
      try {
        auth = await withTimeout(client.auth.test(), START_TIMEOUT_MS, 'auth.test');
      } catch (err) {
        // Only an answer from Slack says anything about the token; anything else is the network.
        const answered = (err as { code?: unknown }).code === 'slack_webapi_platform_error';
        if (answered) throw new Error(`SLACK_BOT_TOKEN was not accepted (auth.test): ${errorMessage(err)}`, { cause: err });
        throw new Error(`Slack's API at ${config.apiUrl ?? 'https://slack.com/api/'} could not be reached (auth.test; the token was not checked): ${errorMessage(err)}`, { cause: err });
      }
      if (typeof auth.user_id !== 'string' || typeof auth.bot_id !== 'string') {
        throw new Error('SLACK_BOT_TOKEN is not a bot token: use the Bot User OAuth Token (xoxb-…) from the app\'s OAuth & Permissions page');
      }
      if (config.mode.kind === 'socket') {
        // The Socket Mode client builds its own WebClient (with the app token) from these
        // options: passing them is what sends apps.connections.open to apiUrl. It keeps its own,
        // longer retry policy for reconnects, so retryConfig is left out of its copy.
        const { retryConfig: _ownRetries, ...socketClientOptions } = clientOptions;
        socket = new SocketModeReceiver({
          appToken: config.mode.appToken,
          logger: sdkLogger,
          installerOptions: { clientOptions: socketClientOptions },
          // Envelope ids reach the listeners, so a redelivered envelope is recognised.
          customPropertiesExtractor: (args: { envelope_id?: unknown }) => (typeof args.envelope_id === 'string' ? { envelopeId: args.envelope_id } : {}),
        });
      } else {
        http = new HTTPReceiver({
          signingSecret: config.mode.signingSecret,
          port: config.mode.port,
          endpoints: '/slack/events',
          logger: sdkLogger,
          // ack() answers the HTTP request at once; the check goes on after it.
          processBeforeResponse: false,
          // Slack's payloads are a few KB (guardRequests applies the same limit first).
          bodyLimit: BODY_LIMIT,
        });
        http.requestListener = guardRequests(http.requestListener, '/slack/events', logger);
      }
      const app = new App({
        token: config.botToken,
        // Known from auth.test above, so Bolt does not call it again.
        botId: auth.bot_id,
        botUserId: auth.user_id,
        receiver: socket ?? http,
        socketMode: socket !== undefined,
        logger: sdkLogger,
        clientOptions: { ...clientOptions },
        convoStore: false,
      });
      register(app);
      const port = await connect();
      return { ...(port !== undefined ? { port } : {}), ...(typeof auth.user === 'string' ? { botName: auth.user } : {}), botUserId: auth.user_id };
    },
    onLost(listener) {
      lostListeners.push(listener);
    },
    async stop() {
      unwatch?.();
      unwatch = undefined;
      // Idempotent: a second disconnect() would wait for a "disconnected" that never comes.
      const connected = socket;
      socket = undefined;
      if (connected) await connected.client.disconnect();
      if (http && server) {
        server.closeAllConnections();
        await http.stop();
        server = undefined;
      }
    },
  };
}
