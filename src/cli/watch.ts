// `sshcheck watch <host> [--every 30s] [--for 1h]`: the host checked again on a schedule from
// this machine, one line on stdout when the diagnosis changes ("recovered at 10:14 after
// 9 min port-filtered"), until the duration ends or Ctrl-C. Each check is a CLI run like any
// other: the same target policy, the same connection budget in the store (a spent budget
// gives the newest result again, and the watch says so), one audit and history row each.
// The schedule and the wording are src/chat/watch.ts; this file does the I/O.
import type { EngineConfig } from '../config/engine-config.js';
import { findEngineConfig } from '../config/engine-config.js';
import { isSshcheckError, SshcheckError, errorMessage } from '../errors.js';
import type { Report } from '../engine/report.js';
import { run } from '../engine/run.js';
import { printable } from '../target.js';
import { targetLabel } from '../target.js';
import type { ClockText, StopReason, WatchLimits, WatchProgress } from '../chat/watch.js';
import { changeText, expired, nextDueMs, observe, spanText, startProgress, stateText, stopText, WATCH_LIMITS } from '../chat/watch.js';
import { parseSpan, watchSpans } from '../chat/watch-grammar.js';
import type { CheckRequest } from './args.js';
import { parseCli } from './args.js';
import { EXIT } from './exit.js';
import { prepareRun } from './record.js';
import { terminalSafe } from './render-text.js';

type Env = Readonly<Record<string, string | undefined>>;

export const WATCH_USAGE = 'Usage: sshcheck watch [options] [user@]host[:port] [--every 30s] [--for 1h]\n  checks the host again on a schedule; prints a line when the diagnosis changes; Ctrl-C stops it';

export interface WatchIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Aborted by SIGINT/SIGTERM: the running check stops, the watch prints its last state. */
  signal: AbortSignal;
}

export interface WatchRequest {
  check: CheckRequest;
  everyMs: number;
  forMs: number;
}

/**
 * Test-only: the lab test cannot wait real minutes, so these two variables lower the shortest
 * interval and the longest duration. Nothing else reads them; they never raise a limit.
 */
export function watchLimitsFromEnv(env: Env): WatchLimits {
  const lower = (name: string, value: number): number => {
    const text = env[name];
    if (text === undefined) return value;
    const n = Number(text);
    return /^[0-9]{1,9}$/.test(text) && n > 0 ? Math.min(value, n) : value;
  };
  return { ...WATCH_LIMITS, minEveryMs: lower('SSHCHECK_TEST_WATCH_MIN_EVERY_MS', WATCH_LIMITS.minEveryMs), maxForMs: lower('SSHCHECK_TEST_WATCH_MAX_FOR_MS', WATCH_LIMITS.maxForMs) };
}

/** Takes --every and --for out of argv; the rest is a single check as `sshcheck` reads it. Pure. */
export function parseWatchArgs(argv: readonly string[], env: Env, limits: WatchLimits): WatchRequest {
  const rest: string[] = [];
  let every: number | undefined;
  let forMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const m = /^--(every|for)(?:=(.*))?$/.exec(arg);
    if (!m) {
      rest.push(arg);
      if (arg === '--') rest.push(...argv.slice(i + 1));
      if (arg === '--') break;
      continue;
    }
    const name = m[1] === 'every' ? 'every' : 'for';
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new SshcheckError('E_USAGE', `--${name} needs a time like 30s, 5m or 2h`);
    const span = parseSpan(value, `--${name}`);
    if ((name === 'every' ? every : forMs) !== undefined) throw new SshcheckError('E_USAGE', `--${name} given twice`);
    if (name === 'every') every = span;
    else forMs = span;
  }
  const parsed = parseCli(rest, env);
  if (parsed.command === 'help' || parsed.command === 'version') throw new SshcheckError('E_USAGE', WATCH_USAGE);
  if (parsed.command === 'fleet') throw new SshcheckError('E_USAGE', 'sshcheck watch watches one host: give a single host');
  const refused = (['json', 'brief', 'events', 'waitAll'] as const).find((o) => parsed[o] === true);
  if (refused !== undefined) throw new SshcheckError('E_USAGE', `--${refused === 'waitAll' ? 'wait-all' : refused} is for a single check; a watch prints one line per change`);
  if (parsed.nats !== undefined || parsed.via !== undefined) throw new SshcheckError('E_USAGE', 'sshcheck watch probes from this machine: --nats and --via are for a single check');
  return { check: parsed, ...watchSpans(every, forMs, limits) };
}

