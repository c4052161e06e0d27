// What the Discord handlers (a command, a fleet, a Re-run click) are given by the app: the
// engine, the gate and the chat-wide state they share. In a file of its own so that the
// handlers import it, not each other.
import type { Logger } from '../../src/log.js';
import type { ChatGate } from '../../src/chat/admission.js';
import type { RecentIds } from '../../src/chat/dedupe.js';
import type { EngineClient } from '../../src/chat/engine-client.js';
import type { Pacer } from '../../src/chat/pacer.js';

export interface InteractionDeps {
  engine: EngineClient;
  logger: Logger;
  vantage: string;
  pacer: Pacer;
  seen: RecentIds;
  /** Permissions, policy pre-check, limits, queue and audit (src/chat/gate.ts). */
  gate: ChatGate;
}
