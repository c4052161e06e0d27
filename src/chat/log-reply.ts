// Pasted and attached `ssh -v` logs in chat, platform-neutral: whether a message is one (so
// that ordinary chatter in a bot's thread is left alone), which attachments are worth
// reading, where they may be downloaded from, and a bounded download. The analysis itself is
// `sshcheck explain` (src/explain/explain.ts); adapters only render it.
import { MAX_LOG_BYTES } from '../explain/explain.js';
import { errorMessage } from '../errors.js';

/** The most of a log that is read: the same as `sshcheck explain` on stdin. */
export const MAX_ATTACHMENT_BYTES = MAX_LOG_BYTES;
/** A download that has not finished by then is abandoned. */
export const DOWNLOAD_TIMEOUT_MS = 10_000;
/** Redirects followed, each checked against the allowed hosts again. */
const MAX_REDIRECTS = 2;
/** Lines looked at by the heuristic: a log shows what it is near its start. */
const SCAN_LINES = 400;

/** ssh's own debug output. */
const DEBUG_LINE = /^debug[123]: \S/;

/**
 * Lines only ssh writes, anchored at the start of a line: someone talking *about* an error
 * ("I get Permission denied (publickey) since…") is not a log.
 */
const SSH_LINES: readonly RegExp[] = [
  /^OpenSSH_\d/,
  /^ssh: connect to host \S+ port \d+: /,
  /^ssh: Could not resolve hostname \S+: /,
  /^kex_exchange_identification: /,
  /^banner exchange: Connection to /,
  /^Connection timed out during banner exchange/,
  /^Connection to \S+ port \d+ timed out/,
  /^Connection (?:closed|reset) by \S+ port \d+/,
  /^(?:\S+@\S+: )?Permission denied \(/,
  /^Received disconnect from \S+ port \d+:/,
  /^Unable to negotiate with \S+ port \d+: /,
  /^Host key verification failed\./,
  /^@@@@@+$/,
];

/** Chat wrappers around a paste: code fences and quote markers. */
function unwrapLine(line: string): string {
  return line.replace(/^\s*(?:>\s?)*/, '').replace(/^`{3}\S*\s*/, '').replace(/`{3}\s*$/, '').trim();
}

/**
 * Whether text looks like `ssh -v`/`-vv`/`-vvv` output: two debug lines, or one line only
 * ssh writes (a one-line paste of "ssh: connect to host … Connection timed out" is a log
 * worth explaining), or a message that is a single debug line. Pure.
 */
export function looksLikeSshLog(text: string): boolean {
  const lines = text.slice(0, 64 * 1024).split(/\r?\n|\r/, SCAN_LINES).map(unwrapLine).filter((l) => l.length > 0);
  let debug = 0;
  for (const line of lines) {
    if (SSH_LINES.some((re) => re.test(line))) return true;
    if (DEBUG_LINE.test(line) && ++debug >= 2) return true;
  }
  return debug === 1 && lines.length === 1;
}

/**
 * Where a flattened log's lines began: ssh's debug prefixes and its own closing words. Not
 * "OpenSSH_": debug lines quote the server's version ("remote software version OpenSSH_9.2p1"),
 * and ssh's own version line comes first anyway.
 */
const LINE_STARTS = [
  'debug[123]: ',
  'ssh: (?:connect to host|Could not resolve hostname) ',
  'kex_exchange_identification: ',
  'banner exchange: ',
  'Connection timed out during banner exchange',
  'Connection to \\S+ port \\d+ timed out',
  'Connection (?:closed|reset) by \\S+ port \\d+',
  '\\S+@\\S+: Permission denied \\(',
  'Received disconnect from ',
  'Disconnected from ',
  'Unable to negotiate with ',
  'Host key verification failed\\.',
  'No \\S+ host key is known for ',
  'Warning: Permanently added ',
  'Pseudo-terminal will not be allocated',
  'Authenticated to ',
];
// Only where a line could begin: not inside a debug line that quotes ssh's words.
const SPLIT = new RegExp(`(?<!debug[123]:)\\s+(?=${LINE_STARTS.map((s) => `(?:${s})`).join('|')})`, 'g');

/**
 * A log whose line breaks were lost (Discord's slash command options are one line) with
 * its lines restored, so the line-based parser reads it as ssh wrote it. Text that already
 * has line breaks is returned as it is. Pure.
 */
export function restoreLineBreaks(text: string): string {
  if (/\r|\n/.test(text.trim())) return text;
  return text.trim().replace(SPLIT, '\n');
}

export interface AttachmentInfo {
  name: string;
  /** The MIME type the platform reports, if any. */
  mimetype?: string;
  /** The size the platform reports, in bytes. */
  size?: number;
}

const TEXT_EXTENSIONS = /\.(?:log|txt|text|out)$/i;

/** A plain-text file or a .log/.txt: what an ssh log attachment is. Images and archives are not. Pure. */
export function isTextAttachment(file: AttachmentInfo): boolean {
  const type = (file.mimetype ?? '').toLowerCase().split(';')[0]?.trim() ?? '';
  if (type === 'text/plain' || type === 'text/x-log') return true;
  return TEXT_EXTENSIONS.test(file.name) && (type === '' || type.startsWith('text/') || type === 'application/octet-stream');
}

/** The attachment's size problem, in words, or undefined when it may be read. Pure. */
export function sizeProblem(size: number | undefined, max = MAX_ATTACHMENT_BYTES): string | undefined {
  if (size === undefined || size <= max) return undefined;
  return `it is ${formatBytes(size)}; at most ${formatBytes(max)} of log is read (the end of a log, where the connection stopped, matters most: trim the start and attach it again)`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * An origin downloads may come from. `https://files.slack.com` for Slack; the configured API
 * URL's origin is added, so that a proxy or a test double serves the files as it serves the API.
 */
export interface AllowedOrigin {
  protocol: 'https:' | 'http:';
  /** host[:port], as URL.host writes it (no port for the protocol's default). */
  host: string;
}

export function originOf(url: string): AllowedOrigin | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
    return { protocol: u.protocol, host: u.host.toLowerCase() };
  } catch {
    return undefined;
  }
}

