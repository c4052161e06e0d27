// The words that name subcommands. A first word that is one of them never becomes a host to
// check: a wrong use of the subcommand (`sshcheck discord`, `sshcheck bot --json`) gets that
// subcommand's usage and exit 2; a host with such a name is checked with `sshcheck -- <name>`.

export const SUBCOMMAND_USAGE: Readonly<Record<string, string>> = {
  bot: 'Usage: sshcheck bot\n  starts the Slack/Discord bot (no arguments; configured by the environment, see README)',
  serve: 'Usage: sshcheck serve [--listen addr|unix:/path]\n  the engine as an HTTP service on a bastion',
  watch: 'Usage: sshcheck watch [options] [user@]host[:port] [--every 30s] [--for 1h]\n  checks the host again on a schedule and prints each change',
  history: 'Usage: sshcheck history <host>\n  recent runs for host, per bastion',
  audit: 'Usage: sshcheck audit [--since 24h] [--json]\n  the audit log of every request',
  explain: 'Usage: ssh -vvv user@host 2>&1 | sshcheck explain\n  where a pasted ssh log stops, and why',
  completion: 'Usage: sshcheck completion bash|zsh\n  prints a shell completion script',
  discord: 'Usage: sshcheck discord register [--guild <id>]\n  registers the Discord commands',
};

/** The usage text to show when argv starts with a subcommand's name that was not dispatched. */
export function subcommandMisuse(argv: readonly string[]): string | undefined {
  const first = argv[0];
  if (first === undefined || !Object.hasOwn(SUBCOMMAND_USAGE, first)) return undefined;
  return `${SUBCOMMAND_USAGE[first] ?? ''}\nA host named "${first}" is checked with: sshcheck -- ${first}`;
}
