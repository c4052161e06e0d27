// The diagnostics login's known_hosts (issue 17) with a real sshd on a port other than 22:
// the file as `ssh-keyscan -p <port>` writes it (`[host]:port key`) must work, although ssh
// is run with HostKeyAlias=<host>, which ssh looks up without the port; the plain form
// (`host key`, as `ssh-keyscan host` writes it) keeps working; a missing file, or one without
// the host, is named as such, without connecting, instead of reading like a changed key.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { DiagnosticsLogin } from '../../src/engine/run-config.js';
import { probeInside } from '../../src/engine/probes/inside.js';
import { loginHostKeyAlias } from '../../src/engine/probes/known-hosts-file.js';
import { parseKnownHosts } from '../../src/engine/probes/parse-known-hosts.js';
import { diagnosticsUnavailable, startDiagnosticsSshd } from '../support/diagnostics-sshd.js';
import type { DiagnosticsSshd } from '../support/diagnostics-sshd.js';
import { testContext } from '../support/context.js';

const KEY = 'AAAAC3NzaC1lZDI1NTE5AAAAIJ3s3sw1VbBq9Q1Vd+3H3h3vV6sVv8Zc2yQ1b2a3c4d5';

test('the alias: [host]:port when the file has that form, else host; missing or keyless files are reasons', () => {
  const file = (text: string): { path: string; entries: ReturnType<typeof parseKnownHosts> } => ({ path: '/etc/sshcheck/known_hosts', entries: parseKnownHosts(text) });
  assert.deepEqual(loginHostKeyAlias(file(`[db-3]:2222 ssh-ed25519 ${KEY}\n`), 'db-3', 2222), { alias: '[db-3]:2222' });
  assert.deepEqual(loginHostKeyAlias(file(`db-3 ssh-ed25519 ${KEY}\n`), 'DB-3', 2222), { alias: 'db-3' });
  assert.deepEqual(loginHostKeyAlias(file(`db-3 ssh-ed25519 ${KEY}\n[db-3]:2222 ssh-ed25519 ${KEY}\n`), 'db-3', 2222), { alias: '[db-3]:2222' });
  assert.deepEqual(loginHostKeyAlias(file(`db-* ssh-ed25519 ${KEY}\n`), 'db-3', 22), { alias: 'db-3' });
  assert.deepEqual(loginHostKeyAlias(file(`@revoked db-3 ssh-ed25519 ${KEY}\n`), 'db-3', 22), {
    problem: '/etc/sshcheck/known_hosts has no key for db-3: add it (`ssh-keyscan db-3 >> /etc/sshcheck/known_hosts`, after checking its fingerprint on the console)',
  });
  assert.deepEqual(loginHostKeyAlias(file(`web-1 ssh-ed25519 ${KEY}\n`), 'db-3', 2222), {
    problem: '/etc/sshcheck/known_hosts has no key for db-3 or [db-3]:2222: add it (`ssh-keyscan -p 2222 db-3 >> /etc/sshcheck/known_hosts`, after checking its fingerprint on the console)',
  });
  assert.deepEqual(loginHostKeyAlias({ path: '/etc/sshcheck/known_hosts', entries: [], error: 'ENOENT' }, 'db-3', 2222), {
    problem: "the known_hosts file /etc/sshcheck/known_hosts is missing: record the target's host key there (`ssh-keyscan -p 2222 db-3 >> /etc/sshcheck/known_hosts`, after checking its fingerprint on the console)",
  });
  const unreadable = loginHostKeyAlias({ path: '/k', entries: [], error: 'EACCES' }, 'db-3', 22);
  assert.ok('problem' in unreadable && /cannot be read by this user \(EACCES\)/.test(unreadable.problem));
});

describe('the diagnostics login against a real sshd on a non-22 port', { skip: diagnosticsUnavailable() ?? false }, () => {
  let sshd: DiagnosticsSshd;
  let login: DiagnosticsLogin;
  before(async () => {
    sshd = await startDiagnosticsSshd();
    const first = sshd.engineConfig.diagnostics[0];
    assert.ok(first);
    login = first;
    assert.notEqual(sshd.port, 22);
  });
  after(() => sshd.stop());

  const inside = (): ReturnType<typeof probeInside> => probeInside({ login, address: '127.0.0.1', port: sshd.port, hostKeyAlias: '127.0.0.1' }, testContext(20_000));

  test('known_hosts written by ssh-keyscan -p <port> ([host]:port): the login works', async () => {
    const scan = spawnSync('ssh-keyscan', ['-T', '5', '-t', 'ed25519', '-p', String(sshd.port), '127.0.0.1'], { encoding: 'utf8', timeout: 15_000 });
    assert.match(scan.stdout, new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `, 'm'), scan.stderr);
    writeFileSync(login.knownHosts, scan.stdout);
    const obs = await inside();
    assert.equal(obs.login, 'ok', obs.loginDetail);
    assert.ok(obs.facts, 'the script ran');
  });

  test('known_hosts with the plain host (as ssh-keyscan without -p writes it): still works', async () => {
    const scanned = readFileSync(login.knownHosts, 'utf8');
    writeFileSync(login.knownHosts, scanned.replace(`[127.0.0.1]:${sshd.port}`, '127.0.0.1'));
    const obs = await inside();
    assert.equal(obs.login, 'ok', obs.loginDetail);
  });

  test('known_hosts without the host: says so, not a host-key mismatch', async () => {
    writeFileSync(login.knownHosts, `web-1 ssh-ed25519 ${KEY}\n`);
    const obs = await inside();
    assert.equal(obs.login, 'failed');
    assert.match(obs.loginDetail ?? '', new RegExp(`has no key for 127\\.0\\.0\\.1 or \\[127\\.0\\.0\\.1\\]:${sshd.port}: add it \\(\`ssh-keyscan -p ${sshd.port} 127\\.0\\.0\\.1 >> `));
  });

  test('known_hosts missing: says the file is missing, not a host-key mismatch', async () => {
    rmSync(login.knownHosts, { force: true });
    const obs = await inside();
    assert.equal(obs.login, 'failed');
    assert.match(obs.loginDetail ?? '', /^the known_hosts file .*known_hosts is missing: record the target's host key there/);
    assert.doesNotMatch(obs.loginDetail ?? '', /verification|mismatch|changed/i);
  });
});
