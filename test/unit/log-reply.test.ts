// The platform-neutral parts of answering ssh logs in chat: which messages are logs (the
// real recorded -vvv logs are, chatter is not), logs whose line breaks a chat ate, which
// attachments are text, where downloads may go, and the bounded download itself against
// loopback servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { explainLog } from '../../src/explain/explain.js';
import {
  MAX_ATTACHMENT_BYTES,
  allowedDownloadUrl,
  downloadLog,
  isTextAttachment,
  looksLikeSshLog,
  originOf,
  restoreLineBreaks,
  sizeProblem,
} from '../../src/chat/log-reply.js';
import type { AllowedOrigin } from '../../src/chat/log-reply.js';

const FIXTURES = new URL('../../../test/fixtures/openssh-verbose/', import.meta.url);

function fixtureLog(file: string): string {
  const fixture = JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')) as { lines: Array<{ text: string }> };
  return fixture.lines.map((l) => l.text).join('\n');
}

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));

test('every recorded ssh -v/-vvv log looks like one', () => {
  assert.ok(fixtures.length >= 15);
  for (const f of fixtures) assert.ok(looksLikeSshLog(fixtureLog(f)), f);
});

test('a log pasted in a code block, quoted, or only ssh\'s last line still looks like one', () => {
  assert.ok(looksLikeSshLog(`here it is:\n\`\`\`${fixtureLog('silent-drop.json')}\`\`\``));
  assert.ok(looksLikeSshLog(fixtureLog('rst.json').split('\n').map((l) => `> ${l}`).join('\n')));
  assert.ok(looksLikeSshLog('ssh: connect to host db-3 port 22: Connection timed out'));
  assert.ok(looksLikeSshLog('kex_exchange_identification: read: Connection reset by peer'));
  assert.ok(looksLikeSshLog('alice@db-3: Permission denied (publickey).'));
  assert.ok(looksLikeSshLog('debug1: Connecting to db-3 [10.0.0.5] port 22.'));
});

test('ordinary chatter is not a log', () => {
  for (const text of [
    '',
    'is db-3 down for everyone?',
    'I get Permission denied (publickey) since this morning',
    'what does debug1: Connecting to mean?\nanyone?',
    'try ssh -vvv db-3 and paste the output here',
    'see https://example.com/runbook#ssh for OpenSSH_9 notes',
    '<@U0SSHCHECK> db-3',
    'ok, thanks! it works now :tada:',
  ]) {
    assert.equal(looksLikeSshLog(text), false, text);
  }
});

test('a log flattened to one line (Discord options) is split back into its lines and explained the same', () => {
  for (const f of fixtures) {
    const log = fixtureLog(f);
    const flat = log.split('\n').join(' ');
    const restored = restoreLineBreaks(flat);
    const a = explainLog(log);
    const b = explainLog(restored);
    assert.equal(b.step, a.step, `${f}: ${b.summary}`);
    assert.equal(b.cause, a.cause, f);
    assert.equal(b.reached, a.reached, f);
  }
  const text = 'debug1: a\ndebug1: b';
  assert.equal(restoreLineBreaks(text), text, 'text with line breaks is left alone');
});

test('the phases of a pasted log carry no times: a log without timestamps has none to give', () => {
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith('.json'))) {
    const e = explainLog(fixtureLog(f));
    for (const line of e.phases) assert.doesNotMatch(line, /^\+\d+ ms/, `${f}: ${line}`);
  }
  const stalled = explainLog(fixtureLog('mtu-blackhole.json'));
  assert.ok(stalled.phases.length > 1, 'a key exchange stalled by the MTU still lists its phases');
});

test('text attachments: plain text or a .log/.txt; never images or archives', () => {
  assert.ok(isTextAttachment({ name: 'ssh.log', mimetype: 'text/plain' }));
  assert.ok(isTextAttachment({ name: 'Untitled', mimetype: 'text/plain; charset=utf-8' }));
  assert.ok(isTextAttachment({ name: 'ssh.log' }));
  assert.ok(isTextAttachment({ name: 'SSH.TXT', mimetype: 'application/octet-stream' }));
  assert.ok(!isTextAttachment({ name: 'screenshot.png', mimetype: 'image/png' }));
  assert.ok(!isTextAttachment({ name: 'ssh.log', mimetype: 'image/png' }));
  assert.ok(!isTextAttachment({ name: 'logs.tar.gz', mimetype: 'application/gzip' }));
  assert.ok(!isTextAttachment({ name: 'notes.pdf' }));
});

test('size: at most 1 MiB is read', () => {
  assert.equal(MAX_ATTACHMENT_BYTES, 1024 * 1024);
  assert.equal(sizeProblem(undefined), undefined);
  assert.equal(sizeProblem(MAX_ATTACHMENT_BYTES), undefined);
  assert.match(sizeProblem(MAX_ATTACHMENT_BYTES + 1) ?? '', /it is 1\.0 MiB; at most 1\.0 MiB of log is read/);
  assert.match(sizeProblem(5 * 1024 * 1024) ?? '', /5\.0 MiB/);
});

