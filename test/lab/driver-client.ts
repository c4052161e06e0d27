// The test side of bot-driver.ts: sends commands to the driver running in a lab namespace
// and waits for the answer with the same id (bounded by a timeout).
import { createInterface } from 'node:readline';
import type { LabProcess } from './segments.js';

type Command = Record<string, unknown> & { op: string };

export class DriverClient {
  private next = 0;
  private readonly waiting = new Map<number, (reply: Record<string, unknown>) => void>();

  constructor(private readonly proc: LabProcess) {
    const stdout = proc.child.stdout;
    if (!stdout) throw new Error('the driver has no stdout');
    createInterface({ input: stdout }).on('line', (line) => {
      let reply: Record<string, unknown>;
      try {
        reply = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      const resolve = this.waiting.get(Number(reply.id));
      this.waiting.delete(Number(reply.id));
      resolve?.(reply);
    });
  }

  send<T = Record<string, unknown>>(command: Command, timeoutMs = 30_000): Promise<T & { ok: boolean; error?: string }> {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`driver command ${command.op} got no answer in ${timeoutMs} ms; driver stderr: ${this.proc.stderr().slice(-500)}`));
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply as T & { ok: boolean; error?: string });
      });
      this.proc.child.stdin?.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }
}
