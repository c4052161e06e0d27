// `sshcheck history <host>`: the recent runs of a host from the store, as "worked at 10:02,
// broken since 10:05" per bastion, then the runs (times in local time). --json prints the
// rows, one JSON object per line.
import { parseArgs } from 'node:util';
import { isSshcheckError } from '../errors.js';
import { parseTarget, printable } from '../target.js';
import { renderHistory } from '../store/history-view.js';
import { openStoreForReading, spoolNote } from './store-open.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const HISTORY_USAGE = `Usage: sshcheck history [options] <host>[:port]

Shows the recent runs of host recorded in the store (CLI, chat and service runs on this
machine): per bastion whether it works now and since when, then the runs, newest first.

Options:
      --limit <n>   runs listed (default 20, 1-1000)
      --json        the runs as JSON lines, newest first
      --utc         times in UTC instead of local time
  -h, --help        this help

The store is $SSHCHECK_DB, else store.path in the engine config, else
/var/lib/sshcheck/sshcheck.db when writable, else ~/.local/state/sshcheck/sshcheck.db.`;

/** Strips what a terminal would interpret: rows may hold text a server or a chat sent. */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, '?');
}

export function runHistory(argv: readonly string[], env: Env, io: CommandIo): number {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { limit: { type: 'string' }, json: { type: 'boolean' }, utc: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    io.stderr(`sshcheck history: ${printable((err as Error).message.replace(/\s+/g, ' '), 300)}\n\n${HISTORY_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout(`${HISTORY_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) {
    io.stderr(`sshcheck history: give one host\n\n${HISTORY_USAGE}\n`);
    return 2;
  }
  const limitText = values.limit ?? '20';
  if (!/^[0-9]{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) {
    io.stderr(`sshcheck history: invalid --limit "${printable(limitText, 20)}": give 1 to 1000\n`);
    return 2;
  }
  const limit = Number(limitText);
  try {
    const input = positionals[0] ?? '';
    const target = parseTarget(input);
    // A port in the input narrows the history to it; otherwise every port of the host.
    const port = /:[0-9]+$/.test(input) && (target.kind !== 'ipv6' || input.includes(']:')) ? target.port : undefined;
    const opened = openStoreForReading(env);
    if ('missing' in opened) {
      io.stderr(`sshcheck history: ${opened.missing}\n`);
      return 0;
    }
    const { store } = opened;
    const note = spoolNote(store.path);
    if (note !== undefined) io.stderr(`sshcheck history: ${note}\n`);
    try {
      const runs = store.runsFor(target.host, { limit, ...(port !== undefined ? { port } : {}) });
      if (values.json) {
        io.stdout(runs.map((r) => `${JSON.stringify(r)}\n`).join(''));
        return 0;
      }
      const view = renderHistory(port !== undefined ? `${target.host}:${port}` : target.host, runs, { now: Date.now(), timeZone: values.utc ? 'utc' : 'local', limit });
      io.stdout(terminalSafe([view.title, ...view.summary.map((l) => `  ${l}`), ...(view.lines.length > 0 ? ['', ...view.lines] : [])].join('\n')) + '\n');
      return 0;
    } finally {
      store.close();
    }
  } catch (err) {
    if (isSshcheckError(err)) {
      io.stderr(`sshcheck history: ${err.message}\n`);
      return err.code === 'E_STORE' ? 3 : 2;
    }
    throw err;
  }
}
