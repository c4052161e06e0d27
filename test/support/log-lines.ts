// The bot's JSON log lines as tests collect them, and waiting for one to appear.
export interface LogLine {
  msg: string;
  level: string;
  [key: string]: unknown;
}

/** Resolves with the first collected line that matches, or fails after `ms` naming what was logged. */
export function waitForLine(lines: readonly LogLine[], match: (l: LogLine) => boolean, ms = 30_000): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const poll = setInterval(() => {
      const found = lines.find(match);
      if (found) {
        clearInterval(poll);
        resolve(found);
      } else if (Date.now() > deadline) {
        clearInterval(poll);
        reject(new Error(`no such log line within ${ms} ms; got: ${lines.map((l) => l.msg).join(' | ')}`));
      }
    }, 20);
  });
}
