// `sshcheck serve`: the probe engine as an HTTP service on a bastion, for a chat bot that
// runs elsewhere (docs/deploy.md). Tokens come from the environment or a file (re-read on
// SIGHUP), never from the command line, where `ps` would show them.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { ThreadedEngine } from '../engine/threaded.js';
import { findEngineConfig } from '../config/engine-config.js';
import { MAX_SECRET_FILE_BYTES, readConfigFile } from '../config/config-file.js';
import type { EngineConfig } from '../config/engine-config.js';
import { createLogger } from '../log.js';
import type { LogLevel } from '../log.js';
import type { ListenAddress } from './listen.js';
import { DEFAULT_LISTEN, formatListen, parseListen } from './listen.js';
import { DEFAULT_REGISTRY_OPTIONS } from './runs.js';
import type { Runner } from './runs.js';
import { createService } from './server.js';
import { DEFAULT_QUIET_START } from './quiet-start.js';
import { TokenSet, tokensFromEnv } from './tokens.js';
import { serviceAdmission } from './audit.js';
import { engineRunner } from './engine-runner.js';
import { warmAdmission } from './warm-up.js';
import { stderrLines } from './log-lines.js';
import { defaultPolicy } from '../policy/target-policy.js';
import { storePath } from '../store/paths.js';
import { StoreClient } from '../store/client.js';
import { errorMessage } from '../errors.js';

type Env = Readonly<Record<string, string | undefined>>;

/** How long the store's thread waits for another process's lock before it spools a row and the request is refused. */
const STORE_BUSY_MS = 200;

export const SERVE_USAGE = `Usage: sshcheck serve [options]

Runs the probe engine as an HTTP service for a chat bot elsewhere (docs/deploy.md).

Options:
      --listen <addr>   host:port or unix:/path (default ${DEFAULT_LISTEN})
      --vantage <name>  how reports name this bastion (default $SSHCHECK_VANTAGE, else the host name)
      --max-runs <n>    checks running at once at most; more get 429 (default ${DEFAULT_REGISTRY_OPTIONS.maxRuns}, 1-64)
      --reuse <s>       reuse a result this many seconds old for the same target (default ${DEFAULT_REGISTRY_OPTIONS.reuseMs / 1000}, 0-60)
      --budget <s>      stop a run after this many seconds (default 15, 1-120)
      --log-level <l>   debug, info, warn or error (default info)
  -h, --help            this help

Tokens (required): SSHCHECK_SERVICE_TOKENS_FILE, a file with one token per line (re-read on
SIGHUP, for rotation), and/or SSHCHECK_SERVICE_TOKENS. Generate one with: openssl rand -hex 32`;

export interface ServeIo {
  stderr: (text: string) => void;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: Promise<void>;
  /** Registers a handler for reload requests (SIGHUP). */
  onReload?: (handler: () => void) => void;
  /** Tests run engines with other options (a fake runner, a short budget). */
  runner?: Runner;
  /** sshcheck's version, for /healthz and /probe's sshcheck_build_info. */
  version?: string;
  /** Called once the service listens, with the address it listens on. */
  onListening?: (address: string) => void;
}

interface ServeOptions {
  listen: ListenAddress;
  vantage: string;
  maxRuns: number;
  reuseMs: number;
  budgetMs: number;
  logLevel: LogLevel;
}

/** A whole-number option of a long-running command (serve, agent), bounded. */
export function intOption(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]{1,4}$/.test(value) || Number(value) < min || Number(value) > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, not "${value.slice(0, 20)}"`);
  return Number(value);
}

export function parseServeArgs(argv: readonly string[], env: Env): ServeOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      listen: { type: 'string' },
      vantage: { type: 'string' },
      'max-runs': { type: 'string' },
      reuse: { type: 'string' },
      budget: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new Error(`sshcheck serve takes no host (got "${positionals[0]?.slice(0, 40) ?? ''}"): the bot sends the targets`);
  const vantage = values.vantage ?? env.SSHCHECK_VANTAGE ?? hostname();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(vantage)) throw new Error(`invalid vantage name "${vantage.slice(0, 40)}": use letters, digits, ".", "_" or "-" (at most 63)`);
  const level = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`--log-level must be debug, info, warn or error, not "${level.slice(0, 20)}"`);
  return {
    listen: parseListen(values.listen ?? DEFAULT_LISTEN),
    vantage,
    maxRuns: intOption(values['max-runs'], 'max-runs', 1, 64, DEFAULT_REGISTRY_OPTIONS.maxRuns),
    reuseMs: intOption(values.reuse, 'reuse', 0, 60, DEFAULT_REGISTRY_OPTIONS.reuseMs / 1000) * 1000,
    budgetMs: intOption(values.budget, 'budget', 1, 120, 15) * 1000,
    logLevel: level as LogLevel,
  };
}

/**
 * A socket file left by a service that died is removed; one that another process still
 * listens on, or a file that is not a socket, is an error rather than something to delete.
 */
async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket: remove it or choose another --listen path`);
  const inUse = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
  if (inUse) throw new Error(`another process is listening on ${path}`);
  unlinkSync(path);
}

