// The real CLI binary with targets that name several hosts: a comma list and a CIDR block,
// loopback addresses only (the network rule), on a port this test has just closed so every
// host answers with a refusal at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../../bin/sshcheck.js', import.meta.url));

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-cli-targets-'));
  try {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', SSHCHECK_DB: join(dir, 'store.db'), SSHCHECK_VANTAGE: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    return { status, stdout, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Fleet { schema: string; reports: Array<{ target: { host: string; port: number }; diagnosis: { cause: string } }> }

for (const [name, word] of [['a comma list', '127.0.0.1,127.0.0.2'], ['a CIDR block', '127.0.0.0/30']] as const) {
  test(`${name} on the command line checks each host (${word})`, async () => {
    const port = await closedPort();
    const r = await cli([word, '-p', String(port), '--json', '--budget', '10']);
    assert.equal(r.status, 1, r.stderr);
    const fleet = JSON.parse(r.stdout) as Fleet;
    assert.equal(fleet.schema, 'sshcheck/fleet@1');
    assert.deepEqual(fleet.reports.map((x) => `${x.target.host}:${x.target.port}`).sort(), [`127.0.0.1:${port}`, `127.0.0.2:${port}`]);
    for (const report of fleet.reports) assert.equal(report.diagnosis.cause, 'port-closed', JSON.stringify(report.diagnosis));
  });
}

test('a block wider than the host cap exits 2 with the reason, nothing probed', async () => {
  const r = await cli(['10.0.0.0/21', '--json']);
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /10\.0\.0\.0\/21 holds 2046 host addresses; a check covers at most 1024/);
});

test('a port list checks the host on each port', async () => {
  const [a, b] = [await closedPort(), await closedPort()];
  const r = await cli(['127.0.0.1', '-p', `${a},${b}`, '--json', '--budget', '10']);
  assert.equal(r.status, 1, r.stderr);
  const fleet = JSON.parse(r.stdout) as Fleet;
  assert.deepEqual(fleet.reports.map((x) => x.target.port).sort(), [a, b].sort());
});

test('sshcheck completion bash prints a script bash accepts; a wrong shell is usage', async () => {
  const r = await cli(['completion', 'bash']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /complete -F _sshcheck sshcheck\n$/);
  const z = await cli(['completion', 'zsh']);
  assert.match(z.stdout, /^#compdef sshcheck/);
  const bad = await cli(['completion', 'fish']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /Usage: sshcheck completion bash\|zsh/);
});

test('every address of a CIDR block passes the policy fence: a fenced run refuses them all, nothing probed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-cli-policy-'));
  try {
    writeFileSync(join(dir, 'policy.yml'), 'policy:\n  allow: [10.0.0.0/8]\n');
    const r = await cli(['127.0.0.0/30', '--policy', join(dir, 'policy.yml'), '--json']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^sshcheck: The target policy refuses 2 of the 2 hosts: 127\.0\.0\.1: loopback, the bastion itself \(built-in rule deny 127\.0\.0\.0\/8\); 127\.0\.0\.2: loopback, the bastion itself \(built-in rule deny 127\.0\.0\.0\/8\)\. Nothing was probed\./);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