/** Local wall-clock time to the second: a terminal watch runs minutes, not days. */
const localClock: ClockText = (ms) => new Date(ms).toTimeString().slice(0, 8);
const bare = (cause: string): string => cause;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

async function checkOnce(request: CheckRequest, config: EngineConfig | undefined, env: Env, io: WatchIo): Promise<Report> {
  const recorded = await prepareRun(request.target, request, config, env, io.stderr);
  try {
    const report = await run(request.target, {
      ...recorded.options,
      ...(request.vantage !== undefined ? { vantage: request.vantage } : {}),
      ...(request.budgetMs !== undefined ? { budgetMs: request.budgetMs } : {}),
      extrasMs: 0,
      ...(config ? { config } : {}),
      ...(request.from !== undefined ? { from: request.from } : {}),
      ...(request.probeUser !== undefined ? { probeUser: request.probeUser } : {}),
      signal: io.signal,
      log: (message) => io.stderr(`sshcheck: ${message}\n`),
    });
    recorded.done({ report });
    return report;
  } catch (err) {
    recorded.done({ error: err });
    throw err;
  }
}

/** The exit status of a watch: its last state's, as a single check would exit with it. */
function exitFor(progress: WatchProgress, signal: AbortSignal): number {
  const cause = progress.current?.cause;
  if (cause === undefined) return signal.aborted ? (signal.reason === 'SIGTERM' ? EXIT.sigterm : EXIT.sigint) : EXIT.undecided;
  return cause === 'healthy' ? EXIT.healthy : EXIT.problem;
}

export async function runWatch(argv: readonly string[], env: Env, io: WatchIo, now: () => number = Date.now): Promise<number> {
  let request: WatchRequest;
  let config: EngineConfig | undefined;
  try {
    request = parseWatchArgs(argv, env, watchLimitsFromEnv(env));
    config = findEngineConfig(request.check.configPath, {});
  } catch (err) {
    if (!isSshcheckError(err)) throw err;
    io.stderr(`sshcheck watch: ${err.message}\n${err.message === WATCH_USAGE ? '' : `${WATCH_USAGE}\n`}`);
    return EXIT.usage;
  }
  const { check } = request;
  const quiet = check.quiet;
  let progress = startProgress(now(), request.everyMs, request.forMs);
  io.stdout(`sshcheck watch ${terminalSafe(targetLabel(check.target))}: every ${spanText(request.everyMs)} for ${spanText(request.forMs)}, until ${localClock(progress.endsMs)} (Ctrl-C stops it)\n`);
  let stop: StopReason = { kind: 'expired' };
  for (;;) {
    if (io.signal.aborted) {
      stop = { kind: 'stopped', by: String(io.signal.reason ?? 'a signal') === 'SIGTERM' ? 'SIGTERM' : 'Ctrl-C' };
      break;
    }
    if (expired(progress, now())) break;
    let report: Report;
    try {
      report = await checkOnce(check, config, env, io);
    } catch (err) {
      // A refused target is bad input (nothing probed); anything else ends the watch as the engine's failure.
      const message = errorMessage(err);
      if (isSshcheckError(err) && (err.code === 'E_USAGE' || err.code === 'E_POLICY' || err.code === 'E_BUDGET')) {
        io.stderr(`sshcheck watch: ${message}\n`);
        return EXIT.usage;
      }
      io.stderr(`sshcheck watch: the engine failed: ${printable(message, 500)}\n`);
      return EXIT.engine;
    }
    const at = now();
    const seen = observe(progress, report, at);
    progress = seen.progress;
    const summary = terminalSafe(report.diagnosis.summary);
    if (seen.kind === 'first') io.stdout(`${localClock(at)}  ${stateText(progress, at, localClock, bare)}: ${summary}\n`);
    else if (seen.kind === 'change') io.stdout(`${localClock(at)}  ${changeText(seen.change, localClock, bare)}${seen.change.to.cause === 'healthy' ? '' : `: ${summary}`}\n`);
    else if (!quiet && !io.signal.aborted) io.stderr(`${localClock(at)}  check ${progress.checks}: ${report.diagnosis.cause}, no change${progress.lastNote !== undefined ? ` (${terminalSafe(progress.lastNote)})` : ''}\n`);
    const due = nextDueMs(progress, now());
    // The last check before the end is the last one: no check starts after the duration.
    if (due >= progress.endsMs) {
      await sleep(Math.max(0, progress.endsMs - now()), io.signal);
      if (io.signal.aborted) continue;
      break;
    }
    await sleep(due - now(), io.signal);
  }
  io.stdout(`${stopText(stop, progress, now(), localClock, bare)}\n`);
  return exitFor(progress, io.signal);
}
