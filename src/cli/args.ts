// Command-line grammar of `sshcheck [options] [user@]host[:port]` (report-contract.md).
// Pure: argv in, a validated request or a usage error out. Nothing is probed before this
// has accepted every argument.
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { SshcheckError, errorMessage } from '../errors.js';
import type { Target } from '../target.js';
import { parsePort, parseTarget, printable } from '../target.js';
import type { FleetRequest } from './fleet.js';
import { namesSeveral } from '../fleet/range.js';
import { MAX_HOSTS_CEILING } from '../fleet/limits.js';

export interface CheckRequest {
  command: 'check';
  target: Target;
  json: boolean;
  /** --brief: one line on stdout, the verdict; no progress. */
  brief?: boolean;
  /** --events: progress events as NDJSON on stdout (the last one carries the report). */
  events?: boolean;
  quiet: boolean;
  color: boolean | undefined;
  waitAll: boolean;
  budgetMs: number | undefined;
  vantage: string | undefined;
  /** The requester's address (--from), checked against bans and host rules on the target. */
  from: string | undefined;
  /** Engine config file with diagnostics logins (--config, $SSHCHECK_ENGINE_CONFIG). */
  configPath: string | undefined;
  /** --policy <file>: fence this run with the target policy in that file (its policy: section). */
  policyPath?: string | undefined;
  /** The login name when the operator gave one (-l, user@host): only then may the probes send it. */
  probeUser?: string | undefined;
  /** --nats <url>: ask a bastion's agent through this broker instead of probing from here. */
  nats?: string | undefined;
  /** --via <bastion>: the bastion whose agents run the check (through the broker). */
  via?: string | undefined;
}

export type CliRequest = CheckRequest | FleetRequest | { command: 'help' } | { command: 'version' };

export const USAGE = `Usage: sshcheck [options] [user@]host[:port]

Runs the 10-step SSH troubleshooting checklist against host from this machine
(the bastion) and names the most likely reason why ssh hangs or fails.

Options:
  -p, --port <n>        SSH port (default 22); a list (-p 22,2222) checks each host on
                        each port, as a fleet
  -l, --user <name>     an account that exists on host: the handshake sends it to time
                        the authentication phase (default: no user name is sent); may hold
                        @ (alice@corp.example); in user@host the last @ ends the user, as in ssh
      --json            print exactly one JSON report on stdout, nothing else there
      --brief           print one line, the verdict (target, cause, summary); no progress
      --events          progress events as JSON lines on stdout (run-started, step-updated,
                        diagnosis, run-finished with the report), for scripts
      --budget <s>      stop everything after this many seconds (default 15, 1-120)
      --wait-all        let slow extras (path trace, ping) finish before printing
      --vantage <name>  how reports name this machine (default: its host name,
                        or $SSHCHECK_VANTAGE)
      --from <address>  the requester's IP address: checks whether the target bans
                        or refuses it (needs a diagnostics login, see --config)
      --config <file>   engine config with diagnostics logins (default
                        $SSHCHECK_ENGINE_CONFIG, else /etc/sshcheck/engine.yml if present)
      --policy <file>   probe only what the target policy in <file> allows (its policy:
                        section; an engine config works): every resolved address is checked
      --nats <url>      run the check on a bastion's agent through this NATS broker
                        (credentials from SSHCHECK_NATS_*, see sshcheck agent --help)
      --via <bastion>   the bastion that runs the check (needs --nats or $SSHCHECK_NATS_URL)
  -q, --quiet           no progress on stderr
      --no-color        no colours, even on a terminal
  -h, --help            this help
  -V, --version         print the version

Several hosts (a fleet check: a summary by cause, then a line per host that is not healthy):
  sshcheck [options] host host …    ranges too: db-[1-40], db-[01-12], 10.0.0.[1-50]
                                    comma lists: db-1,db-2,db-7
                                    CIDR blocks: 10.0.3.0/28 (its host addresses; /31
                                    and /32 as RFC 3021), [2001:db8::/124] (IPv6, small)
                                    at most 1024 hosts in all, unless --max-hosts
      --file <path>     hosts from a file, one per line, # comments
      --group <name>    hosts of a group in the engine config (repeatable)
      --concurrency <n> hosts checked at once, at most (default 32, 1-256): the fleet
                        starts lower and adapts to what this machine sustains
      --max-hosts <n>   the most hosts one check may name (default 1024, or the engine
                        config's fleet.max_hosts; 1-100000)

Other commands:
  sshcheck completion bash|zsh      a shell completion script (source it, or install it)
  sshcheck watch <host> [--every 30s] [--for 1h]   checks the host again on a schedule
                                    and prints a line when the diagnosis changes (Ctrl-C stops)
  sshcheck history <host>           recent runs for host, per bastion (from the store)
  sshcheck audit [--since 24h] [--json]   the audit log of every request
  ssh -vvv user@host 2>&1 | sshcheck explain   where a pasted ssh log stops, and why
  sshcheck bot | serve | agent | discord register   the chat bot, the engine service,
                                    a bastion's agent on a NATS broker (README)

IPv6 addresses are written [2001:db8::1] or [2001:db8::1]:22.
Exit status: 0 nothing wrong from here, 1 a problem was found, 2 bad input or usage
(nothing was probed), 3 sshcheck itself failed. A run stopped before its verdict prints
a report with the cause "undecided" (what was still pending and why it stopped) and
exits 130 (SIGINT, Ctrl-C), 143 (SIGTERM) or 4 (--budget spent); never 0.`;

