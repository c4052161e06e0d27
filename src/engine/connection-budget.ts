// How many connections one run may open to the SSH server of one address, enforced in one
// place: every probe that connects to sshd (the in-process handshake, ssh -vvv, the
// diagnostics login) takes its connection here first, and goes without when there is none.
//
// Why so few: sshd-side defences count connections per source address, and the source is
// the bastion. OpenSSH 9.8+ PerSourcePenalties adds `noauth` 1 s per connection that leaves
// without authenticating and refuses the source once more than 15 s have accrued (draining
// 1 s per second); fail2ban's sshd jail in `ddos`/`aggressive` mode counts every such
// connection, and bans at maxretry 5 within findtime 10 min by default.

/** The probes that connect to sshd; the in-process handshake of the first address comes first. */
export type SshConnectionPurpose = 'handshake' | 'ssh -vvv' | 'login' | 'login retry';

/** Per run and address: the in-process handshake and ssh -vvv. */
export const PROBE_CONNECTIONS = 2;
/** A diagnostics login adds one (it authenticates, so sshd neither penalises nor logs a failure). */
export const LOGIN_CONNECTIONS = 1;

/** The most connections a run may open to one address's sshd: 2, or 3 with a diagnostics login. */
export function perRunLimit(withLogin: boolean): number {
  return PROBE_CONNECTIONS + (withLogin ? LOGIN_CONNECTIONS : 0);
}

/**
 * One run's connections to sshd, per address. One connection per address is always kept for
 * the in-process handshake, the main evidence. ssh -vvv may start before the name is resolved
 * (it resolves it itself, as `ssh host` does); it is charged to the first address the
 * in-process handshake probes (what getaddrinfo puts first, which ssh uses too).
 */
export class RunConnections {
  private readonly used = new Map<string, SshConnectionPurpose[]>();
  private primary: string | undefined;
  private readonly unbound: SshConnectionPurpose[] = [];

  constructor(readonly limit: number) {}

  /** Takes one connection to `address` (undefined: the address ssh picks): undefined, or why not. */
  take(address: string | undefined, purpose: SshConnectionPurpose): string | undefined {
    const target = address ?? this.primary;
    if (target === undefined) {
      // Not bound yet: leave one for the primary handshake.
      if (this.unbound.length + 1 >= this.limit) return this.refusal(purpose, 'the address ssh picks');
      this.unbound.push(purpose);
      return undefined;
    }
    // The in-process handshake of an address always gets its connection: one is kept for it.
    const kept = purpose !== 'handshake' && !(this.used.get(target) ?? []).includes('handshake') ? 1 : 0;
    if (this.count(target) + kept >= this.limit) return this.refusal(purpose, target);
    if (this.primary === undefined && purpose === 'handshake') this.primary = target;
    const list = this.used.get(target) ?? [];
    list.push(purpose);
    this.used.set(target, list);
    return undefined;
  }

  /**
   * Gives back the last connection taken for `purpose` to the address ssh picks: one that
   * never reached the target (ssh could not resolve the name, so it connected nowhere).
   */
  giveBack(purpose: SshConnectionPurpose): void {
    const unbound = this.unbound.lastIndexOf(purpose);
    if (unbound >= 0) {
      this.unbound.splice(unbound, 1);
      return;
    }
    const list = this.primary === undefined ? undefined : this.used.get(this.primary);
    const at = list?.lastIndexOf(purpose) ?? -1;
    if (list && at >= 0) list.splice(at, 1);
  }

  /** Connections opened (or started) to `address` so far. */
  count(address: string): number {
    const own = this.used.get(address)?.length ?? 0;
    return own + (address === this.primary || this.primary === undefined ? this.unbound.length : 0);
  }

  /** Address → the connections charged to it, for reports and tests. */
  spent(): Record<string, SshConnectionPurpose[]> {
    const out: Record<string, SshConnectionPurpose[]> = {};
    for (const [address, list] of this.used) out[address] = [...list];
    if (this.unbound.length > 0) {
      const key = this.primary ?? '(the address ssh picks)';
      out[key] = [...(out[key] ?? []), ...this.unbound];
    }
    return out;
  }

  private refusal(purpose: SshConnectionPurpose, address: string): string {
    return `this run's connection budget for ${address} is spent (${this.limit} connection${this.limit === 1 ? '' : 's'} to sshd per address in this run, so that the bastion never trips fail2ban or sshd's PerSourcePenalties): no ${purpose}`;
  }
}
