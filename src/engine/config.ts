// The engine's own configuration on a bastion: which targets it may log in to for the
// inside view, with which account, key and host key policy. YAML, validated, with errors
// that name the file, the line and the field. Nothing in it comes from chat.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { LineCounter, Node, YAMLMap } from 'yaml';
import { SshcheckError } from './errors.js';
import { parsePort, parseTarget, parseUser } from './target.js';
import { GROUP_NAME, MAX_EXPANSION, expandPattern } from '../fleet/range.js';
import type { Target } from './target.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import { parsePolicySection } from '../policy/config.js';
// The YAML parser is loaded on first use: it costs ~40 ms of process start, and every CLI run
// imports this module (for loginFor) while only bastions with an engine config parse one.
import { yaml } from '../policy/yaml-section.js';
import type { StoreConfig } from '../store/config.js';
import { parseStoreSection } from '../store/config.js';

export interface DiagnosticsLogin {
  /** Host globs ("db-*", "*.corp.example") and CIDRs ("10.0.0.0/8") this login applies to. */
  match: string[];
  user: string;
  /** Private key file (read by ssh, never by sshcheck). */
  key: string;
  /** known_hosts file the target's host key must be in (strict checking). */
  knownHosts: string;
  /** Login port, when it is not the port being diagnosed. */
  port?: number;
  /** Run privileged commands through `sudo -n` (never prompts). */
  sudo: boolean;
  /** sshd's log file, when it is neither in the journal nor in /var/log/auth.log or secure. */
  sshdLog?: string;
}

export interface EngineConfig {
  diagnostics: DiagnosticsLogin[];
  /** Named host lists for fleet checks (`sshcheck --group dbs`): targets and ranges (`db-[1-40]`). */
  groups?: Record<string, string[]>;
  /** Which targets may be probed (`policy:`, src/policy/config.ts); absent: the built-in defaults where a policy applies. */
  policy?: TargetPolicy;
  /** Where the audit log and run history live, and for how long (`store:`, src/store/config.ts). */
  store?: StoreConfig;
  /** A known_hosts file: a host key that differs from it is `host-key-changed` (`known_hosts:`). */
  knownHosts?: string;
}


export const EMPTY_ENGINE_CONFIG: EngineConfig = { diagnostics: [] };

function fail(file: string, lines: LineCounter, node: Node | null | undefined, field: string, message: string): never {
  const offset = node?.range?.[0];
  const where = offset !== undefined ? `:${lines.linePos(offset).line}` : '';
  throw new SshcheckError('E_USAGE', `${file}${where}: ${field}: ${message}`);
}

