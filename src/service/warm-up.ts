// The first burst after a start costs serve about twice the CPU per request of later ones:
// V8 runs a function in its interpreter until it has been called often enough to compile
// it (bench/service-burst.ts, cold against --warm). The admission path's parsing, policy and
// key functions are pure, so the service calls them on sample requests at start-up: no
// store, no registry, no metrics, no log, nothing anyone can see but the CPU it takes.
import type { TargetPolicy } from '../policy/target-policy.js';
import { checkTyped } from '../policy/target-policy.js';
import { parseCheckBody } from './request.js';
import { runKey } from './runs.js';
import type { TokenSet } from './tokens.js';

export const WARM_UP_ROUNDS = 500;

/**
 * Sample requests (addresses and names, half each) through the pure part of admission.
 * Never throws: a sample the rules refuse ends the warm-up, which is only ever an
 * optimisation. Returns the rounds done and how many samples the policy refused.
 */
export function warmAdmission(policy: TargetPolicy, tokens: TokenSet, rounds = WARM_UP_ROUNDS): { rounds: number; refused: number } {
  let refused = 0;
  let done = 0;
  try {
    for (; done < rounds; done++) {
      const target = done % 2 === 0 ? `10.${done % 250}.${(done * 7) % 250}.${(done * 13) % 250}` : `host-${done}.example.test`;
      const body = parseCheckBody(`{"target":"${target}","port":${20_000 + done}}`, 'application/json');
      if (checkTyped(policy, body.target)) refused += 1;
      runKey(body.target, body.from);
      // A token that is never valid: compared as any request's.
      tokens.verify(`Bearer warm-up-${done}-not-a-token`);
      JSON.stringify({ error: { code: 'busy', message: `${done} checks are running` } });
    }
  } catch {
    // A sample the rules refuse: the rest of the warm-up is skipped, nothing else.
  }
  return { rounds: done, refused };
}
