// Where `sshcheck serve` listens: "host:port", "[v6]:port", or "unix:/path". Pure. The
// default is loopback: exposing the engine is a decision, made with --listen.
import { isIPv4, isIPv6 } from 'node:net';
import { isAbsolute } from 'node:path';

export const DEFAULT_LISTEN = '127.0.0.1:8722';

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseListen(text: string): ListenAddress {
  const hint = 'use host:port (10.0.0.5:8722, [2001:db8::5]:8722, 0.0.0.0:8722) or unix:/run/sshcheck/engine.sock';
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (!isAbsolute(path)) throw new Error(`--listen ${text}: a Unix socket path must be absolute (unix:/run/sshcheck/engine.sock)`);
    // sun_path is 108 bytes on Linux, including the terminating NUL.
    if (Buffer.byteLength(path) > 107) throw new Error(`--listen ${text}: a Unix socket path can be at most 107 bytes long`);
    return { kind: 'unix', path };
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text);
  if (!m) throw new Error(`--listen "${text}" is not an address: ${hint}`);
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`--listen ${text}: the port must be 1-65535`);
  if (m[1] !== undefined ? !isIPv6(host) : !isIPv4(host) && host !== 'localhost') {
    throw new Error(`--listen ${text}: give an IP address to listen on (names are not resolved here), or localhost; ${hint}`);
  }
  return { kind: 'tcp', host, port };
}

export function formatListen(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
