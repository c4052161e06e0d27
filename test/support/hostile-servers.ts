// Servers that misbehave on purpose, on loopback: what a scanner-proof SSH diagnostic must
// survive. Each one is bounded (it stops writing when the client goes or after a cap) and
// is closed by the test that started it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';

export const HOSTILE_TEXT = '<!channel> @everyone @here <@U0123> <https://evil.example|click> [click](https://evil.example) **bold** *bold* _it_ `tick` ||spoiler||';

export type Behaviour =
  | 'endless-lines'
  | 'megabyte-line'
  | 'mention-banner'
  | 'mention-prebanner'
  | 'reset-mid-kex'
  | 'tls'
  | 'tarpit'
  | 'silent'
  | 'binary'
  | 'ssh1'
  | 'http'
  | 'close-now'
  | 'reset-now'
  | 'long-ident'
  | 'nul-in-banner'
  | 'garbage-after-banner'
  | 'hostile-disconnect';

export interface HostileServer {
  port: number;
  close(): Promise<void>;
}

/** An SSH_MSG_DISCONNECT packet in the clear, with a description the server chose. */
function disconnectPacket(description: string): Buffer {
  const text = Buffer.from(description, 'utf8');
  const payload = Buffer.concat([Buffer.from([1, 0, 0, 0, 2]), u32(text.length), text, u32(0)]);
  const padding = 8 - ((payload.length + 5) % 8) + 8;
  return Buffer.concat([u32(payload.length + padding + 1), Buffer.from([padding]), payload, Buffer.alloc(padding)]);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function behave(socket: Socket, behaviour: Behaviour): void {
  const timers: NodeJS.Timeout[] = [];
  socket.on('error', () => undefined);
  socket.on('close', () => timers.forEach(clearInterval));
  const afterClientIdent = (then: () => void): void => {
    let seen = '';
    const onData = (d: Buffer): void => {
      seen += d.toString('latin1');
      if (seen.includes('\n')) {
        socket.off('data', onData);
        // The client's KEXINIT follows its identification line; act once it is here too.
        setTimeout(then, 20);
      }
    };
    socket.on('data', onData);
  };
  switch (behaviour) {
    case 'endless-lines': {
      let n = 0;
      timers.push(setInterval(() => (n++ < 20_000 ? socket.write(`noise line ${n} ${'x'.repeat(40)}\r\n`) : socket.end()), 1));
      break;
    }
    case 'megabyte-line':
      socket.write('A'.repeat(1024 * 1024));
      break;
    case 'mention-banner':
      socket.write(`SSH-2.0-OpenSSH_9.9 ${HOSTILE_TEXT}\r\n`);
      afterClientIdent(() => socket.end());
      break;
    case 'mention-prebanner':
      socket.write(`220 ${HOSTILE_TEXT}\r\n`);
      socket.end();
      break;
    case 'reset-mid-kex':
      socket.write('SSH-2.0-OpenSSH_9.9\r\n');
      afterClientIdent(() => socket.resetAndDestroy());
      break;
    case 'tarpit': {
      const banner = 'SSH-2.0-tarpit';
      let i = 0;
      timers.push(setInterval(() => (i < banner.length ? socket.write(banner[i++] ?? '') : undefined), 300));
      break;
    }
    case 'silent':
      break;
    case 'binary':
      socket.write(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a, 0xc3, 0x28, 0x80, 0x00, 0x0d, 0x0a]));
      break;
    case 'ssh1':
      socket.write('SSH-1.5-OldServer_1.0\r\n');
      break;
    case 'http':
      socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nServer: <!channel>\r\nContent-Length: 0\r\n\r\n'));
      break;
    case 'close-now':
      socket.end();
      break;
    case 'reset-now':
      socket.resetAndDestroy();
      break;
    case 'long-ident':
      socket.write(`SSH-2.0-${'A'.repeat(300)}\r\n`);
      break;
    case 'nul-in-banner':
      socket.write('SSH-2.0-Open\u0000SSH @everyone\r\n');
      afterClientIdent(() => socket.end());
      break;
    case 'garbage-after-banner':
      socket.write('SSH-2.0-OpenSSH_9.9\r\n');
      afterClientIdent(() => socket.write(Buffer.from(`\xff\xff\xff\xff${HOSTILE_TEXT}`, 'latin1')));
      break;
    case 'hostile-disconnect':
      socket.write('SSH-2.0-OpenSSH_9.9\r\n');
      afterClientIdent(() => socket.end(disconnectPacket(`go away ${HOSTILE_TEXT}\u001b[31m`)));
      break;
    case 'tls':
      break;
  }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A real TLS server (self-signed, made with openssl) on loopback. */
async function tlsServer(held: Set<Socket>): Promise<HostileServer> {
  const dir = mkdtempSync(join(tmpdir(), 'sshcheck-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const server = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (s) => s.on('error', () => undefined));
  server.on('connection', (s: Socket) => held.add(s));
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const s of held) s.destroy();
        rmSync(dir, { recursive: true, force: true });
        server.close(() => resolve());
      }),
  };
}

export async function startHostileServer(behaviour: Behaviour): Promise<HostileServer> {
  const held = new Set<Socket>();
  if (behaviour === 'tls') return tlsServer(held);
  const server = createServer((socket) => {
    held.add(socket);
    socket.on('close', () => held.delete(socket));
    behave(socket, behaviour);
  });
  const port = await listen(server);
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const s of held) s.destroy();
        server.close(() => resolve());
      }),
  };
}
