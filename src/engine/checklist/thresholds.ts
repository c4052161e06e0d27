// When a wait becomes a verdict. Each number is tied to how the network and OpenSSH behave,
// so that early verdicts cost no correctness; all of them can be overridden per run.

export interface Thresholds {
  /**
   * A SYN still unanswered this long after it was sent, while the host answers other probes,
   * is a silent drop. Linux retransmits an unanswered SYN after 1 s (initial RTO); waiting
   * for that retransmission plus a margin for its answer makes one lost packet harmless.
   */
  filteredAfterMs: number;
  /**
   * Linux's initial retransmission timeout: an unanswered SYN is sent again this long after
   * the first. When this run has measured the round trip to the host (an echo reply, the
   * control port's reset), the silent drop is called sooner: that one retransmission, plus how
   * late the kernel's timer may fire it (retransmitLateMs: the timer wheel's granularity for a
   * 1 s timer, 32 ms at HZ=250 and 64 ms at HZ=1000), plus twice the slowest measured round
   * trip for its answer. Never later than filteredAfterMs.
   */
  synRetransmitMs: number;
  retransmitLateMs: number;
  /**
   * Nothing at all answers (no echo reply, no reset, no ICMP error) for this long: the host is
   * down or drops everything. A router gives up on ARP after 3 probes 1 s apart and only then
   * sends "host unreachable", so a shorter wait would call an unreachable host silent.
   */
  silentAfterMs: number;
  /** An ICMP unreachable this late after the SYN comes from a failed ARP resolution. */
  arpFailureAfterMs: number;
  /**
   * How long to wait for the server's identification line. sshd sends it at once; libwrap
   * (TCP wrappers) holds a refused connection for 5 s before closing it, so wait past that.
   */
  bannerTimeoutMs: number;
  /** A banner later than this is slow (reverse DNS in libwrap, or an overloaded server). */
  bannerSlowMs: number;
  /** After the banner, the key exchange not advancing for this long is a stall. */
  kexStallMs: number;
  /** The don't-fragment sweep starts when the key exchange has not advanced for this long. */
  mtuSweepAfterMs: number;
  /**
   * The sweep also starts when TCP is connected and no banner has come for this long. sshd
   * sends its banner at once; a banner lost on the way is resent after the retransmission
   * timeout (200 ms and up), so a second without one is worth a look at the path.
   */
  mtuSweepNoBannerMs: number;
  /** NEWKEYS to the list of auth methods: above this is slow (UseDNS, GSSAPI). */
  authSlowMs: number;
  /** NEWKEYS to the list of auth methods: still nothing after this long is a hang in auth. */
  authStuckMs: number;
  /** With no resolver answering anything (not even the liveness query), DNS is down. */
  dnsDeadAfterMs: number;
  /** A resolver that answers other queries but not this name, for this long, times out. */
  dnsSlowAfterMs: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = {
  filteredAfterMs: 1200,
  synRetransmitMs: 1000,
  retransmitLateMs: 80,
  silentAfterMs: 3600,
  arpFailureAfterMs: 2500,
  bannerTimeoutMs: 8000,
  bannerSlowMs: 1000,
  kexStallMs: 1500,
  mtuSweepAfterMs: 300,
  mtuSweepNoBannerMs: 1000,
  authSlowMs: 1000,
  authStuckMs: 5000,
  dnsDeadAfterMs: 300,
  dnsSlowAfterMs: 2000,
};
