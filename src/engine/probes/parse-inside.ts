// Parsing what the inside script printed: sections marked "@@sshcheck <name> <epoch ns>".
// Pure. Every value comes from the target and is untrusted: numbers are validated, text is
// sanitized and capped.
import { isIP } from 'node:net';
import type { InsideFacts, Listener } from '../observations.js';
import { printable } from '../../target.js';

export const SECTION_MARK = '@@sshcheck';

export interface Section {
  name: string;
  /** Nanoseconds since the epoch on the target, when `date +%s%N` worked. */
  startNs?: bigint;
  lines: string[];
}

const MAX_LOG_LINES = 200;
const MAX_RULE_LINES = 2000;

export function splitSections(text: string): Section[] {
  const sections: Section[] = [];
  let current: Section | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    // The timestamp is whatever `date +%s%N` printed (busybox prints "%N"): optional.
    const mark = new RegExp(`^${SECTION_MARK} ([a-z0-9-]+)(?: (\\S*))?$`).exec(line);
    if (mark) {
      current = { name: mark[1] ?? '', lines: [] };
      if (mark[2] && /^[0-9]{10,20}$/.test(mark[2])) current.startNs = BigInt(mark[2]);
      sections.push(current);
    } else if (current && line.length > 0) {
      current.lines.push(line);
    }
  }
  return sections;
}

/** A line of target output made safe to keep: printable, bounded. */
function clean(line: string, max = 300): string {
  return printable(line, max);
}

/** Shell and sudo messages that mean a section's command could not run at all. */
function sectionError(lines: readonly string[]): string | undefined {
  const hit = lines.find((l) =>
    /(command not found|not found$|: not found|a password is required|a terminal is required|Permission denied|Operation not permitted|must be run as root|You must be root|Failed to access socket path|System has not been booted with systemd|Failed to connect to bus)/i.test(l),
  );
  return hit === undefined ? undefined : clean(hit, 200);
}

function num(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]+(\.[0-9]+)?$/.test(text)) return undefined;
  return Number(text);
}

/** "0.0.0.0:22", "[::]:22", "*:22", "127.0.0.1%lo:53" → address and port. */
export function parseSocketAddress(text: string): { address: string; port: number } | undefined {
  const m = /^(?:\[([^\]]+)\]|([^\s]*?))(?:%[A-Za-z0-9_.-]+)?:([0-9]{1,5})$/.exec(text);
  if (!m) return undefined;
  const address = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  if (address === '*' || address === '') return { address: '*', port };
  return isIP(address) ? { address, port } : undefined;
}

/** `ss -Htlnp` (or `netstat -tlnp`) lines → listening sockets. */
export function parseListeners(lines: readonly string[]): Listener[] {
  const out: Listener[] = [];
  for (const line of lines) {
    const fields = line.trim().split(/\s+/);
    // ss: State Recv-Q Send-Q Local Peer [Process]; netstat: Proto Recv-Q Send-Q Local Foreign State PID/Program
    const local = fields[0] === 'LISTEN' ? fields[3] : /^tcp/.test(fields[0] ?? '') ? fields[3] : undefined;
    const parsed = local === undefined ? undefined : parseSocketAddress(local);
    if (!parsed) continue;
    const proc = /users:\(\("([^"]+)"/.exec(line)?.[1] ?? /\s[0-9]+\/([^\s:]+)/.exec(line)?.[1];
    out.push(proc ? { ...parsed, process: clean(proc, 40) } : parsed);
  }
  return out;
}

/** `sshd -T` → lower-cased keyword → values. */
export function parseSshdConfig(lines: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of lines) {
    const m = /^([a-z0-9]+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const key = m[1] ?? '';
    const value = clean(m[2] ?? '', 500);
    const values = (out[key] ??= []);
    if (!values.includes(value)) values.push(value);
  }
  return out;
}

/** `fail2ban-client status sshd`. */
export function parseFail2ban(lines: readonly string[]): InsideFacts['fail2ban'] {
  const error = sectionError(lines) ?? lines.find((l) => /does not exist|ERROR|Unable to contact server/i.test(l));
  const field = (name: string): string | undefined => {
    const line = lines.find((l) => new RegExp(`${name}:`, 'i').test(l));
    return line?.split(/:\s*/).slice(1).join(':').trim();
  };
  const list = field('Banned IP list');
  if (list === undefined) return { error: clean(error ?? lines[0] ?? 'no output', 200) };
  const banned = list.split(/\s+/).filter((a) => isIP(a) !== 0);
  const out: { banned: string[]; currentlyFailed?: number; totalBanned?: number } = { banned };
  const failed = num(field('Currently failed'));
  const total = num(field('Total banned'));
  if (failed !== undefined) out.currentlyFailed = failed;
  if (total !== undefined) out.totalBanned = total;
  return out;
}

