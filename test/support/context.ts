// A probe context for tests: its own clock, a deadline, and an abort switch.
import { setMaxListeners } from 'node:events';
import type { ProbeContext } from '../../src/engine/probes/context.js';
import { startClock } from '../../src/engine/probes/context.js';

export interface TestContext extends ProbeContext {
  abort(): void;
}

export function testContext(deadlineMs = 5000): TestContext {
  const controller = new AbortController();
  setMaxListeners(256, controller.signal);
  return {
    now: startClock(),
    signal: controller.signal,
    deadlineMs,
    abort: () => controller.abort(),
  };
}
