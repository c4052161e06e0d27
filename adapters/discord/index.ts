// The Discord adapter (issue 4): /sshcheck as an application command, the checklist in a
// thread; /sshcheck-explain explains an ssh -v log given as a file or text (issue 5).
// `sshcheck bot` loads it when DISCORD_TOKEN and DISCORD_APPLICATION_ID are set;
// `sshcheck discord register` calls registerCommands. See docs/discord.md.
import { handleRerunClick, isRerunClick } from './rerun.js';
import type { Client, Interaction } from 'discord.js';
import { Events } from 'discord.js';
import type { AdapterContext, ChatAdapter } from '../../src/chat/adapter.js';
import type { DiscordConfig } from '../../src/chat/bot-config.js';
import { RecentIds } from '../../src/chat/dedupe.js';
import { Pacer } from '../../src/chat/pacer.js';
import { createClient, logClientEvents } from './client.js';
import { errorFields } from './errors.js';
import { handleExplainInteraction, isExplainCommand } from './explain.js';
import { discordFileOrigins } from './explain-command.js';
import { handleInteraction } from './interaction.js';
import { DiscordWatchPoster, routeWatchInteraction } from './watch.js';
import { errorMessage } from '../../src/errors.js';

export { registerCommands } from './register.js';

/** Discord allows about 5 messages per 5 s in one channel (a thread is a channel). */
export const DISCORD_PACE = { burst: 5, perSecond: 1 } as const;
/** How long stop() lets running checks finish their messages. */
const DRAIN_MS = 5000;

export interface DiscordAdapterOptions {
  pacer?: Pacer;
}

class DiscordAdapter implements ChatAdapter {
  readonly name = 'discord';
  private readonly client: Client;
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
  private readonly lostListeners: Array<(err: Error) => void> = [];

  constructor(
    private readonly config: DiscordConfig,
    private readonly ctx: AdapterContext,
    private readonly options: DiscordAdapterOptions,
  ) {
    this.client = createClient(config);
    logClientEvents(this.client, ctx.logger, () => this.stopping);
    // discord.js reconnects and resumes by itself, except after these: the gateway closed
    // with a code it does not retry (authentication failed, intents refused), or the
    // session was invalidated. The bot then restarts the adapter.
    this.client.on(Events.ShardDisconnect, (event) => this.lost(new Error(`the Discord gateway closed with code ${event.code} and discord.js does not reconnect after it`)));
    this.client.on(Events.Invalidated, () => this.lost(new Error('the Discord session was invalidated')));
  }

  onLost(listener: (err: Error) => void): void {
    this.lostListeners.push(listener);
  }

  private lost(err: Error): void {
    if (this.stopping) return;
    for (const l of this.lostListeners) l(err);
  }

  async start(): Promise<void> {
    const deps = {
      engine: this.ctx.engine,
      logger: this.ctx.logger,
      vantage: this.ctx.vantage,
      pacer: this.options.pacer ?? new Pacer(DISCORD_PACE),
      seen: new RecentIds(),
      gate: this.ctx.gate,
    };
    const explainDeps = { logger: this.ctx.logger, seen: deps.seen, allowed: discordFileOrigins(this.config.apiUrl) };
    const poster = this.ctx.watches ? new DiscordWatchPoster(this.client) : undefined;
    const watchDeps = { logger: this.ctx.logger, seen: deps.seen, bastions: this.ctx.engine.bastions, ...(this.ctx.watches && poster ? { watches: this.ctx.watches, poster } : {}) };
    this.client.on(Events.InteractionCreate, (interaction: Interaction) => {
      if (this.stopping) return;
      // Watch commands and Stop clicks first (watch.ts); everything else as before.
      const dispatch = (): Promise<void> =>
        routeWatchInteraction(interaction, watchDeps) ??
        (isExplainCommand(interaction)
          ? handleExplainInteraction(interaction, explainDeps)
          : isRerunClick(interaction)
            ? handleRerunClick(interaction, deps)
            : handleInteraction(interaction, deps));
      // Every replica's gateway gets the interaction: only the one that claims it answers.
      const claim = this.ctx.claim;
      const handled = claim
        ? claim(`discord:${interaction.id}`).then((mine) => (mine ? dispatch() : this.ctx.logger.info('interaction answered by another replica', { interaction: interaction.id })))
        : dispatch();
      const task = handled.catch((err: unknown) => {
        this.ctx.logger.error('discord interaction failed', { interaction: interaction.id, ...errorFields(err, [this.config.token, interaction.token ?? '']) });
      });
      this.inFlight.add(task);
      void task.finally(() => this.inFlight.delete(task));
    });
    // login() resolves on the gateway's READY; the client is ready once the guilds in it
    // have arrived (GUILD_CREATE), and only then are the queued interactions handled.
    const ready = new Promise<void>((resolve) => this.client.once(Events.ClientReady, () => resolve()));
    await this.client.login(this.config.token);
    await ready;
    this.ctx.logger.info('discord connected', { user: this.client.user?.id, application: this.config.applicationId, guilds: this.client.guilds.cache.size });
    // Watches post through this client from now on; those a previous run left are taken up again.
    if (this.ctx.watches && poster) {
      this.ctx.watches.register('discord', poster);
      const resumed = await this.ctx.watches.resume('discord').catch((err: unknown) => {
        this.ctx.logger.error('discord watches could not be resumed', { error: errorMessage(err) });
        return undefined;
      });
      if (resumed && resumed.resumed + resumed.stopped > 0) this.ctx.logger.info('discord watches taken up after a restart', resumed);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    let timer: NodeJS.Timeout | undefined;
    const drained = Promise.allSettled([...this.inFlight]);
    await Promise.race([drained, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
    clearTimeout(timer);
    await this.client.destroy();
  }
}

export function createDiscordAdapter(config: DiscordConfig, ctx: AdapterContext, options: DiscordAdapterOptions = {}): ChatAdapter {
  return new DiscordAdapter(config, ctx, options);
}
