// A don't-fragment echo sweep: which packet sizes cross the path to the target. An MTU
// blackhole (large packets lost, no "fragmentation needed" coming back) lets ssh connect and
// exchange banners, then stall at key exchange; this shows the size where replies stop.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { ProbeContext } from './context.js';
import { parsePing } from './parse-ping.js';
import { echoArguments, wholeSeconds } from './ping.js';
import { boundedSpawn, spawnProblem } from './spawn.js';
import type { MtuObs } from '../observations.js';

const MAX_OUTPUT_BYTES = 16 * 1024;
const MAX_SIZES = 12;
/**
 * A size's ping is stopped this long after its reply window (-W). 300 ms would save most of
 * the second that `ping -c 1 -W 1` lingers on a lost echo, but on a bastion at load 20 a
 * ping may not even have sent its echo by then: small sizes would read "no reply" and the
 * blackhole go unseen. Accuracy first: a full second.
 */
const ECHO_MARGIN_MS = 1000;

type MtuProbe = MtuObs['probes'][number];

/** IPv4 header + ICMP header = 28 bytes; IPv6 header + ICMPv6 header = 48. */
export function headerBytes(address: string): number {
  return isIP(address) === 6 ? 48 : 28;
}

/**
 * Echoes per size. With one, a single packet lost at random (5 % loss) on the largest size
 * reads as "larger packets vanish", a blackhole that is not there (2 of 20 lossy TCP-wrappers
 * runs said kex-stall); a size counts as lost only when both of its echoes are (0.25 %).
 * Each echo is a ping of its own, all at once: one `ping -c 2` whose first echo is lost holds
 * its second back until the first's reply window is over (iputils 20221126: a lost size took
 * 3 s with -W 1 where one echo takes 1 s), which made the whole sweep wait 2.2 s.
 */
const ECHOES_PER_SIZE = 2;

/** A don't-fragment echo whose IP packet is exactly `mtu` bytes. */
export function mtuPingArguments(address: string, mtu: number, waitS: number): string[] {
  return echoArguments({ address, count: 1, waitS, packetSize: mtu - headerBytes(address), flags: ['-M', 'do'] });
}

/**
 * A line of a DF ping that decides its size: a reply, "fragmentation needed", an ICMP error, or
 * the packet dropped on the way out (ENOBUFS from a smaller next hop). After one of these ping
 * has nothing more to say about the size but still lingers (2 s after an ENOBUFS with -W 1).
 */
export function decidesSize(text: string): boolean {
  const outcome = mtuOutcome(0, [text]);
  return outcome.outcome !== 'no-reply' || outcome.detail !== undefined;
}

/** One size's outcome from its echoes: a reply from any wins, then "fragmentation needed", then silence; errors last. */
export function mergeEchoes(outcomes: readonly MtuProbe[]): MtuProbe | undefined {
  const rank = (o: MtuProbe): number => ({ reply: 0, 'frag-needed': 1, 'no-reply': 2, error: 3 })[o.outcome];
  return [...outcomes].sort((a, b) => rank(a) - rank(b))[0];
}

/** `ip route get` output: the outgoing device, and a route or cached path MTU when shown. */
export function parseRouteGet(text: string): { dev?: string; mtu?: number } {
  const result: { dev?: string; mtu?: number } = {};
  const dev = /\bdev (\S+)/.exec(text);
  // Interface names are at most 15 characters and never contain '/' (they become a path).
  if (dev?.[1] !== undefined && /^[A-Za-z0-9_.:@-]{1,15}$/.test(dev[1]) && dev[1] !== '.' && dev[1] !== '..') result.dev = dev[1];
  const mtu = /\bmtu (\d+)/.exec(text);
  if (mtu) result.mtu = Number(mtu[1]);
  return result;
}

