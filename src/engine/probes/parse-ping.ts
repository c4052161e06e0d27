// iputils `ping -n` output (LC_ALL=C) as a pure function of its lines: replies, the ICMP
// errors routers and the target sent back, local errors, and the summary. Which error came
// back matters more than the loss figure: "Packet filtered" is a firewall, "Destination Host
// Unreachable" is a dead neighbour, silence is either a drop or a dead host.
import { isIP } from 'node:net';
import type { IcmpErrorKind } from '../observations.js';

export interface PingError {
  from: string;
  kind: IcmpErrorKind;
  text: string;
}

export interface PingSummary {
  line: string;
  transmitted: number;
  received: number;
  errors: number;
  duplicates: number;
  lossPercent: number;
  timeMs?: number;
  rtt?: { minMs: number; avgMs: number; maxMs: number; mdevMs: number };
}

export interface PingParse {
  /** From the summary; without one (ping killed), the highest icmp_seq seen. */
  transmitted: number;
  received: number;
  rttsMs: number[];
  errors: PingError[];
  /** What ping reported about its own side (stderr): "local error: message too long, mtu=1000". */
  localErrors: string[];
  /** The smallest MTU reported by a Frag needed / Packet too big error or a local EMSGSIZE. */
  mtu?: number;
  /** ping could not open its ICMP socket (no CAP_NET_RAW and not in ping_group_range). */
  unavailable?: string;
  summary?: PingSummary;
}

const REPLY_RE = /^\d+ bytes from (.+?): icmp_seq=(\d+)(?: ttl=\d+)?(?: time=([\d.]+) ms)?(.*)$/;
const ERROR_RE = /^From (\S+?)(?: \(([^)]+)\))?:? icmp_seq=(\d+) (.+)$/;
const SUMMARY_RE =
  /^(\d+) packets transmitted, (\d+) (?:packets )?received(?:, \+(\d+) duplicates)?(?:, \+(\d+) errors)?, ([\d.]+)% packet loss(?:, time (\d+)ms)?/;
const RTT_RE = /^(?:rtt|round-trip) min\/avg\/max\/(?:mdev|stddev) = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/;
const LOCAL_MTU_RE = /message too long, mtu[=:] ?(\d+)/;
const NO_SOCKET_RE = /socket: (Operation not permitted|Permission denied)|missing cap_net_raw/;
/** Lines ping prints about its own failures: "ping: <what>". */
const LOCAL_RE = /^\S*ping6?: (.+)$/;

// iputils' texts for ICMP and ICMPv6 errors (ping4_common.c / ping6_common.c), first match wins.
const KINDS: Array<[RegExp, IcmpErrorKind]> = [
  [/^Destination Host Unreachable/, 'host-unreachable'],
  [/^Destination Net Unreachable/, 'net-unreachable'],
  [/^Destination Port Unreachable/, 'port-unreachable'],
  [/^Packet filtered/, 'admin-prohibited'],
  [/^Destination Host Prohibited/, 'host-prohibited'],
  // Code 9, "network administratively prohibited": a firewall rule all the same.
  [/^Destination Net Prohibited/, 'admin-prohibited'],
  [/^Frag needed and DF set/, 'frag-needed'],
  [/^Time to live exceeded/, 'time-exceeded'],
  [/^Destination unreachable: No route/, 'net-unreachable'],
  [/^Destination unreachable: Address unreachable/, 'host-unreachable'],
  [/^Destination unreachable: Port unreachable/, 'port-unreachable'],
  [/^Destination unreachable: (Administratively prohibited|Reject route|Source address failed)/, 'admin-prohibited'],
  [/^Packet too big/, 'frag-needed'],
  [/^Time exceeded: Hop limit/, 'time-exceeded'],
];

export function icmpErrorKind(text: string): IcmpErrorKind {
  for (const [re, kind] of KINDS) if (re.test(text)) return kind;
  return 'other';
}

/** The MTU named by "Frag needed and DF set (mtu = 1000)" or "Packet too big: mtu=1280". */
export function icmpMtu(text: string): number | undefined {
  const m = /mtu ?= ?(\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

function printable(text: string, max = 200): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

function parseSummary(line: string): PingSummary | undefined {
  const m = SUMMARY_RE.exec(line);
  if (!m) return undefined;
  const summary: PingSummary = {
    line,
    transmitted: Number(m[1]),
    received: Number(m[2]),
    duplicates: Number(m[3] ?? 0),
    errors: Number(m[4] ?? 0),
    lossPercent: Number(m[5]),
  };
  if (m[6] !== undefined) summary.timeMs = Number(m[6]);
  return summary;
}

/**
 * A local failure as an error kind: no route from the bastion itself, or a packet bigger
 * than the bastion's interface or its cached path MTU.
 */
export function localErrorKind(text: string): IcmpErrorKind {
  if (/Network is unreachable/.test(text)) return 'net-unreachable';
  if (/No route to host|Host is unreachable/.test(text)) return 'host-unreachable';
  if (LOCAL_MTU_RE.test(text)) return 'frag-needed';
  return 'other';
}

export function parsePing(lines: readonly string[]): PingParse {
  const result: PingParse = { transmitted: 0, received: 0, rttsMs: [], errors: [], localErrors: [] };
  let maxSeq = 0;
  const lowerMtu = (mtu: number | undefined): void => {
    if (mtu !== undefined && (result.mtu === undefined || mtu < result.mtu)) result.mtu = mtu;
  };

  for (const raw of lines) {
    const line = raw.trim();
    const reply = REPLY_RE.exec(line);
    if (reply) {
      maxSeq = Math.max(maxSeq, Number(reply[2]));
      // Duplicates are not new answers; iputils leaves them out of "received" too.
      if (reply[4]?.includes('(DUP!)')) continue;
      result.received++;
      if (reply[3] !== undefined) result.rttsMs.push(Number(reply[3]));
      continue;
    }
    const error = ERROR_RE.exec(line);
    if (error) {
      maxSeq = Math.max(maxSeq, Number(error[3]));
      const from = error[2] ?? error[1] ?? '';
      const text = printable(error[4] ?? '');
      const kind = icmpErrorKind(text);
      result.errors.push({ from: isIP(from) !== 0 ? from : printable(from, 64), kind, text });
      if (kind === 'frag-needed') lowerMtu(icmpMtu(text));
      continue;
    }
    const summary = parseSummary(line);
    if (summary) {
      result.summary = summary;
      continue;
    }
    const rtt = RTT_RE.exec(line);
    if (rtt && result.summary) {
      result.summary.rtt = { minMs: Number(rtt[1]), avgMs: Number(rtt[2]), maxMs: Number(rtt[3]), mdevMs: Number(rtt[4]) };
      continue;
    }
    const local = LOCAL_RE.exec(line);
    if (local?.[1] !== undefined) {
      const text = printable(local[1]);
      // "socktype: SOCK_RAW" only says which socket ping tried; the next line says why it failed.
      if (text.startsWith('socktype:')) continue;
      if (NO_SOCKET_RE.test(line)) {
        result.unavailable ??= `ping cannot open an ICMP socket (${text})`;
        continue;
      }
      if (!result.localErrors.includes(text)) result.localErrors.push(text);
      const mtu = LOCAL_MTU_RE.exec(text);
      if (mtu) lowerMtu(Number(mtu[1]));
    }
  }

  result.transmitted = result.summary?.transmitted ?? maxSeq;
  if (result.summary) result.received = result.summary.received;
  return result;
}
