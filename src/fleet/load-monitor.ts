// Samples the bastion's load for a fleet check (load.ts judges the samples): this process's
// event-loop delay (perf_hooks.monitorEventLoopDelay) and CPU time, and the machine's run
// queue from /proc/loadavg (Linux; elsewhere the run queue is left out). One timer, unref'd,
// a bounded ring of samples; nothing here decides anything.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { LoadSample } from './load.js';

export const SAMPLE_MS = 100;
/** Histogram resolution: the delay it records includes it, so it is taken off again. */
const RESOLUTION_MS = 10;
/** Ten minutes of windows: far more than any check's run, bounded whatever the fleet's length. */
const MAX_SAMPLES = 6000;
/** The run queue is one instant per window: smoothed so that one busy instant is not "saturated". */
const RUN_QUEUE_WEIGHT = 0.5;

/** Where a fleet gets its load samples from (tests give a scripted one). */
export interface LoadSource {
  /** Samples so far, oldest first (bounded). */
  samples(): readonly LoadSample[];
  /** Called after each new sample; returns a function that unsubscribes. */
  onSample(listener: (sample: LoadSample) => void): () => void;
  /** Takes a sample now (the fleet's last checks are judged without waiting for the timer). */
  sampleNow(): LoadSample;
  stop(): void;
}

/** Runnable tasks right now (the first field of /proc/loadavg's "running/total"), or undefined. */
export function runnableTasks(loadavgText: string): number | undefined {
  const m = /^\S+ \S+ \S+ (\d+)\/\d+/.exec(loadavgText);
  return m ? Number(m[1]) : undefined;
}

function readRunnable(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return runnableTasks(readFileSync('/proc/loadavg', 'utf8'));
  } catch {
    return undefined;
  }
}

export function startLoadMonitor(intervalMs = SAMPLE_MS): LoadSource {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  const cpus = Math.max(1, availableParallelism());
  const ring: LoadSample[] = [];
  const listeners = new Set<(sample: LoadSample) => void>();
  let lastAt = performance.now();
  let lastCpu = process.cpuUsage();
  let runQueue: number | undefined;
  const take = (onTimer: boolean): LoadSample => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const windowMs = Math.max(1, now - lastAt);
    const ms = (ns: number): number => (Number.isFinite(ns) && histogram.count > 0 ? Math.max(0, ns / 1e6 - RESOLUTION_MS) : 0);
    // This timer is late by as much as the loop was stalled (the histogram misses a stall that
    // ends in this very callback).
    const stalled = onTimer ? Math.max(0, windowMs - intervalMs) : 0;
    const running = readRunnable();
    if (running !== undefined) {
      // This process is one of the runnable tasks while it reads the file: count the others.
      const perCpu = Math.max(0, running - 1) / cpus;
      runQueue = runQueue === undefined ? perCpu : runQueue * (1 - RUN_QUEUE_WEIGHT) + perCpu * RUN_QUEUE_WEIGHT;
    }
    const sample: LoadSample = {
      atMs: now,
      windowMs,
      lagP99Ms: Math.max(ms(histogram.percentile(99)), stalled),
      lagMaxMs: Math.max(ms(histogram.max), stalled),
      cpuCores: (cpu.user + cpu.system) / 1000 / windowMs,
      ...(runQueue !== undefined ? { runQueuePerCpu: runQueue } : {}),
    };
    histogram.reset();
    lastAt = now;
    lastCpu = process.cpuUsage();
    ring.push(sample);
    if (ring.length > MAX_SAMPLES) ring.splice(0, ring.length - MAX_SAMPLES);
    for (const l of listeners) l(sample);
    return sample;
  };
  const timer = setInterval(() => take(true), intervalMs);
  timer.unref();
  return {
    samples: () => ring,
    onSample: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    sampleNow: () => take(false),
    stop: () => {
      clearInterval(timer);
      histogram.disable();
      listeners.clear();
    },
  };
}