/** Judges one probe from ping's lines. */
export function mtuOutcome(mtu: number, lines: readonly string[]): MtuProbe {
  const parsed = parsePing(lines);
  if (parsed.received > 0) return { mtu, outcome: 'reply' };
  const frag = parsed.errors.find((e) => e.kind === 'frag-needed');
  if (frag) return { mtu, outcome: 'frag-needed', detail: `${frag.from}: ${frag.text}` };
  const tooLong = parsed.localErrors.find((t) => /message too long/.test(t));
  // The bastion refused to send it: its own interface, or a path MTU it has already learnt.
  if (tooLong) return { mtu, outcome: 'frag-needed', detail: `local: ${tooLong}` };
  // The next device dropped it for size and the kernel said so (ENOBUFS from a veth or
  // tunnel whose MTU is smaller): the packet is lost exactly as in a blackhole further on.
  const dropped = parsed.localErrors.find((t) => /No buffer space available/.test(t));
  if (dropped) return { mtu, outcome: 'no-reply', detail: `dropped on the way out: ${dropped}` };
  const other = parsed.errors[0];
  if (other) return { mtu, outcome: 'error', detail: `${other.from}: ${other.text}` };
  const local = parsed.localErrors[0];
  if (local) return { mtu, outcome: 'error', detail: local };
  if (parsed.unavailable !== undefined) return { mtu, outcome: 'error', detail: parsed.unavailable };
  return { mtu, outcome: 'no-reply' };
}

async function localMtu(address: string, ctx: ProbeContext): Promise<number | undefined> {
  // "to" marks the next word as the destination (iproute2 has no `--` there); the address
  // is a validated IP literal anyway.
  const run = await boundedSpawn({ command: 'ip', args: ['route', 'get', 'to', address], ctx, maxBytes: 4096, timeoutMs: 2000 });
  if (run.exitCode !== 0) return undefined;
  const route = parseRouteGet(run.stdout);
  if (route.dev === undefined) return undefined;
  try {
    const text = await readFile(`/sys/class/net/${route.dev}/mtu`, { encoding: 'utf8', signal: ctx.signal });
    const mtu = Number(text.trim());
    return Number.isInteger(mtu) && mtu > 0 ? mtu : undefined;
  } catch {
    return undefined;
  }
}

export interface ProbeMtuOptions {
  address: string;
  /** Packet sizes to try, e.g. [1500, 1400, 1280, 1200, 1000, 800, 576]. */
  mtus: number[];
  waitS: number;
}

export async function probeMtu(opts: ProbeMtuOptions, ctx: ProbeContext): Promise<MtuObs> {
  const startedMs = ctx.now();
  const obs: MtuObs = { state: 'running', startedMs, address: opts.address, probes: [] };
  const done = (extra: Partial<MtuObs>): MtuObs => ({ ...obs, ...extra, state: 'done', endedMs: ctx.now(), ...(ctx.signal.aborted ? { aborted: true } : {}) });
  if (isIP(opts.address) === 0) return done({ unavailable: 'not an IP address' });

  const minimum = headerBytes(opts.address) + 8;
  const sizes = [...new Set(opts.mtus.filter((m) => Number.isInteger(m) && m >= minimum && m <= 65535))].slice(0, MAX_SIZES);
  // All sizes and their echoes at once: the sweep must not take sizes × wait. They start one
  // per event-loop turn, so that what the other probes receive meanwhile is read between two
  // spawns (each holds the loop tens of ms), not after all of them.
  const pings: Array<Promise<{ size: number; run: Awaited<ReturnType<typeof boundedSpawn>> }>> = [];
  const route = localMtu(opts.address, ctx);
  for (let echo = 0; echo < ECHOES_PER_SIZE; echo += 1) {
    for (const size of sizes) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      pings.push(
        boundedSpawn({
          command: 'ping',
          args: mtuPingArguments(opts.address, size, opts.waitS),
          ctx,
          maxBytes: MAX_OUTPUT_BYTES,
          timeoutMs: wholeSeconds(opts.waitS) * 1000 + ECHO_MARGIN_MS,
          settledBy: (line) => decidesSize(line.text),
        }).then((run) => ({ size, run })),
      );
    }
  }
  const [mtu, runs] = await Promise.all([route, Promise.all(pings)]);

  const result: Partial<MtuObs> = {};
  if (mtu !== undefined) result.localMtu = mtu;
  const problem = runs.map(({ run }) => spawnProblem('ping', run)).find((p) => p !== undefined);
  if (problem !== undefined) return done({ ...result, unavailable: problem });
  const probes: MtuProbe[] = [];
  let unavailable: string | undefined;
  for (const size of sizes) {
    const echoes = runs.filter((r) => r.size === size && !r.run.aborted).map(({ run }) => run.lines.map((l) => l.text));
    for (const lines of echoes) unavailable ??= parsePing(lines).unavailable;
    const merged = mergeEchoes(echoes.map((lines) => mtuOutcome(size, lines)));
    if (merged) probes.push(merged);
  }
  if (unavailable !== undefined) result.unavailable = unavailable;
  return done({ ...result, probes });
}
