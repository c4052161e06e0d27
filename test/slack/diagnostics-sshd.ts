// A real sshd on loopback that the engine can log in to for the inside view: root with a
// fresh key (PermitRootLogin prohibit-password, AuthorizedKeysFile in a throwaway
// directory), and an engine config, through parseEngineConfig, with that key and a
// known_hosts file holding the sshd's host key. Needs root (sshd and the login). Shared by
// the Slack and Discord tests of the inside evidence in chat.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import type { EngineConfig } from '../../src/config/engine-config.js';
import { LOOPBACK, closedPort } from './targets.js';

export interface DiagnosticsSshd {
  port: number;
  engineConfig: EngineConfig;
  stop(): void;
}

/** Why this cannot run here, or undefined when it can. */
export function diagnosticsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'a diagnostics login to a loopback sshd needs root';
  if (!existsSync('/usr/sbin/sshd')) return '/usr/sbin/sshd is not installed';
  if (spawnSync('ssh', ['-V']).error !== undefined) return 'ssh is not installed';
  return undefined;
}

function keygen(path: string, comment: string): void {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.toString()}`);
}

export async function startDiagnosticsSshd(): Promise<DiagnosticsSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-diag-sshd-'));
  keygen(join(dir, 'hostkey'), 'sshcheck-test-host');
  keygen(join(dir, 'diag_ed25519'), 'sshcheck-diagnostics');
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'diag_ed25519.pub')));
  // The inside login checks the host key strictly, under the target's name as typed.
  const hostKey = readFileSync(join(dir, 'hostkey.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  writeFileSync(join(dir, 'known_hosts'), `${LOOPBACK} ${hostKey}\n`);
  const port = await closedPort();
  const log = join(dir, 'sshd.log');
  writeFileSync(log, '');
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `ListenAddress ${LOOPBACK}`,
      `Port ${port}`,
      `HostKey ${join(dir, 'hostkey')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/sbin/sshd', ['-D', '-f', join(dir, 'sshd_config'), '-E', log], { stdio: 'ignore' });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 60 && !readFileSync(log, 'utf8').includes('Server listening on'); i++) await new Promise((r) => setTimeout(r, 50));
  if (!readFileSync(log, 'utf8').includes('Server listening on')) {
    const text = readFileSync(log, 'utf8');
    stop();
    throw new Error(`sshd did not start: ${text.slice(0, 500)}`);
  }
  const engineConfig = parseEngineConfig(
    ['diagnostics:', `  - match: ["${LOOPBACK}"]`, '    user: root', `    key: ${join(dir, 'diag_ed25519')}`, `    known_hosts: ${join(dir, 'known_hosts')}`, ''].join('\n'),
    join(dir, 'engine.yml'),
  );
  return { port, engineConfig, stop };
}
