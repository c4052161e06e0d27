// resolv.conf as glibc's resolver reads it (resolv/res_init.c), and the names the resolver
// library would ask for a given name (resolv/res_query.c, __res_context_search). Pure: the
// DNS probe reads the file and asks these names, so that what it reports is what `ssh`'s
// getaddrinfo would have sent, not what a hand-typed `dig` would.
import { isIP } from 'node:net';

export interface ResolvConf {
  /** At most three, in file order (MAXNS): glibc ignores the rest. */
  nameservers: string[];
  /** Search domains without trailing dots; `domain` and `search` replace each other, last wins. */
  search: string[];
  ndots: number;
  timeoutS: number;
  attempts: number;
}

// glibc's defaults and caps (resolv.h: MAXNS, RES_TIMEOUT, RES_MAXNDOTS, RES_MAXRETRANS,
// RES_DFLRETRY, RES_MAXRETRY).
const MAX_NAMESERVERS = 3;
const DEFAULT_TIMEOUT_S = 5;
const MAX_NDOTS = 15;
const MAX_TIMEOUT_S = 30;
const DEFAULT_ATTEMPTS = 2;
const MAX_ATTEMPTS = 5;
/** The resolver library tries at most this many names; more would only slow a probe down. */
const MAX_CANDIDATES = 4;
const MAX_NAME = 253;

export function defaultResolvConf(): ResolvConf {
  return { nameservers: [], search: [], ndots: 1, timeoutS: DEFAULT_TIMEOUT_S, attempts: DEFAULT_ATTEMPTS };
}

/**
 * glibc's MATCH(): the keyword at the very start of the line, followed by a blank. A line
 * that starts with a blank, or a keyword glued to its value, is ignored as glibc ignores it.
 */
function keywordValue(line: string, keyword: string): string | undefined {
  if (!line.startsWith(keyword)) return undefined;
  const next = line.charAt(keyword.length);
  if (next !== ' ' && next !== '\t') return undefined;
  return line.slice(keyword.length + 1);
}

function words(text: string): string[] {
  return text.split(/[ \t]+/).filter((w) => w.length > 0);
}

function normaliseDomain(domain: string): string | undefined {
  const d = domain.replace(/\.+$/, '').toLowerCase();
  // The root domain ("search .") drops out: glibc turns it into the name itself, which the
  // candidate list tries anyway. Junk drops out too: the probe only asks names it can encode.
  if (d.length === 0 || d.length > MAX_NAME || !/^[a-z0-9_.-]+$/.test(d) || d.includes('..')) return undefined;
  return d;
}

function applyOptions(conf: ResolvConf, value: string): void {
  for (const option of words(value)) {
    const m = /^(ndots|timeout|attempts):(\d+)$/.exec(option);
    if (!m) continue;
    const n = Number(m[2]);
    if (m[1] === 'ndots') conf.ndots = Math.min(n, MAX_NDOTS);
    else if (m[1] === 'timeout') conf.timeoutS = Math.min(Math.max(n, 1), MAX_TIMEOUT_S);
    else conf.attempts = Math.min(Math.max(n, 1), MAX_ATTEMPTS);
  }
}

export function parseResolvConf(text: string): ResolvConf {
  const conf = defaultResolvConf();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.startsWith('#') || line.startsWith(';')) continue;

    const ns = keywordValue(line, 'nameserver');
    if (ns !== undefined) {
      // glibc takes the first word and ignores the rest of the line (comments included).
      const address = words(ns)[0];
      if (address !== undefined && isIP(address) !== 0 && conf.nameservers.length < MAX_NAMESERVERS) {
        conf.nameservers.push(address);
      }
      continue;
    }

    const domain = keywordValue(line, 'domain');
    if (domain !== undefined) {
      const first = words(domain)[0];
      const d = first === undefined ? undefined : normaliseDomain(first);
      if (d !== undefined) conf.search = [d];
      continue;
    }

    const search = keywordValue(line, 'search');
    if (search !== undefined) {
      const list: string[] = [];
      for (const w of words(search)) {
        // An inline comment ends the list (the domains cannot contain '#' or ';').
        if (w.startsWith('#') || w.startsWith(';')) break;
        const d = normaliseDomain(w);
        if (d !== undefined && !list.includes(d)) list.push(d);
      }
      if (list.length > 0 || words(search).length > 0) conf.search = list;
      continue;
    }

    const options = keywordValue(line, 'options');
    if (options !== undefined) applyOptions(conf, options);
  }
  return conf;
}

/**
 * The names the resolver library would try for `name`, in order: an absolute name (trailing
 * dot) only as is; a name with at least `ndots` dots as is first, then with each search
 * domain; a shorter one with the search domains first and as is last. (glibc also falls back
 * to the host's own domain when resolv.conf has no search line; that needs I/O and is not
 * modelled here.)
 */
export function candidateNames(name: string, conf: Pick<ResolvConf, 'search' | 'ndots'>): string[] {
  const absolute = name.endsWith('.');
  const bare = name.replace(/\.+$/, '');
  if (bare.length === 0) return [];
  if (absolute) return [bare];

  const dots = (bare.match(/\./g) ?? []).length;
  const searched = conf.search.map((domain) => `${bare}.${domain}`).filter((n) => n.length <= MAX_NAME);
  const ordered = dots >= conf.ndots ? [bare, ...searched] : [...searched, bare];
  const unique: string[] = [];
  for (const n of ordered) if (!unique.includes(n)) unique.push(n);
  return unique.slice(0, MAX_CANDIDATES);
}
