// What the answer to a pasted or attached ssh log says, independent of any platform's markup:
// where the log came from, the icon for the explanation, and the cause in words. Adapters
// render these (Block Kit, embeds) next to views.ts and fleet-views.ts. Pure.
import type { Explanation } from '../explain/explain.js';
import { STATUS_EMOJI } from './views.js';

/** Where the log came from: pasted into the message or command, or an attached file. */
export type LogSource = { kind: 'paste' } | { kind: 'file'; name: string };

/** Works, a confident cause, or an unsure one. */
export function explanationIcon(e: Pick<Explanation, 'connectionWorks' | 'cause' | 'confidence'>): string {
  if (e.connectionWorks) return STATUS_EMOJI.pass;
  return e.cause !== undefined && e.confidence === 'high' ? STATUS_EMOJI.fail : STATUS_EMOJI.warn;
}

/** "port-closed (high confidence)", or why there is no cause. `fmt` is the platform's markup. */
export function logCauseText(e: Pick<Explanation, 'connectionWorks' | 'cause' | 'confidence'>, fmt: { cause(cause: string): string; text(text: string, max: number): string }): string {
  // A log where the connection works still carries a cause (auth-denied, post-auth, healthy).
  if (e.connectionWorks) return `the connection itself works${e.cause !== undefined ? ` (${fmt.cause(e.cause)})` : ''}`;
  if (e.cause !== undefined) return `${fmt.cause(e.cause)} (${fmt.text(e.confidence, 20)} confidence)`;
  return 'no checklist cause fits';
}
