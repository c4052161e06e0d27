// What probes observe: plain data, no judgement. Every time is in milliseconds since the
// run started (the run's clock), so steps can reason about "how long has this been
// pending". A probe reports `state: 'running'` snapshots while it works and one final
// snapshot with `state: 'done'`. Judging lives in checklist/.

export type ProbeState = 'running' | 'done';

/** Common to every observation. */
export interface ProbeBase {
  state: ProbeState;
  startedMs: number;
  endedMs?: number;
  /** Set when the probe could not run at all (tool missing, no permission): says why. */
  unavailable?: string;
  /** Set when the run stopped the probe before it finished (diagnosis settled, budget spent). */
  aborted?: boolean;
}

// ---------------------------------------------------------------------------------------
// Name resolution

/** What ssh itself would get: getaddrinfo (through `getent ahosts`, which can be killed). */
export interface SystemResolveObs extends ProbeBase {
  name: string;
  addresses: string[];
  /** Canonical name, when getaddrinfo reported one. */
  canonical?: string;
  error?: { kind: 'not-found' | 'try-again' | 'timeout' | 'failed'; detail: string };
}

export type DnsRecordType = 'A' | 'AAAA' | 'PTR';
export type DnsOutcome = 'answer' | 'nodata' | 'nxdomain' | 'servfail' | 'refused' | 'timeout' | 'truncated' | 'error';

export interface DnsQueryObs {
  server: string;
  name: string;
  type: DnsRecordType;
  outcome: DnsOutcome;
  /** RCODE name as the server sent it (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, ...). */
  rcode?: string;
  /** Addresses (A/AAAA) or names (PTR), as sent; untrusted text. */
  answers: string[];
  latencyMs?: number;
  detail?: string;
}

/** Direct queries to each resolver of /etc/resolv.conf, as the resolver library would ask them. */
export interface DnsObs extends ProbeBase {
  resolvers: string[];
  search: string[];
  ndots: number;
  /** Names asked, in the order the resolver library would try them (search list applied). */
  candidates: string[];
  queries: DnsQueryObs[];
  /** Problems reading resolv.conf (missing file, no nameserver lines). */
  configNote?: string;
  /**
   * Set when getaddrinfo consults only the hosts file and DNS (nsswitch.conf `hosts: files dns`,
   * no nscd): its answer then follows from this file's addresses for the name and the queries
   * below, before getent itself returns.
   */
  filesAndDnsOnly?: { hostsPath: string; addresses: string[] };
  /**
   * Resolvers that answered some query already (any rcode), also one whose name the walk has
   * not reached in `queries` yet (its pair's other half still out): they are alive.
   */
  answeredBy?: string[];
}

/** Reverse lookups: of the target's address, and of the bastion's own (sshd UseDNS looks it up). */
export interface PtrObs extends ProbeBase {
  address: string;
  role: 'target' | 'bastion';
  queries: DnsQueryObs[];
}

// ---------------------------------------------------------------------------------------
// ICMP

export type IcmpErrorKind =
  | 'host-unreachable'
  | 'net-unreachable'
  | 'port-unreachable'
  | 'admin-prohibited'
  | 'host-prohibited'
  | 'frag-needed'
  | 'time-exceeded'
  | 'other';

export interface PingObs extends ProbeBase {
  address: string;
  transmitted: number;
  received: number;
  /** Replies' round-trip times in order of arrival. */
  rttsMs: number[];
  /** ICMP errors ping printed ("From 10.0.0.1 icmp_seq=1 Destination Host Unreachable"). */
  errors: Array<{ from: string; kind: IcmpErrorKind; text: string }>;
  exitCode?: number | null;
}

/** Don't-fragment echo sweep: which packet sizes cross the path. */
export interface MtuObs extends ProbeBase {
  address: string;
  /** Interface MTU on the bastion's side, when known. */
  localMtu?: number;
  probes: Array<{ mtu: number; outcome: 'reply' | 'no-reply' | 'frag-needed' | 'error'; detail?: string }>;
}

// ---------------------------------------------------------------------------------------
// TCP and SSH

export type TcpOutcome = 'connected' | 'refused' | 'timeout' | 'host-unreachable' | 'net-unreachable' | 'error';

/** A plain TCP connect (the control port, or extra addresses). */
export interface TcpObs extends ProbeBase {
  address: string;
  port: number;
  outcome?: TcpOutcome;
  errno?: string;
  /** When the outcome was known. */
  atMs?: number;
  localAddress?: string;
}

export type HandshakePhase =
  | 'connect'
  | 'banner'
  | 'kexinit'
  | 'kex-reply'
  | 'newkeys'
  | 'service'
  | 'auth-methods'
  | 'complete';