/**
 * The URL, when it may be downloaded: http(s), no credentials in it, and exactly one of the
 * allowed origins (scheme, host and port). Anything else is refused before any request, so
 * an attachment can never make the bot fetch an internal address. Pure.
 */
export function allowedDownloadUrl(url: string, allowed: readonly AllowedOrigin[]): URL | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.username !== '' || u.password !== '') return undefined;
  const host = u.host.toLowerCase();
  return allowed.some((o) => o.protocol === u.protocol && o.host === host) ? u : undefined;
}

export function describeOrigins(allowed: readonly AllowedOrigin[]): string {
  return allowed.map((o) => o.host).join(', ');
}

export type Download = { ok: true; text: string; bytes: number } | { ok: false; reason: 'host' | 'too-big' | 'not-text' | 'http' | 'timeout' | 'network'; message: string };

export interface DownloadOptions {
  allowed: readonly AllowedOrigin[];
  /** Sent with every request (Slack's bot token); every allowed origin is the platform's own. */
  headers?: Record<string, string>;
  maxBytes?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/** Reads at most `max` bytes of a body; undefined when it holds more. */
async function readCapped(body: ReadableStream<Uint8Array> | null, max: number): Promise<Buffer | undefined> {
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/**
 * Downloads a text attachment: only from an allowed origin (redirects included, each checked
 * again and never followed elsewhere), at most `maxBytes`, within `timeoutMs` for the whole
 * download. Never throws: the result says what went wrong, in words for the person.
 */
export async function downloadLog(url: string, options: DownloadOptions): Promise<Download> {
  const max = options.maxBytes ?? MAX_ATTACHMENT_BYTES;
  const doFetch = options.fetch ?? fetch;
  const signal = AbortSignal.timeout(options.timeoutMs ?? DOWNLOAD_TIMEOUT_MS);
  const first = allowedDownloadUrl(url, options.allowed);
  if (!first) return { ok: false, reason: 'host', message: `its address is not on ${describeOrigins(options.allowed)}, so it was not downloaded` };
  let next: URL = first;
  try {
    for (let hop = 0; ; hop++) {
      const res = await doFetch(next, { headers: options.headers ?? {}, redirect: 'manual', signal });
      if (res.status >= 300 && res.status < 400) {
        await res.body?.cancel().catch(() => undefined);
        const location = res.headers.get('location');
        const target: URL | undefined = location === null ? undefined : allowedDownloadUrl(new URL(location, next).href, options.allowed);
        if (!target || hop >= MAX_REDIRECTS) return { ok: false, reason: 'host', message: `the download was redirected away from ${describeOrigins(options.allowed)}, so it was not followed` };
        next = target;
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        return { ok: false, reason: 'http', message: `the download failed (HTTP ${res.status})` };
      }
      const length = Number(res.headers.get('content-length') ?? '');
      if (Number.isFinite(length) && length > max) {
        await res.body?.cancel().catch(() => undefined);
        return { ok: false, reason: 'too-big', message: sizeProblem(length, max) ?? 'it is too large' };
      }
      const bytes = await readCapped(res.body, max);
      if (!bytes) return { ok: false, reason: 'too-big', message: `it holds more than ${formatBytes(max)}; at most that much log is read` };
      // A NUL byte early on: an image or an archive named .log, not a text log.
      if (bytes.subarray(0, 8192).includes(0)) return { ok: false, reason: 'not-text', message: 'it is not a text file' };
      return { ok: true, text: new TextDecoder('utf-8').decode(bytes), bytes: bytes.length };
    }
  } catch (err) {
    if (signal.aborted) return { ok: false, reason: 'timeout', message: `the download did not finish within ${(options.timeoutMs ?? DOWNLOAD_TIMEOUT_MS) / 1000} s` };
    // fetch says "fetch failed"; the cause says why (ECONNREFUSED, a TLS error).
    const inner = err instanceof Error && err.cause instanceof Error ? (err.cause as NodeJS.ErrnoException) : undefined;
    const cause = inner ? (inner.code ?? inner.message) : undefined;
    return { ok: false, reason: 'network', message: `the download failed (${errorMessage(err)}${cause !== undefined ? `: ${cause}` : ''})` };
  }
}
