// Fails the lint when an import points up the layer picture or closes a cycle, so the folder
// tree keeps telling the truth about the design: adapters and CLI on top, chat and service
// below them, the engine under those, the target policy at the bottom. Imports are read from
// the TypeScript sources (type-only imports count: a type cycle still ties two files together).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Higher may import lower; equal ranks only without a cycle between their folders. */
export const LAYERS: Readonly<Record<string, number>> = {
  'src/log.ts': 0,
  'src/policy': 0,
  'src/engine': 1,
  'src/explain': 2,
  'src/store': 2,
  'src/fleet': 2,
  'src/chat': 3,
  'src/service': 3,
  'src/agent': 3,
  'src/nats': 4,
  'adapters/slack': 4,
  'adapters/discord': 4,
  'adapters/shared': 4,
  'src/cli': 5,
};

/**
 * Arrows that were known to be wrong when this check was written (issue 18 removes them).
 * A listed arrow that no longer exists fails the check too, so the list only ever shrinks.
 */
export const KNOWN_VIOLATIONS: readonly string[] = [
  'file cycle: adapters/discord/fleet.ts <-> adapters/discord/interaction.ts',
  'file cycle: adapters/slack/listeners.ts <-> adapters/slack/log-replies.ts',
  'folder cycle: src/engine <-> src/fleet <-> src/policy <-> src/store',
  'upward import: src/engine/config.ts -> src/fleet/range.ts (src/engine sits below src/fleet)',
  'upward import: src/engine/config.ts -> src/store/config.ts (src/engine sits below src/store)',
  'upward import: src/policy/target-policy.ts -> src/engine/errors.ts (src/policy sits below src/engine)',
  'upward import: src/policy/target-policy.ts -> src/engine/target.ts (src/policy sits below src/engine)',
  'upward import: src/policy/yaml-section.ts -> src/engine/config-file.ts (src/policy sits below src/engine)',
  'upward import: src/policy/yaml-section.ts -> src/engine/errors.ts (src/policy sits below src/engine)',
];

export interface Edge {
  from: string;
  to: string;
}

export function layerOf(file: string): string | undefined {
  let best: string | undefined;
  for (const key of Object.keys(LAYERS)) {
    if ((file === key || file.startsWith(`${key}/`)) && (best === undefined || key.length > best.length)) best = key;
  }
  return best;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative module specifiers a source file imports (packages and node: builtins are not layers). */
export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (spec !== undefined && spec.startsWith('.')) out.push(spec);
  }
  return out;
}

function toSourcePath(root: string, fromFile: string, spec: string): string {
  const abs = resolve(root, dirname(fromFile), spec);
  return relative(root, abs).split(sep).join('/').replace(/\.js$/, '.ts');
}

function walk(root: string, dir: string, out: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(join(root, dir));
  } catch {
    return;
  }
  for (const name of entries) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) walk(root, rel, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(rel);
  }
}

export function collectEdges(root: string): Edge[] {
  const files: string[] = [];
  walk(root, 'src', files);
  walk(root, 'adapters', files);
  const edges: Edge[] = [];
  for (const file of files) {
    for (const spec of importsOf(readFileSync(join(root, file), 'utf8'))) {
      edges.push({ from: file, to: toSourcePath(root, file, spec) });
    }
  }
  return edges;
}

/** Every strongly connected component with more than one node (Tarjan). */
export function cycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) found.push(comp.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return found;
}

/** The problems in an import graph, each as one line a person can act on. */
export function violations(edges: readonly Edge[]): string[] {
  const problems: string[] = [];
  const folderEdges = new Map<string, Set<string>>();
  const fileEdges = new Map<string, Set<string>>();
  for (const { from, to } of edges) {
    const a = layerOf(from);
    const b = layerOf(to);
    if (a === undefined) problems.push(`${from}: not in any layer of scripts/check-layers.ts (add its folder to LAYERS)`);
    if (a === undefined || b === undefined) continue;
    if ((LAYERS[b] ?? 0) > (LAYERS[a] ?? 0)) problems.push(`upward import: ${from} -> ${to} (${a} sits below ${b})`);
    if (a !== b) {
      const set = folderEdges.get(a) ?? new Set<string>();
      set.add(b);
      folderEdges.set(a, set);
    }
    const set = fileEdges.get(from) ?? new Set<string>();
    set.add(to);
    fileEdges.set(from, set);
  }
  for (const comp of cycles(folderEdges.keys(), (n) => folderEdges.get(n) ?? [])) {
    problems.push(`folder cycle: ${comp.join(' <-> ')}`);
  }
  for (const comp of cycles(fileEdges.keys(), (n) => fileEdges.get(n) ?? [])) {
    problems.push(`file cycle: ${comp.join(' <-> ')}`);
  }
  return [...new Set(problems)].sort();
}

function main(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const found = violations(collectEdges(root));
  const known = new Set(KNOWN_VIOLATIONS);
  const fresh = found.filter((p) => !known.has(p));
  const gone = KNOWN_VIOLATIONS.filter((p) => !found.includes(p));
  for (const p of fresh) process.stderr.write(`check-layers: ${p}\n`);
  for (const p of gone) process.stderr.write(`check-layers: fixed, remove from KNOWN_VIOLATIONS: ${p}\n`);
  if (fresh.length > 0 || gone.length > 0) {
    process.stderr.write('check-layers: imports must point down: cli -> adapters/nats -> chat/service -> store/fleet/explain -> engine -> policy\n');
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`check-layers: ${found.length} known violation(s), none new\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) main();
