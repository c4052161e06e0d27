// Reading a configuration file, bounded, and quoting what is in it, safely. A config is
// small (a bastion's engine.yml or a bot's routing is a few KiB), so anything over
// MAX_CONFIG_BYTES is refused before it is read or parsed: a 5 MB file took the YAML parser
// 10 s and half a GB. Errors quote the offending value only capped and made printable, and
// keys only when they are short plain words: a config path pointed (or symlinked) at a
// secret file must not print that file's lines.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SshcheckError } from '../errors.js';
import { printable } from '../target.js';

/** Every config file is at most this large (the hosts file has the same bound). */
export const MAX_CONFIG_BYTES = 256 * 1024;
/** A file holding one secret (a token, <NAME>_FILE) is at most this large. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;
/** Quoted values are cut to this many characters. */
export const QUOTE_MAX = 40;

function kib(bytes: number): string {
  return bytes >= 1024 ? `${Math.round(bytes / 1024)} KiB` : `${bytes} bytes`;
}

/**
 * The text of a config file, refused when it is larger than `max` bytes. Reads at most
 * max + 1 bytes whatever stat says (a FIFO or /dev/zero has no size).
 */
export function readConfigFile(path: string, what: string, max: number = MAX_CONFIG_BYTES): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new SshcheckError('E_USAGE', `cannot read ${what} ${printable(path, 200)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new SshcheckError('E_USAGE', `${what} ${printable(path, 200)} is a directory, not a file`);
    const tooLarge = (size: string): SshcheckError => new SshcheckError('E_USAGE', `${what} ${printable(path, 200)} is ${size}; a config file is at most ${kib(max)}: is this the right file?`);
    if (stat.size > max) throw tooLarge(`${stat.size} bytes`);
    const buffer = Buffer.alloc(max + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > max) throw tooLarge(`over ${max} bytes`);
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** A value for an error message: printable, at most QUOTE_MAX characters, in double quotes. */
export function quoteValue(value: unknown, max: number = QUOTE_MAX): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const shown = printable(text.length > max ? text.slice(0, max) : text, max * 8);
  return `"${shown.replace(/"/g, '\\"')}"${text.length > max ? `… (${text.length} characters)` : ''}`;
}

/** A key for an error message: itself when a short plain word, else only its length. */
export function safeKey(key: string): string {
  return /^[A-Za-z0-9_][A-Za-z0-9_ .-]{0,39}$/.test(key) ? key : `(a key of ${key.length} characters)`;
}

function indentOf(line: string): number {
  return line.length - line.trimStart().length;
}

/**
 * Over-indentation, which YAML reports at the line before (or with a message about
 * something else): the line near `line` that is indented deeper than the one above it
 * although that one opens no block. Undefined when there is none.
 */
export function overIndented(text: string, line: number): { line: number; indent: number; above: number } | undefined {
  const lines = text.split('\n');
  for (let n = Math.max(2, line - 1); n <= Math.min(lines.length, line + 1); n++) {
    const i = n - 1;
    const current = lines[i] ?? '';
    if (current.trim() === '' || current.trimStart().startsWith('#')) continue;
    let j = i - 1;
    while (j >= 0 && ((lines[j] ?? '').trim() === '' || (lines[j] ?? '').trimStart().startsWith('#'))) j--;
    const prev = lines[j] ?? '';
    if (j < 0 || /[:|>]\s*(#.*)?$/.test(prev)) continue;
    const column = indentOf(prev) + (/^\s*- /.test(prev) ? 2 : 0);
    if (indentOf(current) > column) return { line: n, indent: indentOf(current), above: column };
  }
  return undefined;
}

/** A YAML error's message for a person, with the over-indented line named when that is the cause. */
export function yamlProblem(text: string, line: number, message: string): { line: number; message: string } {
  const first = message.split('\n')[0] ?? message;
  const deeper = /indent|column|compact mapping|implicit key/i.test(first) ? overIndented(text, line) : undefined;
  if (!deeper) return { line, message: first };
  return { line: deeper.line, message: `line ${deeper.line} is indented ${deeper.indent} spaces, deeper than the line above it (${deeper.above}), which opens no block: indent it like the line above (YAML: ${first})` };
}
