// `sshcheck bot`: starts every chat adapter whose credentials are in the environment, with
// the probe engine in this process (single flight, results reused for a few seconds), or,
// with a broker (SSHCHECK_NATS_URL), sending each check to the agents of a bastion.
// Adapters are loaded only here, so the plain CLI never pays for Bolt or discord.js.
import { hostname } from 'node:os';
import type { AdapterContext, ChatAdapter } from '../chat/adapter.js';
import { BOT_HELP, botConfigFromEnv } from '../chat/bot-config.js';
import type { BotConfig } from '../chat/bot-config.js';
import { InProcessEngine } from '../chat/engine-client.js';
import type { EngineClient } from '../chat/engine-client.js';
import { loadRoutingConfig } from '../chat/routing-config.js';
import type { RoutingConfig } from '../chat/routing-config.js';
import { SharedRuns } from '../chat/shared-runs.js';
import { createLogger } from '../log.js';
import { findEngineConfig } from '../config/engine-config.js';
import { MAX_SECRET_FILE_BYTES, readConfigFile } from '../config/config-file.js';
import type { EngineConfig } from '../config/engine-config.js';
import { printable } from '../target.js';
import { loadAccessConfig } from '../chat/access-config.js';
import type { AccessConfig } from '../chat/access-config.js';
import { Gate } from '../chat/gate.js';
import { DEFAULT_LIMITS } from '../chat/limits.js';
import { defaultPolicy } from '../policy/target-policy.js';
import { storePath } from '../store/paths.js';
import { recentHistory } from '../store/run-history.js';
import { Store } from '../store/store.js';
import { StoreClient } from '../store/client.js';
import { StoreConnectionLedger } from '../store/connection-ledger.js';
import { natsSettings } from '../nats/options.js';
import type { NatsSettings } from '../nats/options.js';
import type { Recovery } from '../store/store.js';
import { AdapterSupervisor } from './adapter-supervisor.js';
import { WatchRunner } from '../chat/watch-runner.js';
import { watchStoreOfClient } from '../store/watch-store.js';
import type { AdapterSlot } from './adapter-supervisor.js';
import { errorMessage } from '../errors.js';

/** How long the bot's store connections wait for another process's lock before a row is spooled (or a ledger call gives up). */
const STORE_BUSY_MS = 200;
/** The same for the engine's ledger and history, on this thread: as short as the CLI's wait. */
const LEDGER_BUSY_MS = 50;

/** A result this young is reused instead of probing again. */
export const REUSE_MS = 10_000;
/** In chat, slow extras (path trace, ping) may finish after the diagnosis and update their step. */
export const CHAT_EXTRAS_MS = 5_000;

type Env = Readonly<Record<string, string | undefined>>;

export interface BotIo {
  stderr: (text: string) => void;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: Promise<void>;
  /** Where log lines go (default stderr). */
  log?: (line: string) => void;
  /** How long before the first retry of an adapter that could not start (default 5 s; doubles up to 5 min). */
  retryFirstMs?: number;
  /** How long an adapter's connection may stay lost before it is restarted (default: the adapter's own, 2 min for Slack). */
  adapterLostMs?: number;
}

export async function adapterSlots(config: BotConfig, ctx: AdapterContext, options: { lostMs?: number } = {}): Promise<AdapterSlot[]> {
  const slots: AdapterSlot[] = [];
  if (config.slack) {
    const { createSlackAdapter } = await import('../../adapters/slack/index.js');
    const slack = config.slack;
    slots.push({ name: 'slack', url: slack.apiUrl ?? 'https://slack.com/api/', create: () => createSlackAdapter(slack, ctx, options.lostMs !== undefined ? { lostMs: options.lostMs } : {}) });
  }
  if (config.discord) {
    const { createDiscordAdapter } = await import('../../adapters/discord/index.js');
    const discord = config.discord;
    slots.push({ name: 'discord', url: discord.apiUrl ?? 'https://discord.com/api', create: () => createDiscordAdapter(discord, ctx) });
  }
  return slots;
}

export async function loadAdapters(config: BotConfig, ctx: AdapterContext): Promise<ChatAdapter[]> {
  return (await adapterSlots(config, ctx)).map((slot) => slot.create());
}

