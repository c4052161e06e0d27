// Whether the target lets an address in, judged on the bastion from what the inside script
// returned: TCP wrappers (hosts.allow / hosts.deny, which DenyHosts also writes), fail2ban's
// ban list and firewall rules that name the address. Pure.
import { isIP } from 'node:net';
import { inCidr } from '../run-config.js';
import type { InsideFacts } from '../observations.js';

export interface WrapperVerdict {
  verdict: 'allowed' | 'denied' | 'unknown';
  /** The line that decided it. */
  line?: string;
  file?: 'hosts.allow' | 'hosts.deny';
  /** Why the verdict is unknown (a rule that needs reverse DNS, say). */
  note?: string;
}

type Match = 'yes' | 'no' | 'unknown';

function netmaskToBits(mask: string): number | undefined {
  if (isIP(mask) !== 4) return undefined;
  const value = mask.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
  const bits = value.toString(2).padStart(32, '0');
  return /^1*0*$/.test(bits) ? bits.indexOf('0') === -1 ? 32 : bits.indexOf('0') : undefined;
}

/** One client pattern of hosts_access(5) against an address (no DNS: name patterns are unknown). */
export function clientPatternMatches(pattern: string, address: string): Match {
  const p = pattern.trim();
  if (p === 'ALL') return 'yes';
  if (p === 'LOCAL' || p === 'KNOWN' || p === 'UNKNOWN' || p === 'PARANOID') return 'unknown';
  const bare = p.replace(/^\[(.*)\](\/[0-9]+)?$/, '$1$2');
  if (isIP(bare) !== 0) return bare === address ? 'yes' : 'no';
  if (/^[0-9.]+\.$/.test(bare)) return isIP(address) === 4 && address.startsWith(bare) ? 'yes' : 'no';
  const [net, suffix] = bare.split('/');
  if (net !== undefined && suffix !== undefined && isIP(net) !== 0) {
    const bits = /^[0-9]{1,3}$/.test(suffix) ? Number(suffix) : netmaskToBits(suffix);
    if (bits === undefined) return 'unknown';
    return inCidr(address, `${net}/${bits}`) ? 'yes' : 'no';
  }
  if (p.startsWith('@') || /[A-Za-z]/.test(p)) return 'unknown'; // netgroups, host and domain names need lookups
  return 'no';
}

/** A client list with EXCEPT: "ALL EXCEPT 10.0.0.5 10.1." */
function listMatches(list: string, address: string): Match {
  const [include = '', ...excepts] = list.split(/\bEXCEPT\b/);
  const any = (text: string): Match => {
    const results = text.split(/[\s,]+/).filter((w) => w.length > 0).map((w) => clientPatternMatches(w, address));
    return results.includes('yes') ? 'yes' : results.includes('unknown') ? 'unknown' : 'no';
  };
  const inc = any(include);
  if (inc !== 'yes' || excepts.length === 0) return inc;
  const exc = listMatches(excepts.join(' EXCEPT '), address);
  return exc === 'yes' ? 'no' : exc === 'unknown' ? 'unknown' : 'yes';
}

function daemonMatches(daemons: string): boolean {
  return daemons.split(/[\s,]+/).some((d) => d === 'ALL' || d === 'sshd' || /^sshd@/.test(d));
}

function firstMatch(lines: readonly string[], address: string): { line: string; match: Match } | undefined {
  for (const line of lines) {
    const [daemons = '', clients = '', ...options] = line.split(':');
    if (!daemonMatches(daemons.trim())) continue;
    const match = listMatches(clients, address);
    // "sshd: 10.0.0.5 : allow" in hosts.deny turns the rule around (the options extension).
    if (match !== 'no') return { line, match: options.some((o) => /^\s*allow\s*$/i.test(o)) && match === 'yes' ? 'no' : match };
  }
  return undefined;
}

/** hosts_access(5): allowed if hosts.allow matches, else denied if hosts.deny matches, else allowed. */
export function wrapperAccess(facts: Pick<InsideFacts, 'hostsAllow' | 'hostsDeny'>, address: string): WrapperVerdict {
  const allow = firstMatch(facts.hostsAllow, address);
  if (allow?.match === 'yes') return { verdict: 'allowed', line: allow.line, file: 'hosts.allow' };
  const deny = firstMatch(facts.hostsDeny, address);
  if (allow?.match === 'unknown') return { verdict: 'unknown', line: allow.line, file: 'hosts.allow', note: 'the matching hosts.allow rule depends on reverse DNS' };
  if (deny?.match === 'yes') return { verdict: 'denied', line: deny.line, file: 'hosts.deny' };
  if (deny?.match === 'unknown') return { verdict: 'unknown', line: deny.line, file: 'hosts.deny', note: 'the matching hosts.deny rule depends on reverse DNS' };
  return { verdict: 'allowed' };
}

const ADDRESSES = /(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?:\/[0-9]{1,2})?|[0-9a-fA-F:]*:[0-9a-fA-F:.]+(?:\/[0-9]{1,3})?/g;

/** Firewall rules that drop or reject traffic from the address (iptables -S, nft list ruleset). */
export function firewallRulesNaming(firewall: InsideFacts['firewall'], address: string): string[] {
  const hits: string[] = [];
  for (const rule of firewall.iptables) {
    if (!/-j (DROP|REJECT|f2b-|fail2ban)/.test(rule) && !/-j \S+/.test(rule)) continue;
    const source = /(?:^|\s)(?:-s|--source) (\S+)/.exec(rule)?.[1];
    if (source && !/^!/.test(source) && (source === address || inCidr(address, source)) && /-j (DROP|REJECT)/.test(rule)) hits.push(rule);
  }
  for (const rule of firewall.nft) {
    if (!/\b(drop|reject)\b/.test(rule) || !/saddr/.test(rule)) continue;
    const named = (rule.match(ADDRESSES) ?? []).some((a) => a === address || (a.includes('/') && inCidr(address, a)));
    if (named) hits.push(rule);
  }
  return hits;
}

/** Rules that drop or reject the SSH port for everyone (no source restriction). */
export function firewallRulesForPort(firewall: InsideFacts['firewall'], port: number): string[] {
  const p = String(port);
  const iptables = firewall.iptables.filter((r) => new RegExp(`--dport ${p}\\b|--dports \\S*\\b${p}\\b`).test(r) && /-j (DROP|REJECT)/.test(r));
  const nft = firewall.nft.filter((r) => new RegExp(`dport (\\{[^}]*\\b${p}\\b[^}]*\\}|${p}\\b)`).test(r) && /\b(drop|reject)\b/.test(r));
  return [...iptables, ...nft];
}

export function fail2banBans(facts: InsideFacts, address: string): boolean | undefined {
  const f = facts.fail2ban;
  if (!f || 'error' in f) return undefined;
  return f.banned.includes(address);
}

export function logLinesNaming(facts: InsideFacts, address: string): string[] {
  return facts.sshdLog.filter((l) => l.includes(` ${address} `) || l.includes(`[${address}]`) || l.endsWith(` ${address}`));
}