/** The option table parseCli reads; USAGE documents each (a unit test holds them together). */
export const CLI_OPTIONS = {
  port: { type: 'string', short: 'p' },
  user: { type: 'string', short: 'l' },
  json: { type: 'boolean' },
  brief: { type: 'boolean' },
  events: { type: 'boolean' },
  budget: { type: 'string' },
  'wait-all': { type: 'boolean' },
  vantage: { type: 'string' },
  from: { type: 'string' },
  config: { type: 'string' },
  policy: { type: 'string' },
  nats: { type: 'string' },
  via: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  color: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  file: { type: 'string' },
  group: { type: 'string', multiple: true },
  concurrency: { type: 'string' },
  'max-hosts': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies ParseArgsConfig['options'];

function usage(message: string): SshcheckError {
  return new SshcheckError('E_USAGE', message);
}

export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): CliRequest {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: CLI_OPTIONS,
    });
  } catch (err) {
    // parseArgs explains over several lines; one line reads better after "sshcheck: ".
    const text = (errorMessage(err)).replace(/\s+/g, ' ').trim();
    // parseArgs' messages quote the offending argument; keep them but make them printable.
    throw usage(`${printable(text, 300)} (see sshcheck --help; sshcheck never passes options through to ssh)`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help' };
  if (values.version) return { command: 'version' };
  const ports = values.port?.includes(',') === true ? portList(values.port) : undefined;
  const fleet = ports !== undefined || positionals.length > 1 || positionals.some(namesSeveral) || values.file !== undefined || (values.group?.length ?? 0) > 0;
  if (positionals.length === 0 && !fleet) throw usage('no host given: sshcheck [options] [user@]host[:port]');

  let budgetMs: number | undefined;
  if (values.budget !== undefined) {
    const s = values.budget;
    if (!/^[0-9]{1,3}(\.[0-9]{1,3})?$/.test(s) || Number(s) < 1 || Number(s) > 120) {
      throw usage(`invalid --budget "${printable(s, 20)}": give seconds from 1 to 120`);
    }
    budgetMs = Math.round(Number(s) * 1000);
  }
  const vantage = values.vantage ?? env.SSHCHECK_VANTAGE;
  if (vantage !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(vantage)) {
    throw usage(`invalid vantage name "${printable(vantage, 40)}": use letters, digits, ".", "_" or "-" (at most 63)`);
  }
  const from = values.from;
  if (from !== undefined && isIP(from) === 0) throw usage(`invalid --from "${printable(from, 60)}": give the requester's IP address, e.g. --from 203.0.113.7`);
  const configPath = values.config ?? env.SSHCHECK_ENGINE_CONFIG;
  if (configPath !== undefined && !configPath.startsWith('/') && !configPath.startsWith('.')) throw usage(`invalid --config "${printable(configPath, 60)}": give a file path`);
  const overrides: { port?: string; user?: string } = {};
  if (values.port !== undefined && ports === undefined) overrides.port = values.port;
  if (values.user !== undefined) overrides.user = values.user;
  if (values.via !== undefined && values.nats === undefined && !env.SSHCHECK_NATS_URL) throw usage('--via <bastion> asks a bastion through the broker: give --nats <url> or set SSHCHECK_NATS_URL');
  if (fleet) {
    if (values.nats !== undefined || values.via !== undefined) throw usage('--nats and --via check one host on a bastion: give a single host');
    if (values.from !== undefined) throw usage('--from checks one host against one requester: give a single host');
    if (values['wait-all']) throw usage('--wait-all is for a single host: a fleet check stops each host at its diagnosis');
    if (values.brief || values.events) throw usage(`--${values.brief ? 'brief' : 'events'} is for a single host: a fleet check prints its summary (or --json)`);
    let concurrency: number | undefined;
    if (values.concurrency !== undefined) {
      if (!/^[0-9]{1,3}$/.test(values.concurrency) || Number(values.concurrency) < 1 || Number(values.concurrency) > 256) throw usage(`invalid --concurrency "${printable(values.concurrency, 20)}": give 1 to 256`);
      concurrency = Number(values.concurrency);
    }
    let maxHosts: number | undefined;
    if (values['max-hosts'] !== undefined) {
      const text = values['max-hosts'];
      if (!/^[0-9]{1,6}$/.test(text) || Number(text) < 1 || Number(text) > MAX_HOSTS_CEILING) throw usage(`invalid --max-hosts "${printable(text, 20)}": give 1 to ${MAX_HOSTS_CEILING}`);
      maxHosts = Number(text);
    }
    if (values.file !== undefined && values.file.trim() === '') throw usage('--file needs a path');
    return {
      command: 'fleet',
      ...(values.policy !== undefined ? { policyPath: policyFile(values.policy) } : {}),
      patterns: positionals,
      file: values.file,
      groups: values.group ?? [],
      overrides,
      ...(ports !== undefined ? { ports } : {}),
      concurrency,
      ...(maxHosts !== undefined ? { maxHosts } : {}),
      json: values.json === true,
      quiet: values.quiet === true,
      color: values['no-color'] ? false : values.color === true ? true : undefined,
      budgetMs,
      vantage,
      configPath,
    };
  }
  if (values.concurrency !== undefined) throw usage('--concurrency is for several hosts (a fleet check)');
  if (values['max-hosts'] !== undefined) throw usage('--max-hosts is for several hosts (a fleet check)');
  const outputs = (['json', 'brief', 'events'] as const).filter((o) => values[o] === true);
  if (outputs.length > 1) throw usage(`--${outputs[0]} and --${outputs[1]} both choose what stdout carries: give one`);
  const target = parseTarget(positionals[0] ?? '', overrides);
  return {
    command: 'check',
    target,
    json: values.json === true,
    brief: values.brief === true,
    events: values.events === true,
    quiet: values.quiet === true || values.brief === true,
    color: values['no-color'] ? false : values.color === true ? true : undefined,
    waitAll: values['wait-all'] === true,
    budgetMs,
    vantage,
    from,
    configPath,
    ...(values.policy !== undefined ? { policyPath: policyFile(values.policy) } : {}),
    ...(values.user !== undefined || (positionals[0] ?? '').includes('@') ? { probeUser: target.user } : {}),
    ...(values.nats !== undefined ? { nats: values.nats } : {}),
    ...(values.via !== undefined ? { via: values.via } : {}),
  };
}

/** `22,2222`: each a port, each once, no empty entries. */
function portList(text: string): number[] {
  const parts = text.split(',');
  if (parts.some((p) => p.trim() === '')) throw usage(`invalid --port "${printable(text, 40)}": write a list as 22,2222 with no spaces or empty items`);
  const ports: number[] = [];
  for (const p of parts) {
    const port = parsePort(p);
    if (!ports.includes(port)) ports.push(port);
  }
  return ports;
}

function policyFile(path: string): string {
  if (!path.startsWith('/') && !path.startsWith('.')) throw usage(`invalid --policy "${printable(path, 60)}": give a file path (./policy.yml or /etc/sshcheck/engine.yml)`);
  return path;
}
