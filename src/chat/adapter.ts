// What every chat platform adapter gets from the bot, and what it offers back.
import type { Logger } from '../log.js';
import type { EngineClient } from './engine-client.js';
import type { Gate } from './gate.js';

export interface AdapterContext {
  engine: EngineClient;
  /**
   * Permissions, the target policy's pre-check, rate limits, the queue and the audit log,
   * asked once per request before anything runs. `sshcheck bot` always sets it; adapters
   * started without one (tests of other things) run every valid request.
   */
  gate?: Gate;
  logger: Logger;
  /** How reports name the bastion the probes run on. */
  vantage: string;
}

export interface ChatAdapter {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}
