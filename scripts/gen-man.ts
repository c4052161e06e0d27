// Writes docs/sshcheck.1 from the --help text (`node dist/scripts/gen-man.js`); run it after
// changing USAGE. test/unit/usage-doc.test.ts fails while the committed page is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { USAGE } from '../src/cli/args.js';
import { manPage } from '../src/cli/usage-doc.js';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
const target = fileURLToPath(new URL('docs/sshcheck.1', root));
writeFileSync(target, manPage(USAGE, pkg.version));
process.stdout.write(`wrote ${target}\n`);
