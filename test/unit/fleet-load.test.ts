// The fleet's load controller as pure functions: how a sampling window is graded, how the
// concurrency follows the grades (AIMD, bounded, one change per cooldown), which windows a
// check's run overlaps, and which verdicts the bastion's saturation puts in doubt.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { Cause, Diagnosis, Report } from '../../src/engine/report.js';
import type { Target } from '../../src/target.js';
import type { LoadSample } from '../../src/fleet/load.js';
import { COOLDOWN_MS, DEFAULT_LOAD_LIMITS, START_LIMIT, TIMING_CAUSES, covered, initialConcurrency, judgeFinding, loadDuring, loadLevel, nextConcurrency, saturationWords } from '../../src/fleet/load.js';
import type { LoadSource } from '../../src/fleet/load-monitor.js';
import { runnableTasks } from '../../src/fleet/load-monitor.js';
import { runFleet } from '../../src/fleet/run.js';
import { fakeReport as fakeReportFor } from '../support/fake-report.js';
import { writeFleetJson } from '../../src/cli/fleet.js';
import { fleetTargets } from '../../src/fleet/targets.js';

const sample = (atMs: number, over: Partial<LoadSample> = {}): LoadSample => ({ atMs, windowMs: 100, lagP99Ms: 2, lagMaxMs: 3, cpuCores: 0.2, runQueuePerCpu: 1, ...over });
const fakeReport = (target: Target, cause: Cause): Report => fakeReportFor(target, cause, 'auth');
const diagnosis = (cause: Cause, over: Partial<Diagnosis> = {}): { diagnosis: Diagnosis } => ({ diagnosis: { cause, step: null, confidence: 'high', summary: '', next: [], alternatives: [], ...over } });

describe('fleet load: grading a window', () => {
  test('timers on time and CPU to spare is calm; a late timer or a long run queue is saturated', () => {
    assert.equal(loadLevel(sample(100)), 'calm');
    assert.equal(loadLevel(sample(100, { lagMaxMs: DEFAULT_LOAD_LIMITS.lagSaturatedMs })), 'saturated');
    assert.equal(loadLevel(sample(100, { runQueuePerCpu: DEFAULT_LOAD_LIMITS.runQueueSaturated })), 'saturated');
    // In between: no growth, no cut.
    assert.equal(loadLevel(sample(100, { lagP99Ms: DEFAULT_LOAD_LIMITS.lagCalmMs, lagMaxMs: DEFAULT_LOAD_LIMITS.lagCalmMs })), 'busy');
    assert.equal(loadLevel(sample(100, { cpuCores: 0.95 })), 'busy', 'this process near a full core: more checks would only queue');
    assert.equal(loadLevel(sample(100, { runQueuePerCpu: DEFAULT_LOAD_LIMITS.runQueueCalm })), 'busy');
  });
  test('without a run queue (not Linux) the event loop and CPU alone decide', () => {
    const { runQueuePerCpu: _, ...noQueue } = sample(100);
    assert.equal(loadLevel(noQueue), 'calm');
    assert.equal(loadLevel({ ...noQueue, lagMaxMs: 500 }), 'saturated');
  });
  test('/proc/loadavg: the runnable count, or nothing when the text is not what Linux writes', () => {
    assert.equal(runnableTasks('9.05 6.39 2.91 6/369 21603\n'), 6);
    assert.equal(runnableTasks('garbage'), undefined);
  });
});

