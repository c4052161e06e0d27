// The `store:` section of the engine config: where the audit log and run history live, how
// long they are kept, and how recent a healthy run must be to count in the ban heuristic.
//
//   store:
//     path: /var/lib/sshcheck/sshcheck.db   # default: see paths.ts ($SSHCHECK_DB wins)
//     retention_days: 90
//     healthy_window_minutes: 60
import type { Node } from 'yaml';
import type { SectionContext } from '../policy/yaml-section.js';
import { failAt, mappingFields, numberField, yaml } from '../policy/yaml-section.js';

export interface StoreConfig {
  path?: string;
  /** Audit rows and runs older than this are deleted. */
  retentionDays?: number;
  /** A healthy run from this vantage this recent, with silence now, raises the `banned` finding. */
  healthyWindowMinutes?: number;
}

export const DEFAULT_RETENTION_DAYS = 90;
export const DEFAULT_HEALTHY_WINDOW_MINUTES = 60;

export function parseStoreSection(node: Node, file: string, lines: SectionContext['lines']): StoreConfig {
  const ctx: SectionContext = { file, lines };
  const { isScalar } = yaml();
  if (isScalar(node) && node.value === null) return {};
  const fields = mappingFields(ctx, node, 'store', ['path', 'retention_days', 'healthy_window_minutes']);
  const config: StoreConfig = {};
  const pathNode = fields.get('path');
  if (pathNode !== undefined && pathNode !== null) {
    if (!isScalar(pathNode) || typeof pathNode.value !== 'string' || !/^\/[^\0\n]{0,1023}$/.test(pathNode.value.trim())) failAt(ctx, pathNode, 'store.path', 'must be an absolute file path');
    config.path = pathNode.value.trim();
  }
  const retention = numberField(ctx, fields.get('retention_days'), 'store.retention_days', 1, 3650, 'days');
  if (retention !== undefined) config.retentionDays = retention;
  const window = numberField(ctx, fields.get('healthy_window_minutes'), 'store.healthy_window_minutes', 1, 1440, 'minutes');
  if (window !== undefined) config.healthyWindowMinutes = window;
  return config;
}
