// ICMP echo to one address, with iputils' ping. The argument list is built here (a dozen
// lines, as jsdelivr's globalping-probe does, rather than a deep import into the `ping`
// package), and the options are checked where they enter: a count, interval, wait or size
// ping would refuse or read differently is an E_PROBE_OPTION error, never quietly changed.
// The child is started by boundedSpawn. Each reply or ICMP error line is passed on at once,
// so the engine learns "the host answers" within milliseconds instead of at the end of the
// count. The small spawn helpers the other spawning probes share (mtu, path,
// system-resolve) live here too: wholeSeconds.
import { isIP } from 'node:net';
import { SshcheckError } from '../../errors.js';
import { boundedSpawn, spawnProblem } from './spawn.js';
import type { ProbeContext, Updater } from './context.js';
import { localErrorKind, parsePing } from './parse-ping.js';
import type { PingParse } from './parse-ping.js';
import type { PingObs } from '../observations.js';

const MAX_OUTPUT_BYTES = 64 * 1024;
const MAX_COUNT = 20;
/** Below 0.2 s iputils wants privileges; a diagnosis never needs a flood anyway. */
const MIN_INTERVAL_S = 0.2;
const MAX_INTERVAL_S = 5;
/** Longer than any probe's budget: a wait beyond it is a mistake, not a slow network. */
const MAX_WAIT_S = 60;
/** The largest ICMP payload in an IPv4 packet (65535 - 20 - 8). */
const MAX_PACKET_SIZE = 65_507;
/** iputils' default payload: 56 bytes, 64 with the ICMP header. */
const DEFAULT_PACKET_SIZE = 56;
const REPLY_OR_ERROR_RE = /^(\d+ bytes from |From )/;

export interface ProbePingOptions {
  address: string;
  count: number;
  intervalS: number;
  waitS: number;
}

/** One run of iputils' ping, as echoArguments builds it. */
export interface EchoOptions {
  /** An IP address (a name would make ping resolve it, outside the engine's DNS probes). */
  address: string;
  /** Echo requests to send (-c): a whole number from 1 to 20. */
  count: number;
  /** How long to wait for each reply (-W), in seconds: more than 0, at most 60. */
  waitS: number;
  /** Seconds between requests (-i), from 0.2 to 5; absent: ping's default (1 s). */
  intervalS?: number;
  /** ICMP payload bytes (-s), 0 to 65507; absent: 56. */
  packetSize?: number;
  /** Further fixed flags before `--` ("-M do", "-t 1"); never anything from a person. */
  flags?: readonly string[];
}

/** `ping -W` takes whole seconds on older iputils: round up, and never 0. */
export function wholeSeconds(s: number): number {
  return Math.max(1, Math.ceil(Number.isFinite(s) ? s : 1));
}

/** -W as ping takes it: whole seconds from 1 s up, a fraction below (iputils 20221126 takes a real number). */
function waitArgument(s: number): string {
  return s >= 1 ? String(wholeSeconds(s)) : String(Math.max(0.001, Math.round(s * 1000) / 1000));
}

function refuse(what: string): never {
  throw new SshcheckError('E_PROBE_OPTION', `ping: ${what}`);
}

function inRange(value: number, min: number, max: number): boolean {
  return Number.isFinite(value) && value >= min && value <= max;
}

/**
 * The argument list for iputils' ping: numeric output, the family flag (`-4`/`-6` rather
 * than ping6, which is not on every system), and `--` before the target. Throws
 * SshcheckError E_PROBE_OPTION for options ping would refuse or read otherwise.
 */
export function echoArguments(opts: EchoOptions): string[] {
  const family = isIP(opts.address);
  if (family === 0) refuse('the target must be an IP address');
  if (!Number.isInteger(opts.count) || !inRange(opts.count, 1, MAX_COUNT)) refuse(`count ${String(opts.count)} is not a whole number from 1 to ${MAX_COUNT}`);
  if (!(opts.waitS > 0) || !inRange(opts.waitS, 0, MAX_WAIT_S)) refuse(`wait ${String(opts.waitS)} s is not more than 0 and at most ${MAX_WAIT_S}`);
  if (opts.intervalS !== undefined && !inRange(opts.intervalS, MIN_INTERVAL_S, MAX_INTERVAL_S)) refuse(`interval ${String(opts.intervalS)} s is not from ${MIN_INTERVAL_S} to ${MAX_INTERVAL_S} (below ${MIN_INTERVAL_S} s ping needs privileges)`);
  const size = opts.packetSize ?? DEFAULT_PACKET_SIZE;
  if (!Number.isInteger(size) || !inRange(size, 0, MAX_PACKET_SIZE)) refuse(`packet size ${String(size)} is not a whole number from 0 to ${MAX_PACKET_SIZE}`);
  return [
    '-n',
    '-W', waitArgument(opts.waitS),
    '-c', String(opts.count),
    '-s', String(size),
    family === 6 ? '-6' : '-4',
    ...(opts.intervalS !== undefined ? ['-i', String(Math.round(opts.intervalS * 1000) / 1000)] : []),
    ...(opts.flags ?? []),
    '--',
    opts.address,
  ];
}

/** The echo probe's argument list (see echoArguments for what is refused). */
export function pingArguments(opts: ProbePingOptions): string[] {
  return echoArguments({ address: opts.address, count: opts.count, waitS: opts.waitS, intervalS: opts.intervalS });
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
  const texts: string[] = [];
  const run = await boundedSpawn({
    command: 'ping',
    args,
    ctx,
    maxBytes: MAX_OUTPUT_BYTES,
    // ping ends by itself after the last interval plus -W; the margin covers a slow start.
    timeoutMs: (opts.count - 1) * opts.intervalS * 1000 + wholeSeconds(opts.waitS) * 1000 + 1000,
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