describe('fleet load: the concurrency controller', () => {
  test('starts low, grows by a quarter (at least one) while calm, halves when saturated, stays within its bounds', () => {
    let s = initialConcurrency(256);
    assert.equal(s.limit, START_LIMIT);
    const seen: number[] = [];
    let t = 0;
    for (let i = 0; i < 40; i++) {
      t += COOLDOWN_MS;
      s = nextConcurrency(s, 'calm', t);
      seen.push(s.limit);
    }
    assert.deepEqual(seen.slice(0, 4), [10, 12, 15, 18]);
    assert.equal(s.limit, 256, 'the ceiling holds');
    s = nextConcurrency(s, 'saturated', (t += COOLDOWN_MS));
    assert.equal(s.limit, 128);
    for (let i = 0; i < 20; i++) s = nextConcurrency(s, 'saturated', (t += COOLDOWN_MS));
    assert.equal(s.limit, 1, 'never below the floor');
    assert.equal(initialConcurrency(4).limit, 4, 'a small ceiling is the start');
    assert.equal(initialConcurrency(0).limit, 1);
  });
  test('one change per cooldown: the checks in flight must feel a change before it is judged', () => {
    let s = initialConcurrency(64);
    s = nextConcurrency(s, 'saturated', 1000);
    assert.equal(s.limit, 4);
    assert.equal(nextConcurrency(s, 'saturated', 1000 + COOLDOWN_MS - 1), s, 'too soon: unchanged');
    assert.equal(nextConcurrency(s, 'saturated', 1000 + COOLDOWN_MS).limit, 2);
    assert.equal(nextConcurrency(s, 'busy', 5000), s, 'busy holds');
  });
});

describe('fleet load: the load during one check', () => {
  const samples = [sample(100), sample(200, { lagMaxMs: 400, lagP99Ms: 400 }), sample(300), sample(400, { runQueuePerCpu: 5 })];
  test('every window that overlaps the run counts, its worst decides', () => {
    assert.deepEqual(loadDuring(samples, 210, 290), { samples: 1, lagMaxMs: 3, timersLate: false, cpuCores: 0.2, level: 'calm', runQueuePerCpu: 1 });
    const hit = loadDuring(samples, 150, 250);
    assert.equal(hit.samples, 2);
    assert.equal(hit.level, 'saturated');
    assert.equal(hit.lagMaxMs, 400);
    assert.equal(loadDuring(samples, 305, 390).level, 'busy');
    assert.equal(loadDuring(samples, 450, 460).samples, 0, 'no window yet');
  });
  test('a check is judged only once a window covers its end', () => {
    assert.equal(covered(samples, 400), true);
    assert.equal(covered(samples, 401), false);
    assert.equal(covered([], 1), false);
  });
});

describe('fleet load: which verdicts the load puts in doubt', () => {
  const saturated = loadDuring([sample(100, { lagMaxMs: 900 })], 0, 100);
  const calm = loadDuring([sample(100)], 0, 100);
  test('a timing verdict made on a saturated bastion is checked again, then withheld', () => {
    for (const cause of ['port-filtered', 'auth-slow', 'kex-stall', 'banner-timeout', 'no-response', 'dns-timeout', 'server-overloaded'] as const) {
      assert.equal(judgeFinding(diagnosis(cause), saturated, 0), 'recheck', cause);
      assert.equal(judgeFinding(diagnosis(cause), saturated, 1), 'withhold', cause);
      assert.equal(judgeFinding(diagnosis(cause), calm, 0), 'keep', `${cause} on a calm bastion stands`);
    }
    assert.equal(judgeFinding(diagnosis('undecided', { stoppedBy: 'budget' }), saturated, 0), 'recheck', 'a budget spent while saturated');
    // A long run queue with timers on time: the target's kernel answers SYNs and echoes however
    // busy the machine's processes are, so silence stands; sshd's slowness may be the machine's.
    const crowded = loadDuring([sample(100, { runQueuePerCpu: DEFAULT_LOAD_LIMITS.runQueueSaturated })], 0, 100);
    assert.equal(crowded.level, 'saturated');
    assert.equal(judgeFinding(diagnosis('port-filtered'), crowded, 0), 'keep');
    assert.equal(judgeFinding(diagnosis('no-response'), crowded, 0), 'keep');
    assert.equal(judgeFinding(diagnosis('auth-slow'), crowded, 0), 'recheck');
  });
  test('verdicts that rest on what arrived stand however slowly they were seen', () => {
    for (const cause of ['healthy', 'port-closed', 'port-rejected', 'dns-nxdomain', 'not-ssh', 'connection-closed', 'host-key-changed', 'server-dropped'] as const) {
      assert.equal(TIMING_CAUSES.has(cause), false, cause);
      assert.equal(judgeFinding(diagnosis(cause), saturated, 0), 'keep', cause);
    }
    assert.equal(judgeFinding(diagnosis('undecided', { stoppedBy: 'signal' }), saturated, 0), 'keep', 'a stopped fleet is not rechecked');
  });
  test('the reason names the figures', () => {
    assert.equal(saturationWords(saturated), 'the bastion was saturated while it was timed (event-loop delay up to 900 ms, 1.0 runnable tasks per CPU)');
  });
});

