// A real sshd on loopback that the engine can log in to for the inside view: root with a
// fresh key (PermitRootLogin prohibit-password, AuthorizedKeysFile in the sshd's throwaway
// directory), and an engine config, through parseEngineConfig, with that key and a
// known_hosts file holding the sshd's host key. Needs root (sshd and the login). Shared by
// the Slack and Discord tests of the inside evidence in chat.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEngineConfig } from '../../src/config/engine-config.js';
import type { EngineConfig } from '../../src/config/engine-config.js';
import type { Sshd } from './openssh-server.js';
import { keygen, publicKeyOf, sshdUnavailable, startSshd } from './openssh-server.js';

const LOOPBACK = '127.0.0.1';

export interface DiagnosticsSshd extends Sshd {
  engineConfig: EngineConfig;
}

/** Why this cannot run here, or undefined when it can. */
export function diagnosticsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'a diagnostics login to a loopback sshd needs root';
  if (spawnSync('ssh', ['-V']).error !== undefined) return 'ssh is not installed';
  return sshdUnavailable();
}

export async function startDiagnosticsSshd(): Promise<DiagnosticsSshd> {
  const sshd = await startSshd({ settings: ['PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no'] });
  try {
    const key = join(sshd.dir, 'diag_ed25519');
    keygen(key, { comment: 'sshcheck-diagnostics' });
    // sshd reads authorized_keys at each login: written after it started is in time.
    writeFileSync(join(sshd.dir, 'authorized_keys'), `${publicKeyOf(key)}\n`);
    // The inside login checks the host key strictly, under the target's name as typed.
    writeFileSync(join(sshd.dir, 'known_hosts'), `${LOOPBACK} ${publicKeyOf(sshd.hostKey)}\n`);
    const engineConfig = parseEngineConfig(
      ['diagnostics:', `  - match: ["${LOOPBACK}"]`, '    user: root', `    key: ${key}`, `    known_hosts: ${join(sshd.dir, 'known_hosts')}`, ''].join('\n'),
      join(sshd.dir, 'engine.yml'),
    );
    return { ...sshd, engineConfig };
  } catch (err) {
    await sshd.stop();
    throw err;
  }
}
