// The inside view: one login on the target with a configured diagnostics key, running a
// fixed, read-only script. Nothing in the script comes from a chat or a command line; the
// requester's address (--from) is checked on the bastion against what the script returns.
// Every section is bounded on the target (timeout, head -c), the whole run here (deadline,
// byte cap), and the target's host key must be in the configured known_hosts (strict).
import type { DiagnosticsLogin } from '../run-config.js';
import type { InsideLogin, InsideObs } from '../observations.js';
import type { ProbeContext } from './context.js';
import { boundedSpawn, spawnProblem } from './spawn.js';
import { parseInside } from './parse-inside.js';
import { loginHostKeyAlias, readKnownHosts } from './known-hosts-file.js';

const TOTAL_TIMEOUT_MS = 12_000;
const MAX_BYTES = 512 * 1024;
/** Each command on the target. */
const SECTION_TIMEOUT_S = 3;

/**
 * The script, as text. Built only from constants and the bastion's own config (sudo, a
 * validated log path): the same command set for every target.
 */
export function insideScript(options: { sudo: boolean; sshdLog?: string }): string {
  const s = options.sudo ? 'sudo -n ' : '';
  // A dedicated sshd log is read as it is; the shared syslog files are filtered to sshd's lines.
  const own = options.sshdLog ? `[ -r ${options.sshdLog} ] && ${s}tail -n 400 ${options.sshdLog} || ` : '';
  return [
    'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `T="timeout ${SECTION_TIMEOUT_S}"; command -v timeout >/dev/null 2>&1 || T=`,
    "sec() { printf '\\n@@sshcheck %s %s\\n' \"$1\" \"$(date +%s%N 2>/dev/null)\"; }",
    'sec systemctl; $T systemctl is-active ssh.service sshd.service 2>&1 | head -c 2000',
    "sec sshd-pids; { pgrep -x sshd; pgrep -x sshd-session; } 2>/dev/null | head -c 20000",
    `sec listeners; { $T ${s}ss -Htlnp 2>&1 || $T ${s}netstat -tlnp 2>&1; } | head -c 40000`,
    `sec sshd-config; $T ${s}sshd -T 2>&1 | head -c 40000`,
    `sec sshd-test; { $T ${s}sshd -t 2>&1; echo "exit=$?"; } | head -c 4000`,
    "sec hosts-allow; grep -v '^[[:space:]]*#' /etc/hosts.allow 2>&1 | head -c 8000",
    "sec hosts-deny; grep -v '^[[:space:]]*#' /etc/hosts.deny 2>&1 | head -c 8000",
    'sec loadavg; head -c 200 /proc/loadavg',
    'sec cpus; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN',
    "sec meminfo; grep -E '^(MemTotal|MemAvailable):' /proc/meminfo",
    "sec pressure; for r in cpu memory io; do printf '%s ' $r; head -n 1 /proc/pressure/$r 2>&1; done",
    `sec fail2ban; $T ${s}fail2ban-client status sshd 2>&1 | head -c 40000`,
    `sec iptables; $T ${s}iptables -S 2>&1 | head -c 80000`,
    `sec nft; $T ${s}nft list ruleset 2>&1 | head -c 80000`,
    `sec sshd-log; { ${own}$T ${s}journalctl -u ssh -u sshd --since -30min --no-pager -o cat -q 2>/dev/null | grep . || for f in /var/log/auth.log /var/log/secure; do [ -r "$f" ] && { ${s}tail -n 400 "$f" | grep -E 'sshd'; break; }; done; } 2>/dev/null | tail -n 200 | head -c 60000`,
    'sec end',
  ].join('\n');
}

export interface InsideOptions {
  login: DiagnosticsLogin;
  /** The address to log in to (what the outside probes reached). */
  address: string;
  port: number;
  /**
   * The target as typed: known_hosts lists its key under this name, or as `[name]:port` (as
   * `ssh-keyscan -p` writes it); probeInside picks the form the file has.
   */
  hostKeyAlias: string;
  /**
   * Asked before the one retry after a MaxStartups drop: undefined allows it, a reason refuses
   * it (the run's connection budget, connection-budget.ts). Absent: the retry is allowed.
   */
  mayRetry?: () => string | undefined;
}

