import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cycles, importsOf, layerOf, violations } from '../../scripts/check-layers.js';

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