/** A load source the test steers: each sample is saturated or calm as `level` says at that moment. */
function scriptedLoad(): { source: LoadSource; setSaturated(on: boolean): void; stop(): void } {
  const samples: LoadSample[] = [];
  const listeners = new Set<(s: LoadSample) => void>();
  let saturated = false;
  let last = performance.now();
  const emit = (): LoadSample => {
    const now = performance.now();
    const s = sample(now, { windowMs: now - last, lagMaxMs: saturated ? 800 : 3, lagP99Ms: saturated ? 800 : 2 });
    last = now;
    samples.push(s);
    for (const l of listeners) l(s);
    return s;
  };
  const timer = setInterval(emit, 10);
  return {
    source: { samples: () => samples, onSample: (l) => (listeners.add(l), () => listeners.delete(l)), sampleNow: emit, stop: () => undefined },
    setSaturated: (on) => void (saturated = on),
    stop: () => clearInterval(timer),
  };
}

describe('fleet runner under load', () => {
  test('timing verdicts made while saturated get a second look; saturated again, the verdict is withheld; evidence verdicts stand', async () => {
    const load = scriptedLoad();
    const targets = fleetTargets({ patterns: ['h-[1-3]'] });
    const calls = new Map<string, number>();
    load.setSaturated(true);
    try {
      const result = await runFleet(targets, {
        vantage: 'test',
        load: load.source,
        engine: async (target) => {
          const n = (calls.get(target.host) ?? 0) + 1;
          calls.set(target.host, n);
          await new Promise((r) => setTimeout(r, 15));
          if (target.host === 'h-3') return fakeReport(target, 'port-closed');
          if (n === 1) {
            // The first pass ends; the second looks start once the bastion is calm again.
            if (target.host === 'h-2') setTimeout(() => load.setSaturated(false), 50);
            return fakeReport(target, 'auth-slow');
          }
          if (target.host === 'h-1') return fakeReport(target, 'healthy');
          // h-2's second look is timed on a saturated bastion again.
          load.setSaturated(true);
          await new Promise((r) => setTimeout(r, 15));
          return fakeReport(target, 'auth-slow');
        },
      });
      assert.deepEqual(Object.fromEntries(calls), { 'h-1': 2, 'h-2': 2, 'h-3': 1 }, 'one second look each, none for the reset');
      const byHost = Object.fromEntries(result.reports.map((r) => [r.target.host, r]));
      assert.equal(byHost['h-1']?.diagnosis.cause, 'healthy');
      assert.equal(byHost['h-3']?.diagnosis.cause, 'port-closed');
      const withheld = byHost['h-2'];
      assert.equal(withheld?.diagnosis.cause, 'undecided');
      assert.equal(withheld?.outcome, 'undecided');
      assert.equal(withheld?.diagnosis.stoppedBy, 'withheld', 'its own stop reason, not a cancellation');
      assert.match(withheld?.diagnosis.stopDetail ?? '', /^verdict withheld: the bastion was saturated while it was timed \(event-loop delay up to 800 ms/);
      assert.deepEqual(withheld?.diagnosis.alternatives.map((a) => [a.cause, a.confidence]), [['auth-slow', 'low']]);
      assert.deepEqual(result.rechecks?.map((r) => [r.target, r.first, r.final]), [['h-1', 'auth-slow', 'healthy'], ['h-2', 'auth-slow', 'undecided']]);
      assert.equal(result.summary.load?.rechecked, 2);
      assert.equal(result.summary.load?.withheld, 1);
      assert.deepEqual(result.summary.byCause, [{ cause: 'healthy', hosts: 1 }, { cause: 'port-closed', hosts: 1 }, { cause: 'undecided', hosts: 1 }]);
    } finally {
      load.stop();
    }
  });
  test('without a load source the fleet runs at its ceiling and keeps every verdict', async () => {
    const targets = fleetTargets({ patterns: ['h-[1-12]'] });
    let running = 0;
    let most = 0;
    const result = await runFleet(targets, {
      vantage: 'test',
      concurrency: 12,
      load: false,
      engine: async (target) => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 5));
        running -= 1;
        return fakeReport(target, 'auth-slow');
      },
    });
    assert.equal(most, 12);
    assert.equal(result.summary.byCause[0]?.cause, 'auth-slow');
    assert.equal(result.summary.load, undefined);
  });
});

