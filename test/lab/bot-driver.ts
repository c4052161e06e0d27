// The client side of the service lab test, run inside a lab namespace: it speaks HTTP to
// `sshcheck serve` as a script on the bastion's network would. It reads one JSON command per
// line on stdin and answers each with one JSON line on stdout, tagged with its id, so a
// test can drive many requests at once.
import { createInterface } from 'node:readline';
import type { ProgressEvent } from '../../src/engine/report.js';
import { SseDecoder } from '../../src/service/sse.js';

export type DriverCommand =
  | { id: number; op: 'http'; method: 'GET' | 'POST'; url: string; token?: string; body?: string; contentType?: string }
  | { id: number; op: 'sse-resume'; url: string; token: string; dropAfter: number };

async function http(cmd: Extract<DriverCommand, { op: 'http' }>): Promise<Record<string, unknown>> {
  const res = await fetch(cmd.url, {
    method: cmd.method,
    headers: { ...(cmd.token !== undefined ? { Authorization: `Bearer ${cmd.token}` } : {}), ...(cmd.body !== undefined ? { 'Content-Type': cmd.contentType ?? 'application/json' } : {}) },
    ...(cmd.body !== undefined ? { body: cmd.body } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), wwwAuthenticate: res.headers.get('www-authenticate'), contentType: res.headers.get('content-type'), body: text };
}

/** Reads a stream until `stop` says so or it ends; returns the ids read. */
async function readStream(url: string, token: string, lastEventId: string | undefined, stop: (ids: string[]) => boolean): Promise<{ ids: string[]; types: string[]; lastEventId: string | undefined }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) }, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(20_000)]) });
  const decoder = new SseDecoder();
  const text = new TextDecoder();
  const ids: string[] = [];
  const types: string[] = [];
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      for (const m of decoder.push(text.decode(chunk, { stream: true }))) {
        ids.push(m.id ?? '');
        types.push((JSON.parse(m.data) as ProgressEvent).type);
      }
      // Drop the connection mid-stream, as a network hiccup would.
      if (stop(ids)) {
        controller.abort();
        break;
      }
    }
  } catch (err) {
    if (!controller.signal.aborted) throw err;
  }
  return { ids, types, lastEventId: decoder.lastEventId };
}

async function sseResume(cmd: Extract<DriverCommand, { op: 'sse-resume' }>): Promise<Record<string, unknown>> {
  const first = await readStream(cmd.url, cmd.token, undefined, (ids) => ids.length >= cmd.dropAfter);
  const second = await readStream(cmd.url, cmd.token, first.lastEventId, () => false);
  const full = await readStream(cmd.url, cmd.token, undefined, () => false);
  return { first: first.ids, second: second.ids, full: full.ids, types: [...first.types, ...second.types], fullTypes: full.types };
}

async function handle(cmd: DriverCommand): Promise<Record<string, unknown>> {
  switch (cmd.op) {
    case 'http':
      return http(cmd);
    case 'sse-resume':
      return sseResume(cmd);
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let cmd: DriverCommand;
  try {
    cmd = JSON.parse(line) as DriverCommand;
  } catch {
    return;
  }
  handle(cmd).then(
    (result) => process.stdout.write(`${JSON.stringify({ id: cmd.id, ok: true, ...result })}\n`),
    (err: unknown) => process.stdout.write(`${JSON.stringify({ id: cmd.id, ok: false, error: err instanceof Error ? err.message : String(err) })}\n`),
  );
});
lines.on('close', () => process.exit(0));
process.stderr.write('driver ready\n');
