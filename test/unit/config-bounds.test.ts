// Config files under hostile input: real oversized files are refused before they are read,
// every problem of an engine config is listed at once, over-indentation names the line that
// is wrong, and a config pointed (symlinked) at a secret file does not print its secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBot } from '../../src/cli/bot.js';
import { loadEngineConfig, parseEngineConfig } from '../../src/config/engine-config.js';
import { MAX_CONFIG_BYTES, overIndented, quoteValue, readConfigFile } from '../../src/config/config-file.js';
import { loadRoutingConfig } from '../../src/chat/routing-config.js';

function tempDir(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-config-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A real file of `bytes` bytes of valid YAML: a group of hosts, line after line. */
function bigConfig(path: string, bytes: number): void {
  const line = '    - db-0000000000.corp.example\n';
  writeFileSync(path, `groups:\n  big:\n${line.repeat(Math.ceil(bytes / line.length))}`);
}

test('an engine config over 256 KiB is refused before it is parsed (5 MB written, 50 MB sparse), with the size and the bound', (t) => {
  const { dir, done } = tempDir();
  try {
    const five = join(dir, 'five.yml');
    bigConfig(five, 5 * 1024 * 1024);
    const fifty = join(dir, 'fifty.yml');
    writeFileSync(fifty, 'groups:\n');
    truncateSync(fifty, 50 * 1024 * 1024);
    for (const path of [five, fifty]) {
      const rss = process.memoryUsage().rss;
      const started = performance.now();
      assert.throws(() => loadEngineConfig(path), (err: Error) => /the engine config .* is \d+ bytes; a config file is at most 256 KiB: is this the right file\?/.test(err.message));
      t.diagnostic(`${path.endsWith('five.yml') ? '5 MB' : '50 MB'}: refused in ${(performance.now() - started).toFixed(1)} ms, RSS +${((process.memoryUsage().rss - rss) / 1e6).toFixed(1)} MB`);
    }
    // Just under the bound is read and parsed (its errors are about its content).
    const edge = join(dir, 'edge.yml');
    bigConfig(edge, MAX_CONFIG_BYTES - 4096);
    const started = performance.now();
    assert.throws(() => loadEngineConfig(edge), /more than 1024 hosts/);
    t.diagnostic(`a config of ${MAX_CONFIG_BYTES - 4096} bytes: parsed and refused for its content in ${(performance.now() - started).toFixed(0)} ms`);
    // A file that grows past the bound after stat (or a device) is cut at the bound, not read to its end.
    assert.throws(() => readConfigFile('/dev/zero', 'the engine config'), /is over 262144 bytes/);
  } finally {
    done();
  }
});

test('the bot config over 256 KiB: sshcheck bot exits 2 naming the file and the bound, nothing is started', async () => {
  const { dir, done } = tempDir();
  try {
    const path = join(dir, 'sshcheck.yml');
    bigConfig(path, 5 * 1024 * 1024);
    let stderr = '';
    const code = await runBot({ DISCORD_TOKEN: 'x'.repeat(60), DISCORD_APPLICATION_ID: '123456789012345678', SSHCHECK_CONFIG: path, SSHCHECK_DB: join(dir, 'db.sqlite') }, { stderr: (s) => (stderr += s), stopSignal: new Promise(() => undefined) });
    assert.equal(code, 2);
    assert.match(stderr, /SSHCHECK_CONFIG: the bot config .*sshcheck\.yml is \d+ bytes; a config file is at most 256 KiB/);
  } finally {
    done();
  }
});

test('every problem of an engine config at once, each with its line', () => {
  const text = ['polcy:', '  allow: [10.0.0.0/8]', 'diagnostics:', '  - match: db-*', '    user: diag', '    key: /k', '    knownhosts: /kh', '    port: 70000', 'store:', '  retention_days: 0', ''].join('\n');
  assert.throws(
    () => parseEngineConfig(text, 'engine.yml'),
    (err: Error) => {
      const lines = err.message.split('\n');
      assert.deepEqual(
        lines.map((l) => l.split(': ').slice(0, 2).join(': ')),
        ['engine.yml:1: polcy', 'engine.yml:10: store.retention_days', 'engine.yml:7: diagnostics[0].knownhosts', 'engine.yml:4: diagnostics[0].known_hosts', 'engine.yml:8: diagnostics[0].port'],
      );
      return true;
    },
  );
});

test('over-indentation names the line that is too deep, not the one YAML stops at', () => {
  assert.throws(() => parseEngineConfig('policy:\n  allow: [10.0.0.0/8]\n    deny: [10.9.0.0/16]\n', 'engine.yml'), /engine\.yml:3: line 3 is indented 4 spaces, deeper than the line above it \(2\)/);
  assert.throws(() => parseEngineConfig('diagnostics:\n  - match: db-*\n    user: a\n      key: /k\n', 'engine.yml'), /engine\.yml:4: line 4 is indented 6 spaces, deeper than the line above it \(4\)/);
  assert.throws(() => loadRoutingConfig('rules:\n  - cidr: 10.0.0.0/8\n    bastion: eu-1\n      suffix: x\n', 'sshcheck.yml'), /sshcheck\.yml:4: YAML: line 4 is indented 6 spaces/);
  assert.equal(overIndented('a:\n  b: 1\n  c: 2\n', 2), undefined);
});

test('a config symlinked to a secret file: its secret is never printed, values are capped and made printable', () => {
  const { dir, done } = tempDir();
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-0123456789';
  try {
    const cases = [`aws_secret_access_key: ${secret}\n`, `${secret}\n`, `token: "${secret}"\nother: [\n`, `-----BEGIN OPENSSH PRIVATE KEY-----\n${secret}\n-----END OPENSSH PRIVATE KEY-----\n`, `${secret}: 1\n`];
    for (const [i, content] of cases.entries()) {
      const file = join(dir, `secret-${i}`);
      writeFileSync(file, content);
      const link = join(dir, `engine-${i}.yml`);
      symlinkSync(file, link);
      assert.throws(
        () => loadEngineConfig(link),
        (err: Error) => !err.message.includes(secret.slice(0, 20)) && !err.message.includes(secret.slice(-20)),
        `case ${i} printed the secret`,
      );
      assert.throws(
        () => loadRoutingConfig(readConfigFile(link, 'the bot config'), link),
        (err: Error) => !err.message.includes(secret.slice(0, 20)) && !err.message.includes(secret.slice(-20)),
        `case ${i} printed the secret (bot config)`,
      );
    }
    assert.equal(quoteValue('a\u001b[31mred\u202e'), '"a\\u{1b}[31mred\\u{202e}"');
    assert.equal(quoteValue('x'.repeat(100)), `"${'x'.repeat(40)}"… (100 characters)`);
  } finally {
    done();
  }
});
