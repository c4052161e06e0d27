// Helpers for the sections of the engine config parsed in their own modules (policy:,
// store:, connection_budget:): the yaml module loaded on first use (every CLI run imports the config module,
// only bastions with a config parse one), and errors in the config's own style,
// `file:line: field: message`.
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';
import type { LineCounter, Node } from 'yaml';
import { SshcheckError } from '../errors.js';
import { safeKey } from './config-file.js';

let loaded: typeof Yaml | undefined;

export function yaml(): typeof Yaml {
  loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml;
  return loaded;
}

export interface SectionContext {
  file: string;
  lines: LineCounter;
}

export function lineOf(ctx: SectionContext, node: Node | null | undefined): number | undefined {
  const offset = node?.range?.[0];
  return offset !== undefined ? ctx.lines.linePos(offset).line : undefined;
}

export function failAt(ctx: SectionContext, node: Node | null | undefined, field: string, message: string): never {
  const line = lineOf(ctx, node);
  throw new SshcheckError('E_USAGE', `${ctx.file}${line !== undefined ? `:${line}` : ''}: ${field}: ${message}`);
}

/** The pairs of a mapping, refusing keys not in `allowed`. */
export function mappingFields(ctx: SectionContext, node: Node, path: string, allowed: readonly string[]): Map<string, Node | null> {
  const { isMap, isScalar } = yaml();
  if (!isMap(node)) failAt(ctx, node, path, `must be a mapping with ${allowed.join(', ')}`);
  const out = new Map<string, Node | null>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== 'string') failAt(ctx, pair.key as Node, path, 'keys must be plain words');
    if (!allowed.includes(key)) failAt(ctx, pair.key as Node, `${path}.${safeKey(key)}`, `unknown field (expected ${allowed.join(', ')})`);
    out.set(key, (pair.value as Node | null) ?? null);
  }
  return out;
}

export function booleanField(ctx: SectionContext, node: Node | null | undefined, field: string): boolean | undefined {
  const { isScalar } = yaml();
  if (node === undefined || node === null) return undefined;
  if (!isScalar(node) || typeof node.value !== 'boolean') failAt(ctx, node, field, 'must be true or false');
  return node.value;
}

export function numberField(ctx: SectionContext, node: Node | null | undefined, field: string, min: number, max: number, unit: string): number | undefined {
  const { isScalar } = yaml();
  if (node === undefined || node === null) return undefined;
  const value = isScalar(node) ? node.value : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) failAt(ctx, node, field, `must be a number of ${unit} from ${min} to ${max}`);
  return value;
}

/** A list of strings (a single string counts as a list of one); null is an empty list. */
export function stringList(ctx: SectionContext, node: Node | null | undefined, field: string): Array<{ value: string; node: Node }> {
  const { isScalar, isSeq } = yaml();
  if (node === undefined || node === null || (isScalar(node) && node.value === null)) return [];
  const items = isSeq(node) ? (node.items as Node[]) : [node];
  return items.map((item, i) => {
    const at = isSeq(node) ? `${field}[${i}]` : field;
    if (!isScalar(item) || (typeof item.value !== 'string' && typeof item.value !== 'number') || String(item.value).trim() === '') failAt(ctx, item, at, 'must be a non-empty string');
    return { value: String(item.value).trim(), node: item };
  });
}
