// A plain TCP connect, used for the control port (a port other than SSH's, to tell "the host
// drops everything" from "a rule drops port 22"). It sets no timeout of its own: how long a
// pending SYN may take before it means "filtered" is the engine's call, so the probe waits
// until its deadline or an abort and then says it was stopped, with no outcome.
import net from 'node:net';
import type { ProbeContext } from './context.js';
import { remainingMs } from './context.js';
import type { TcpObs, TcpOutcome } from '../observations.js';

export interface ProbeTcpOptions {
  address: string;
  port: number;
}

/** How a failed connect ended, from its errno. */
export function tcpOutcomeForErrno(code: string | undefined): TcpOutcome {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    // An ICMP admin-prohibited answer to the SYN surfaces as EHOSTUNREACH as well.
    case 'EHOSTUNREACH':
      return 'host-unreachable';
    case 'ENETUNREACH':
      return 'net-unreachable';
    case 'ETIMEDOUT':
      return 'timeout';
    default:
      return 'error';
  }
}

export function probeTcp(opts: ProbeTcpOptions, ctx: ProbeContext): Promise<TcpObs> {
  const startedMs = ctx.now();
  const base: TcpObs = { state: 'running', startedMs, address: opts.address, port: opts.port };
  if (net.isIP(opts.address) === 0 || !Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535) {
    return Promise.resolve({ ...base, state: 'done', endedMs: ctx.now(), unavailable: 'not an IP address and port' });
  }
  if (ctx.signal.aborted) return Promise.resolve({ ...base, state: 'done', endedMs: ctx.now(), aborted: true });

  return new Promise((resolve) => {
    let settled = false;
    const socket = new net.Socket();
    const finish = (extra: Partial<TcpObs>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onStop);
      socket.destroy();
      resolve({ ...base, ...extra, state: 'done', endedMs: ctx.now() });
    };
    const onStop = (): void => finish({ aborted: true });
    const timer = setTimeout(onStop, remainingMs(ctx));
    ctx.signal.addEventListener('abort', onStop, { once: true });

    socket.once('connect', () => {
      const extra: Partial<TcpObs> = { outcome: 'connected', atMs: ctx.now() };
      if (socket.localAddress !== undefined) extra.localAddress = socket.localAddress;
      // Nothing is sent; the connection is closed at once (a FIN, or a RST if the server's
      // banner already arrived unread).
      finish(extra);
    });
    // `on`, not `once`: a second error after destroy() must not go unhandled.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const extra: Partial<TcpObs> = { outcome: tcpOutcomeForErrno(err.code), atMs: ctx.now() };
      if (err.code !== undefined) extra.errno = err.code;
      finish(extra);
    });
    socket.connect({ host: opts.address, port: opts.port, noDelay: true });
  });
}