export type HandshakeEndKind =
  | 'complete'
  | 'refused'
  | 'unreachable'
  | 'timeout'
  | 'closed'
  | 'reset'
  | 'not-ssh'
  | 'kex-failed'
  | 'disconnect'
  | 'protocol-error'
  | 'unsupported'
  /** The host-key signature over the exchange hash does not verify: not the host's answer. */
  | 'bad-signature'
  /** sshcheck's own code failed: says nothing about the server. */
  | 'internal-error'
  | 'aborted';

export interface AlgorithmLists {
  kex: string[];
  hostKey: string[];
  cipherCtoS: string[];
  cipherStoC: string[];
  macCtoS: string[];
  macStoC: string[];
}

/**
 * The in-process handshake: TCP connect, identification lines, key exchange, NEWKEYS and a
 * `none` authentication request. Times are run-relative and set as each phase completes.
 */
export interface HandshakeObs extends ProbeBase {
  address: string;
  port: number;
  tcp: { outcome?: TcpOutcome; errno?: string; atMs?: number; localAddress?: string };
  /** When each phase completed. */
  at: Partial<Record<Exclude<HandshakePhase, 'connect' | 'complete'>, number>>;
  /** Lines the server sent before its identification line (RFC 4253 allows them). */
  preBanner: { lines: number; bytes: number; sample: string[] };
  banner?: { line: string; protoVersion: string; software: string; comments?: string };
  /** The server's KEXINIT lists, once received. */
  server?: AlgorithmLists;
  negotiated?: { kex: string; hostKey: string; cipherCtoS: string; cipherStoC: string; macCtoS: string; macStoC: string };
  /** `caSha256`: the CA that signed a host certificate; `verified`: its signature over H checked out. */
  hostKey?: { type: string; sha256: string; caSha256?: string; verified?: boolean };
  authMethods?: string[];
  /** The server accepted the `none` request: it asks for no authentication at all. */
  noneAccepted?: boolean;
  end?: { kind: HandshakeEndKind; phase: HandshakePhase; atMs: number; detail: string };
  bytesIn: number;
  bytesOut: number;
}

/** One line of a child process's output, stamped when it arrived. */
export interface TimedLine {
  t: number;
  text: string;
}

export type VerbosePhaseId =
  | 'start'
  | 'connecting'
  | 'connected'
  | 'ident-sent'
  | 'ident-received'
  | 'kexinit-sent'
  | 'kexinit-received'
  | 'kex-algorithm'
  | 'kex-reply-expected'
  | 'kex-reply-received'
  | 'newkeys-sent'
  | 'newkeys-received'
  | 'service-accept'
  | 'auth-methods'
  | 'authenticated'
  | 'auth-denied';

export type VerboseStopKind =
  | 'resolve-failed'
  | 'connect-timeout'
  | 'connect-refused'
  | 'no-route'
  | 'net-unreachable'
  | 'banner-timeout'
  | 'closed-before-banner'
  | 'reset-before-banner'
  | 'invalid-banner'
  | 'kex-no-match'
  | 'closed'
  | 'reset'
  | 'timeout'
  | 'auth-denied'
  | 'too-many-auth-failures'
  | 'disconnected'
  | 'host-key-unverified'
  /** "REMOTE HOST IDENTIFICATION HAS CHANGED": known_hosts has another key for the host. */
  | 'host-key-changed'
  /** "incorrect signature": the key-exchange signature does not verify with the host key. */
  | 'bad-signature'
  /** Bytes that are not valid SSH packets: bad packet length, corrupted MAC, padding error. */
  | 'protocol-error'
  | 'other';

export interface VerbosePhase {
  id: VerbosePhaseId;
  /** Run-relative time the line arrived (approximate: ssh -vvv has no timestamps of its own). */
  t: number;
  line: string;
}

/** `ssh -vvv` output, parsed into where the connection got to and how it ended. */
export interface VerboseParse {
  phases: VerbosePhase[];
  last?: VerbosePhaseId;
  stop?: { kind: VerboseStopKind; line: string; t: number };
  address?: string;
  remoteSoftware?: string;
  kexAlgorithm?: string;
  hostKey?: string;
  authMethods?: string[];
  /** For kex-no-match: which list did not match ("key exchange method", "host key type", ...). */
  noMatch?: { what: string; theirOffer: string };
  /** The first lines the server sent before (or instead of) its identification; untrusted, sanitized. */
  preBanner?: string[];
  /** ssh went through a ProxyCommand or ProxyJump: a close before the banner may be the proxy hop's. */
  proxied?: boolean;
}

