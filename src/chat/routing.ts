// Which bastion probes a target, by the rules of the bot's config. Pure selection: an IP
// literal goes by the most specific CIDR rule; a name by the longest matching domain
// suffix. The NATS client (src/nats/directory.ts) puts `via`, these rules, what the agents
// declare and the default in that order.
import type { Target } from '../target.js';
import { blockContainsAddress } from '../policy/ip.js';
import type { RouteRule } from './routing-config.js';

export interface Route {
  bastion: string;
  /** Why this bastion: "via", "cidr 10.1.0.0/16", "suffix eu.example.com" or "default". */
  reason: string;
}

/** The most specific rule for a target (among equals, the first written), if any matches. */
export function matchRule(rules: readonly RouteRule[], target: Pick<Target, 'host' | 'kind'>): Route | undefined {
  let best: { route: Route; specificity: number } | undefined;
  for (const rule of rules) {
    let specificity = -1;
    if (rule.kind === 'cidr' && target.kind !== 'name' && blockContainsAddress(rule.cidr, target.host)) specificity = rule.cidr.prefix;
    if (rule.kind === 'suffix' && target.kind === 'name' && (target.host === rule.suffix || target.host.endsWith(`.${rule.suffix}`))) specificity = rule.suffix.length;
    // Most specific wins; among equals, the first written.
    if (specificity > (best?.specificity ?? -1)) best = { route: { bastion: rule.bastion, reason: rule.kind === 'cidr' ? `cidr ${rule.cidr.text}` : `suffix ${rule.suffix}` }, specificity };
  }
  return best?.route;
}
