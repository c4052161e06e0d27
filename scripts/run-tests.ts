// The test command: Node's own runner over the given files, with one guard. Now and then a test
// file's child process hangs before it runs a single line of the test (seen on Node 20: the
// main thread parked in a futex, no CPU, no output), and the runner would wait for it forever.
// Each file has a deadline; a file that timed out without having reported any test of its own
// is run once more, on its own, and says so. A file that started its tests and then failed or
// timed out is a failure as usual.
import { availableParallelism } from 'node:os';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import type { TestEvent } from 'node:test/reporters';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Long enough for the slowest lab file (the 30-check fail2ban run) on a loaded machine. */
const FILE_TIMEOUT_MS = Number(process.env.SSHCHECK_TEST_FILE_TIMEOUT_MS ?? 15 * 60_000);

interface Outcome {
  /** Files that timed out before any test of theirs reported. */
  silent: string[];
  /** Every file that hit its deadline. */
  timedOut: string[];
  passed: number;
  failed: number;
  skipped: number;
}

function isTimeout(error: { failureType?: string; message?: string; cause?: unknown } | undefined): boolean {
  if (error === undefined) return false;
  return error.failureType === 'testTimeoutFailure' || /timed out/.test(`${error.message ?? ''} ${typeof error.cause === 'string' ? error.cause : ''}`);
}

async function runFiles(files: readonly string[], concurrency: number): Promise<Outcome> {
  const outcome: Outcome = { silent: [], timedOut: [], passed: 0, failed: 0, skipped: 0 };
  const reported = new Set<string>();
  const timedOut = new Set<string>();
  const stream = run({ files: [...files], concurrency, timeout: FILE_TIMEOUT_MS });
  const watch = new Transform({
    objectMode: true,
    transform(event: TestEvent, _enc, done) {
      if (event.type === 'test:pass' || event.type === 'test:fail') {
        const data = event.data as { name: string; file?: string; skip?: unknown; todo?: unknown; details?: { error?: { failureType?: string; message?: string; cause?: unknown } } };
        const file = data.file;
        // The runner reports a file as a test of its own (named by its path) only when the
        // file itself fails: a crash, or its deadline.
        const fileLevel = data.name === file || files.includes(data.name);
        if (fileLevel) {
          if (event.type === 'test:fail' && isTimeout(data.details?.error)) timedOut.add(data.name);
          else if (event.type === 'test:fail') outcome.failed += 1;
        } else {
          if (file !== undefined) reported.add(files.find((f) => file === f || file.endsWith(`/${f}`)) ?? file);
          if (event.type === 'test:fail') outcome.failed += 1;
          else if (data.skip !== undefined && data.skip !== false) outcome.skipped += 1;
          else outcome.passed += 1;
        }
      }
      done(null, event);
    },
  });
  await pipeline(stream, watch, new spec(), process.stdout, { end: false });
  outcome.timedOut = [...timedOut];
  for (const file of timedOut) if (!reported.has(file)) outcome.silent.push(file);
  return outcome;
}

async function main(): Promise<void> {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: node dist/scripts/run-tests.js <test files…>\n');
    process.exitCode = 2;
    return;
  }
  // Two files at a time even on two cores: the suite waits far more than it computes (its CPU
  // time is about a third of its wall time, one file at a time: timers that a verdict must
  // wait out, real sshd, fail2ban and NATS round trips), and every lab file builds network
  // namespaces of its own, so two files do not meet. One at a time took 10–14 minutes here.
  const first = await runFiles(files, Math.max(2, availableParallelism()));
  let { passed, failed, skipped } = first;
  // A file that timed out after its tests had started is a failure like any other.
  const timedOutAfterStart = first.timedOut.filter((f) => !first.silent.includes(f));
  failed += timedOutAfterStart.length;
  if (first.silent.length > 0) {
    process.stdout.write(`\nrun-tests: ${first.silent.length} file(s) hung before running any test; once more, alone: ${first.silent.join(', ')}\n`);
    const again = await runFiles(first.silent, 1);
    passed += again.passed;
    failed += again.failed + again.timedOut.length;
    skipped += again.skipped;
  }
  process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
