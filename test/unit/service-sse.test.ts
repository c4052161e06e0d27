import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSse, encodeSseComment, encodeSseRetry, parseLastEventId, SseDecoder } from '../../src/service/sse.js';
import type { SseMessage } from '../../src/service/sse.js';
import { RunRegistry, DEFAULT_REGISTRY_OPTIONS } from '../../src/service/runs.js';
import { ServiceMetrics } from '../../src/service/metrics.js';
import { createLogger } from '../../src/log.js';
import { parseTarget } from '../../src/target.js';
import type { ProgressEvent } from '../../src/engine/report.js';
import { scriptedRunner } from './service-support.js';

const messages = [
  { id: 1, event: 'run-started', data: '{"type":"run-started"}' },
  { id: 2, event: 'step-updated', data: 'line one\nline two\r\nline three' },
  { id: 3, event: 'diagnosis', data: '' },
];

function decodeAll(text: string, chunk: number): SseMessage[] {
  const d = new SseDecoder();
  const out: SseMessage[] = [];
  for (let i = 0; i < text.length; i += chunk) out.push(...d.push(text.slice(i, i + chunk)));
  return out;
}

test('encode then decode gives the same messages, however the text is split', () => {
  const wire = encodeSseRetry(500) + messages.map((m) => encodeSse(m)).join(encodeSseComment('keep-alive'));
  const expected = messages.map((m) => ({ id: String(m.id), event: m.event, data: m.data.replace(/\r\n/g, '\n') }));
  for (const chunk of [1, 2, 3, 7, 64, wire.length]) assert.deepEqual(decodeAll(wire, chunk), expected, `chunks of ${chunk}`);
  const d = new SseDecoder();
  d.push(wire);
  assert.equal(d.retryMs, 500);
  assert.equal(d.lastEventId, '3');
});

test('CRLF and CR line ends, a CR at the end of one chunk and LF at the start of the next', () => {
  const d = new SseDecoder();
  assert.deepEqual(d.push('id: 7\r\nevent: x\r\ndata: a\r'), []);
  assert.deepEqual(d.push('\ndata: b\r\r'), [{ id: '7', event: 'x', data: 'a\nb' }]);
  assert.deepEqual(d.push('data:no-space\n\n'), [{ id: '7', event: 'message', data: 'no-space' }], 'the id carries over; the event name does not');
});

test('comments, unknown fields and data-less blocks produce nothing', () => {
  const d = new SseDecoder();
  assert.deepEqual(d.push(': hello\nfoo: bar\nevent: x\n\n'), []);
});

test('an endless line is an error, not unbounded memory', () => {
  const d = new SseDecoder(100);
  assert.throws(() => d.push(`data: ${'x'.repeat(200)}`), /longer than 100/);
});

test('ids and names cannot smuggle line breaks', () => {
  assert.throws(() => encodeSse({ id: '1\nevent: evil', data: '' }), /line break/);
  assert.throws(() => encodeSse({ event: 'a\rb', data: '' }), /line break/);
});

test('Last-Event-ID: absent means from the start; a number; anything else is refused', () => {
  assert.deepEqual(parseLastEventId(undefined), { after: 0 });
  assert.deepEqual(parseLastEventId(' 12 '), { after: 12 });
  assert.ok('error' in parseLastEventId('abc'));
  assert.ok('error' in parseLastEventId('-1'));
});

test('resume: a stream cut anywhere, continued after its Last-Event-ID, loses and repeats nothing', async () => {
  const { runner } = scriptedRunner();
  const registry = new RunRegistry(runner, DEFAULT_REGISTRY_OPTIONS, new ServiceMetrics(), createLogger({ write: () => undefined }));
  const { run } = registry.start(parseTarget('10.0.0.5'));
  await run.done;
  const serve = (after: number): string => {
    let text = '';
    registry.subscribe(run, after, { event: (seq, e) => (text += encodeSse({ id: seq, event: e.type, data: JSON.stringify(e) })), end: () => undefined });
    return text;
  };
  const full = serve(0);
  const all = decodeAll(full, full.length).map((m) => JSON.parse(m.data) as ProgressEvent);
  assert.equal(all.length, 13);
  for (let cut = 0; cut < full.length; cut += 37) {
    const first = new SseDecoder();
    const got = first.push(full.slice(0, cut));
    const resumed = new SseDecoder();
    const from = parseLastEventId(first.lastEventId);
    assert.ok('after' in from);
    got.push(...resumed.push(serve(from.after)));
    assert.deepEqual(got.map((m) => Number(m.id)), all.map((_, i) => i + 1), `cut at ${cut}`);
    assert.deepEqual(got.map((m) => JSON.parse(m.data) as ProgressEvent), all);
  }
});
