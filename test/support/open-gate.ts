// The gate for tests about something else than the gate: the real Gate (so every request
// still goes through the one door, with its tickets and queue), with a policy that allows
// every address and limits no test reaches. Adapters have no way to run without a gate.
import type { ChatGate } from '../../src/chat/admission.js';
import { Gate } from '../../src/chat/gate.js';
import type { LimitsConfig } from '../../src/chat/limits.js';
import type { PolicyEntry, TargetPolicy } from '../../src/policy/target-policy.js';
import { parseCidrBlock } from '../../src/policy/ip.js';

function allow(cidr: string): PolicyEntry {
  const block = parseCidrBlock(cidr);
  if ('error' in block) throw new Error(`${cidr}: ${block.error}`);
  return { kind: 'cidr', action: 'allow', block, label: 'tests: every address', origin: 'config' };
}

/** Allows every IPv4 and IPv6 address (loopback included: the test targets live there). */
export const ALLOW_ALL_POLICY: TargetPolicy = { entries: [allow('0.0.0.0/0'), allow('::/0')], cli: false };

export const OPEN_LIMITS: LimitsConfig = {
  perUser: { burst: 1_000_000, perMinute: 1_000_000 },
  global: { burst: 1_000_000, perMinute: 1_000_000 },
  concurrent: 10_000,
  queue: 10_000,
  runEstimateMs: 20_000,
};

/** Lets every request in, at once. */
export function openGate(): Gate {
  return new Gate({ policy: ALLOW_ALL_POLICY, limits: OPEN_LIMITS });
}

/** A gate that answers only when released (or after `maxMs`, as a gate stuck on usergroups.list would). */
export interface HeldGate extends ChatGate {
  /** Requests the gate was asked about. */
  readonly asked: number;
  /** performance.now() of each answer, in order. */
  readonly answeredAt: number[];
  release(): void;
}

export function heldGate(inner: ChatGate, maxMs = 10_000): HeldGate {
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const timer = setTimeout(release, maxMs);
  timer.unref();
  const answeredAt: number[] = [];
  let asked = 0;
  const hold = async <T>(answer: () => Promise<T>): Promise<T> => {
    asked += 1;
    await released;
    const decision = await answer();
    answeredAt.push(performance.now());
    return decision;
  };
  return {
    get asked() {
      return asked;
    },
    answeredAt,
    release: () => {
      clearTimeout(timer);
      release();
    },
    admit: (request) => hold(() => inner.admit(request)),
    admitFleet: (request) => hold(() => inner.admitFleet(request)),
  };
}
