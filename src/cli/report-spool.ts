// A fleet's `--json` reports, held on disk until the document is written: a 10 000-host check
// makes ~75 MB of report text, which in memory was a quarter of the fleet's peak RSS. The
// reports arrive out of order (many checks in flight, second looks later) and the document
// lists them in the hosts' order, after a summary known only at the end, so they are appended
// to a scratch file as they come and read back by host at the end. The file is unlinked as
// soon as it is open: nothing is left behind, even after kill -9.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class ReportSpool {
  private readonly fd: number;
  private readonly offsets: Float64Array;
  private readonly lengths: Uint32Array;
  private size = 0;
  private closed = false;

  constructor(count: number, dir: string = tmpdir()) {
    const scratch = mkdtempSync(join(dir, 'sshcheck-fleet-'));
    try {
      this.fd = openSync(join(scratch, 'reports.json'), 'w+', 0o600);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    this.offsets = new Float64Array(count).fill(-1);
    this.lengths = new Uint32Array(count);
  }

  /** The report text of host `index` (a second one for the same host replaces the first). */
  put(index: number, text: string): void {
    if (this.closed || index < 0 || index >= this.offsets.length) throw new RangeError(`no host ${index} in this spool`);
    const bytes = Buffer.from(text, 'utf8');
    let written = 0;
    while (written < bytes.length) written += writeSync(this.fd, bytes, written, bytes.length - written, this.size + written);
    this.offsets[index] = this.size;
    this.lengths[index] = bytes.length;
    this.size += bytes.length;
  }

  /** The texts in the hosts' order, read back one at a time; hosts without a report are left out. */
  *texts(): Generator<string> {
    for (let i = 0; i < this.offsets.length; i += 1) {
      const at = this.offsets[i] ?? -1;
      if (at < 0) continue;
      const length = this.lengths[i] ?? 0;
      const bytes = Buffer.allocUnsafe(length);
      let read = 0;
      while (read < length) {
        const n = readSync(this.fd, bytes, read, length - read, at + read);
        if (n === 0) throw new Error(`the fleet's report spool ended early at host ${i}`);
        read += n;
      }
      yield bytes.toString('utf8');
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
