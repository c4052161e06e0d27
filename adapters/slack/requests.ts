// When the bot's Web API requests are sent again. The Slack client retries a failed request
// (p-retry, from the client's retryConfig): after a 429 it waits out Retry-After, and after a
// network error, an HTTP error or its own timeout it backs off and sends the request again.
// For most methods that is harmless (chat.update twice shows the same text). A post is not:
// chat.postMessage has no idempotency key, so a post whose answer was lost or late (a busy
// process, a broken connection) was posted once by Slack and then once more by the retry, a
// second "Checking…" parent no thread ever used. So a post is sent again only when Slack
// certainly did not take it: a 429 (Slack refused it) or no connection at all. Any other
// failure of a post is final, and says that Slack may have posted it.
import type { webApi } from '@slack/bolt';
import { errorMessage } from '../../src/errors.js';

/** One Web API request may take this long before it is abandoned (and, unless it is a post, retried). */
export const REQUEST_TIMEOUT_MS = 10_000;

/** Methods each request of which makes something new in Slack: sent twice, it is there twice. */
const POSTS = new Set(['chat.postMessage', 'chat.postEphemeral', 'chat.meMessage', 'chat.scheduleMessage', 'files.completeUploadExternal']);

/** Failures that prove a request never reached Slack: no connection was made. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** A post that failed after it may have reached Slack: never sent again. */
export class PostOutcomeUnknownError extends Error {
  readonly code = 'post_outcome_unknown';

  constructor(
    readonly method: string,
    what: string,
    options?: { cause: unknown },
  ) {
    super(`${method}: ${what}; not sent again, since Slack may have posted it already`, options);
    this.name = 'PostOutcomeUnknownError';
  }
}

/** The API method a request goes to, when it is a post (the client only sends to apiUrl + method). */
function postMethod(url: string | URL): string | undefined {
  const path = (typeof url === 'string' ? url : url.href).split('?')[0] ?? '';
  const method = path.slice(path.lastIndexOf('/') + 1);
  return POSTS.has(method) ? method : undefined;
}

function neverSent(err: unknown): boolean {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' && NEVER_SENT.has(cause.code);
}

function describe(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && err.name === 'TimeoutError') return `Slack did not answer within ${timeoutMs / 1000} s`;
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : errorMessage(err);
  return `the connection failed before Slack's answer (${detail})`;
}

/**
 * The client's fetch: every request gets a deadline (respond() to a response_url has none of
 * its own), and a post that may have reached Slack fails with PostOutcomeUnknownError, which
 * RETRY_CONFIG does not retry. A 429 is passed on as it is: the client waits and sends again.
 */
export function boundedFetch(timeoutMs = REQUEST_TIMEOUT_MS): webApi.FetchFunction {
  return async (url, init) => {
    const method = postMethod(url);
    let response: Response;
    try {
      // The client's own signal (if any) and the deadline both hold: a signal of its own has none.
      const deadline = AbortSignal.timeout(timeoutMs);
      response = await fetch(url, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline });
    } catch (err) {
      if (method === undefined || neverSent(err)) throw err;
      throw new PostOutcomeUnknownError(method, describe(err, timeoutMs), { cause: err });
    }
    // A server error says nothing about whether the message was stored before it.
    if (method !== undefined && response.status >= 500) {
      await response.body?.cancel().catch(() => undefined);
      throw new PostOutcomeUnknownError(method, `Slack answered HTTP ${response.status}`);
    }
    return response;
  };
}

/** What the client threw for a post it did not send again, if that is what `err` is. */
export function postOutcomeUnknown(err: unknown): PostOutcomeUnknownError | undefined {
  if (err instanceof PostOutcomeUnknownError) return err;
  const original = (err as { original?: unknown } | undefined)?.original;
  return original instanceof PostOutcomeUnknownError ? original : undefined;
}

/**
 * A 429 is always waited out for its Retry-After and then retried (rejectRateLimitedCalls is
 * off); HTTP 5xx and network errors are retried a few times with backoff, except for a post
 * that may have reached Slack. Platform errors (ok: false) are answers, never retried.
 * onFailedAttempt is p-retry's (the client hands it this whole object): throwing there ends
 * the retries with that error.
 */
export const RETRY_CONFIG: webApi.RetryOptions & { onFailedAttempt: (err: Error) => void } = {
  retries: 5,
  factor: 2,
  minTimeout: 250,
  maxTimeout: 5_000,
  randomize: true,
  onFailedAttempt: (err) => {
    if (postOutcomeUnknown(err)) throw err;
  },
};
