// What glibc's "files" source answers before DNS is asked: /etc/hosts, and whether
// nsswitch.conf consults it first. A name (or an address, for a reverse lookup) that the
// hosts file answers never reaches the resolvers in getaddrinfo; the DNS probe does not send
// those that stay on this machine either: `localhost` is not a question for the upstream
// resolver. Pure: text in.
import { isIP } from 'node:net';

/** nsswitch.conf(5): the order used when the file has no `hosts:` line (or cannot be read). */
const GLIBC_DEFAULT_HOSTS = ['dns', 'files'];

export interface HostsFile {
  /** Lower-cased name → its addresses, in file order, each once. */
  byName: Map<string, string[]>;
  /** Address → the names on its lines (the first is the canonical one). */
  byAddress: Map<string, string[]>;
}

/** `/etc/hosts`: `ADDRESS NAME [ALIAS…]`, `#` comments; lines without a valid address are ignored. */
export function parseHostsFile(text: string): HostsFile {
  const byName = new Map<string, string[]>();
  const byAddress = new Map<string, string[]>();
  for (const raw of text.split('\n')) {
    const [address, ...names] = raw.replace(/#.*$/, '').trim().split(/\s+/);
    if (address === undefined || isIP(address) === 0 || names.length === 0) continue;
    for (const name of names) {
      if (!/^[\x21-\x7e]{1,253}$/.test(name)) continue;
      const key = name.toLowerCase().replace(/\.$/, '');
      const list = byName.get(key) ?? [];
      if (!list.includes(address)) list.push(address);
      byName.set(key, list);
      const back = byAddress.get(address) ?? [];
      if (!back.includes(name)) back.push(name);
      byAddress.set(address, back);
    }
  }
  return { byName, byAddress };
}

/** The sources of the `hosts:` line in order (`[NOTFOUND=return]`-style actions dropped). */
export function nsswitchHosts(text: string | undefined): string[] {
  if (text === undefined) return GLIBC_DEFAULT_HOSTS;
  for (const raw of text.split('\n')) {
    const m = /^\s*hosts\s*:(.*)$/.exec(raw.replace(/#.*$/, ''));
    if (!m) continue;
    const sources = (m[1] ?? '').replace(/\[[^\]]*\]/g, ' ').trim().split(/\s+/).filter((s) => s !== '');
    return sources.length > 0 ? sources : GLIBC_DEFAULT_HOSTS;
  }
  return GLIBC_DEFAULT_HOSTS;
}

/** True when getaddrinfo reads the hosts file before it asks DNS. */
export function filesBeforeDns(sources: readonly string[]): boolean {
  const files = sources.indexOf('files');
  const dns = sources.indexOf('dns');
  return files !== -1 && (dns === -1 || files < dns);
}

/**
 * Whether getaddrinfo consults nothing but the hosts file and DNS, with their default actions
 * (nsswitch.conf `hosts: files dns`, in either order): then what it returns for a name follows
 * from the file and the resolvers' answers, and a check need not wait for getent to know it.
 * Any other source (myhostname, mdns, resolve, ldap, sss…), an `[action]`, or a file that
 * cannot be read could answer otherwise, so getent is waited for. Pure: text in.
 */
export function onlyFilesAndDns(text: string | undefined): boolean {
  if (text === undefined) return false;
  for (const raw of text.split('\n')) {
    const m = /^\s*hosts\s*:(.*)$/.exec(raw.replace(/#.*$/, ''));
    if (!m) continue;
    const line = m[1] ?? '';
    if (line.includes('[')) return false;
    const sources = line.trim().split(/\s+/).filter((s) => s !== '');
    return sources.length === 2 && sources.includes('files') && sources.includes('dns');
  }
  return false;
}
