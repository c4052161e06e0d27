// Which hosts a fleet check covers: targets and patterns from the command line, a file (one
// target per line, `#` comments) and groups from the bastion's engine config, expanded,
// validated one by one with parseTarget, de-duplicated, and capped as a whole.
import { readFileSync, statSync } from 'node:fs';
import { SshcheckError, errorMessage } from '../errors.js';
import type { Target, TargetOverrides } from '../target.js';
import { parseTarget, printable } from '../target.js';
import { GROUP_NAME, MAX_EXPANSION, expandTargetWord } from './range.js';

/** A hosts file larger than this is refused (10 000 addresses fit in about 150 KiB; names with users and ports take more). */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export interface FleetSources {
  /** Targets or patterns as typed (`db-1`, `db-[1-40]`, `ops@10.0.0.[1-50]:2222`, `db-1,db-2`, `10.0.3.0/28`). */
  patterns: readonly string[];
  /** Lines of a hosts file, already read (see readHostsFile). */
  fileLines?: readonly string[];
  fileName?: string;
  /** Group names, looked up in `groups`. */
  groups?: readonly string[];
  /** The engine config's groups: name → patterns. */
  knownGroups?: Readonly<Record<string, readonly string[]>>;
  overrides?: TargetOverrides;
  /** A port list (`-p 22,2222`): every host is checked on each port (overrides.port is then unused). */
  ports?: readonly number[];
  /** Total cap (default MAX_EXPANSION). */
  max?: number;
  /** Where the cap is set, named in the error when it is exceeded (`the limit is --max-hosts …`). */
  limit?: string;
}

/** The lines of a hosts file: bounded in size, comments and blank lines dropped. */
export function readHostsFile(path: string): string[] {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    throw new SshcheckError('E_USAGE', `cannot read the hosts file ${printable(path, 200)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (size > MAX_FILE_BYTES) throw new SshcheckError('E_USAGE', `the hosts file ${printable(path, 200)} is ${size} bytes; at most ${MAX_FILE_BYTES} are read`);
  return hostsFileLines(readFileSync(path, 'utf8'));
}

/** One target (or pattern) per line; `#` starts a comment; blank lines are skipped. */
export function hostsFileLines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.length > 0);
}

function where(source: string, pattern: string, err: unknown): SshcheckError {
  const message = errorMessage(err);
  return new SshcheckError('E_USAGE', `${source} "${printable(pattern, 80)}": ${message}`);
}

/**
 * Every target the sources name, in the order given, each once (by user, host and port).
 * Throws an SshcheckError naming the source and the offending entry; nothing is probed then.
 */
export function fleetTargets(sources: FleetSources): Target[] {
  const max = sources.max ?? MAX_EXPANSION;
  const out: Target[] = [];
  const seen = new Set<string>();
  const add = (source: string, pattern: string): void => {
    let names: string[];
    try {
      names = expandTargetWord(pattern, max, sources.limit);
    } catch (err) {
      throw where(source, pattern, err);
    }
    const ports: ReadonlyArray<number | undefined> = sources.ports ?? [undefined];
    for (const name of names) {
      for (const port of ports) {
        let target: Target;
        try {
          target = parseTarget(name, port === undefined ? (sources.overrides ?? {}) : { ...sources.overrides, port });
        } catch (err) {
          throw where(source, name, err);
        }
        const key = `${target.user}@${target.host}:${target.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(target);
        if (out.length > max) throw new SshcheckError('E_USAGE', `more than ${max} hosts${ports.length > 1 ? ' and ports' : ''} in one fleet check: check fewer at a time${sources.limit !== undefined ? ` (${sources.limit})` : ''}`);
      }
    }
  };
  for (const p of sources.patterns) add('target', p);
  sources.fileLines?.forEach((line, i) => add(`${sources.fileName ?? 'hosts file'} line ${i + 1}:`, line));
  for (const group of sources.groups ?? []) {
    if (!GROUP_NAME.test(group)) throw new SshcheckError('E_USAGE', `invalid group name "${printable(group, 40)}": letters, digits, ".", "_" or "-"`);
    const members = sources.knownGroups?.[group];
    if (members === undefined) {
      const known = Object.keys(sources.knownGroups ?? {});
      throw new SshcheckError('E_USAGE', `unknown group "${group}": ${known.length > 0 ? `the engine config defines ${known.join(', ')}` : 'the engine config defines no groups'}`);
    }
    for (const m of members) add(`group ${group}:`, m);
  }
  if (out.length === 0) throw new SshcheckError('E_USAGE', 'no hosts to check: the file and groups named none');
  return out;
}
