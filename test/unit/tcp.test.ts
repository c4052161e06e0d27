// The plain TCP connect probe against loopback: connected, refused, and a connect that stays
// pending (a listener whose accept queue is full drops further SYNs) until abort or deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { probeTcp, tcpOutcomeForErrno } from '../../src/engine/probes/tcp.js';
import { testContext } from '../support/context.js';

test('connected: outcome, time, local address; the socket is closed right away', async () => {
  const server = createServer();
  const closedByProbe = new Promise<void>((ok) =>
    server.once('connection', (s: Socket) => {
      s.on('error', () => undefined);
      s.once('close', () => ok());
    }),
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  try {
    const obs = await probeTcp({ address: '127.0.0.1', port }, testContext());
    assert.equal(obs.state, 'done');
    assert.equal(obs.outcome, 'connected');
    assert.equal(obs.localAddress, '127.0.0.1');
    assert.ok(obs.atMs !== undefined && obs.atMs >= obs.startedMs);
    assert.equal(obs.aborted, undefined);
    // The server sees the connection end without anything sent.
    await closedByProbe;
  } finally {
    server.close();
  }
});

test('refused: nothing listens on the port', async () => {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((ok) => server.close(() => ok()));
  const obs = await probeTcp({ address: '127.0.0.1', port }, testContext());
  assert.equal(obs.outcome, 'refused');
  assert.equal(obs.errno, 'ECONNREFUSED');
});

test('errno mapping', () => {
  assert.equal(tcpOutcomeForErrno('EHOSTUNREACH'), 'host-unreachable');
  assert.equal(tcpOutcomeForErrno('ENETUNREACH'), 'net-unreachable');
  assert.equal(tcpOutcomeForErrno('ETIMEDOUT'), 'timeout');
  assert.equal(tcpOutcomeForErrno('EADDRNOTAVAIL'), 'error');
});

test('an abort right after the start: aborted, no outcome', async () => {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  try {
    const ctx = testContext();
    const pending = probeTcp({ address: '127.0.0.1', port }, ctx);
    ctx.abort();
    const obs = await pending;
    assert.equal(obs.aborted, true);
    assert.equal(obs.outcome, undefined);
  } finally {
    server.close();
  }
});

test('not an address: unavailable, nothing attempted', async () => {
  const obs = await probeTcp({ address: 'localhost', port: 22 }, testContext());
  assert.match(obs.unavailable ?? '', /not an IP address/);
});

/**
 * A loopback listener whose accept queue is full: a child process listens with backlog 1 and
 * is stopped (SIGSTOP), so it never accepts; after two queued connections the kernel drops
 * further SYNs and a connect stays pending, as it does behind a silent DROP rule.
 */
async function stalledListener(): Promise<{ port: number; release: () => void }> {
  const child = spawn(
    process.execPath,
    ['-e', "const s=require('net').createServer(()=>{});s.listen({port:0,host:'127.0.0.1',backlog:1},()=>console.log(s.address().port))"],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  child.kill('SIGSTOP');
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = createConnection({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 100));
  return {
    port,
    release: () => {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}

test('a pending connect waits for the deadline, then reports aborted with no outcome', async () => {
  const { port, release } = await stalledListener();
  try {
    const obs = await probeTcp({ address: '127.0.0.1', port }, testContext(400));
    assert.equal(obs.aborted, true);
    assert.equal(obs.outcome, undefined);
    assert.ok((obs.endedMs ?? 0) >= 390 && (obs.endedMs ?? Infinity) < 800, `ended at ${obs.endedMs}`);
  } finally {
    release();
  }
});

test('a pending connect stops at once on abort', async () => {
  const { port, release } = await stalledListener();
  try {
    const ctx = testContext(10_000);
    setTimeout(() => ctx.abort(), 100);
    const obs = await probeTcp({ address: '127.0.0.1', port }, ctx);
    assert.equal(obs.aborted, true);
    assert.equal(obs.outcome, undefined);
    assert.ok((obs.endedMs ?? Infinity) < 400, `ended at ${obs.endedMs}`);
  } finally {
    release();
  }
});
