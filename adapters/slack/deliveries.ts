// Slack delivers the same request more than once: an event it thinks was acknowledged too late
// is retried (X-Slack-Retry-Num over HTTP, retry_attempt in Socket Mode), and a Socket Mode
// reconnect can redeliver an envelope. Each delivery is known by every id it carries (the
// event id or the slash command's trigger id, and the envelope id); any id seen before makes
// it a repeat, which is acknowledged and never starts a second run.
import type { RecentIds } from '../../src/chat/dedupe.js';

export function deliveryIds(ids: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(ids)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '')
    .map(([kind, id]) => `${kind}:${id}`);
}

/**
 * With several bot replicas, whether another one answers this request: the first id (the
 * event's or the trigger's, the same on every redelivery) is claimed on the broker.
 */
export async function answeredElsewhere(claim: ((id: string) => Promise<boolean>) | undefined, ids: readonly string[]): Promise<boolean> {
  const first = ids[0];
  return claim !== undefined && first !== undefined && !(await claim(`slack:${first}`));
}

/** Records every id, and says whether any of them was seen before. */
export function isRepeat(recent: RecentIds, ids: readonly string[]): boolean {
  let repeat = false;
  for (const id of ids) if (!recent.first(id)) repeat = true;
  return repeat;
}

/** Bolt's context is loosely typed; the envelope id is what our receiver put there. */
export function envelopeIdOf(context: Readonly<Record<string, unknown>>): string | undefined {
  const id = context['envelopeId'];
  return typeof id === 'string' ? id : undefined;
}