/** The ssh arguments. Pure; every value is validated config or a resolved address. */
export function insideArgs(options: InsideOptions): string[] {
  const o = (opt: string): string[] => ['-o', opt];
  return [
    '-F',
    '/dev/null',
    '-i',
    options.login.key,
    ...o('IdentitiesOnly=yes'),
    ...o('IdentityAgent=none'),
    ...o('BatchMode=yes'),
    ...o('PasswordAuthentication=no'),
    ...o('KbdInteractiveAuthentication=no'),
    // The target must prove it is the host in the configured known_hosts; a mismatch refuses the login.
    ...o('StrictHostKeyChecking=yes'),
    ...o(`UserKnownHostsFile=${options.login.knownHosts}`),
    ...o('GlobalKnownHostsFile=/dev/null'),
    ...o(`HostKeyAlias=${options.hostKeyAlias}`),
    ...o('UpdateHostKeys=no'),
    ...o('CheckHostIP=no'),
    ...o('ConnectTimeout=5'),
    ...o('ServerAliveInterval=2'),
    ...o('ServerAliveCountMax=3'),
    ...o('ControlMaster=no'),
    ...o('ControlPath=none'),
    ...o('ForwardAgent=no'),
    ...o('ForwardX11=no'),
    ...o('ClearAllForwardings=yes'),
    ...o('PermitLocalCommand=no'),
    ...o('RequestTTY=no'),
    ...o('LogLevel=ERROR'),
    '-T',
    '-p',
    String(options.port),
    '-l',
    options.login.user,
    '--',
    options.address,
    insideScript({ sudo: options.login.sudo, ...(options.login.sshdLog ? { sshdLog: options.login.sshdLog } : {}) }),
  ];
}

/** Why a login failed, from ssh's own words. Pure. */
export function loginOutcome(stderr: string, ranScript: boolean): { login: InsideLogin; detail?: string } {
  if (ranScript) return { login: 'ok' };
  const line = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const first = line.find((l) => !/^Warning: /.test(l)) ?? line[0] ?? 'no output';
  const detail = first.slice(0, 300);
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known/.test(stderr)) return { login: 'host-key-mismatch', detail };
  if (/Permission denied/.test(stderr)) return { login: 'auth-failed', detail };
  if (/Connection refused|No route to host|Network is unreachable|Connection closed|Connection reset/.test(stderr)) return { login: 'refused', detail };
  if (/timed out/.test(stderr)) return { login: 'timeout', detail };
  return { login: 'failed', detail };
}

/** sshd closing a connection before its banner: MaxStartups throttling, worth one more try. */
function droppedBeforeBanner(stderr: string): boolean {
  return /kex_exchange_identification|Exceeded MaxStartups/.test(stderr);
}

const RETRY_AFTER_MS = 500;

export async function probeInside(options: InsideOptions, ctx: ProbeContext): Promise<InsideObs> {
  const startedMs = ctx.now();
  const base: InsideObs = { state: 'running', startedMs, user: options.login.user, address: options.address, port: options.port };
  const plan = loginHostKeyAlias(await readKnownHosts(options.login.knownHosts), options.hostKeyAlias, options.port);
  if ('problem' in plan) return { ...base, state: 'done', endedMs: ctx.now(), login: 'failed', loginDetail: plan.problem };
  const sshOptions: InsideOptions = { ...options, hostKeyAlias: plan.alias };
  const attempt = (): ReturnType<typeof boundedSpawn> => boundedSpawn({ command: 'ssh', args: insideArgs(sshOptions), ctx, timeoutMs: TOTAL_TIMEOUT_MS, maxBytes: MAX_BYTES });
  let run = await attempt();
  let noRetry: string | undefined;
  if (!run.aborted && !run.stdout.includes('@@sshcheck end') && droppedBeforeBanner(run.stderr)) {
    noRetry = options.mayRetry?.();
    if (noRetry === undefined) {
      await new Promise((r) => setTimeout(r, RETRY_AFTER_MS));
      if (!ctx.signal.aborted) run = await attempt();
    }
  }
  const done = (extra: Partial<InsideObs>): InsideObs => ({
    ...base,
    ...extra,
    ...(noRetry !== undefined ? { loginDetail: `${extra.loginDetail ?? 'dropped before the banner'}; no retry: ${noRetry}` } : {}),
    state: 'done',
    endedMs: run.endedMs,
    ...(run.aborted ? { aborted: true } : {}),
  });
  const problem = spawnProblem('ssh', run, 'openssh-client');
  if (problem) return done({ unavailable: problem, login: 'failed', loginDetail: problem });
  const facts = parseInside(run.stdout);
  if (run.timedOut && !facts) return done({ login: 'timeout', loginDetail: `no result in ${TOTAL_TIMEOUT_MS / 1000} s` });
  const { login, detail } = loginOutcome(run.stderr, facts !== undefined);
  return done({ login, ...(detail ? { loginDetail: detail } : {}), ...(facts ? { facts } : {}) });
}
