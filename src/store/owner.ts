// Which process wrote an unfinished audit row, and whether it still runs: a row left
// `running` by a process that is gone (kill -9, a crash, a reboot) is closed as interrupted
// by the next process that opens the store. An owner is "host:pid:start": the start time
// (clock ticks since boot, /proc/<pid>/stat field 22) tells a reused pid from the original.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** Field 22 of /proc/<pid>/stat, or undefined (no such process, or no /proc). */
export function processStart(pid: number, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string | undefined {
  try {
    const stat = read(`/proc/${pid}/stat`);
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

export function ownerId(pid: number = process.pid, host: string = hostname()): string {
  return `${host.slice(0, 100)}:${pid}:${processStart(pid) ?? '?'}`;
}

export interface ParsedOwner {
  host: string;
  pid: number;
  start: string;
}

export function parseOwner(owner: string): ParsedOwner | undefined {
  const m = /^(.*):([0-9]{1,10}):([0-9]+|\?)$/.exec(owner);
  return m ? { host: m[1] ?? '', pid: Number(m[2]), start: m[3] ?? '?' } : undefined;
}

/**
 * False only when the owner is known to be gone: same host, and its pid is not running or
 * runs a process that started at another time. Another host's owner counts as alive (a
 * store on shared storage): only that host can tell.
 */
export function ownerAlive(owner: string, deps: { host?: string; start?: (pid: number) => string | undefined } = {}): boolean {
  const parsed = parseOwner(owner);
  if (!parsed) return false;
  if (parsed.host !== (deps.host ?? hostname()).slice(0, 100)) return true;
  const start = (deps.start ?? ((pid: number) => processStart(pid)))(parsed.pid);
  if (start === undefined) return deps.start === undefined && processStart(process.pid) === undefined ? signalable(parsed.pid) : false;
  return parsed.start === '?' || start === parsed.start;
}

/** Without /proc: whether a process with this pid exists at all. */
function signalable(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
