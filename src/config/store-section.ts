// The `store:` section of the engine config, validated with line-numbered errors (what it
// means: src/store/config.ts).
import type { Node } from 'yaml';
import type { StoreConfig } from '../store/config.js';
import type { SectionContext } from './yaml-section.js';
import { failAt, mappingFields, numberField, yaml } from './yaml-section.js';

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
