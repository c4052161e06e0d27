// Server-Sent Events, both directions, as pure functions: the service encodes progress
// events, the remote engine client decodes them. Each event carries an `id:` (its sequence
// number in the run), so a client whose stream broke reconnects with `Last-Event-ID` and
// gets exactly the events after it: none lost, none twice.
// Wire format: https://html.spec.whatwg.org/multipage/server-sent-events.html

export interface SseMessage {
  /** The last `id:` seen, as the spec defines it (it carries over to later messages). */
  id?: string;
  /** `event:`; "message" when the server named none. */
  event: string;
  data: string;
}

/** One event as wire text. `data` may span lines; ids and names never may. */
export function encodeSse(message: { id?: string | number; event?: string; data: string }): string {
  let out = '';
  if (message.id !== undefined) out += `id: ${oneLine(String(message.id), 'id')}\n`;
  if (message.event !== undefined) out += `event: ${oneLine(message.event, 'event')}\n`;
  for (const line of message.data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** A comment line: clients ignore it; it keeps proxies and idle timers from closing the stream. */
export function encodeSseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, ' ')}\n\n`;
}

/** Tells the client how long to wait before reconnecting. */
export function encodeSseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.round(ms))}\n\n`;
}

function oneLine(value: string, field: string): string {
  if (/[\r\n\0]/.test(value)) throw new Error(`an SSE ${field} cannot contain a line break or NUL`);
  return value;
}

/**
 * Incremental decoder: feed it text as it arrives (chunks may split lines anywhere, also
 * between \r and \n) and it returns the complete messages. Bounded: a line longer than
 * maxLineChars is an error rather than unbounded buffering of a misbehaving peer.
 */
export class SseDecoder {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  /** The id field of the message being read; it becomes lastId only when the message is complete. */
  private idBuffer: string | undefined;
  private lastId: string | undefined;
  private sawCr = false;
  /** The reconnection delay the server asked for, if any. */
  retryMs: number | undefined;

  constructor(private readonly maxLineChars = 1_048_576) {}

  /**
   * The id to send as Last-Event-ID when reconnecting: that of the last complete message, so
   * a message cut off after its id line is asked for again.
   */
  get lastEventId(): string | undefined {
    return this.lastId;
  }

  push(chunk: string): SseMessage[] {
    let text = chunk;
    // A \r ended the previous chunk: a \n starting this one belongs to the same line end.
    if (this.sawCr && text.startsWith('\n')) text = text.slice(1);
    this.sawCr = text.endsWith('\r');
    this.buffer += text;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const message = this.line(line);
      if (message) out.push(message);
    }
    if (this.buffer.length > this.maxLineChars) throw new Error(`an SSE line is longer than ${this.maxLineChars} characters`);
    return out;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.idBuffer = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
      // Unknown fields are ignored, as the spec says.
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    this.lastId = this.idBuffer;
    if (this.data.length === 0) {
      this.event = '';
      return undefined;
    }
    const message: SseMessage = { event: this.event || 'message', data: this.data.join('\n') };
    if (this.lastId !== undefined) message.id = this.lastId;
    this.data = [];
    this.event = '';
    return message;
  }
}

/**
 * Parses a Last-Event-ID header: the sequence number of the last event the client has.
 * Undefined when absent; an error message when it is not one of ours.
 */
export function parseLastEventId(header: string | undefined): { after: number } | { error: string } {
  if (header === undefined || header.trim() === '') return { after: 0 };
  const text = header.trim();
  if (!/^[0-9]{1,9}$/.test(text)) return { error: 'Last-Event-ID must be the id of an event of this check (a number)' };
  return { after: Number(text) };
}
