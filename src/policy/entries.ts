// One entry of a target policy as an operator writes it (in the engine config's `policy:`
// section, src/config/policy-section.ts, or in an agent's directory entry):
//
//   policy:
//     defaults: true          # the built-in entries (private ranges allowed; loopback,
//                             # link-local, metadata, multicast, unspecified denied)
//     allow: [203.0.113.0/24, corp.example]   # CIDRs, addresses or domain suffixes
//     deny:  [10.9.0.0/16, vault.corp.example]
//     cli: false              # also fence the operator's own `sshcheck <host>`
//
// An entry with "/" or an IP address is a CIDR; anything else is a domain suffix, matching
// the domain and every name under it ("corp.example", ".corp.example" and "*.corp.example"
// mean the same).
import { isIP } from 'node:net';
import { parseCidrBlock } from './ip.js';
import type { PolicyAction, PolicyEntry } from './target-policy.js';

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const SUFFIX_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** One entry as written, or an error message (without the value) saying what is accepted. */
export function parseEntry(text: string, action: PolicyAction, label: string): PolicyEntry | { error: string } {
  const value = text.trim();
  if (value.includes('/') || value.includes(':') || isIP(value) !== 0) {
    const block = parseCidrBlock(value);
    if ('error' in block) return { error: block.error };
    return { kind: 'cidr', action, block, label, origin: 'config' };
  }
  const suffix = value.toLowerCase().replace(/^\*?\./, '').replace(/\.$/, '');
  if (!SUFFIX_RE.test(suffix) || suffix.length > 253) {
    return { error: 'is neither a CIDR (10.0.0.0/8, 2001:db8::/32, 10.0.0.5) nor a domain suffix (corp.example, matching it and every name under it)' };
  }
  if (/^[0-9]+$/.test(suffix.split('.').pop() ?? '')) return { error: 'looks like an incomplete IP address: write a CIDR such as 10.1.0.0/16' };
  return { kind: 'suffix', action, suffix, label, origin: 'config' };
}
