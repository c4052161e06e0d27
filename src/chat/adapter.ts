// What every chat platform adapter gets from the bot, and what it offers back.
import type { Logger } from '../log.js';
import type { EngineClient } from './engine-client.js';
import type { ChatGate } from './admission.js';
import type { WatchRunner } from './watch-runner.js';

export interface AdapterContext {
  engine: EngineClient;
  /**
   * Permissions, the target policy's pre-check, rate limits, the queue and the audit log,
   * asked once per request, after the platform was acknowledged and before anything runs.
   * Required: there is no way to run a chat request without it (tests pass an open gate).
   */
  gate: ChatGate;
  logger: Logger;
  /** How reports name the bastion the probes run on. */
  vantage: string;
  /** /sshcheck watch: re-checks on a schedule (watch-runner.ts); without it the adapter says watches are not available. */
  watches?: WatchRunner;
  /**
   * With several bot replicas: resolves true for exactly one replica per request id (the
   * one that answers it). Absent with a single replica: every request is this one's.
   */
  claim?: (id: string) => Promise<boolean>;
}

export interface ChatAdapter {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Registers who to tell when the adapter stops working after start() and will not come
   * back by itself (its connection closed for good, or lost for too long): the bot then
   * stops it and starts a new one with backoff, while the other adapters keep running.
   */
  onLost?(listener: (err: Error) => void): void;
}