export async function runServe(argv: readonly string[], env: Env, io: ServeIo): Promise<number> {
  let options: ServeOptions | 'help';
  let source;
  let engineConfig: EngineConfig | undefined;
  try {
    options = parseServeArgs(argv, env);
    if (options === 'help') {
      io.stderr(`${SERVE_USAGE}\n`);
      return 0;
    }
    source = tokensFromEnv(env, (p) => readConfigFile(p, 'the token file', MAX_SECRET_FILE_BYTES));
    // Diagnostics logins for the inside view (and --from checks), the target policy and the store, as for the CLI.
    engineConfig = findEngineConfig(undefined, env);
  } catch (err) {
    io.stderr(`sshcheck serve: ${err instanceof Error ? err.message.replace(/\s+/g, ' ') : String(err)}\n\n${SERVE_USAGE}\n`);
    return 2;
  }
  const { listen, vantage, budgetMs } = options;
  // The audit log and history, on their own thread (src/store/client.ts): a service that
  // cannot record what it probes does not start. Rows a crash left unfinished are closed.
  let store: StoreClient;
  try {
    store = await StoreClient.open(storePath(engineConfig?.store, { env }).path, { recover: true, prompt: true, busyTimeoutMs: STORE_BUSY_MS, ...(engineConfig?.store?.retentionDays !== undefined ? { retentionDays: engineConfig.store.retentionDays } : {}) });
  } catch (err) {
    io.stderr(`sshcheck serve: ${errorMessage(err)} (with systemd: StateDirectory=sshcheck in the unit, docs/deploy.md)\n`);
    return 2;
  }
  // Always fenced: requests come from chat. The engine config's policy: widens or narrows the defaults.
  const policy = engineConfig?.policy ?? defaultPolicy();
  // The logger scrubs every token value, including ones added by a reload.
  const secrets = [...source.tokens];
  // One write per turn of the loop for the request lines (log-lines.ts); what is queued is
  // written at stop and at exit.
  const logLines = stderrLines();
  const endLog = logLines.end;
  const logger = createLogger({ name: 'sshcheck-serve', level: options.logLevel, secrets, write: logLines.write });
  if (store.recovery && (store.recovery.interrupted > 0 || store.recovery.replayed > 0)) logger.warn('a process that stopped uncleanly left rows: closed as interrupted, spooled rows written', { ...store.recovery });
  const tokens = new TokenSet(source.tokens);
  // Probes run in a process of their own: their children's fork/exec never stops this one (healthz, admission).
  const threaded = new ThreadedEngine({
    process: true,
    onExit: (err, restartInMs) => logger.error('the engine process stopped; runs in it failed; it is started again', { error: err.message, restartInMs }),
  });
  if (!io.runner) threaded.prestart();
  const runner = engineRunner({ store, vantage, budgetMs, policy, engineConfig, logger, probe: (target, o) => threaded.run(target, o), ...(io.runner ? { engine: io.runner } : {}) });
  const admit = serviceAdmission({ store, policy, vantage, logger, registry: () => service.registry });
  // Before the first request: the admission path's pure functions compiled, not interpreted, in a first burst.
  warmAdmission(policy, tokens);
  const service = createService({ runner, tokens, logger, vantage, admit, registry: { maxRuns: options.maxRuns, reuseMs: options.reuseMs }, quietStart: DEFAULT_QUIET_START, ...(io.version !== undefined ? { version: io.version } : {}) });

  // The store thread's replies are taken at every request's arrival, not only when the loop's
  // turn reaches them: under a burst a turn is hundreds of requests, and an admitted one's
  // 202 waited for its written row behind all of them (StoreClient.poll).
  service.server.on('request', () => store.poll());

  const tokenFile = source.file;
  io.onReload?.(() => {
    if (!tokenFile) return logger.warn('reload requested, but no SSHCHECK_SERVICE_TOKENS_FILE is configured: nothing to re-read');
    try {
      const next = tokensFromEnv(env, (p) => readConfigFile(p, 'the token file', MAX_SECRET_FILE_BYTES));
      secrets.push(...next.tokens.filter((t) => !secrets.includes(t)));
      tokens.replace(next.tokens);
      logger.info('bearer list reloaded', { bearers: next.tokens.length });
    } catch (err) {
      // A broken file must not lock everyone out: the previous tokens stay valid.
      logger.error('token reload failed; the previous tokens stay valid', { error: errorMessage(err) });
    }
  });

  try {
    if (listen.kind === 'unix') await clearStaleSocket(listen.path);
    await new Promise<void>((resolve, reject) => {
      service.server.once('error', reject);
      if (listen.kind === 'unix') service.server.listen(listen.path, () => resolve());
      else service.server.listen(listen.port, listen.host, () => resolve());
    });
    // Owner and group (the bot's or the reverse proxy's group) may connect, nobody else.
    if (listen.kind === 'unix') chmodSync(listen.path, 0o660);
  } catch (err) {
    logger.error('cannot listen', { address: formatListen(listen), error: errorMessage(err) });
    io.stderr(`sshcheck serve: cannot listen on ${formatListen(listen)}: ${errorMessage(err)}\n`);
    await store.close();
    await threaded.close();
    endLog();
    return 3;
  }
  logger.info('listening', { address: formatListen(listen), vantage, maxRuns: options.maxRuns, reuseMs: options.reuseMs, bearers: tokens.size });
  io.onListening?.(formatListen(listen));
  await io.stopSignal;
  logger.info('stopping');
  await service.close();
  await threaded.close();
  const unwritten = await store.close();
  if (unwritten > 0) logger.warn('the store was still locked at exit: rows stay in the spool and are written by the next process that opens it', { rows: unwritten, spool: `${store.path}-spool` });
  endLog();
  return 0;
}
