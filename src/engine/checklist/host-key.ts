// The host key a run saw, as the report carries it: the handshake to the address ssh would
// try first, once its key exchange reply arrived. Pure.
import type { Observations } from '../observations.js';
import type { HostKeyReport } from '../report.js';
import { primaryHandshake } from './facts.js';

export function hostKeyReport(obs: Observations): { hostKey?: HostKeyReport } {
  const h = primaryHandshake(obs);
  const key = h?.hostKey;
  if (!h || !key) return {};
  return {
    hostKey: {
      type: key.type,
      sha256: key.sha256,
      ...(key.caSha256 !== undefined ? { caSha256: key.caSha256 } : {}),
      verified: key.verified === true,
    },
  };
}
