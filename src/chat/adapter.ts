// What every chat platform adapter gets from the bot, and what it offers back.
import type { Logger } from '../log.js';
import type { EngineClient } from './engine-client.js';

export interface AdapterContext {
  engine: EngineClient;
  logger: Logger;
  /** How reports name the bastion the probes run on. */
  vantage: string;
}

export interface ChatAdapter {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}
