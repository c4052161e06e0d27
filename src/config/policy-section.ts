// The `policy:` section of the engine config, validated with line-numbered errors (the
// entries' grammar is src/policy/entries.ts).
import type { Node } from 'yaml';
import { parseEntry } from '../policy/entries.js';
import type { PolicyEntry, TargetPolicy } from '../policy/target-policy.js';
import { DEFAULT_ENTRIES } from '../policy/target-policy.js';
import type { SectionContext } from './yaml-section.js';
import { booleanField, failAt, lineOf, mappingFields, stringList, yaml } from './yaml-section.js';

/** `policy:` with nothing under it (null) means the built-in defaults. */
export function parsePolicySection(node: Node | null, file: string, lines: SectionContext['lines']): TargetPolicy {
  const ctx: SectionContext = { file, lines };
  const { isScalar } = yaml();
  if (node === null || (isScalar(node) && node.value === null)) return { entries: DEFAULT_ENTRIES, cli: false };
  const fields = mappingFields(ctx, node, 'policy', ['defaults', 'allow', 'deny', 'cli']);
  const defaults = booleanField(ctx, fields.get('defaults'), 'policy.defaults') ?? true;
  const cli = booleanField(ctx, fields.get('cli'), 'policy.cli') ?? false;
  const entries: PolicyEntry[] = defaults ? [...DEFAULT_ENTRIES] : [];
  for (const action of ['allow', 'deny'] as const) {
    const listNode = fields.get(action);
    const items = stringList(ctx, listNode, `policy.${action}`);
    items.forEach(({ value, node: item }, i) => {
      const field = `policy.${action}[${i}]`;
      const line = lineOf(ctx, item);
      const entry = parseEntry(value, action, `${field} (${file}${line !== undefined ? `:${line}` : ''})`);
      if ('error' in entry) failAt(ctx, item, field, `${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)} ${entry.error}`);
      entries.push(entry);
    });
  }
  return { entries, cli };
}
