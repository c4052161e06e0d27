// ICMP echo to one address. The arguments come from the `ping` package's builder; the child
// is started by boundedSpawn (the package's own probe() has no kill handle and rewrites
// process.env). Each reply or ICMP error line is passed on at once, so the engine learns
// "the host answers" within milliseconds instead of at the end of the count.
// The small spawn helpers the other spawning probes share (mtu, path, system-resolve) live
// here too: wholeSeconds.
import { isIP } from 'node:net';
import pingFactory from 'ping/lib/builder/factory.js';
import { boundedSpawn, spawnProblem } from './spawn.js';
import type { ProbeContext, Updater } from './context.js';
import { localErrorKind, parsePing } from './parse-ping.js';
import type { PingParse } from './parse-ping.js';
import type { PingObs } from '../observations.js';

const builder = pingFactory.createBuilder('linux');
const MAX_OUTPUT_BYTES = 64 * 1024;
const MAX_COUNT = 20;
/** Below 0.2 s iputils wants privileges; a diagnosis never needs a flood anyway. */
const MIN_INTERVAL_S = 0.2;
const MAX_INTERVAL_S = 5;
const REPLY_OR_ERROR_RE = /^(\d+ bytes from |From )/;

export interface ProbePingOptions {
  address: string;
  count: number;
  intervalS: number;
  waitS: number;
}

/** `ping -W` takes whole seconds in the builder (`%d`): round up, and never 0 (the builder would make that its default, 2). */
export function wholeSeconds(s: number): number {
  return Math.max(1, Math.ceil(Number.isFinite(s) ? s : 1));
}

function familyFlag(address: string): '-4' | '-6' {
  // `ping -4/-6` rather than ping6: the builder would pick ping6 by name, which is not on
  // every system, while iputils' ping handles both families.
  return isIP(address) === 6 ? '-6' : '-4';
}

/** The full argument list; the builder puts the target last, so `--` ends `extra`. */
export function pingArguments(opts: ProbePingOptions): string[] {
  const count = Math.min(MAX_COUNT, Math.max(1, Math.floor(opts.count)));
  const interval = Math.min(MAX_INTERVAL_S, Math.max(MIN_INTERVAL_S, opts.intervalS));
  return builder.getCommandArguments(opts.address, {
    numeric: true,
    timeout: wholeSeconds(opts.waitS),
    min_reply: count,
    extra: [familyFlag(opts.address), '-i', String(Math.round(interval * 1000) / 1000), '--'],
  });
}


function toObs(address: string, parsed: PingParse): Pick<PingObs, 'address' | 'transmitted' | 'received' | 'rttsMs' | 'errors'> {
  // Local failures ("connect: Network is unreachable") are observations too: the bastion
  // itself has no way there. They are listed as errors from "local".
  const local = parsed.localErrors.map((text) => ({ from: 'local', kind: localErrorKind(text), text }));
  return {
    address,
    transmitted: parsed.transmitted,
    received: parsed.received,
    rttsMs: parsed.rttsMs,
    errors: [...parsed.errors, ...local],
  };
}

export async function probePing(opts: ProbePingOptions, ctx: ProbeContext, onUpdate?: Updater<PingObs>): Promise<PingObs> {
  const startedMs = ctx.now();
  const empty: PingObs = { state: 'running', startedMs, address: opts.address, transmitted: 0, received: 0, rttsMs: [], errors: [] };
  if (isIP(opts.address) === 0) return { ...empty, state: 'done', endedMs: ctx.now(), unavailable: 'not an IP address' };

  const args = pingArguments(opts);
  // The count and interval as clamped into the arguments, for the child's own time limit.
  const count = Number(args[args.indexOf('-c') + 1]);
  const intervalS = Number(args[args.indexOf('-i') + 1]);
  const texts: string[] = [];
  const run = await boundedSpawn({
    command: 'ping',
    args,
    ctx,
    maxBytes: MAX_OUTPUT_BYTES,
    // ping ends by itself after the last interval plus -W; the margin covers a slow start.
    timeoutMs: (count - 1) * intervalS * 1000 + wholeSeconds(opts.waitS) * 1000 + 1000,
    onLine: (line) => {
      texts.push(line.text);
      if (onUpdate && REPLY_OR_ERROR_RE.test(line.text)) onUpdate({ ...empty, ...toObs(opts.address, parsePing(texts)) });
    },
  });

  const obs: PingObs = { ...empty, state: 'done', endedMs: run.endedMs, exitCode: run.exitCode };
  const problem = spawnProblem('ping', run);
  if (problem !== undefined) return { ...obs, unavailable: problem };
  const parsed = parsePing(run.lines.map((l) => l.text));
  Object.assign(obs, toObs(opts.address, parsed));
  if (parsed.unavailable !== undefined) obs.unavailable = parsed.unavailable;
  if (run.aborted) obs.aborted = true;
  return obs;
}