test('downloads go only to an allowed origin: scheme, host and port, no credentials', () => {
  const slack: AllowedOrigin[] = [{ protocol: 'https:', host: 'files.slack.com' }];
  const withApi = [...slack, originOf('http://127.0.0.1:4321/api/') as AllowedOrigin];
  assert.equal(allowedDownloadUrl('https://files.slack.com/files-pri/T1-F1/download/ssh.log', slack)?.host, 'files.slack.com');
  assert.ok(allowedDownloadUrl('https://FILES.slack.com/files-pri/x', slack), 'host names are case-insensitive');
  for (const url of [
    'http://files.slack.com/files-pri/x',
    'https://files.slack.com:8443/files-pri/x',
    'https://files.slack.com.evil.example/x',
    'https://evil.example/files.slack.com/x',
    'https://files.slack.com@evil.example/x',
    'https://user:secret@files.slack.com/x',
    'https://169.254.169.254/latest/meta-data/',
    'file:///etc/passwd',
    'not a url',
  ]) {
    assert.equal(allowedDownloadUrl(url, slack), undefined, url);
  }
  assert.ok(allowedDownloadUrl('http://127.0.0.1:4321/files-pri/x', withApi));
  assert.equal(allowedDownloadUrl('http://127.0.0.1:4322/files-pri/x', withApi), undefined, 'another port is another origin');
  assert.equal(allowedDownloadUrl('http://localhost:4321/files-pri/x', withApi), undefined);
  assert.equal(originOf('ftp://x/'), undefined);
});

// ---------------------------------------------------------------- the bounded download

interface Site {
  origin: AllowedOrigin;
  url: (path: string) => string;
  hits: Array<{ path: string; auth: string | undefined }>;
  close: () => Promise<void>;
}

async function site(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Site> {
  const hits: Site['hits'] = [];
  const server: Server = createServer((req, res) => {
    hits.push({ path: req.url ?? '', auth: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: { protocol: 'http:', host: `127.0.0.1:${port}` },
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test('download: a text file from the allowed origin, with the headers given', async () => {
  const s = await site((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('debug1: Connecting to x port 22.\n'));
  try {
    const got = await downloadLog(s.url('/f/ssh.log'), { allowed: [s.origin], headers: { Authorization: 'Bearer t' } });
    assert.deepEqual(got, { ok: true, text: 'debug1: Connecting to x port 22.\n', bytes: 33 });
    assert.deepEqual(s.hits, [{ path: '/f/ssh.log', auth: 'Bearer t' }]);
  } finally {
    await s.close();
  }
});

test('download: a disallowed URL is refused before any request; a redirect elsewhere is not followed', async () => {
  const elsewhere = await site((_req, res) => res.writeHead(200).end('debug1: x\ndebug1: y\n'));
  const s = await site((req, res) => {
    if (req.url === '/away') res.writeHead(302, { location: elsewhere.url('/stolen') }).end();
    else if (req.url === '/here') res.writeHead(302, { location: '/f/ssh.log' }).end();
    else res.writeHead(200).end('debug1: ok\n');
  });
  try {
    const refused = await downloadLog(elsewhere.url('/x'), { allowed: [s.origin], headers: { Authorization: 'Bearer t' } });
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.reason, 'host');
    const away = await downloadLog(s.url('/away'), { allowed: [s.origin], headers: { Authorization: 'Bearer t' } });
    assert.equal(!away.ok && away.reason, 'host');
    assert.match(!away.ok ? away.message : '', /redirected away/);
    assert.equal(elsewhere.hits.length, 0, 'nothing was fetched from the other host, and it never saw the token');
    const here = await downloadLog(s.url('/here'), { allowed: [s.origin] });
    assert.equal(here.ok && here.text, 'debug1: ok\n', 'a redirect within the allowed origin is followed');
  } finally {
    await s.close();
    await elsewhere.close();
  }
});

test('download: too large by its length or by what it sends, binary, HTTP errors, a refused connection, and a server that never answers', async () => {
  const s = await site((req, res) => {
    if (req.url === '/big') res.writeHead(200, { 'content-length': String(2 * 1024 * 1024) }).end();
    else if (req.url === '/stream') {
      // No length: the cap is enforced while reading.
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      for (let i = 0; i < 20; i++) res.write(chunk);
      res.end();
    } else if (req.url === '/binary') res.writeHead(200).end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0x0d]));
    else if (req.url === '/missing') res.writeHead(404).end('no');
    // '/hang': never answers.
  });
  try {
    const opts = { allowed: [s.origin] };
    const big = await downloadLog(s.url('/big'), opts);
    assert.equal(!big.ok && big.reason, 'too-big');
    assert.match(!big.ok ? big.message : '', /2\.0 MiB/);
    const stream = await downloadLog(s.url('/stream'), { ...opts, maxBytes: 256 * 1024 });
    assert.equal(!stream.ok && stream.reason, 'too-big');
    const binary = await downloadLog(s.url('/binary'), opts);
    assert.equal(!binary.ok && binary.reason, 'not-text');
    const missing = await downloadLog(s.url('/missing'), opts);
    assert.equal(!missing.ok && missing.reason, 'http');
    assert.match(!missing.ok ? missing.message : '', /HTTP 404/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = await downloadLog(`http://127.0.0.1:${closedPort}/x.log`, { allowed: [{ protocol: 'http:', host: `127.0.0.1:${closedPort}` }] });
    assert.equal(!refused.ok && refused.reason, 'network');
    assert.match(!refused.ok ? refused.message : '', /ECONNREFUSED/);
    const started = performance.now();
    const hang = await downloadLog(s.url('/hang'), { ...opts, timeoutMs: 300 });
    assert.equal(!hang.ok && hang.reason, 'timeout');
    assert.ok(performance.now() - started < 2000);
  } finally {
    await s.close();
  }
});
