// Bearer tokens of the engine service. Several may be valid at once, so a token can be
// rotated without downtime: add the new one, move the bots over, remove the old one (and
// send SIGHUP to reload the file). Comparison is constant time: both sides are hashed to
// equal-length SHA-256 digests and compared with timingSafeEqual against every valid token,
// without stopping at the first match, so timing tells nothing about how much matched.
import { hash, timingSafeEqual } from 'node:crypto';
import { errorMessage } from '../errors.js';

export const MIN_TOKEN_LENGTH = 16;
const TOKEN_RE = /^[\x21-\x7e]+$/;
const GENERATE = 'generate one with: openssl rand -hex 32';

type Env = Readonly<Record<string, string | undefined>>;

/** One-shot: half the cost of a Hash object per request, and no object to collect (Node >= 20.12). */
function digest(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/**
 * Token lines: one per line; blank lines and "#" comments are ignored. Throws with the
 * line number (never the token) when a token is malformed.
 */
export function parseTokenLines(text: string, source: string): string[] {
  const tokens: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (!TOKEN_RE.test(line)) throw new Error(`${source}:${i + 1}: a token is one word of printable ASCII (no spaces); ${GENERATE}`);
    if (line.length < MIN_TOKEN_LENGTH) throw new Error(`${source}:${i + 1}: a token must be at least ${MIN_TOKEN_LENGTH} characters long; ${GENERATE}`);
    tokens.push(line);
  });
  return tokens;
}

export interface TokenSource {
  /** Every valid token (the union of the variable and the file). */
  tokens: string[];
  /** The file to re-read on SIGHUP, when one is configured. */
  file?: string;
}

/** SSHCHECK_SERVICE_TOKENS (one per line, or separated by commas) and/or the file SSHCHECK_SERVICE_TOKENS_FILE. */
export function tokensFromEnv(env: Env, read: (path: string) => string): TokenSource {
  const direct = env.SSHCHECK_SERVICE_TOKENS;
  const file = env.SSHCHECK_SERVICE_TOKENS_FILE?.trim();
  const tokens: string[] = [];
  if (direct !== undefined && direct.trim() !== '') tokens.push(...parseTokenLines(direct.replace(/,/g, '\n'), 'SSHCHECK_SERVICE_TOKENS'));
  if (file) {
    let text: string;
    try {
      text = read(file);
    } catch (err) {
      throw new Error(`cannot read SSHCHECK_SERVICE_TOKENS_FILE ${file}: ${errorMessage(err)}`, { cause: err });
    }
    tokens.push(...parseTokenLines(text, file));
  }
  if (tokens.length === 0) {
    throw new Error(`no service token is configured: set SSHCHECK_SERVICE_TOKENS_FILE to a file with one token per line (or SSHCHECK_SERVICE_TOKENS); ${GENERATE}`);
  }
  return { tokens, ...(file ? { file } : {}) };
}

/** The bearer token of an Authorization header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

export class TokenSet {
  private digests: Buffer[] = [];

  constructor(tokens: readonly string[]) {
    this.replace(tokens);
  }

  /** Swaps the valid tokens at once (a reload): requests see either the old or the new set. */
  replace(tokens: readonly string[]): void {
    if (tokens.length === 0) throw new Error('at least one token must stay valid');
    this.digests = tokens.map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  /** Whether the Authorization header carries a valid token. */
  verify(authorization: string | undefined): boolean {
    const token = bearerToken(authorization);
    // A missing token is still hashed and compared, so it costs the same as a wrong one.
    const presented = digest(token ?? '');
    let ok = false;
    for (const valid of this.digests) ok = timingSafeEqual(presented, valid) || ok;
    return ok && token !== undefined;
  }
}
