import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { KNOWN_VIOLATIONS, collectEdges, cycles, importsOf, layerOf, violations } from '../../scripts/check-layers.js';

test('imports: relative specifiers of static, type-only, re-export and dynamic imports', () => {
  const src = [
    "import { a } from './a.js';",
    "import type { B } from '../engine/b.js';",
    "export { c } from './c.js';",
    "const d = await import('./d.js');",
    "import { readFile } from 'node:fs/promises';",
    "import yaml from 'yaml';",
  ].join('\n');
  assert.deepEqual(importsOf(src), ['./a.js', '../engine/b.js', './c.js', './d.js']);
});

test('layers: the longest matching folder decides', () => {
  assert.equal(layerOf('src/engine/probes/tcp.ts'), 'src/engine');
  assert.equal(layerOf('src/log.ts'), 'src/log.ts');
  assert.equal(layerOf('adapters/slack/app.ts'), 'adapters/slack');
  assert.equal(layerOf('test/unit/x.ts'), undefined);
});

test('an import down the picture is fine; one up is named with both files', () => {
  assert.deepEqual(violations([{ from: 'src/chat/views.ts', to: 'src/engine/report.ts' }]), []);
  assert.deepEqual(violations([{ from: 'src/engine/run.ts', to: 'src/chat/views.ts' }]), [
    'upward import: src/engine/run.ts -> src/chat/views.ts (src/engine sits below src/chat)',
  ]);
});

test('two folders of one layer that import each other are a folder cycle', () => {
  const found = violations([
    { from: 'src/chat/a.ts', to: 'src/service/b.ts' },
    { from: 'src/service/b.ts', to: 'src/chat/c.ts' },
  ]);
  assert.deepEqual(found, ['folder cycle: src/chat <-> src/service']);
});

test('a file cycle inside one folder is found, type-only or not', () => {
  const found = violations([
    { from: 'adapters/slack/a.ts', to: 'adapters/slack/b.ts' },
    { from: 'adapters/slack/b.ts', to: 'adapters/slack/a.ts' },
    { from: 'adapters/slack/b.ts', to: 'adapters/slack/c.ts' },
  ]);
  assert.deepEqual(found, ['file cycle: adapters/slack/a.ts <-> adapters/slack/b.ts']);
});

test('cycles: only components of more than one node', () => {
  const g = new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]);
  assert.deepEqual(cycles(g.keys(), (n) => g.get(n) ?? []), [['a', 'b', 'c']]);
});

test('the engine.yml loader sits above the engine, the policy below it, the leaf files at the bottom', () => {
  assert.deepEqual(violations([{ from: 'src/config/engine-config.ts', to: 'src/engine/run-config.ts' }]), []);
  assert.deepEqual(violations([{ from: 'src/engine/run.ts', to: 'src/config/engine-config.ts' }]), [
    'upward import: src/engine/run.ts -> src/config/engine-config.ts (src/engine sits below src/config)',
  ]);
  assert.deepEqual(violations([{ from: 'src/policy/target-policy.ts', to: 'src/engine/report.ts' }]), [
    'upward import: src/policy/target-policy.ts -> src/engine/report.ts (src/policy sits below src/engine)',
  ]);
  assert.deepEqual(violations([{ from: 'src/errors.ts', to: 'src/policy/ip.ts' }]), ['upward import: src/errors.ts -> src/policy/ip.ts (src/errors.ts sits below src/policy)']);
  assert.deepEqual(violations([{ from: 'src/policy/target-policy.ts', to: 'src/target.ts' }, { from: 'src/target.ts', to: 'src/errors.ts' }]), []);
});

test('the tree itself: no arrow up, no cycle, nothing known left over', () => {
  const root = fileURLToPath(new URL('../../..', import.meta.url));
  assert.deepEqual(violations(collectEdges(root)), []);
  assert.deepEqual(KNOWN_VIOLATIONS, []);
});
