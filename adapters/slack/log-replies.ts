// Pasted or attached `ssh -v` logs in the bot's threads get `sshcheck explain`'s analysis as a
// reply in that thread. A thread is the bot's when its parent is the bot's own message, or
// when the bot answered an @mention check in it (BotThreads). Chatter, other bots and the
// bot's own messages are left alone; an @mention that carries a log instead of a command is
// answered wherever it was asked. A text file is downloaded with the bot token only from
// Slack's file host (or the configured API host), bounded in size and time. Each message is
// answered once, whichever of its deliveries (retries, app_mention and message) comes first.
import type { App, webApi } from '@slack/bolt';
import type { RecentIds } from '../../src/chat/dedupe.js';
import type { AllowedOrigin, Download } from '../../src/chat/log-reply.js';
import { downloadLog } from '../../src/chat/log-reply.js';
import type { Pacer } from '../../src/chat/pacer.js';
import { explainLog } from '../../src/explain/explain.js';
import type { Logger } from '../../src/log.js';
import { BotThreads } from './bot-threads.js';
import { deliveryIds, envelopeIdOf, isRepeat } from './deliveries.js';
import type { LogRequest, SlackLogMessage } from './log-message.js';
import { fromPerson, logRequest, slackLogMessage } from './log-message.js';
import { renderLogExplanation, renderLogRefusal } from './log-render.js';
import type { SlackMessage } from './render.js';
import { channelKey } from './surface.js';
import { errorMessage } from '../../src/errors.js';

export interface LogReplyDeps {
  client: webApi.WebClient;
  pacer: Pacer;
  logger: Logger;
  /** The deliveries already seen, shared with the other listeners. */
  recent: RecentIds;
  botToken: string;
  /** Where attachments may be downloaded from (slackFileOrigins). */
  allowed: readonly AllowedOrigin[];
}

/** What the @mention listener hands over: logs instead of commands, and the threads it answers in. */
export interface MentionLogs {
  /** Takes a mention whose text (without the bot's mention) is a log, or that attaches one; false otherwise. */
  fromMention(event: unknown, text: string): boolean;
  rememberThread(channel: string, threadTs: string): void;
}

/** Posts are never unfurled: a link in a log must not turn into a preview. */
const NO_UNFURL = { unfurl_links: false, unfurl_media: false } as const;

export class SlackLogReplies implements MentionLogs {
  private readonly threads = new BotThreads();
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly deps: LogReplyDeps) {}

  register(app: App): void {
    app.event('message', ({ event, body, context }) => {
      const msg = slackLogMessage(event);
      // Only replies in a thread: a log in the channel itself is answered when the bot is mentioned.
      if (!msg || !fromPerson(msg, context.botUserId) || msg.threadTs === undefined || msg.threadTs === msg.ts) return Promise.resolve();
      const ours = (msg.parentUserId !== undefined && msg.parentUserId === context.botUserId) || this.threads.has(msg.channel, msg.threadTs);
      if (!ours) return Promise.resolve();
      const request = logRequest(msg, this.deps.allowed);
      if (!request) return Promise.resolve();
      const origin = { via: 'thread-log', channel: msg.channel, user: msg.user ?? '', thread: msg.threadTs };
      if (isRepeat(this.deps.recent, deliveryIds({ event: body.event_id, envelope: envelopeIdOf(context), message: messageKey(msg) }))) {
        this.deps.logger.info('repeated delivery ignored', { ...origin, retryNum: context.retryNum });
        return Promise.resolve();
      }
      this.start(msg, request, origin);
      return Promise.resolve();
    });
  }

  fromMention(event: unknown, text: string): boolean {
    const msg = slackLogMessage(event);
    if (!msg) return false;
    const request = logRequest({ ...msg, text }, this.deps.allowed);
    if (!request) return false;
    const origin = { via: 'mention-log', channel: msg.channel, user: msg.user ?? '', thread: msg.threadTs ?? '' };
    // The same message may also arrive as a `message` event in a bot thread: one answer.
    if (isRepeat(this.deps.recent, deliveryIds({ message: messageKey(msg) }))) {
      this.deps.logger.info('log already answered', origin);
      return true;
    }
    this.start(msg, request, origin);
    return true;
  }

  rememberThread(channel: string, threadTs: string): void {
    this.threads.remember(channel, threadTs);
  }

  get running(): number {
    return this.inflight.size;
  }

  /** Waits for answers still on their way, at most `ms`; true when none is left. */
  async drain(ms: number): Promise<boolean> {
    if (this.inflight.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const done = Promise.allSettled([...this.inflight]).then(() => true);
    const result = await Promise.race([done, timeout]);
    clearTimeout(timer);
    return result && this.inflight.size === 0;
  }

  /** Detached from the listener (a download can take seconds); stop() drains it. */
  private start(msg: SlackLogMessage, request: LogRequest, origin: Record<string, string>): void {
    const task = this.answer(msg, request, origin).catch((err: unknown) => {
      this.deps.logger.error('answering an ssh log failed', { ...origin, error: errorMessage(err) });
    });
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  private async answer(msg: SlackLogMessage, request: LogRequest, origin: Record<string, string>): Promise<void> {
    const { logger } = this.deps;
    let message: SlackMessage;
    switch (request.kind) {
      case 'text': {
        const e = explainLog(request.text);
        logger.info('ssh log explained', { ...origin, source: 'paste', step: e.step, cause: e.cause ?? '' });
        message = renderLogExplanation(e, { kind: 'paste' });
        break;
      }
      case 'refused':
        logger.info('ssh log attachment refused', { ...origin, reason: request.reason });
        message = renderLogRefusal(request.file.name, request.reason);
        break;
      case 'file': {
        const got = await this.fetch(request.url.href);
        if (got.ok) {
          const e = explainLog(got.text);
          logger.info('ssh log explained', { ...origin, source: 'file', bytes: got.bytes, step: e.step, cause: e.cause ?? '' });
          message = renderLogExplanation(e, { kind: 'file', name: request.file.name });
        } else {
          logger.warn('ssh log attachment not read', { ...origin, reason: got.reason, detail: got.message });
          message = renderLogRefusal(request.file.name, got.message);
        }
        break;
      }
    }
    const thread = msg.threadTs ?? msg.ts;
    await this.deps.pacer.schedule(channelKey(msg.channel), async () => {
      await this.deps.client.chat.postMessage({ channel: msg.channel, thread_ts: thread, ...message, ...NO_UNFURL });
    });
  }

  private fetch(url: string): Promise<Download> {
    // files:read lets the bot token read url_private; it goes only to the allowed hosts.
    return downloadLog(url, { allowed: this.deps.allowed, headers: { Authorization: `Bearer ${this.deps.botToken}` } });
  }
}

function messageKey(msg: SlackLogMessage): string {
  return `${msg.channel}:${msg.ts}`;
}
