// What bot and agents say to each other over NATS. Subjects carry the bastion name, so the
// broker's permissions can fence each agent to its own bastion (docs/deploy.md):
//   sshcheck.check.<bastion>            a check for any agent of the bastion (queue group)
//   sshcheck.check.<bastion>.<agent>    a check for one agent (a retry on a twin)
//   sshcheck.agents.<bastion>           an agent declares itself (every few seconds, and on stop)
//   sshcheck.discover                   a bot asks every agent to declare itself now
// A check's body is the engine service's POST /v1/checks body (service/request.ts): the
// agent validates it with the same rules. Everything the agent says about that check goes
// to the request's reply subject, so the agent needs no publish right but "reply": accepted,
// the run's events (one a message, or a batch a message to a bot that asks with
// BATCH_HEADER), a heartbeat each second, and refused or failed.
// Pure: subjects, and JSON in and out with every field checked.
import type { ProgressEvent } from '../engine/report.js';

export const PROTOCOL = 'sshcheck/nats@1';
export const DISCOVER_SUBJECT = 'sshcheck.discover';
/** A running agent says it is alive this often on every check it serves. */
export const HEARTBEAT_MS = 1_000;
/** An agent silent this long on a check is taken for dead (the bound is 5 s). */
export const DEAD_AFTER_MS = 3_000;
/**
 * A silent agent is asked whether it is still connected: a message with this header on its
 * own subject, which it ignores. The broker answers "no responders" at once when the agent's
 * connection is gone; silence means the connection lives and the agent is only slow.
 */
export const PING_HEADER = 'Sshcheck-Ping';
/**
 * A check whose request carries this header (value "1") gets its events in batches: the
 * events the engine's process handed over together (engine/outbox.ts), in one message
 * (`t: 'events'`). An agent
 * that does not know the header sends them one by one, which the bot still reads; a bot
 * that does not send it gets them one by one from any agent.
 */
export const BATCH_HEADER = 'Sshcheck-Batch';
/** Events in one batch at most (a run makes about 40 in all). */
export const MAX_BATCH_EVENTS = 256;
/** How long to wait for the broker's "no responders" before taking a silent agent for alive. */
export const PING_WAIT_MS = 1_000;
/** A connected agent may be silent this long (a starved event loop) before the check is given up on it. */
export const SLOW_LIMIT_MS = 30_000;
/** Agents re-declare themselves this often; a bot forgets one not heard for 3 periods. */
export const ANNOUNCE_MS = 5_000;

/** A bastion's or an agent's name: one subject token, and what people type after "via". */
export const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function checkSubject(bastion: string, agent?: string): string {
  return agent === undefined ? `sshcheck.check.${bastion}` : `sshcheck.check.${bastion}.${agent}`;
}

export function agentsSubject(bastion: string): string {
  return `sshcheck.agents.${bastion}`;
}

export const AGENTS_WILDCARD = 'sshcheck.agents.*';

/** The queue group the agents of one bastion share. */
export function queueGroup(bastion: string): string {
  return `sshcheck-${bastion}`;
}

/** What an agent declares: who it is and which targets its bastion is the one for. */
export interface Declaration {
  bastion: string;
  agent: string;
  /** CIDRs (text) and name suffixes from the allow entries of its engine config's policy. */
  cidrs: string[];
  suffixes: string[];
  /** false: the agent is stopping; forget it now. */
  up: boolean;
}

/** The agent's messages on a check's reply subject. */
export type AgentMessage =
  | { t: 'accepted'; agent: string; bastion: string; outcome: 'started' | 'joined' | 'reused'; ageMs?: number }
  | { t: 'event'; seq: number; event: ProgressEvent }
  /** Events seq, seq + 1, … in order (BATCH_HEADER). */
  | { t: 'events'; seq: number; events: ProgressEvent[] }
  | { t: 'heartbeat'; agent: string }
  | { t: 'refused'; code: 'policy' | 'busy' | 'audit' | 'bad-request' | 'stopping'; message: string }
  | { t: 'failed'; code?: string; message: string };

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const decoder = new TextDecoder();

