// `sshcheck --nats <url> --via <bastion> host`: the check runs on the bastion's agent, and
// this terminal shows its live progress and prints the same report (its vantage is the
// bastion's). The agent records the run in its own store; nothing is probed from here.
import { readFileSync } from 'node:fs';
import { SshcheckError, errorMessage } from '../errors.js';
import { NatsEngine } from '../nats/engine.js';
import { openBroker } from '../nats/connect.js';
import { natsSettings } from '../nats/options.js';
import type { CheckRequest } from './args.js';
import { liveProgress, plainProgress } from './progress.js';
import type { Progress } from './progress.js';
import { renderReport } from './render-text.js';

type Env = Readonly<Record<string, string | undefined>>;

/** How long a check without --via waits for the agents to declare what they cover. */
const DISCOVERY_MS = 700;

export async function remoteCheck(request: CheckRequest, env: Env): Promise<number> {
  let settings;
  try {
    settings = natsSettings(request.nats, env, (p) => readFileSync(p, 'utf8'), 'sshcheck cli');
  } catch (err) {
    throw new SshcheckError('E_USAGE', errorMessage(err));
  }
  if (!settings) throw new SshcheckError('E_USAGE', '--via needs a broker: give --nats <url> or set SSHCHECK_NATS_URL');
  if (request.budgetMs !== undefined || request.waitAll || request.vantage !== undefined || request.policyPath !== undefined) {
    throw new SshcheckError('E_USAGE', "--budget, --wait-all, --vantage and --policy are the bastion's to set (its agent's options and engine config): drop them with --nats");
  }
  const color = request.color ?? (process.stdout.isTTY === true && process.env.NO_COLOR === undefined);
  let progress: Progress | undefined;
  if (!request.quiet) {
    progress =
      process.stderr.isTTY === true
        ? liveProgress({ write: (t) => process.stderr.write(t), columns: process.stderr.columns }, { color: request.color ?? process.env.NO_COLOR === undefined })
        : plainProgress({ write: (t) => process.stderr.write(t) });
  }
  const nc = await openBroker(settings, { wait: false });
  const engine = new NatsEngine(nc, { url: settings.url });
  engine.onLost = (text) => process.stderr.write(`sshcheck: ${text}\n`);
  const controller = new AbortController();
  const stop = (): void => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    if (request.via === undefined) await engine.watchAgents(DISCOVERY_MS);
    const { report } = await engine.check(request.target, {
      ...(request.via !== undefined ? { via: request.via } : {}),
      ...(request.from !== undefined ? { from: request.from } : {}),
      signal: controller.signal,
      onEvent: (event) => progress?.onEvent(event),
    });
    progress?.close();
    process.stdout.write(request.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, { color }));
    return report.diagnosis.cause === 'healthy' ? 0 : 1;
  } finally {
    progress?.close();
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    engine.close();
    await nc.close().catch(() => undefined);
  }
}
