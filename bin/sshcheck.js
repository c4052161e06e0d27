#!/usr/bin/env node
// Thin launcher: the CLI is compiled TypeScript in dist/ (`npm ci` runs `prepare`, which builds
// it). Run directly (./bin/sshcheck.js) rather than through npx: no npm start-up, no npx cache.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

let main;
try {
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (err) {
  // A checkout without a build: say what to run instead of a module-resolution stack.
  // Only when the entry point itself is absent: a module missing inside a build is a real bug.
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && !existsSync(`${root}/dist/src/cli/main.js`)) {
    process.stderr.write(
      `sshcheck: not built yet: ${root}/dist/ is missing.\n` +
        `  run \`npm ci\` (installs and builds) or \`npm run build\` in ${root}, then try again\n`,
    );
    process.exit(3);
  }
  throw err;
}
process.exitCode = await main(process.argv.slice(2));
