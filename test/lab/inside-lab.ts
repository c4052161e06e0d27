// Lab pieces for the inside view: a diagnostics login (key, known_hosts, engine config), a
// second client namespace behind the router, and a real fail2ban jail in the target
// namespace watching the lab sshd's log. Everything lives under the lab and goes with it.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADDR, sh } from './lab.js';
import type { Lab } from './lab.js';

export const CLIENT = { address: '10.77.3.2', router: '10.77.3.1' } as const;

/** A second client namespace on its own subnet behind the lab router. */
export async function addClient(lab: Lab): Promise<string> {
  const ns = await lab.addNamespace('c');
  await sh('ip', ['link', 'add', 'c0', 'netns', ns, 'type', 'veth', 'peer', 'name', 'r2', 'netns', lab.router]);
  await sh('ip', ['-n', ns, 'addr', 'add', `${CLIENT.address}/24`, 'dev', 'c0']);
  await sh('ip', ['-n', lab.router, 'addr', 'add', `${CLIENT.router}/24`, 'dev', 'r2']);
  await sh('ip', ['-n', ns, 'link', 'set', 'c0', 'up']);
  await sh('ip', ['-n', lab.router, 'link', 'set', 'r2', 'up']);
  await sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', CLIENT.router]);
  return ns;
}

/** Where the lab sshd logs when the inside view and fail2ban read its log. */
export function sshdLogPath(lab: Lab): string {
  return join(lab.workDir, 'sshd.log');
}

export interface DiagnosticsSetup {
  configPath: string;
  sshdLog: string;
}

/**
 * A diagnostics login for the lab target: root with a fresh key (the lab sshd reads its
 * AuthorizedKeysFile from the lab directory), a known_hosts file with the target's host key
 * — or, with `wrongHostKey`, some other key — and the engine config that ties them together.
 * Call after startSshd (the host key exists then).
 */
export async function diagnosticsLogin(lab: Lab, options: { port?: number; wrongHostKey?: boolean } = {}): Promise<DiagnosticsSetup> {
  const dir = lab.workDir;
  const key = join(dir, 'diag_ed25519');
  await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sshcheck-diagnostics', '-f', key]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${key}.pub`));
  let hostKey = readFileSync(join(dir, 'hostkey.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  if (options.wrongHostKey) {
    await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other_hostkey')]);
    hostKey = readFileSync(join(dir, 'other_hostkey.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
  }
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${ADDR.target} ${hostKey}\n`);
  const sshdLog = sshdLogPath(lab);
  const configPath = join(dir, 'engine.yml');
  writeFileSync(
    configPath,
    [
      'diagnostics:',
      '  - match: ["10.77.2.0/24"]',
      '    user: root',
      `    key: ${key}`,
      `    known_hosts: ${knownHosts}`,
      ...(options.port !== undefined ? [`    port: ${options.port}`] : []),
      `    sshd_log: ${sshdLog}`,
      '',
    ].join('\n'),
  );
  return { configPath, sshdLog };
}

/**
 * fail2ban's configuration for the target namespace, installed as its /etc/fail2ban (bind
 * mounted by `ip netns exec`). Must be written before sshd starts, so that the diagnostics
 * login's shell, a child of that sshd, sees it too.
 */
export function installFail2banConfig(lab: Lab, sshdLog: string): void {
  const root = `/etc/netns/${lab.target}/fail2ban`;
  mkdirSync(`/etc/netns/${lab.target}`, { recursive: true });
  cpSync('/etc/fail2ban', root, { recursive: true });
  // Debian enables the sshd jail with the systemd backend; this lab reads a plain file.
  for (const f of readdirSync(join(root, 'jail.d'))) rmSync(join(root, 'jail.d', f), { force: true });
  // sshd -E writes bare lines, without the syslog prefix ("sshd[123]: ") the filter expects.
  writeFileSync(join(root, 'filter.d', 'sshd.local'), '[DEFAULT]\n__prefix_line = \\s*\n');
  const dir = lab.workDir;
  writeFileSync(join(root, 'fail2ban.local'), `[Definition]\nsocket = ${dir}/fail2ban.sock\npidfile = ${dir}/fail2ban.pid\ndbfile = :memory:\nlogtarget = ${dir}/fail2ban.log\n`);
  writeFileSync(
    join(root, 'jail.local'),
    [
      '[DEFAULT]',
      'backend = polling',
      // In a namespace fail2ban's idea of "its own addresses" is unreliable; ignore nothing.
      'ignoreself = false',
      'ignoreip =',
      'banaction = iptables-allports',
      '[sshd]',
      'enabled = true',
      `logpath = ${sshdLog}`,
      // sshd -E writes no timestamps; fail2ban then takes the time it reads the line.
      'datepattern = {NONE}',
      'maxretry = 3',
      'findtime = 600',
      'bantime = 600',
      '',
    ].join('\n'),
  );
}

export async function startFail2ban(lab: Lab): Promise<void> {
  await lab.spawnTracked(lab.target, 'fail2ban-server', ['-f', '-x']);
  for (let i = 0; i < 100; i++) {
    const r = await lab.exec(lab.target, 'fail2ban-client', ['status', 'sshd'], { allowFail: true });
    if (r.code === 0) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('fail2ban did not come up');
}

/** Failed logins from the client namespace until fail2ban bans it (bounded). */
export async function getClientBanned(lab: Lab, clientNs: string): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    await lab.exec(
      clientNs,
      'ssh',
      ['-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PubkeyAuthentication=no', '-o', 'ConnectTimeout=2', '-l', 'nosuchuser', '--', ADDR.target, 'true'],
      { allowFail: true },
    );
    const status = await lab.exec(lab.target, 'fail2ban-client', ['status', 'sshd'], { allowFail: true });
    if (status.stdout.includes(CLIENT.address)) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`fail2ban never banned ${CLIENT.address}`);
}

export function fail2banAvailable(): string | undefined {
  try {
    readFileSync('/etc/fail2ban/jail.conf');
    return undefined;
  } catch {
    return 'fail2ban is not installed (apt-get install fail2ban)';
  }
}