export async function runBot(env: Env, io: BotIo): Promise<number> {
  let config: BotConfig;
  try {
    config = botConfigFromEnv(env);
  } catch (err) {
    io.stderr(`sshcheck bot: ${errorMessage(err)}\n\n${BOT_HELP}\n`);
    return 2;
  }
  if (!config.slack && !config.discord) {
    io.stderr(`sshcheck bot: no chat credentials are set.\n\n${BOT_HELP}\n`);
    return 2;
  }
  let routing: RoutingConfig | undefined;
  let access: AccessConfig = { limits: DEFAULT_LIMITS };
  if (config.configPath !== undefined) {
    try {
      const text = readConfigFile(config.configPath, 'the bot config');
      routing = loadRoutingConfig(text, config.configPath);
      access = loadAccessConfig(text, config.configPath);
    } catch (err) {
      io.stderr(`sshcheck bot: SSHCHECK_CONFIG: ${errorMessage(err)}\n`);
      return 2;
    }
  }
  // A broker (SSHCHECK_NATS_URL): checks go to the bastions' agents through it.
  let nats: NatsSettings | undefined;
  try {
    nats = natsSettings(undefined, env, (p) => readConfigFile(p, 'the NATS credentials file', MAX_SECRET_FILE_BYTES), `sshcheck-bot ${hostname()}`);
  } catch (err) {
    io.stderr(`sshcheck bot: ${errorMessage(err)}\n`);
    return 2;
  }
  if (!nats && routing && (routing.bastions.length > 0 || routing.rules.length > 0)) {
    // Without a broker the rules could only be ignored, and checks would run here instead.
    io.stderr(`sshcheck bot: SSHCHECK_CONFIG names bastions, whose agents the bot reaches through the broker: set SSHCHECK_NATS_URL (docs/deploy.md), or remove bastions:, rules: and default: to probe from this machine\n`);
    return 2;
  }
  // The engine config (diagnostics logins, the target policy, the store) and the store: the
  // bot runs no check it cannot record, so a store that cannot be opened stops it here.
  // The audit log is written from the store's own thread (a lock another process holds
  // never stops this event loop; rows it cannot take now are spooled); rows a crashed bot
  // (or CLI run) left unfinished are closed. The engine's connection ledger and history use
  // a connection of their own here, which waits at most LEDGER_BUSY_MS for a lock: a ledger
  // that cannot answer leaves the run its own per-run limit, history is only advisory.
  let engineConfig: EngineConfig | undefined;
  let store: Store;
  let auditStore: StoreClient;
  try {
    engineConfig = findEngineConfig(undefined, env);
    const path = storePath(engineConfig?.store, { env }).path;
    const retention = engineConfig?.store?.retentionDays !== undefined ? { retentionDays: engineConfig.store.retentionDays } : {};
    auditStore = await StoreClient.open(path, { recover: true, busyTimeoutMs: STORE_BUSY_MS, ...retention });
    try {
      store = Store.open(path, { busyTimeoutMs: LEDGER_BUSY_MS, ...retention });
    } catch (err) {
      await auditStore.close();
      throw err;
    }
  } catch (err) {
    io.stderr(`sshcheck bot: ${errorMessage(err)}\n`);
    return 2;
  }
  const recovery: Recovery | undefined = auditStore.recovery;
  const logger = createLogger({ secrets: [...config.secrets, ...(nats?.secrets ?? [])], name: 'sshcheck-bot', ...(io.log ? { write: io.log } : {}) });
  // Chat requests are always fenced: the engine config's policy: widens or narrows the defaults.
  const policy = engineConfig?.policy ?? defaultPolicy();
  const gate = new Gate({ policy, limits: access.limits, store: auditStore, logger, ...(access.permissions ? { permissions: access.permissions } : {}) });
  logger.info('audit log and history', { store: store.path });
  if (recovery && (recovery.interrupted > 0 || recovery.replayed > 0)) logger.warn('a process that stopped uncleanly left rows: closed as interrupted, spooled rows written', { ...recovery });
  if (!access.permissions) logger.warn('no permissions: section in SSHCHECK_CONFIG: anyone who can use /sshcheck may run checks (docs/security.md)');
  let vantage: string;
  let engine: EngineClient;
  let broker: { close(): Promise<void> } | undefined;
  let claim: ((id: string) => Promise<boolean>) | undefined;
  if (nats) {
    const { connectBotBroker, RoutedNatsEngine } = await import('../nats/bot-engine.js');
    const { ClaimBucket } = await import('../nats/claims.js');
    const connected = await connectBotBroker(nats, routing, logger, io.stopSignal);
    if (!connected) {
      gate.close();
      store.close();
      await closeAuditStore(auditStore, logger);
      return 0;
    }
    broker = connected;
    try {
      // Two replicas may run: each chat request is answered by the one that claims it.
      const claims = await ClaimBucket.open(connected.nc, `${hostname()}:${process.pid}`, logger);
      claim = (id) => claims.claim(id);
    } catch (err) {
      logger.warn('no claims bucket on the broker (JetStream off, or not permitted): run one bot replica only, or two would both answer every command', { error: errorMessage(err) });
    }
    // The bastion is known per check (run-started names it); until then the thread says this.
    vantage = config.vantage ?? 'the routed bastion';
    engine = new RoutedNatsEngine(connected.engine, routing?.reuseMs ?? REUSE_MS);
  } else {
    vantage = config.vantage ?? hostname();
    // The bot probes from its own machine: the same diagnostics logins as the CLI there, and
    // the policy fencing every resolved address inside the engine.
    const here = vantage;
    const window = engineConfig?.store?.healthyWindowMinutes;
    engine = new SharedRuns(
      new InProcessEngine(
        {
          vantage,
          extrasMs: CHAT_EXTRAS_MS,
          policy,
          // The connection budget across runs, shared with operators' CLI runs through the store.
          ledger: new StoreConnectionLedger(store),
          ...(engineConfig?.connectionBudget ? { connectionBudget: engineConfig.connectionBudget } : {}),
          ...(engineConfig ? { config: engineConfig } : {}),
        },
        { history: (target) => recentHistory(store, target, here, window) },
      ),
      { reuseMs: REUSE_MS },
    );
  }
  // Each adapter on its own: one that cannot start (Slack unreachable) leaves the others
  // running and is retried with backoff; the bot exits only when none can run.
  // Watches re-check through the same gate and engine as every check, and live in the store
  // (through the store's own thread, like the audit log).
  const watches = new WatchRunner({ store: watchStoreOfClient(auditStore), gate, engine, vantage, logger });
  const supervisor = new AdapterSupervisor(await adapterSlots(config, { engine, logger, vantage, gate, watches, ...(claim ? { claim } : {}) }, io.adapterLostMs !== undefined ? { lostMs: io.adapterLostMs } : {}), logger, { ...(io.retryFirstMs !== undefined ? { retryFirstMs: io.retryFirstMs } : {}), vantage });
  // Until stopped, or until no adapter runs and none will be retried (at start or later).
  const outcome = await Promise.race([supervisor.start().then(() => supervisor.whenHopeless()), io.stopSignal.then(() => undefined)]);
  if (outcome === undefined) {
    logger.info('stopping');
  } else {
    io.stderr(`sshcheck bot: no chat adapter can run:\n${outcome.map((line) => `  ${line}`).join('\n')}\n`);
  }
  // Watches stay in the store as they are: the next start resumes them.
  await watches.close();
  // Checks still waiting in the queue are refused; running ones finish and are recorded.
  gate.close();
  await supervisor.stop();
  await broker?.close();
  store.close();
  await closeAuditStore(auditStore, logger);
  return outcome === undefined ? 0 : 3;
}

