// Two bot replicas, one answer: Discord's gateway gives every connected replica the same
// interaction, and Slack may redeliver a request to a replica that did not see it first.
// Before answering, a replica claims the request's id in a JetStream KV bucket on the
// broker (create: succeeds for exactly one writer); the others let it go. Entries expire
// with the bucket's TTL, longer than Discord's 15-minute interaction tokens.
import { Kvm } from '@nats-io/kv';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';

export const CLAIMS_BUCKET = 'sshcheck-claims';
/** How long a claim is kept: past any redelivery (Discord tokens live 15 minutes). */
export const CLAIM_TTL_MS = 20 * 60_000;
/** JetStream's "wrong last sequence": the key exists, another replica claimed it first. */
const WRONG_LAST_SEQUENCE = new Set([10071, 10164]);

/** A KV key for a request id ("discord:…", "trigger:…"), with anything KV keys may not hold replaced. Pure. */
export function claimKey(id: string): string {
  const safe = id.replace(/[^-_=a-zA-Z0-9]/g, '_').slice(0, 200);
  return safe === '' ? '_' : safe;
}

export class ClaimBucket {
  private constructor(
    private readonly kv: KV,
    private readonly owner: string,
    private readonly logger: Logger,
  ) {}

  /** Creates the bucket if it is not there yet (the broker's permissions let bots do so). */
  static async open(nc: NatsConnection, owner: string, logger: Logger): Promise<ClaimBucket> {
    const kv = await new Kvm(nc).create(CLAIMS_BUCKET, { history: 1, ttl: CLAIM_TTL_MS, storage: 'memory' });
    return new ClaimBucket(kv, owner, logger);
  }

  /**
   * True when this replica is the one to answer `id`. A claim that cannot be made (the
   * broker is unreachable) answers true: a request answered twice beats one never answered,
   * and a lone replica must keep working while the broker is down.
   */
  async claim(id: string): Promise<boolean> {
    try {
      await this.kv.create(claimKey(id), this.owner);
      return true;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'number' && WRONG_LAST_SEQUENCE.has(code)) return false;
      this.logger.warn('claiming a chat request failed; answering it here', { id, error: errorMessage(err) });
      return true;
    }
  }
}
