// Completion scripts and the man page come from the --help text: every option parseCli reads
// is in it, the scripts are valid shell, and the committed docs/sshcheck.1 is the generator's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLI_OPTIONS, USAGE } from '../../src/cli/args.js';
import { bashCompletion, manPage, usageOptions, zshCompletion } from '../../src/cli/usage-doc.js';

const ROOT = new URL('../../../', import.meta.url);
const PKG = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version: string };
// --color is the undocumented opposite of --no-color (parseArgs needs both to be known).
const HIDDEN = new Set(['color']);

test('--help documents exactly the options parseCli reads, with the same short names and values', () => {
  const documented = usageOptions(USAGE);
  const byLong = new Map(documented.map((o) => [o.long, o]));
  for (const [long, spec] of Object.entries(CLI_OPTIONS)) {
    if (HIDDEN.has(long)) continue;
    const o = byLong.get(long);
    assert.ok(o, `--${long} is missing from --help`);
    assert.equal(o.short, 'short' in spec ? spec.short : undefined, `--${long}: short name`);
    assert.equal(o.arg !== undefined, spec.type === 'string', `--${long}: takes a value`);
    assert.ok(o.description.length > 5, `--${long} has a description`);
  }
  for (const o of documented) assert.ok(Object.hasOwn(CLI_OPTIONS, o.long), `--${o.long} in --help is not an option`);
  const port = byLong.get('port');
  assert.match(port?.description ?? '', /default 22\); a list \(-p 22,2222\) checks each host on each port, as a fleet$/);
});

test('the bash completion is valid bash and offers every option and the subcommands', () => {
  const script = bashCompletion(USAGE);
  const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  for (const o of usageOptions(USAGE)) assert.ok(script.includes(`--${o.long}`), `--${o.long}`);
  assert.match(script, /--file\|--config\|--policy|--config\|--policy\|--file/);
  assert.match(script, /compgen -W "history audit explain bot serve agent discord completion"/);
  // The words a user would complete, as bash's own compgen lists them for "--b".
  const run = spawnSync('bash', ['-c', `${script}\nCOMP_WORDS=(sshcheck --b); COMP_CWORD=1; _sshcheck; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
  assert.deepEqual(run.stdout.trim().split('\n').sort(), ['--brief', '--budget']);
});

test('the zsh completion names every option; zsh checks its syntax when installed', (t) => {
  const script = zshCompletion(USAGE);
  assert.match(script, /^#compdef sshcheck\n/);
  for (const o of usageOptions(USAGE)) assert.ok(script.includes(`--${o.long}`), `--${o.long}`);
  assert.match(script, /'\(-p --port\)'\{-p,--port\}'\[SSH port/);
  const zsh = spawnSync('zsh', ['-n'], { input: script, encoding: 'utf8' });
  if (zsh.error) {
    t.skip(`zsh is not installed (${zsh.error.message}): its syntax check did not run`);
    return;
  }
  assert.equal(zsh.status, 0, zsh.stderr);
});

test('docs/sshcheck.1 is what scripts/gen-man.ts generates from --help (rerun it after changing USAGE)', () => {
  const committed = readFileSync(new URL('docs/sshcheck.1', ROOT), 'utf8');
  assert.equal(committed, manPage(USAGE, PKG.version), 'stale man page: run npx tsc && node dist/scripts/gen-man.js');
  assert.match(committed, /^\.TH SSHCHECK 1 /);
  assert.match(committed, /\n\.SH OPTIONS\n/);
  assert.match(committed, /\\fB\\-\\-concurrency\\fR \\fIn\\fR\nhosts checked at once/);
  assert.doesNotMatch(committed, /\n[.'](?!TH|SH|TP|B |BR|nf|fi)/, 'no text line starts a roff request');
});

test('groff renders the man page with every option and without warnings', (t) => {
  const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: manPage(USAGE, PKG.version), encoding: 'utf8' });
  if (r.error) {
    t.skip(`groff is not installed (${r.error.message}): the page was not rendered`);
    return;
  }
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
});