describe('fleet JSON without holding every report', () => {
  test('keepReports false: the summary still counts every host, and the document written in pieces is the one JSON.stringify gives', async () => {
    const targets = fleetTargets({ patterns: ['h-[1-600]'] });
    const engine = (target: Target): Promise<Report> => Promise.resolve(fakeReport(target, Number(target.host.slice(2)) % 7 === 0 ? 'port-closed' : 'healthy'));
    const kept = await runFleet(targets, { vantage: 'test', load: false, concurrency: 16, engine });
    const texts: string[] = [];
    const lean = await runFleet(targets, { vantage: 'test', load: false, concurrency: 16, engine, keepReports: false, onReport: (r, i) => void (texts[i] = JSON.stringify(r)) });
    assert.equal(lean.reports.length, 0);
    assert.deepEqual(lean.summary.byCause, kept.summary.byCause);
    assert.equal(lean.summary.hosts, 600);
    const chunks: string[] = [];
    await writeFleetJson(lean, texts, (t) => void chunks.push(t));
    assert.ok(chunks.length > 3, 'written in pieces');
    const expected = JSON.stringify({ ...kept, startedAt: lean.startedAt, summary: lean.summary });
    assert.equal(chunks.join(''), `${expected}\n`);
    const again: string[] = [];
    await writeFleetJson(kept, [], (t) => void again.push(t));
    assert.equal(again.join(''), `${JSON.stringify(kept)}\n`);

    // A reader that is behind (a pipe into a slow `jq`): the writer waits for it instead of
    // queueing the whole document in memory.
    let queuedMax = 0;
    let largest = 0;
    const received: string[] = [];
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        received.push(chunk.toString('utf8'));
        setImmediate(done);
      },
    });
    await writeFleetJson(
      lean,
      texts,
      (t) => {
        largest = Math.max(largest, Buffer.byteLength(t));
        const ok = slow.write(t);
        queuedMax = Math.max(queuedMax, slow.writableLength);
        return ok;
      },
      () => once(slow, 'drain').then(() => undefined),
    );
    await new Promise<void>((resolve) => slow.end(resolve));
    assert.equal(received.join(''), `${expected}\n`);
    const total = Buffer.byteLength(expected);
    assert.ok(largest < total / 2, `the document goes out in pieces (largest ${largest} of ${total} bytes)`);
    assert.ok(queuedMax <= largest + 1024, `at most one piece queued at a time, not ${queuedMax} of ${total} bytes`);
  });
});

describe('fleet runner and the caller signal', () => {
  test('64 checks in flight each listening on one signal: no MaxListenersExceededWarning on stderr', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const targets = fleetTargets({ patterns: ['w-[1-64]'] });
      const result = await runFleet(targets, {
        vantage: 'test',
        load: false,
        concurrency: 64,
        signal: controller.signal,
        // As run() does: one abort listener per check while it runs.
        engine: async (target, options) => {
          const onAbort = (): void => undefined;
          options.signal?.addEventListener('abort', onAbort, { once: true });
          await new Promise((r) => setTimeout(r, 5));
          options.signal?.removeEventListener('abort', onAbort);
          return fakeReportFor(target, 'healthy');
        },
      });
      assert.equal(result.summary.healthy, 64);
      // Warnings are emitted on the next tick.
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