function parseJson(data: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    throw new ProtocolError(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtocolError(`${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function stringList(value: unknown, max: number): string[] | undefined {
  if (!Array.isArray(value) || value.length > max || !value.every((v) => typeof v === 'string' && v.length <= 255)) return undefined;
  return value as string[];
}

export function encode(value: unknown): string {
  return JSON.stringify(value);
}

export function parseDeclaration(data: Uint8Array): Declaration {
  const o = parseJson(data, 'a declaration');
  const cidrs = stringList(o.cidrs, 256);
  const suffixes = stringList(o.suffixes, 256);
  if (o.v !== PROTOCOL) throw new ProtocolError(`a declaration of another protocol (${JSON.stringify(o.v)?.slice(0, 40)})`);
  if (typeof o.bastion !== 'string' || !NAME_RE.test(o.bastion)) throw new ProtocolError('a declaration without a valid bastion name');
  if (typeof o.agent !== 'string' || !NAME_RE.test(o.agent)) throw new ProtocolError('a declaration without a valid agent name');
  if (!cidrs || !suffixes || typeof o.up !== 'boolean') throw new ProtocolError('a declaration without cidrs, suffixes and up');
  return { bastion: o.bastion, agent: o.agent, cidrs, suffixes, up: o.up };
}

export function encodeDeclaration(d: Declaration): string {
  return encode({ v: PROTOCOL, ...d });
}

function validSeq(seq: unknown): seq is number {
  return typeof seq === 'number' && Number.isInteger(seq) && seq >= 1;
}

/** An event's envelope: a known type, and a run-finished event carries a report. */
function isEvent(value: unknown): value is ProgressEvent {
  if (typeof value !== 'object' || value === null) return false;
  const event = value as { type?: unknown; report?: unknown };
  if (!['run-started', 'step-updated', 'diagnosis', 'run-finished'].includes(String(event.type))) return false;
  return event.type !== 'run-finished' || (typeof event.report === 'object' && event.report !== null);
}

/**
 * One agent message. Events are passed on as the engine made them (the engine's own
 * types); only the envelope is checked here, and a run-finished event must carry a report.
 */
export function parseAgentMessage(data: Uint8Array): AgentMessage {
  const o = parseJson(data, "an agent's message");
  switch (o.t) {
    case 'accepted':
      // Names reach the thread (a lost agent is named there): only well-formed ones are taken.
      if (typeof o.agent !== 'string' || !NAME_RE.test(o.agent) || typeof o.bastion !== 'string' || !NAME_RE.test(o.bastion) || (o.outcome !== 'started' && o.outcome !== 'joined' && o.outcome !== 'reused')) break;
      if (o.ageMs !== undefined && (typeof o.ageMs !== 'number' || !(o.ageMs >= 0))) break;
      return { t: 'accepted', agent: o.agent, bastion: o.bastion, outcome: o.outcome, ...(typeof o.ageMs === 'number' ? { ageMs: o.ageMs } : {}) };
    case 'event': {
      if (!validSeq(o.seq) || !isEvent(o.event)) break;
      return { t: 'event', seq: o.seq, event: o.event };
    }
    case 'events': {
      if (!validSeq(o.seq) || !Array.isArray(o.events) || o.events.length === 0 || o.events.length > MAX_BATCH_EVENTS || !o.events.every(isEvent)) break;
      return { t: 'events', seq: o.seq, events: o.events };
    }
    case 'heartbeat':
      if (typeof o.agent === 'string' && NAME_RE.test(o.agent)) return { t: 'heartbeat', agent: o.agent };
      break;
    case 'refused':
      if (typeof o.message === 'string' && (o.code === 'policy' || o.code === 'busy' || o.code === 'audit' || o.code === 'bad-request' || o.code === 'stopping')) return { t: 'refused', code: o.code, message: o.message.slice(0, 600) };
      break;
    case 'failed':
      if (typeof o.message === 'string') return { t: 'failed', message: o.message.slice(0, 600), ...(typeof o.code === 'string' ? { code: o.code.slice(0, 40) } : {}) };
      break;
  }
  throw new ProtocolError(`an agent's message of an unknown form (t=${JSON.stringify(o.t)?.slice(0, 40)})`);
}
