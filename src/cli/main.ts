// `sshcheck` on a terminal. Exit status per the report contract: 0 healthy from here,
// 1 a problem was found, 2 bad input or usage (nothing probed), 3 the engine failed; a run
// stopped before its verdict: 130 (SIGINT), 143 (SIGTERM), 4 (budget spent) — see exit.ts.
import { readFileSync } from 'node:fs';
import { findEngineConfig } from '../config/engine-config.js';
import { isSshcheckError, errorMessage } from '../errors.js';
import { run } from '../engine/run.js';
import type { CheckRequest } from './args.js';
import { parseCli, USAGE } from './args.js';
import { liveProgress, plainProgress } from './progress.js';
import type { Progress } from './progress.js';
import { briefLine, renderReport } from './render-text.js';
import { prepareRun } from './record.js';
import { EXIT, exitForReport, exitForSignal } from './exit.js';
import { subcommandMisuse } from './subcommands.js';

export { EXIT };

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function check(request: CheckRequest): Promise<number> {
  // args.ts already folded $SSHCHECK_ENGINE_CONFIG into configPath.
  const config = findEngineConfig(request.configPath, {});
  const stderrTty = process.stderr.isTTY === true;
  const color = request.color ?? (process.stdout.isTTY === true && process.env.NO_COLOR === undefined);
  let progress: Progress | undefined;
  if (!request.quiet) {
    progress = stderrTty
      ? liveProgress({ write: (t) => process.stderr.write(t), get columns() { return process.stderr.columns; }, get rows() { return process.stderr.rows; } }, { color: request.color ?? process.env.NO_COLOR === undefined })
      : plainProgress({ write: (t) => process.stderr.write(t) });
  }
  // The signal's name is the abort reason: the report says what stopped it, the exit status
  // too. Caught from here on, so a Ctrl-C while the store opens still ends with a report.
  const controller = new AbortController();
  const onInt = (): void => controller.abort('SIGINT');
  const onTerm = (): void => controller.abort('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    // The target policy when asked for, the history, and the audit and history rows.
    const recorded = await prepareRun(request.target, request, config, process.env, (t) => process.stderr.write(t));
    const report = await run(request.target, {
      ...recorded.options,
      ...(request.vantage !== undefined ? { vantage: request.vantage } : {}),
      ...(request.budgetMs !== undefined ? { budgetMs: request.budgetMs } : {}),
      extrasMs: request.waitAll ? (request.budgetMs ?? 15_000) : 0,
      ...(config ? { config } : {}),
      ...(request.from !== undefined ? { from: request.from } : {}),
      ...(request.probeUser !== undefined ? { probeUser: request.probeUser } : {}),
      signal: controller.signal,
      onEvent: (event) => {
        progress?.onEvent(event);
        if (request.events) process.stdout.write(`${JSON.stringify(event)}\n`);
      },
      log: (message) => process.stderr.write(`sshcheck: ${message}\n`),
    }).catch((err: unknown) => {
      recorded.done({ error: err });
      progress?.close();
      throw err;
    });
    recorded.done({ report });
    progress?.close();
    if (!request.events) process.stdout.write(request.json ? `${JSON.stringify(report, null, 2)}\n` : request.brief ? briefLine(report) : renderReport(report, { color }));
    return exitForReport(report);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

/** Resolves when stdout has flushed what it queued, or is gone (a closed pipe must not hang the fleet). */
function stdoutDrained(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.stdout.off('drain', done);
      process.stdout.off('close', done);
      process.stdout.off('error', done);
      resolve();
    };
    process.stdout.on('drain', done);
    process.stdout.on('close', done);
    process.stdout.on('error', done);
  });
}

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  // Subcommands come first; a host literally named "bot" or "serve" is checked with `sshcheck -- bot`.
  if (argv[0] === 'bot' && argv.length === 1) {
    const { runBot } = await import('./bot.js');
    return runBot(process.env, { stderr: (t) => process.stderr.write(t), stopSignal: stopSignal() });
  }
  if (argv[0] === 'serve') {
    const { runServe } = await import('../service/serve.js');
    return runServe(argv.slice(1), process.env, { version: version(), stderr: (t) => process.stderr.write(t), stopSignal: stopSignal(), onReload: (handler) => process.on('SIGHUP', handler) });
  }
  if (argv[0] === 'agent') {
    const { runAgent } = await import('./agent.js');
    return runAgent(argv.slice(1), process.env, { stderr: (t) => process.stderr.write(t), stopSignal: stopSignal() });
  }
  if (argv[0] === 'history') {
    const { runHistory } = await import('./history.js');
    return runHistory(argv.slice(1), process.env, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  }
  if (argv[0] === 'audit') {
    const { runAudit } = await import('./audit.js');
    return runAudit(argv.slice(1), process.env, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  }
  if (argv[0] === 'explain') {
    const { runExplain } = await import('./explain.js');
    return runExplain(argv.slice(1));
  }
  if (argv[0] === 'watch') {
    // A signal ends the watch with its last state, not the process in the middle of a line.
    const { runWatch } = await import('./watch.js');
    return await untilSignal((signal) => runWatch(argv.slice(1), process.env, { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), signal }));
  }
  if (argv[0] === 'completion' && argv.length === 2 && (argv[1] === 'bash' || argv[1] === 'zsh')) {
    const [{ USAGE }, { bashCompletion, zshCompletion }] = await Promise.all([import('./args.js'), import('./usage-doc.js')]);
    process.stdout.write(argv[1] === 'bash' ? bashCompletion(USAGE) : zshCompletion(USAGE));
    return 0;
  }
  if (argv[0] === 'discord' && argv[1] === 'register') {
    const { runDiscordRegister } = await import('./bot.js');
    return runDiscordRegister(argv.slice(2), process.env, { stderr: (t) => process.stderr.write(t), stdout: (t) => process.stdout.write(t) });
  }
  // A subcommand's name with arguments it does not take: its usage, not a check of that host.
  const misuse = subcommandMisuse(argv);
  if (misuse !== undefined) {
    process.stderr.write(`sshcheck: ${argv[0] ?? ''} does not take these arguments\n${misuse}\n`);
    return EXIT.usage;
  }
  let request;
  try {
    request = parseCli(argv, process.env);
  } catch (err) {
    if (isSshcheckError(err)) {
      process.stderr.write(`sshcheck: ${err.message}\n`);
      return EXIT.usage;
    }
    throw err;
  }
  if (request.command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.healthy;
  }
  if (request.command === 'version') {
    process.stdout.write(`sshcheck ${version()}\n`);
    return EXIT.healthy;
  }
  try {
    if (request.command === 'fleet') {
      const { runFleetCommand } = await import('./fleet.js');
      return await untilSignal(async (signal) => {
        const code = await runFleetCommand(request, { stdout: (t) => process.stdout.write(t), drained: () => stdoutDrained(), stderr: (t) => process.stderr.write(t), signal });
        // A fleet cut short by a signal has no verdict for the hosts it did not finish.
        return signal.aborted && code !== EXIT.engine ? exitForSignal(String(signal.reason)) : code;
      });
    }
    if (request.nats !== undefined || request.via !== undefined) {
      const { remoteCheck } = await import('./remote.js');
      return await remoteCheck(request, process.env);
    }
    return await check(request);
  } catch (err) {
    // A target the policy refuses is bad input: nothing was probed.
    if (isSshcheckError(err) && (err.code === 'E_USAGE' || err.code === 'E_POLICY' || err.code === 'E_BUDGET')) {
      process.stderr.write(`sshcheck: ${err.message}\n`);
      return EXIT.usage;
    }
    const message = errorMessage(err);
    process.stderr.write(`sshcheck: the engine failed: ${message}\n`);
    return EXIT.engine;
  }
}

/**
 * Runs `work` with SIGINT and SIGTERM turned into an abort of its signal (the reason is the
 * signal's name), so a long command ends with what it has, not in the middle of a line.
 */
async function untilSignal<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onInt = (): void => controller.abort('SIGINT');
  const onTerm = (): void => controller.abort('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
