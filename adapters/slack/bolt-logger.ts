// Bolt's and the Slack SDK's log lines, routed into the bot's structured logger. Their debug
// output carries raw payloads (slash commands include the legacy verification token) and
// Socket Mode URLs (with a connection ticket), so debug is never forwarded, and every line is
// scrubbed of ticket and token fields before the bot's logger scrubs known secrets again.
import { LogLevel } from '@slack/bolt';
import type { Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../../src/log.js';

const SCRUB: Array<[RegExp, string]> = [
  [/([?&]ticket=)[^&\s"']+/gi, '$1[redacted]'],
  [/("(?:token|ticket)"\s*:\s*")[^"]*"/gi, '$1[redacted]"'],
  [/(\btoken=)[^&\s"']+/gi, '$1[redacted]'],
];

export function scrubSdkText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SCRUB) out = out.replace(pattern, replacement);
  return out;
}

function line(parts: readonly unknown[]): string {
  return scrubSdkText(
    parts
      .map((p) => {
        if (typeof p === 'string') return p;
        if (p instanceof Error) return p.message;
        try {
          return JSON.stringify(p);
        } catch {
          return String(p);
        }
      })
      .join(' '),
  );
}

export function boltLogger(logger: Logger): BoltLogger {
  let name = 'slack';
  return {
    debug: () => undefined,
    info: (...msg: unknown[]) => logger.info(line(msg), { source: name }),
    warn: (...msg: unknown[]) => logger.warn(line(msg), { source: name }),
    error: (...msg: unknown[]) => logger.error(line(msg), { source: name }),
    // The level is fixed: debug would only be dropped here anyway.
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: (n: string) => {
      name = n;
    },
  };
}
