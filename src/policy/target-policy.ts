// Which targets a bastion may probe. A chat bot that makes a bastion open connections is a
// scanner and an SSRF hole unless it is fenced, so every address a run would touch is judged
// here first: the typed target, and every address its name resolves to (DNS can lie, and
// can change its answer between two lookups).
//
// The rule, for addresses and for names alike: the most specific matching entry wins (the
// longest prefix, the longest domain suffix); on a tie a deny wins; no match is a denial.
// Built-in entries allow the private ranges and deny loopback, link-local (cloud metadata
// included), multicast and unspecified addresses; an operator's entries widen or narrow
// them by being more specific. Pure: no I/O.
import { SshcheckError } from '../errors.js';
import type { Target } from '../target.js';
import { formatTarget } from '../target.js';
import type { CidrBlock } from './ip.js';
import { blockContains, canonicalIp, parseCidrBlock, parseIp } from './ip.js';

export type PolicyAction = 'allow' | 'deny';

export type PolicyEntry =
  | { kind: 'cidr'; action: PolicyAction; block: CidrBlock; label: string; origin: 'built-in' | 'config' }
  | { kind: 'suffix'; action: PolicyAction; suffix: string; label: string; origin: 'built-in' | 'config' };

export interface TargetPolicy {
  entries: readonly PolicyEntry[];
  /** Fence the operator's own `sshcheck <host>` with this policy too (`policy.cli: true`). */
  cli: boolean;
}

function builtIn(action: PolicyAction, cidr: string, label: string): PolicyEntry {
  const block = parseCidrBlock(cidr);
  if ('error' in block) throw new Error(`built-in policy entry ${cidr} ${block.error}`);
  return { kind: 'cidr', action, block, label, origin: 'built-in' };
}

/** The built-in entries (policy.defaults: true, the default). */
export const DEFAULT_ENTRIES: readonly PolicyEntry[] = [
  builtIn('allow', '10.0.0.0/8', 'private network (RFC 1918)'),
  builtIn('allow', '172.16.0.0/12', 'private network (RFC 1918)'),
  builtIn('allow', '192.168.0.0/16', 'private network (RFC 1918)'),
  builtIn('allow', '100.64.0.0/10', 'carrier-grade NAT (RFC 6598)'),
  builtIn('allow', 'fc00::/7', 'unique local IPv6 (ULA)'),
  builtIn('deny', '0.0.0.0/8', 'unspecified ("this network")'),
  builtIn('deny', '127.0.0.0/8', 'loopback, the bastion itself'),
  builtIn('deny', '169.254.0.0/16', 'link-local'),
  builtIn('deny', '169.254.169.254/32', 'cloud instance metadata'),
  // Inside an allowed range, so denied one by one: metadata services answer there too.
  builtIn('deny', '100.100.100.200/32', 'cloud instance metadata (Alibaba Cloud)'),
  builtIn('deny', 'fd00:ec2::254/128', 'cloud instance metadata (AWS, IPv6)'),
  builtIn('deny', '224.0.0.0/4', 'multicast'),
  builtIn('deny', '255.255.255.255/32', 'broadcast'),
  builtIn('deny', '::/128', 'unspecified'),
  builtIn('deny', '::1/128', 'loopback, the bastion itself'),
  builtIn('deny', 'fe80::/10', 'link-local'),
  builtIn('deny', 'ff00::/8', 'multicast'),
];

export function defaultPolicy(): TargetPolicy {
  return { entries: DEFAULT_ENTRIES, cli: false };
}

/** "built-in rule deny 127.0.0.0/8" or "policy.deny[2] (engine.yml:14)". */
export function describeEntry(entry: PolicyEntry): string {
  const what = entry.kind === 'cidr' ? entry.block.text : entry.suffix;
  return entry.origin === 'built-in' ? `built-in rule ${entry.action} ${what}` : `${entry.label}: ${entry.action} ${what}`;
}

export type PolicyVerdict = { allowed: true; entry: PolicyEntry | undefined } | { allowed: false; entry: PolicyEntry | undefined; why: string };

/** Most specific wins; deny wins a tie. */
function pick<T extends PolicyEntry>(matches: T[], size: (e: T) => number): T | undefined {
  let best: T | undefined;
  for (const e of matches) {
    if (!best || size(e) > size(best) || (size(e) === size(best) && e.action === 'deny' && best.action === 'allow')) best = e;
  }
  return best;
}

/** Judges one address. An unparsable one is denied: nothing can be said to be safe about it. */
export function judgeAddress(policy: TargetPolicy, address: string): PolicyVerdict {
  const ip = parseIp(address);
  if (!ip) return { allowed: false, entry: undefined, why: 'it is not an IP address' };
  const matches = policy.entries.filter((e): e is Extract<PolicyEntry, { kind: 'cidr' }> => e.kind === 'cidr' && blockContains(e.block, ip));
  const best = pick(matches, (e) => e.block.prefix);
  if (!best) {
    const ranges = policy.entries.filter((e) => e.kind === 'cidr' && e.action === 'allow').map((e) => (e.kind === 'cidr' ? e.block.text : ''));
    const list = ranges.length > 0 ? ` (${ranges.slice(0, 6).join(', ')}${ranges.length > 6 ? ', …' : ''})` : ' (it allows none)';
    return { allowed: false, entry: undefined, why: `it is outside every range the policy allows${list}` };
  }
  if (best.action === 'allow') return { allowed: true, entry: best };
  return { allowed: false, entry: best, why: best.origin === 'built-in' ? `${best.label} (${describeEntry(best)})` : `${best.label} denies ${best.block.text}` };
}

