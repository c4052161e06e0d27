// The Slack adapter (issue 3): `/sshcheck <target> [port] [user]` and `@sshcheck <target>` in a
// thread run the checklist from this bastion and answer in a thread, live; an ssh log pasted
// or attached in the bot's threads is explained there (issue 5). Socket Mode by
// default (SLACK_BOT_TOKEN + SLACK_APP_TOKEN), the HTTP receiver with SLACK_SIGNING_SECRET.
import type { AdapterContext, ChatAdapter } from '../../src/chat/adapter.js';
import type { SlackConfig } from '../../src/chat/bot-config.js';
import { RecentIds } from '../../src/chat/dedupe.js';
import { Pacer } from '../../src/chat/pacer.js';
import type { PacerOptions } from '../../src/chat/pacer.js';
import { createApp } from './app.js';
import { CheckRunner } from './checks.js';
import { registerSlashCommand } from './commands.js';
import type { ListenerDeps } from './listeners.js';
import { SlackLogReplies } from './log-replies.js';
import { slackFileOrigins } from './log-message.js';
import { registerMentions } from './mentions.js';
import { registerRerunButton } from './rerun.js';
import { SlackUserGroups } from './gate.js';
import { registerWatchStop, SlackWatchPoster } from './watch.js';
import { errorMessage } from '../../src/errors.js';

/** Slack lets a bot post about one message per second per channel, with short bursts. */
export const SLACK_PACE: PacerOptions = { burst: 3, perSecond: 1 };
/** How long stop() lets checks in flight finish posting. */
export const DRAIN_MS = 20_000;

export interface SlackAdapterOptions {
  /** The HTTP receiver's listen address (default: every interface). */
  listenHost?: string;
  /** Posting pace per channel (default SLACK_PACE). */
  pace?: PacerOptions;
  drainMs?: number;
  /** How long a lost Socket Mode connection may stay lost before the adapter reports itself lost. */
  lostMs?: number;
  /** How long one Web API request may take (default REQUEST_TIMEOUT_MS, adapters/slack/requests.ts). */
  requestTimeoutMs?: number;
}

export interface SlackAdapter extends ChatAdapter {
  /** The HTTP receiver's port once started (HTTP mode). */
  readonly httpPort: number | undefined;
  /** Checks still posting. */
  readonly running: number;
}

export function createSlackAdapter(config: SlackConfig, ctx: AdapterContext, options: SlackAdapterOptions = {}): SlackAdapter {
  const handle = createApp(config, ctx.logger, { ...(options.listenHost !== undefined ? { listenHost: options.listenHost } : {}), ...(options.lostMs !== undefined ? { lostMs: options.lostMs } : {}), ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}) });
  // One pacer for the whole adapter: a channel's pace holds across every check posting to it.
  const pacer = new Pacer(options.pace ?? SLACK_PACE);
  const runner = new CheckRunner(ctx, pacer);
  let botName: string | undefined;
  let httpPort: number | undefined;
  const recent = new RecentIds();
  const logs = new SlackLogReplies({ client: handle.client, pacer, logger: ctx.logger, recent, botToken: config.botToken, allowed: slackFileOrigins(config.apiUrl) });
  const deps: ListenerDeps = {
    runner,
    recent,
    ...(ctx.claim ? { claim: ctx.claim } : {}),
    pacer,
    logger: ctx.logger,
    vantage: ctx.vantage,
    client: handle.client,
    botName: () => botName,
    // An engine without bastions probes here: then any `via` is a usage error.
    bastions: () => ctx.engine.bastions ?? [],
    // Permissions, policy pre-check, limits, queue and audit (src/chat/gate.ts).
    gate: ctx.gate,
    userGroups: new SlackUserGroups(handle.client),
    logs,
    ...(ctx.watches ? { watches: ctx.watches } : {}),
  };
  return {
    name: 'slack',
    get httpPort() {
      return httpPort;
    },
    get running() {
      return runner.running;
    },
    async start() {
      const started = await handle.start((app) => {
        registerSlashCommand(app, deps);
        registerMentions(app, deps);
        registerRerunButton(app, deps);
        registerWatchStop(app, deps);
        logs.register(app);
        // Bolt's last resort: whatever a listener threw is logged, never lost.
        app.error((err) => {
          ctx.logger.error('slack listener failed', { error: err.message, code: err.code });
          return Promise.resolve();
        });
      });
      botName = started.botName;
      httpPort = started.port;
      // Watches post through this adapter from now on; those a previous run left are taken up again.
      if (ctx.watches) {
        ctx.watches.register('slack', new SlackWatchPoster(handle.client, pacer, deps.userGroups));
        const resumed = await ctx.watches.resume('slack').catch((err: unknown) => {
          ctx.logger.error('slack watches could not be resumed', { error: errorMessage(err) });
          return undefined;
        });
        if (resumed && resumed.resumed + resumed.stopped > 0) ctx.logger.info('slack watches taken up after a restart', resumed);
      }
      ctx.logger.info('slack connected', { mode: config.mode.kind, bot: started.botUserId, ...(httpPort !== undefined ? { port: httpPort } : {}) });
    },
    onLost(listener) {
      handle.onLost(listener);
    },
    async stop() {
      // Stop taking requests first; checks already running may still post their results.
      await handle.stop();
      if (!(await runner.drain(options.drainMs ?? DRAIN_MS))) {
        ctx.logger.warn('stopped with checks still posting', { running: runner.running });
      }
      if (!(await logs.drain(options.drainMs ?? DRAIN_MS))) ctx.logger.warn('stopped with log answers still posting', { running: logs.running });
    },
  };
}
