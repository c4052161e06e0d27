// Loopback targets for the real probe engine: a closed port (port-closed, fast), peers whose
// banner or greeting tries to smuggle Slack markup into the report (a real sshd:
// test/support/openssh-server.ts).
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

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
