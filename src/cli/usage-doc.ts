// Shell completion and the man page, generated from the `--help` text (USAGE) so that the three
// never disagree: an option added to --help is completed and documented without another edit.
// Pure: text in, text out. `sshcheck completion bash|zsh` prints a script; scripts/gen-man.ts
// writes docs/sshcheck.1 (a unit test checks the committed page against this generator).

export interface UsageOption {
  short: string | undefined;
  long: string;
  /** The value's name (`n`, `file`), undefined for a flag. */
  arg: string | undefined;
  description: string;
}

const OPTION_LINE = /^ {2}(?:-([A-Za-z]), | {4})--([a-z][a-z-]*)(?: <([^>]+)>)?(?: +(.*))?$/;
const CONTINUATION = /^ {20,}(\S.*)$/;

/** The options `--help` documents, in its order (the fleet section's included). */
export function usageOptions(usage: string): UsageOption[] {
  const out: UsageOption[] = [];
  // Continuation lines belong to the option just above them, not to other indented text.
  let current: UsageOption | undefined;
  for (const line of usage.split('\n')) {
    const m = OPTION_LINE.exec(line);
    const c = CONTINUATION.exec(line);
    if (m) {
      current = { short: m[1], long: m[2] ?? '', arg: m[3], description: (m[4] ?? '').trim() };
      out.push(current);
    } else if (c && current) {
      current.description = `${current.description} ${c[1] ?? ''}`.trim();
    } else {
      current = undefined;
    }
  }
  return out;
}

/** The subcommands a completion offers as a first word. */
export const COMPLETION_SUBCOMMANDS = ['history', 'audit', 'explain', 'bot', 'serve', 'agent', 'discord', 'completion'] as const;

// Values worth completing: files for path options; nothing for free text (a host, seconds).
function isPath(o: UsageOption): boolean {
  return o.arg === 'file' || o.arg === 'path';
}

export function bashCompletion(usage: string): string {
  const options = usageOptions(usage);
  const words = options.flatMap((o) => [`--${o.long}`, ...(o.short !== undefined ? [`-${o.short}`] : [])]);
  const withArg = options.filter((o) => o.arg !== undefined).flatMap((o) => [`--${o.long}`, ...(o.short !== undefined ? [`-${o.short}`] : [])]);
  const pathOpts = options.filter(isPath).map((o) => `--${o.long}`);
  return `# bash completion for sshcheck (generated from sshcheck --help: sshcheck completion bash)
_sshcheck() {
  local cur prev
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
    ${pathOpts.join('|')})
      COMPREPLY=( $(compgen -f -- "$cur") ); return 0 ;;
    ${withArg.filter((w) => !pathOpts.includes(w)).join('|')})
      COMPREPLY=(); return 0 ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "${words.join(' ')}" -- "$cur") )
  elif [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${COMPLETION_SUBCOMMANDS.join(' ')}" -- "$cur") $(compgen -A hostname -- "$cur") )
  else
    COMPREPLY=( $(compgen -A hostname -- "$cur") )
  fi
}
complete -F _sshcheck sshcheck
`;
}

function zshQuote(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/'/g, "'\\''").replace(/[[\]:]/g, (c) => `\\${c}`);
}

export function zshCompletion(usage: string): string {
  const specs = usageOptions(usage).map((o) => {
    const action = o.arg === undefined ? '' : `:${zshQuote(o.arg)}:${isPath(o) ? '_files' : ' '}`;
    const text = `[${zshQuote(o.description.slice(0, 80))}]${action}`;
    return o.short !== undefined ? `  '(-${o.short} --${o.long})'{-${o.short},--${o.long}}'${text}'` : `  '--${o.long}${text}'`;
  });
  return `#compdef sshcheck
# zsh completion for sshcheck (generated from sshcheck --help: sshcheck completion zsh)
_arguments -s \\
${specs.join(' \\\n')} \\
  '1:host or subcommand:->first' \\
  '*:host:_hosts'
case $state in
  first) _alternative 'subcommands:subcommand:(${COMPLETION_SUBCOMMANDS.join(' ')})' 'hosts:host:_hosts' ;;
esac
`;
}

function roff(text: string): string {
  // A line starting with . or ' would be a request; backslashes and hyphens are escaped.
  // Non-ASCII (the usage's …) as a named glyph, which groff reads in any input encoding.
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** docs/sshcheck.1: NAME, SYNOPSIS, DESCRIPTION and OPTIONS from USAGE, the rest verbatim. */
export function manPage(usage: string, version: string): string {
  const lines = usage.split('\n');
  const synopsis = (lines[0] ?? '').replace(/^Usage: /, '');
  const firstBlank = lines.indexOf('');
  const optionsAt = lines.indexOf('Options:');
  const description = lines.slice(firstBlank + 1, optionsAt).join(' ').replace(/\s+/g, ' ').trim();
  const options = usageOptions(usage);
  // Everything after the option list of the single-host form, as --help prints it.
  const restAt = lines.findIndex((l, i) => i > optionsAt && l !== '' && !l.startsWith(' '));
  const rest = restAt === -1 ? [] : lines.slice(restAt);
  const out: string[] = [
    `.TH SSHCHECK 1 "" "sshcheck ${roff(version)}" "User Commands"`,
    '.SH NAME',
    'sshcheck \\- why does ssh to a host hang or fail',
    '.SH SYNOPSIS',
    `.B sshcheck`,
    roff(synopsis.replace(/^sshcheck /, '')),
    '.SH DESCRIPTION',
    roff(description),
    '.SH OPTIONS',
  ];
  for (const o of options) {
    out.push('.TP');
    out.push(`${o.short !== undefined ? `\\fB\\-${o.short}\\fR, ` : ''}\\fB\\-\\-${o.long}\\fR${o.arg !== undefined ? ` \\fI${roff(o.arg)}\\fR` : ''}`);
    out.push(roff(o.description));
  }
  out.push('.SH "MORE"', '.nf', ...rest.map(roff), '.fi', '.SH "SEE ALSO"', '.BR ssh (1),', '.BR sshd_config (5)', '');
  return out.join('\n');
}