function underSuffix(name: string, suffix: string): boolean {
  return name === suffix || name.endsWith(`.${suffix}`);
}

/**
 * Judges a host name by the suffix entries. Without any `allow` suffix names are not fenced
 * by name (their addresses still are); with one, a name must be under an allowed domain.
 */
export function judgeName(policy: TargetPolicy, name: string): PolicyVerdict {
  const host = name.toLowerCase().replace(/\.$/, '');
  const suffixes = policy.entries.filter((e): e is Extract<PolicyEntry, { kind: 'suffix' }> => e.kind === 'suffix');
  const best = pick(
    suffixes.filter((e) => underSuffix(host, e.suffix)),
    (e) => e.suffix.length,
  );
  if (best?.action === 'deny') return { allowed: false, entry: best, why: `${best.label} denies names under ${best.suffix}` };
  if (best) return { allowed: true, entry: best };
  const allowed = suffixes.filter((e) => e.action === 'allow').map((e) => e.suffix);
  if (allowed.length > 0) return { allowed: false, entry: undefined, why: `it is not under a domain the policy allows (${allowed.slice(0, 6).join(', ')}${allowed.length > 6 ? ', …' : ''})` };
  return { allowed: true, entry: undefined };
}

/** Why a target was refused, for the error, the audit log and the person who asked. */
export interface PolicyDenial {
  target: string;
  /** The refused name, when the name itself was refused. */
  name?: string;
  /** The refused address, when an address was refused. */
  address?: string;
  /** Every address that was checked (resolved), for the audit log. */
  addresses: string[];
  /** The deciding entry, described; undefined when nothing allowed it. */
  rule?: string;
  /** Why, without the subject ("cloud instance metadata (built-in rule deny …)"). */
  why: string;
  message: string;
}

/**
 * Several refused hosts in one line, for a fleet: "127.0.0.1: loopback, the bastion itself
 * (built-in rule deny 127.0.0.0/8); db-9: …; and 4 more". Each host once, at most `shown`.
 */
export function refusedHosts(denials: readonly PolicyDenial[], shown = 3): string {
  const parts = denials.slice(0, shown).map((d) => `${d.address ?? d.name ?? d.target}: ${d.why}`);
  return `${parts.join('; ')}${denials.length > shown ? `; and ${denials.length - shown} more` : ''}`;
}

export class PolicyError extends SshcheckError {
  constructor(readonly denial: PolicyDenial) {
    super('E_POLICY', denial.message);
    this.name = 'PolicyError';
  }
}

export function isPolicyError(err: unknown): err is PolicyError {
  return err instanceof PolicyError || (err instanceof SshcheckError && err.code === 'E_POLICY');
}

const HINT = 'If it should be checked, an admin can allow it under policy: in the engine config (docs/security.md).';
/** The same advice for a fleet's refused hosts. */
export const FLEET_HINT = 'If they should be checked, an admin can allow them under policy: in the engine config (docs/security.md).';

/**
 * One sentence a person can act on: what was refused, by which rule (or that no rule allows
 * it), that nothing was probed, and who can change it. `subject` is "the address …", "the
 * name …" or "<name>, which resolves to …".
 */
function denyMessage(subject: string, verdict: Extract<PolicyVerdict, { allowed: false }>): string {
  return `The target policy refuses ${subject}: ${verdict.why}. Nothing was probed. ${HINT}`;
}

/**
 * The cheap check on what was typed, before anything resolves: an IP literal is judged as
 * an address, a name by the suffix entries. Undefined when allowed.
 */
export function checkTyped(policy: TargetPolicy, target: Pick<Target, 'host' | 'kind' | 'port'>): PolicyDenial | undefined {
  const label = formatTarget(target);
  if (target.kind === 'name') {
    const verdict = judgeName(policy, target.host);
    if (verdict.allowed) return undefined;
    return { target: label, name: target.host, addresses: [], ...(verdict.entry ? { rule: describeEntry(verdict.entry) } : {}), why: verdict.why, message: denyMessage(`the name ${target.host}`, verdict) };
  }
  return checkAddresses(policy, target, [target.host]);
}

/** Every address must be allowed; the first refused one is reported. Undefined when all are allowed. */
export function checkAddresses(policy: TargetPolicy, target: Pick<Target, 'host' | 'kind' | 'port'>, addresses: readonly string[]): PolicyDenial | undefined {
  const label = formatTarget(target);
  const checked = [...new Set(addresses)];
  for (const address of checked) {
    const verdict = judgeAddress(policy, address);
    if (verdict.allowed) continue;
    const shown = canonicalIp(address) ?? address;
    const mapped = shown !== address.toLowerCase() ? ` (${address})` : '';
    const subject = target.kind === 'name' ? `${target.host}, which resolves to ${shown}${mapped}` : `the address ${shown}${mapped}`;
    return { target: label, address: shown, addresses: checked, ...(verdict.entry ? { rule: describeEntry(verdict.entry) } : {}), why: verdict.why, message: denyMessage(subject, verdict) };
  }
  return undefined;
}