/** Ends the audit log's thread; rows a lock kept out stay spooled for the next process. */
async function closeAuditStore(store: StoreClient, logger: { warn: (msg: string, fields?: Record<string, unknown>) => void }): Promise<void> {
  const unwritten = await store.close();
  if (unwritten > 0) logger.warn('the store was still locked at exit: rows stay in the spool and are written by the next process that opens it', { rows: unwritten, spool: `${store.path}-spool` });
}

export async function runDiscordRegister(argv: readonly string[], env: Env, io: Pick<BotIo, 'stderr'> & { stdout: (t: string) => void }): Promise<number> {
  const guildFlag = argv.indexOf('--guild');
  const guildId = guildFlag >= 0 ? argv[guildFlag + 1] : undefined;
  const extra = argv.filter((a, i) => a !== '--guild' && (guildFlag < 0 || i !== guildFlag + 1));
  // Say what was wrong, not only the usage: a short id is the usual mistake (a copied prefix).
  const reason =
    extra.length > 0
      ? `unexpected argument "${printable(extra[0] ?? '', 40)}"`
      : guildFlag >= 0 && guildId === undefined
        ? '--guild needs the server (guild) id'
        : guildFlag >= 0 && !/^[0-9]{15,25}$/.test(guildId ?? '')
          ? `"${printable(guildId ?? '', 40)}" is not a Discord server id: a snowflake of 15 to 25 digits (Discord: Developer Mode on, then right-click the server, Copy Server ID)`
          : undefined;
  if (reason !== undefined) {
    io.stderr(`sshcheck discord register: ${reason}\nusage: sshcheck discord register [--guild <guild id>]\n`);
    return 2;
  }
  let config: BotConfig;
  try {
    config = botConfigFromEnv(env);
  } catch (err) {
    io.stderr(`sshcheck discord register: ${errorMessage(err)}\n`);
    return 2;
  }
  if (!config.discord) {
    io.stderr('sshcheck discord register: set DISCORD_TOKEN and DISCORD_APPLICATION_ID\n');
    return 2;
  }
  const { registerCommands } = await import('../../adapters/discord/index.js');
  try {
    io.stdout(`${await registerCommands(config.discord, guildId !== undefined ? { guildId } : {})}\n`);
    return 0;
  } catch (err) {
    io.stderr(`sshcheck discord register: ${errorMessage(err)}\n`);
    return 3;
  }
}