export interface VerboseObs extends ProbeBase {
  /** The command as run, for people to copy (arguments already validated). */
  command: string[];
  lines: TimedLine[];
  parsed: VerboseParse;
  exitCode?: number | null;
  /** Output beyond the byte cap was dropped. */
  truncated?: boolean;
  /**
   * This is ssh's second try: on its first, its own lookup said the name does not exist while
   * getaddrinfo (getent, same resolver configuration) found it. ssh's line and when it ended.
   */
  firstTry?: { line: string; endedMs: number };
}

// ---------------------------------------------------------------------------------------
// Path and configuration

export interface PathHop {
  ttl: number;
  /** null when nothing answered at this TTL. */
  address: string | null;
  rttMs: number | null;
  /** traceroute's annotation (!H, !N, !X, !P, ...), when any. */
  annotation?: string;
}

export interface PathObs extends ProbeBase {
  tool: 'traceroute' | 'mtr' | null;
  address: string;
  port: number;
  hops: PathHop[];
  /** The destination itself answered the TCP probe. */
  reached: boolean;
}

/** The bastion's own ssh configuration for the target (`ssh -G`). */
export interface SshConfigObs extends ProbeBase {
  hostname?: string;
  port?: number;
  user?: string;
  proxyJump?: string;
  proxyCommand?: string;
  addressFamily?: string;
  connectTimeout?: number;
}

// ---------------------------------------------------------------------------------------
// The inside view: a diagnostics login on the target running a fixed, read-only script

export type InsideLogin = 'ok' | 'host-key-mismatch' | 'auth-failed' | 'refused' | 'timeout' | 'failed';

export interface Listener {
  address: string;
  port: number;
  process?: string;
}

/** What the fixed script found on the target. Text from the target is untrusted and sanitized. */
export interface InsideFacts {
  /** systemd's view of ssh.service/sshd.service: active, inactive, failed, or unknown (no systemd). */
  sshdActive?: string;
  /** sshd processes (listener and per-connection). */
  sshdProcesses?: number;
  listeners: Listener[];
  /** `sshd -T`: lower-cased keywords, every value (Port and ListenAddress repeat). */
  sshdConfig: Record<string, string[]>;
  /** `sshd -t`: the config test passed, or its error. */
  configTest?: { ok: boolean; output: string };
  hostsAllow: string[];
  hostsDeny: string[];
  load?: { one: number; five: number; fifteen: number };
  cpus?: number;
  memory?: { totalKb: number; availableKb: number };
  /** PSI "some avg10" percentages. */
  pressure: { cpu?: number; memory?: number; io?: number };
  fail2ban?: { banned: string[]; currentlyFailed?: number; totalBanned?: number } | { error: string };
  firewall: { iptables: string[]; nft: string[]; errors: string[] };
  /** Recent sshd log lines (newest last). */
  sshdLog: string[];
  /** Sections that could not run, and why ("sudo: a password is required"). */
  errors: Record<string, string>;
  /** How long each section took on the target. */
  timings: Record<string, number>;
}

export interface InsideObs extends ProbeBase {
  user: string;
  address: string;
  port: number;
  login?: InsideLogin;
  /** ssh's own words when the login failed. */
  loginDetail?: string;
  facts?: InsideFacts;
}

// ---------------------------------------------------------------------------------------

/** Everything observed so far in one run. Steps and the diagnosis are pure functions of it. */
export interface Observations {
  resolve?: SystemResolveObs;
  dns?: DnsObs;
  ptr: PtrObs[];
  ping?: PingObs;
  mtu?: MtuObs;
  /** One per probed address, in the order ssh would try them. */
  handshakes: HandshakeObs[];
  control?: TcpObs;
  verbose?: VerboseObs;
  path?: PathObs;
  sshConfig?: SshConfigObs;
  /**
   * The diagnostics login: undefined while not (yet) decided, `planned` when the engine will
   * log in once the handshake has shown the way, 'none' with the reason when it will not.
   */
  inside?: InsideObs | { state: 'none'; reason: string } | { state: 'planned'; user: string };
  /** The known_hosts file the engine config names, read once at the start of the run. */
  knownHosts?: KnownHostsObs;
}

/** One usable line of a known_hosts file (the key as its fingerprint). */
export interface KnownHostEntry {
  marker?: 'cert-authority' | 'revoked';
  patterns: string;
  keyType: string;
  sha256: string;
  line: number;
}

export interface KnownHostsObs {
  path: string;
  entries: KnownHostEntry[];
  /** Why the file could not be read; entries are then empty. */
  error?: string;
}
