// `sshcheck agent`: the probe engine on a bastion, serving checks that arrive through the
// NATS broker (docs/deploy.md). It dials out, so the bastion needs no inbound port; the
// broker's permissions fence it to its own bastion's subjects. Credentials come from the
// environment or files, never the command line.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { findEngineConfig } from '../config/engine-config.js';
import type { EngineConfig } from '../config/engine-config.js';
import { createLogger } from '../log.js';
import type { LogLevel } from '../log.js';
import { Agent } from '../nats/agent.js';
import { openBroker } from '../nats/connect.js';
import { coverageOf } from '../nats/directory.js';
import { NATS_ENV_HELP, natsSettings } from '../nats/options.js';
import type { NatsSettings } from '../nats/options.js';
import { NAME_RE } from '../nats/protocol.js';
import { serviceAdmission } from '../service/audit.js';
import { stderrLines } from '../service/log-lines.js';
import { engineRunner } from '../service/engine-runner.js';
import { ThreadedEngine } from '../engine/threaded.js';
import { HistoryPrefetch } from '../nats/history-prefetch.js';
import { DEFAULT_HEALTHY_WINDOW_MINUTES } from '../store/config.js';
import { intOption } from '../service/serve.js';
import { ServiceMetrics } from '../service/metrics.js';
import { DEFAULT_REGISTRY_OPTIONS, RunRegistry } from '../service/runs.js';
import { defaultPolicy } from '../policy/target-policy.js';
import { storePath } from '../store/paths.js';
import { StoreClient } from '../store/client.js';
import { errorMessage } from '../errors.js';

/** How long a stopping agent waits for its broker connection to drain. */
const DRAIN_WAIT_MS = 3_000;

type Env = Readonly<Record<string, string | undefined>>;

export const AGENT_USAGE = `Usage: sshcheck agent --nats <url> --bastion <name> [options]

Serves checks for one bastion through a NATS broker: connects out (no inbound port),
declares the targets it covers (the allow entries of its engine config's policy) and
takes its share of the bastion's checks. Several agents of one bastion share the work
and take over from each other. Reports name the bastion as their vantage.

Options:
      --nats <url>      the broker, nats://host:4222 or tls://host:4222 (default $SSHCHECK_NATS_URL)
      --bastion <name>  the bastion this agent serves: what the bot routes by and "via" names
      --agent <name>    this agent's name among the bastion's agents (default <host>-<pid>)
      --config <file>   engine config (default $SSHCHECK_ENGINE_CONFIG, else /etc/sshcheck/engine.yml)
      --max-runs <n>    checks running at once at most (default ${DEFAULT_REGISTRY_OPTIONS.maxRuns}, 1-64)
      --reuse <s>       reuse a result this many seconds old for the same target (default ${DEFAULT_REGISTRY_OPTIONS.reuseMs / 1000}, 0-60)
      --budget <s>      stop a run after this many seconds (default 15, 1-120)
      --log-level <l>   debug, info, warn or error (default info)
  -h, --help            this help

${NATS_ENV_HELP}`;

export interface AgentArgs {
  nats: NatsSettings;
  bastion: string;
  agent: string;
  configPath: string | undefined;
  maxRuns: number;
  reuseMs: number;
  budgetMs: number;
  logLevel: LogLevel;
}

export function parseAgentArgs(argv: readonly string[], env: Env, readFile: (path: string) => string): AgentArgs | 'help' {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      nats: { type: 'string' },
      bastion: { type: 'string' },
      agent: { type: 'string' },
      config: { type: 'string' },
      'max-runs': { type: 'string' },
      reuse: { type: 'string' },
      budget: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new Error(`sshcheck agent takes no host (got "${positionals[0]?.slice(0, 40) ?? ''}"): the checks arrive through the broker`);
  const bastion = values.bastion;
  if (bastion === undefined) throw new Error('--bastion <name> is required: the name the bot routes to and "via" names');
  if (!NAME_RE.test(bastion)) throw new Error(`invalid --bastion "${bastion.slice(0, 40)}": lower-case letters, digits, "_" and "-" (at most 63)`);
  const agent = values.agent ?? `${hostname().toLowerCase().replace(/[^a-z0-9_-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 40) || 'agent'}-${process.pid}`;
  if (!NAME_RE.test(agent)) throw new Error(`invalid --agent "${agent.slice(0, 40)}": lower-case letters, digits, "_" and "-" (at most 63)`);
  const nats = natsSettings(values.nats, env, readFile, `sshcheck-agent ${bastion}/${agent}`);
  if (!nats) throw new Error('no broker: give --nats <url> or set SSHCHECK_NATS_URL');
  const level = values['log-level'] ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`--log-level must be debug, info, warn or error, not "${level.slice(0, 20)}"`);
  const configPath = values.config ?? env.SSHCHECK_ENGINE_CONFIG;
  return {
    nats,
    bastion,
    agent,
    configPath,
    maxRuns: intOption(values['max-runs'], 'max-runs', 1, 64, DEFAULT_REGISTRY_OPTIONS.maxRuns),
    reuseMs: intOption(values.reuse, 'reuse', 0, 60, DEFAULT_REGISTRY_OPTIONS.reuseMs / 1000) * 1000,
    budgetMs: intOption(values.budget, 'budget', 1, 120, 15) * 1000,
    logLevel: level as LogLevel,
  };
}

