// The `fleet:` section of the engine config: how many hosts one fleet check may name on this
// bastion. The cap bounds what a check holds in memory (one report per host) and how long it
// runs; the default keeps a typo (`10.0.0.0/8`) from starting a day-long check.
//
//   fleet:
//     max_hosts: 10000     # default 1024; the command line's --max-hosts wins
import type { Node } from 'yaml';
import type { SectionContext } from './yaml-section.js';
import { failAt, mappingFields, numberField, yaml } from './yaml-section.js';

import { MAX_HOSTS_CEILING } from '../fleet/limits.js';

export interface FleetConfig {
  maxHosts?: number;
}

export function parseFleetSection(node: Node, file: string, lines: SectionContext['lines']): FleetConfig {
  const ctx: SectionContext = { file, lines };
  if (yaml().isScalar(node) && node.value === null) return {};
  const fields = mappingFields(ctx, node, 'fleet', ['max_hosts']);
  const maxNode = fields.get('max_hosts');
  const maxHosts = numberField(ctx, maxNode, 'fleet.max_hosts', 1, MAX_HOSTS_CEILING, 'hosts');
  if (maxHosts !== undefined && !Number.isInteger(maxHosts)) failAt(ctx, maxNode, 'fleet.max_hosts', `must be a whole number of hosts from 1 to ${MAX_HOSTS_CEILING}`);
  return maxHosts !== undefined ? { maxHosts } : {};
}
