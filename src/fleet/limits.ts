// How many hosts one fleet check may name: the default and the ceiling that the command line
// (--max-hosts) and the engine config (fleet.max_hosts) may raise it to.

/** Hosts one fleet check may name when neither --max-hosts nor fleet.max_hosts says otherwise. */
export const DEFAULT_MAX_HOSTS = 1024;
/** The most either may allow: 100 000 reports of a few KiB each stay within a bastion's memory. */
export const MAX_HOSTS_CEILING = 100_000;