function str(file: string, lines: LineCounter, map: YAMLMap, key: string, field: string, required: boolean): string | undefined {
  const node = map.get(key, true);
  if (node === undefined || node === null) {
    if (required) fail(file, lines, map, field, 'is required');
    return undefined;
  }
  if (!yaml().isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') fail(file, lines, node, field, 'must be a non-empty string');
  return node.value.trim();
}

const GLOB = /^[A-Za-z0-9*?._-]{1,253}$/;

export function validatePattern(pattern: string): boolean {
  const [base, bits, ...rest] = pattern.split('/');
  if (rest.length > 0 || base === undefined) return false;
  if (bits !== undefined) {
    const family = isIP(base);
    const max = family === 4 ? 32 : family === 6 ? 128 : 0;
    return max > 0 && /^[0-9]{1,3}$/.test(bits) && Number(bits) <= max;
  }
  return isIP(base) !== 0 || GLOB.test(base);
}

export function parseEngineConfig(text: string, file = 'engine config'): EngineConfig {
  const { isMap, isScalar, isSeq, LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0];
  if (first) throw new SshcheckError('E_USAGE', `${file}:${lines.linePos(first.pos[0]).line}: ${first.message.split('\n')[0] ?? 'invalid YAML'}`);
  const root = doc.contents;
  if (root === null || root === undefined) return EMPTY_ENGINE_CONFIG;
  if (!isMap(root)) fail(file, lines, root, '(top level)', 'must be a mapping with a "diagnostics" list');
  for (const item of root.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '?';
    if (!['diagnostics', 'groups', 'policy', 'store', 'known_hosts'].includes(key)) fail(file, lines, item.key, key, 'unknown field (expected diagnostics, groups, policy, store or known_hosts)');
  }
  const knownHosts = str(file, lines, root, 'known_hosts', 'known_hosts', false);
  const groups = parseGroups(file, lines, root.get('groups', true));
  // policy: and store: are parsed by their own modules, with errors in this file's style.
  const policyNode = root.get('policy', true) as Node | null | undefined;
  const policy = policyNode === undefined ? undefined : parsePolicySection(policyNode, file, lines);
  const storeNode = root.get('store', true) as Node | null | undefined;
  const store = storeNode === undefined || storeNode === null ? undefined : parseStoreSection(storeNode, file, lines);
  const withGroups = (config: EngineConfig): EngineConfig => ({ ...config, ...(groups ? { groups } : {}), ...(policy ? { policy } : {}), ...(store ? { store } : {}), ...(knownHosts ? { knownHosts } : {}) });
  const list = root.get('diagnostics', true);
  if (list === undefined || list === null) return withGroups(EMPTY_ENGINE_CONFIG);
  if (!isSeq(list)) fail(file, lines, list, 'diagnostics', 'must be a list');
  const diagnostics = list.items.map((entry, i): DiagnosticsLogin => {
    const at = `diagnostics[${i}]`;
    if (!isMap(entry)) fail(file, lines, entry as Node, at, 'must be a mapping');
    for (const item of entry.items) {
      const key = isScalar(item.key) ? String(item.key.value) : '?';
      if (!['match', 'user', 'key', 'known_hosts', 'port', 'sudo', 'sshd_log'].includes(key)) fail(file, lines, item.key as Node, `${at}.${key}`, 'unknown field (expected match, user, key, known_hosts, port, sudo, sshd_log)');
    }
    const matchNode = entry.get('match', true);
    const match: string[] = [];
    if (isScalar(matchNode) && typeof matchNode.value === 'string') match.push(matchNode.value);
    else if (isSeq(matchNode)) {
      matchNode.items.forEach((m, j) => {
        if (!isScalar(m) || typeof m.value !== 'string') fail(file, lines, m as Node, `${at}.match[${j}]`, 'must be a string');
        match.push(m.value);
      });
    } else fail(file, lines, (matchNode) ?? entry, `${at}.match`, 'is required: a host glob, a CIDR, or a list of them');
    match.forEach((m, j) => {
      if (!validatePattern(m)) fail(file, lines, isSeq(matchNode) ? (matchNode.items[j] as Node) : (matchNode), `${at}.match[${j}]`, `"${m}" is neither a host glob nor an IP/CIDR`);
    });
    const userText = str(file, lines, entry, 'user', `${at}.user`, true) ?? '';
    let user: string;
    try {
      user = parseUser(userText);
    } catch (err) {
      fail(file, lines, entry.get('user', true), `${at}.user`, (err as Error).message);
    }
    const key = str(file, lines, entry, 'key', `${at}.key`, true) ?? '';
    const knownHosts = str(file, lines, entry, 'known_hosts', `${at}.known_hosts`, true) ?? '';
    for (const [field, path] of [['key', key], ['known_hosts', knownHosts]] as const) {
      if (!path.startsWith('/')) fail(file, lines, entry.get(field, true), `${at}.${field}`, 'must be an absolute path');
    }
    const login: DiagnosticsLogin = { match, user, key, knownHosts, sudo: false };
    const sshdLog = str(file, lines, entry, 'sshd_log', `${at}.sshd_log`, false);
    if (sshdLog !== undefined) {
      // It is written into the fixed remote script: a plain absolute path, nothing a shell would expand.
      if (!/^\/[A-Za-z0-9._/-]{1,255}$/.test(sshdLog)) fail(file, lines, entry.get('sshd_log', true), `${at}.sshd_log`, 'must be an absolute path of letters, digits, ".", "_", "-" and "/"');
      login.sshdLog = sshdLog;
    }
    const portNode = entry.get('port', true);
    if (portNode !== undefined && portNode !== null) {
      if (!isScalar(portNode)) fail(file, lines, portNode, `${at}.port`, 'must be a number');
      try {
        login.port = parsePort(String(portNode.value));
      } catch (err) {
        fail(file, lines, portNode, `${at}.port`, (err as Error).message);
      }
    }
    const sudoNode = entry.get('sudo', true);
    if (sudoNode !== undefined && sudoNode !== null) {
      if (!isScalar(sudoNode) || typeof sudoNode.value !== 'boolean') fail(file, lines, sudoNode, `${at}.sudo`, 'must be true or false');
      login.sudo = sudoNode.value;
    }
    return login;
  });
  return withGroups({ diagnostics });
}

/** `groups:` name → list of targets or ranges, each checked as the fleet command would. */
function parseGroups(file: string, lines: LineCounter, node: unknown): Record<string, string[]> | undefined {
  const { isMap, isScalar, isSeq } = yaml();
  if (node === undefined || node === null) return undefined;
  if (!isMap(node)) fail(file, lines, node as Node, 'groups', 'must be a mapping of group names to lists of hosts');
  const groups: Record<string, string[]> = {};
  for (const item of node.items) {
    const name = isScalar(item.key) ? String(item.key.value) : '';
    const at = `groups.${name || '?'}`;
    if (!GROUP_NAME.test(name)) fail(file, lines, item.key as Node, at, 'a group name is lower-case letters, digits, ".", "_" or "-" (at most 63)');
    const value = item.value as Node | null;
    const entries = isSeq(value) ? value.items : isScalar(value) ? [value] : undefined;
    if (!entries || entries.length === 0) fail(file, lines, value ?? (item.key as Node), at, 'must be a host, a range like db-[1-40], or a list of them');
    let count = 0;
    groups[name] = entries.map((entry, j) => {
      if (!isScalar(entry) || typeof entry.value !== 'string' || entry.value.trim() === '') fail(file, lines, entry as Node, `${at}[${j}]`, 'must be a host name, address or range');
      const text = entry.value.trim();
      let names: string[] = [];
      try {
        names = expandPattern(text);
        for (const n of names) parseTarget(n);
      } catch (err) {
        fail(file, lines, entry, `${at}[${j}]`, (err as Error).message);
      }
      count += names.length;
      if (count > MAX_EXPANSION) fail(file, lines, entry, `${at}[${j}]`, `the group names more than ${MAX_EXPANSION} hosts`);
      return text;
    });
  }
  return groups;
}

export const DEFAULT_ENGINE_CONFIG = '/etc/sshcheck/engine.yml';

/**
 * The engine config the CLI, the bot and the service use: an explicit path, else
 * $SSHCHECK_ENGINE_CONFIG, else /etc/sshcheck/engine.yml when it exists, else none.
 */
export function findEngineConfig(explicit: string | undefined, env: Readonly<Record<string, string | undefined>>): EngineConfig | undefined {
  const path = explicit ?? env.SSHCHECK_ENGINE_CONFIG;
  if (path !== undefined && path !== '') return loadEngineConfig(path);
  return existsSync(DEFAULT_ENGINE_CONFIG) ? loadEngineConfig(DEFAULT_ENGINE_CONFIG) : undefined;
}

export function loadEngineConfig(path: string): EngineConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SshcheckError('E_USAGE', `cannot read the engine config ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseEngineConfig(text, path);
}

function globMatch(glob: string, name: string): boolean {
  const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^]*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function ipToBigInt(address: string): { family: 4 | 6; value: bigint } | undefined {
  const family = isIP(address);
  if (family === 4) return { family, value: address.split('.').reduce((acc, part) => (acc << 8n) + BigInt(part), 0n) };
  if (family !== 6) return undefined;
  const [head = '', tail] = address.toLowerCase().split('::');
  const parse = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return { family, value: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n) };
}

/** True when the address is inside the CIDR (or equals the plain address). */
export function inCidr(address: string, cidr: string): boolean {
  const [base = '', bitsText] = cidr.split('/');
  const a = ipToBigInt(address);
  const b = ipToBigInt(base);
  if (!a || !b || a.family !== b.family) return false;
  const width = a.family === 4 ? 32 : 128;
  const bits = bitsText === undefined ? width : Number(bitsText);
  const shift = BigInt(width - bits);
  return a.value >> shift === b.value >> shift;
}

/** The diagnostics login for a target: the first entry whose pattern matches its name or any address. */
export function loginFor(config: EngineConfig, target: Target, addresses: readonly string[]): DiagnosticsLogin | undefined {
  return config.diagnostics.find((d) =>
    d.match.some((pattern) => {
      if (pattern.includes('/') || isIP(pattern) !== 0) return [target.host, ...addresses].some((a) => isIP(a) !== 0 && inCidr(a, pattern));
      return target.kind === 'name' && globMatch(pattern, target.host);
    }),
  );
}
