// The body of POST /v1/checks, validated with the same rules as the command line (target,
// port and user parsing from the engine). Pure: JSON text in, a Target or an error naming
// the field out.
import { isIP } from 'node:net';
import { errorMessage } from '../errors.js';
import type { Target } from '../target.js';
import { parsePort, parseTarget, parseUser, printable } from '../target.js';

/** Request bodies are tiny ({"target":"db-3"}); anything much bigger is not ours. */
export const MAX_BODY_BYTES = 4096;

export const CHECK_BODY_HELP = 'send {"target": "db-3", "port": 22, "user": "sshcheck", "from": "203.0.113.7"} (port, user and from are optional)';

export class RequestError extends Error {
  constructor(
    readonly status: 400 | 413 | 415,
    readonly field: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

const FIELDS = new Set(['target', 'port', 'user', 'from']);

/** A validated request: what to check, and the requester's address to check against the target's bans. */
export interface CheckBody {
  target: Target;
  from?: string;
}

function fieldError(field: string, err: unknown): RequestError {
  const message = errorMessage(err);
  return new RequestError(400, field, `${field}: ${message}`);
}

export function parseCheckBody(text: string, contentType: string | undefined): CheckBody {
  if (contentType !== undefined && !/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new RequestError(415, undefined, `the body must be JSON (Content-Type: application/json): ${CHECK_BODY_HELP}`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, undefined, `the body is not valid JSON (${errorMessage(err)}): ${CHECK_BODY_HELP}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RequestError(400, undefined, `the body must be a JSON object: ${CHECK_BODY_HELP}`);
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!FIELDS.has(key)) throw new RequestError(400, printable(key, 40), `${printable(key, 40)}: unknown field; the fields are target, port, user and from`);
  }
  return checkFields(record);
}

export const PROBE_QUERY_HELP = 'ask GET /probe?target=db-3 (and optionally &port=2222); Prometheus sets target by relabelling (docs/deploy.md)';
const PROBE_PARAMS = new Set(['target', 'port']);

/**
 * GET /probe's query, validated with the same rules as a POST body. Each parameter at most
 * once: a scrape config that sends two targets is wrong, not a choice to make here.
 */
export function parseProbeQuery(query: URLSearchParams): CheckBody {
  const record: Record<string, string> = {};
  for (const [key, value] of query) {
    const name = printable(key, 40);
    if (!PROBE_PARAMS.has(key)) throw new RequestError(400, name, `${name}: unknown parameter; the parameters are target and port: ${PROBE_QUERY_HELP}`);
    if (key in record) throw new RequestError(400, name, `${name}: given more than once; give it once`);
    record[key] = value;
  }
  if (record.target === undefined || record.target === '') throw new RequestError(400, 'target', `target: required: ${PROBE_QUERY_HELP}`);
  return checkFields(record);
}

function checkFields(record: Record<string, unknown>): CheckBody {
  const { target, port, user, from } = record;
  let fromAddress: string | undefined;
  if (from !== undefined) {
    if (typeof from !== 'string' || isIP(from) === 0) throw new RequestError(400, 'from', 'from: the requester\'s IP address, such as "203.0.113.7"');
    fromAddress = from.toLowerCase();
  }
  if (typeof target !== 'string') throw new RequestError(400, 'target', `target: required, a string such as "db-3", "ops@db-3:2222" or "10.0.0.5"`);
  const overrides: { port?: number; user?: string } = {};
  if (port !== undefined) {
    if (typeof port !== 'number' && typeof port !== 'string') throw new RequestError(400, 'port', 'port: a number from 1 to 65535');
    try {
      overrides.port = parsePort(port);
    } catch (err) {
      throw fieldError('port', err);
    }
  }
  if (user !== undefined) {
    if (typeof user !== 'string') throw new RequestError(400, 'user', 'user: a login name such as "ops"');
    try {
      overrides.user = parseUser(user);
    } catch (err) {
      throw fieldError('user', err);
    }
  }
  try {
    const parsed = parseTarget(target, overrides);
    return fromAddress === undefined ? { target: parsed } : { target: parsed, from: fromAddress };
  } catch (err) {
    // A conflict ("port given twice") is about the port or user field as much as the target.
    throw fieldError('target', err);
  }
}