export async function runAgent(argv: readonly string[], env: Env, io: { stderr: (text: string) => void; stopSignal: Promise<void> }): Promise<number> {
  let args: AgentArgs | 'help';
  let engineConfig: EngineConfig | undefined;
  try {
    args = parseAgentArgs(argv, env, (p) => readFileSync(p, 'utf8'));
    if (args === 'help') {
      io.stderr(`${AGENT_USAGE}\n`);
      return 0;
    }
    engineConfig = findEngineConfig(args.configPath, env);
  } catch (err) {
    io.stderr(`sshcheck agent: ${err instanceof Error ? err.message.replace(/\s+/g, ' ') : String(err)}\n\n${AGENT_USAGE}\n`);
    return 2;
  }
  const { bastion, agent } = args;
  // The audit log and history on their own thread, as for serve: store I/O never blocks the
  // agent's heartbeats. A check's audit row and history read are one short statement each on
  // this thread when the store is free (`direct`), not a round trip to that one.
  let store: StoreClient;
  try {
    store = await StoreClient.open(storePath(engineConfig?.store, { env }).path, { recover: true, direct: true, ...(engineConfig?.store?.retentionDays !== undefined ? { retentionDays: engineConfig.store.retentionDays } : {}) });
  } catch (err) {
    io.stderr(`sshcheck agent: ${errorMessage(err)} (with systemd: StateDirectory=sshcheck in the unit, docs/deploy.md)\n`);
    return 2;
  }
  // One write per turn of the loop (log-lines.ts): a check's lines are written after its run
  // is handed to the engine's process, not on the way; what is queued is written at exit.
  const logLines = stderrLines();
  const endLog = logLines.end;
  const logger = createLogger({ name: 'sshcheck-agent', level: args.logLevel, secrets: args.nats.secrets, write: logLines.write });
  // Always fenced, as for any request that comes from chat.
  const policy = engineConfig?.policy ?? defaultPolicy();
  const history = new HistoryPrefetch((...a) => store.lastHealthy(...a), bastion, engineConfig?.store?.healthyWindowMinutes ?? DEFAULT_HEALTHY_WINDOW_MINUTES);
  // Probes run in a process of their own, as for serve: each ssh, ping or ssh -G they start
  // costs tens of milliseconds of fork/exec, which on this thread delayed heartbeats and
  // replies by seconds under a burst. The engine process ends with this one (run-worker.ts).
  // Starting a run here is a message to that process, so a burst's runs start at once: no
  // pacing one per turn, which had cost every check a turn of the loop.
  const threaded = new ThreadedEngine({
    process: true,
    onExit: (err, restartInMs) => logger.error('the engine process stopped; runs in it failed; it is started again', { error: err.message, restartInMs }),
  });
  threaded.prestart();
  const runner = engineRunner({ store: { lastHealthy: history.lastHealthy, recordRun: (...a) => store.recordRun(...a) }, vantage: bastion, budgetMs: args.budgetMs, policy, engineConfig, logger, probe: (target, o) => threaded.run(target, o) });
  const registry = new RunRegistry(runner, { ...DEFAULT_REGISTRY_OPTIONS, maxRuns: args.maxRuns, reuseMs: args.reuseMs }, new ServiceMetrics(), logger);
  const admit = serviceAdmission({ store, policy, vantage: bastion, logger, registry: () => registry });
  const coverage = coverageOf(engineConfig?.policy);
  logger.info('connecting to the broker', { broker: args.nats.url, bastion, agent });
  const stopped = io.stopSignal.then(() => 'stop' as const);
  const opened = openBroker(args.nats, { wait: true, logger });
  const first = await Promise.race([opened, stopped]);
  if (first === 'stop') {
    await threaded.close();
    await store.close();
    void opened.then((nc) => nc.close(), () => undefined);
    endLog();
    return 0;
  }
  const nc = first;
  const service = new Agent(nc, { bastion, agent, coverage, registry, admit, logger, prefetch: (target) => history.start(target), trace: args.logLevel === 'debug' });
  service.start();
  await nc.flush();
  logger.info('serving checks', { broker: args.nats.url, bastion, agent, cidrs: coverage.cidrs, suffixes: coverage.suffixes, maxRuns: args.maxRuns });
  await stopped;
  logger.info('stopping');
  await service.stop();
  await registry.stopAll();
  await threaded.close();
  // Draining needs the broker; with it gone (or going), the agent still exits within a bound.
  let drained: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([nc.drain().catch(() => undefined), new Promise((resolve) => (drained = setTimeout(resolve, DRAIN_WAIT_MS)))]);
  clearTimeout(drained);
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
  await store.close();
  endLog();
  return 0;
}
