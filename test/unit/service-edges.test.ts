// The HTTP edges of `sshcheck serve`: a 1 MB chunked body gets a 413 the client actually
// reads (the socket is not destroyed before the answer), and a client that sends half its
// headers is dropped at headersTimeout, not up to 30 s later (connectionsCheckingInterval).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { auth, scriptedRunner, startLoopbackService } from './service-support.js';

test('a 1 MB chunked body: the client reads the 413, nothing runs', async () => {
  const scripted = scriptedRunner();
  const svc = await startLoopbackService(scripted.runner);
  try {
    const url = new URL(`${svc.url}/v1/checks`);
    const answer = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...auth(), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
      });
      req.on('error', reject);
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const write = (): void => {
        while (sent < 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
    assert.equal(answer.status, 413);
    assert.match(answer.body, /"code":"too_large"/);
    assert.equal(scripted.runs(), 0);
    assert.match(svc.service.metrics.render(), /sshcheck_requests_rejected_total\{reason="too_large"\} 1/);
  } finally {
    await svc.close();
  }
});

test('half-sent headers: the connection is closed soon after headersTimeout, not at the next 30 s check', async (t) => {
  const svc = await startLoopbackService(scriptedRunner().runner, { headersTimeoutMs: 1000 });
  try {
    const url = new URL(svc.url);
    const started = performance.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.write('POST /v1/checks HTTP/1.1\r\nHost: x\r\nAuthoriz'));
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(performance.now() - started));
      // A bound for the test itself only: Node's default check would close it after up to 30 s.
      setTimeout(() => reject(new Error('still open after 10 s')), 10_000).unref();
    });
    t.diagnostic(`closed ${closedAfter.toFixed(0)} ms after connecting (headersTimeout 1000 ms, checked every 250 ms)`);
    assert.ok(closedAfter >= 900, `closed before headersTimeout (${closedAfter.toFixed(0)} ms)`);
  } finally {
    await svc.close();
  }
});
