// bin/sshcheck.js in a checkout that was never built: it names the command to run
// instead of Node's ERR_MODULE_NOT_FOUND stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LAUNCHER = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));

test('without dist/ the launcher says to run npm ci or npm run build, exit 3, no stack', () => {
  const root = mkdtempSync(join(tmpdir(), 'sshcheck-unbuilt-'));
  try {
    mkdirSync(join(root, 'bin'));
    copyFileSync(LAUNCHER, join(root, 'bin', 'sshcheck.js'));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'sshcheck.js'), 'localhost'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 3);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^sshcheck: not built yet: .*\/dist\/ is missing\./);
    assert.match(r.stderr, /run `npm ci` \(installs and builds\) or `npm run build`/);
    assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|at async|node:internal/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a module missing inside a build is not hidden behind the "not built" message', () => {
  const root = mkdtempSync(join(tmpdir(), 'sshcheck-broken-'));
  try {
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'dist', 'src', 'cli'), { recursive: true });
    copyFileSync(LAUNCHER, join(root, 'bin', 'sshcheck.js'));
    writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
    writeFileSync(join(root, 'dist', 'src', 'cli', 'main.js'), "export { main } from './gone.js';\n");
    const r = spawnSync(process.execPath, [join(root, 'bin', 'sshcheck.js'), '--version'], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(r.status, 0);
    assert.doesNotMatch(r.stderr, /not built yet/);
    assert.match(r.stderr, /gone\.js/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