function parsePressure(lines: readonly string[]): InsideFacts['pressure'] {
  const out: InsideFacts['pressure'] = {};
  for (const line of lines) {
    const m = /^(cpu|memory|io) some avg10=([0-9.]+)/.exec(line.trim());
    const value = num(m?.[2]);
    if (m && value !== undefined) out[m[1] as 'cpu' | 'memory' | 'io'] = value;
  }
  return out;
}

function elapsedMs(a: Section, b: Section | undefined): number | undefined {
  if (a.startNs === undefined || b?.startNs === undefined) return undefined;
  const ns = b.startNs - a.startNs;
  return ns >= 0n ? Number(ns / 1000n) / 1000 : undefined;
}

export function parseInside(text: string): InsideFacts | undefined {
  const sections = splitSections(text);
  if (!sections.some((s) => s.name === 'end')) return undefined;
  const facts: InsideFacts = { listeners: [], sshdConfig: {}, hostsAllow: [], hostsDeny: [], pressure: {}, firewall: { iptables: [], nft: [], errors: [] }, sshdLog: [], errors: {}, timings: {} };
  sections.forEach((section, i) => {
    const t = elapsedMs(section, sections[i + 1]);
    if (t !== undefined && section.name !== 'end') facts.timings[section.name] = t;
    const { lines } = section;
    const error = sectionError(lines);
    switch (section.name) {
      case 'systemctl': {
        const states = lines.map((l) => l.trim()).filter((l) => /^(active|inactive|failed|activating|deactivating|unknown)$/.test(l));
        facts.sshdActive = states.includes('active') ? 'active' : (states.find((s) => s !== 'inactive') ?? states[0] ?? 'unknown');
        if (error) facts.errors.systemctl = error;
        break;
      }
      case 'sshd-pids':
        facts.sshdProcesses = lines.filter((l) => /^[0-9]+$/.test(l.trim())).length;
        break;
      case 'listeners':
        facts.listeners = parseListeners(lines);
        if (error && facts.listeners.length === 0) facts.errors.listeners = error;
        break;
      case 'sshd-config':
        facts.sshdConfig = parseSshdConfig(lines);
        if (error && Object.keys(facts.sshdConfig).length === 0) facts.errors['sshd-config'] = error;
        break;
      case 'sshd-test': {
        const exit = lines.map((l) => /^exit=([0-9]+)$/.exec(l.trim())?.[1]).find((x) => x !== undefined);
        const output = lines.filter((l) => !/^exit=/.test(l)).map((l) => clean(l)).join('\n');
        if (exit !== undefined && !(error && exit !== '0')) facts.configTest = { ok: exit === '0', output };
        else if (error) facts.errors['sshd-test'] = error;
        break;
      }
      case 'hosts-allow':
      case 'hosts-deny': {
        const kept = lines.filter((l) => !/No such file or directory/.test(l)).map((l) => clean(l)).filter((l) => /:/.test(l));
        if (section.name === 'hosts-allow') facts.hostsAllow = kept;
        else facts.hostsDeny = kept;
        break;
      }
      case 'loadavg': {
        const [one, five, fifteen] = (lines[0] ?? '').trim().split(/\s+/).map((x) => num(x));
        if (one !== undefined && five !== undefined && fifteen !== undefined) facts.load = { one, five, fifteen };
        break;
      }
      case 'cpus': {
        const n = num(lines[0]?.trim());
        if (n !== undefined && n >= 1 && n <= 100_000) facts.cpus = n;
        break;
      }
      case 'meminfo': {
        const kb = (key: string): number | undefined => num(new RegExp(`^${key}:\\s+([0-9]+) kB`).exec(lines.find((l) => l.startsWith(`${key}:`)) ?? '')?.[1]);
        const total = kb('MemTotal');
        const available = kb('MemAvailable');
        if (total !== undefined && available !== undefined) facts.memory = { totalKb: total, availableKb: available };
        break;
      }
      case 'pressure':
        facts.pressure = parsePressure(lines);
        break;
      case 'fail2ban':
        facts.fail2ban = parseFail2ban(lines);
        break;
      case 'iptables':
        if (error) facts.firewall.errors.push(`iptables: ${error}`);
        else facts.firewall.iptables = lines.filter((l) => /^-[APN] /.test(l)).slice(0, MAX_RULE_LINES).map((l) => clean(l, 500));
        break;
      case 'nft':
        if (error) facts.firewall.errors.push(`nft: ${error}`);
        else facts.firewall.nft = lines.map((l) => l.trim()).filter((l) => l.length > 0).slice(0, MAX_RULE_LINES).map((l) => clean(l, 500));
        break;
      case 'sshd-log':
        facts.sshdLog = lines.slice(-MAX_LOG_LINES).map((l) => clean(l, 400));
        break;
      default:
        break;
    }
  });
  return facts;
}
