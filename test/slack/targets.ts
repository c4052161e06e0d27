// Loopback targets for the real probe engine: a closed port (port-closed, fast), peers whose
// banner or greeting tries to smuggle Slack markup into the report, and a real sshd (root).
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LOOPBACK = '127.0.0.1';

/** What a hostile server says: a mention, @everyone, a disguised link and formatting. */
export const HOSTILE = '<!channel> @everyone <https://evil.example|click> *bold* <@U0VICTIM> <#C0SECRET>';

export interface TcpTarget {
  port: number;
  connections: number;
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => resolve((server.address() as AddressInfo).port));
  });
}

/** A loopback port nobody listens on: connects are reset at once. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function tcpTarget(onConnection: (socket: Socket) => void): Promise<TcpTarget> {
  const sockets = new Set<Socket>();
  const target: TcpTarget = { port: 0, connections: 0, close: () => Promise.resolve() };
  const server = createServer((socket) => {
    target.connections += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    onConnection(socket);
  });
  target.port = await listen(server);
  target.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return target;
}

/** An "SSH server" whose identification line carries the hostile text, then closes. */
export function hostileSshServer(): Promise<TcpTarget> {
  return tcpTarget((socket) => socket.end(`SSH-2.0-OpenSSH_9.9 ${HOSTILE}\r\n`));
}

/** Not SSH at all: every line it sends is hostile. */
export function hostileGreeter(): Promise<TcpTarget> {
  return tcpTarget((socket) => socket.end(`220 ${HOSTILE}\r\n*bold* @everyone <!here>\r\n`));
}

export interface Sshd {
  port: number;
  stop(): void;
}

/** Why a real sshd cannot be started here, or undefined when it can. */
export function sshdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'starting sshd needs root';
  if (!existsSync('/usr/sbin/sshd')) return '/usr/sbin/sshd is not installed';
  if (spawnSync('ssh', ['-V']).error !== undefined) return 'ssh is not installed';
  return undefined;
}

/** A real sshd on loopback with a throwaway host key (as test/unit/openssh-verbose.test.ts). */
export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-slack-sshd-'));
  const keygen = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')]);
  if (keygen.status !== 0) throw new Error('ssh-keygen failed');
  const port = await closedPort();
  const log = join(dir, 'sshd.log');
  writeFileSync(log, '');
  writeFileSync(
    join(dir, 'sshd_config'),
    [`ListenAddress ${LOOPBACK}`, `Port ${port}`, `HostKey ${join(dir, 'hostkey')}`, `PidFile ${join(dir, 'sshd.pid')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'UsePAM no', 'StrictModes no', ''].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-f', join(dir, 'sshd_config'), '-E', log], { stdio: 'ignore' });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 60 && !readFileSync(log, 'utf8').includes('Server listening on'); i++) await new Promise((r) => setTimeout(r, 50));
  if (!readFileSync(log, 'utf8').includes('Server listening on')) {
    stop();
    throw new Error('sshd did not start');
  }
  return { port, stop };
}
