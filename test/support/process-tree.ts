// The processes a test started, as the kernel sees them (/proc): which descendants a process
// has, and whether they still live. Used to show that a killed parent leaves no orphans.
import { readdirSync, readFileSync } from 'node:fs';

/** A process's parent id and state letter, from /proc/<pid>/stat; undefined once it is gone. */
function stat(pid: number): { ppid: number; state: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields follow the last ")".
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', ppid: Number(rest[1]) };
}

/** Every live descendant of `pid` (children, their children…), now. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const child = Number(name);
    if (!Number.isInteger(child)) continue;
    const s = stat(child);
    if (s) parents.set(s.ppid, [...(parents.get(s.ppid) ?? []), child]);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    for (const c of parents.get(todo.pop() ?? -1) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** A process that has exited (a zombie counts as exited: it runs nothing). */
export function gone(pid: number): boolean {
  const s = stat(pid);
  return s === undefined || s.state === 'Z' || s.state === 'X';
}

/** A process's command line, arguments joined by spaces ('' once it is gone). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}
