// The bastion's engine config (/etc/sshcheck/engine.yml): which targets the engine may log in
// to for the inside view, with which account, key and host key policy, and the sections the
// layers above the engine read (policy:, store:, groups:, connection_budget:). YAML,
// validated, with errors that name the file, the line and the field. Nothing in it comes
// from chat. It sits above the engine: a run gets the part it needs as plain data (RunConfig).
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { LineCounter, Node, YAMLMap } from 'yaml';
import { SshcheckError } from '../errors.js';
import { parsePort, parseTarget, parseUser } from '../target.js';
import { GROUP_NAME, MAX_EXPANSION, expandPattern } from '../fleet/range.js';
import type { TargetPolicy } from '../policy/target-policy.js';
import type { DiagnosticsLogin, RunConfig } from '../engine/run-config.js';
import { parsePolicySection } from './policy-section.js';
// The YAML parser is loaded on first use: it costs ~40 ms of process start, and every CLI run
// imports this module (to find the config) while only bastions with an engine config parse one.
import { mappingFields, numberField, yaml } from './yaml-section.js';
import type { StoreConfig } from '../store/config.js';
import { parseStoreSection } from './store-section.js';
import type { BudgetRules } from '../engine/ledger.js';
import { DEFAULT_BUDGET_RULES } from '../engine/ledger.js';
import { quoteValue, readConfigFile, safeKey, yamlProblem } from './config-file.js';
import type { FleetConfig } from './fleet-config.js';
import { parseFleetSection } from './fleet-config.js';

/** Problems listed at most in one error. */
const MAX_PROBLEMS = 20;


/** The whole file; the engine's part of it (diagnostics, probe_user, known_hosts) is RunConfig. */
export interface EngineConfig extends RunConfig {
  /** Named host lists for fleet checks (`sshcheck --group dbs`): targets and ranges (`db-[1-40]`). */
  groups?: Record<string, string[]>;
  /** Which targets may be probed (`policy:`, policy-section.ts); absent: the built-in defaults where a policy applies. */
  policy?: TargetPolicy;
  /** Where the audit log and run history live, and for how long (`store:`, store-section.ts). */
  store?: StoreConfig;
  /** `connection_budget:` connections to one target from this bastion per window (engine/ledger.ts). */
  connectionBudget?: BudgetRules;
  /** `fleet:` limits of fleet checks on this bastion (fleet-config.ts). */
  fleet?: FleetConfig;
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

/**
 * Parses and validates the engine config. Throws one SshcheckError E_USAGE that lists every
 * problem found (up to 20), one `file:line: field: message` per line.
 */
export function parseEngineConfig(text: string, file = 'engine config'): EngineConfig {
  const { isMap, isScalar, isSeq, LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    // Nothing after a YAML error can be trusted: the YAML errors alone, every one of them.
    const yamlErrors = doc.errors.slice(0, MAX_PROBLEMS).map((e) => yamlProblem(text, lines.linePos(e.pos[0]).line, e.message));
    const unique = yamlErrors.filter((e, i) => yamlErrors.findIndex((o) => o.line === e.line && o.message === e.message) === i);
    throw new SshcheckError('E_USAGE', unique.map((e) => `${file}:${e.line}: ${e.message}`).join('\n'));
  }
  const root = doc.contents;
  if (root === null || root === undefined) return EMPTY_ENGINE_CONFIG;
  if (!isMap(root)) fail(file, lines, root, '(top level)', 'must be a mapping with a "diagnostics" list');
  const problems: string[] = [];
  /** Runs one part of the validation; its error is listed and the rest goes on. */
  const collect = <T>(part: () => T): T | undefined => {
    try {
      return part();
    } catch (err) {
      if (!(err instanceof SshcheckError) || err.code !== 'E_USAGE') throw err;
      if (problems.length < MAX_PROBLEMS) problems.push(err.message);
      return undefined;
    }
  };
  for (const item of root.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '?';
    if (!['diagnostics', 'groups', 'policy', 'store', 'probe_user', 'connection_budget', 'known_hosts', 'fleet'].includes(key)) collect(() => fail(file, lines, item.key as Node, safeKey(key), 'unknown field (expected diagnostics, groups, policy, store, probe_user, connection_budget, known_hosts or fleet)'));
  }
  const probeUser = collect(() => {
    const probeUserText = str(file, lines, root, 'probe_user', 'probe_user', false);
    if (probeUserText === undefined) return undefined;
    try {
      return parseUser(probeUserText);
    } catch (err) {
      return fail(file, lines, root.get('probe_user', true), 'probe_user', (err as Error).message);
    }
  });
  const knownHosts = collect(() => str(file, lines, root, 'known_hosts', 'known_hosts', false));
  const fleetNode = root.get('fleet', true) as Node | null | undefined;
  const fleet = fleetNode === undefined || fleetNode === null ? undefined : collect(() => parseFleetSection(fleetNode, file, lines));
  const groups = collect(() => parseGroups(file, lines, root.get('groups', true), collect, fleet?.maxHosts ?? MAX_EXPANSION));
  // policy: and store: are parsed by their own modules, with errors in this file's style.
  const policyNode = root.get('policy', true) as Node | null | undefined;
  const policy = policyNode === undefined ? undefined : collect(() => parsePolicySection(policyNode, file, lines));
  const storeNode = root.get('store', true) as Node | null | undefined;
  const store = storeNode === undefined || storeNode === null ? undefined : collect(() => parseStoreSection(storeNode, file, lines));
  const budgetNode = root.get('connection_budget', true) as Node | null | undefined;
  const connectionBudget = budgetNode === undefined || budgetNode === null ? undefined : collect(() => parseBudget(budgetNode, file, lines));
  const list = root.get('diagnostics', true);
  let diagnostics: DiagnosticsLogin[] = [];
  if (list !== undefined && list !== null) {
    if (!isSeq(list)) collect(() => fail(file, lines, list as Node, 'diagnostics', 'must be a list'));
    else diagnostics = list.items.flatMap((entry, i) => collect(() => parseLogin(file, lines, entry as Node, `diagnostics[${i}]`, collect)) ?? []);
  }
  if (problems.length > 0) throw new SshcheckError('E_USAGE', problems.join('\n'));
  return {
    diagnostics,
    ...(groups ? { groups } : {}),
    ...(policy ? { policy } : {}),
    ...(store ? { store } : {}),
    ...(probeUser !== undefined ? { probeUser } : {}),
    ...(connectionBudget ? { connectionBudget } : {}),
    ...(knownHosts ? { knownHosts } : {}),
    ...(fleet ? { fleet } : {}),
  };
}

type Collect = <T>(part: () => T) => T | undefined;

/** One entry of `diagnostics:`; each of its fields' problems is listed. */
function parseLogin(file: string, lines: LineCounter, entry: Node, at: string, collect: Collect): DiagnosticsLogin {
  const { isMap, isScalar, isSeq } = yaml();
  if (!isMap(entry)) fail(file, lines, entry, at, 'must be a mapping');
  for (const item of entry.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '?';
    if (!['match', 'user', 'key', 'known_hosts', 'port', 'sudo', 'sshd_log'].includes(key)) collect(() => fail(file, lines, item.key as Node, `${at}.${safeKey(key)}`, 'unknown field (expected match, user, key, known_hosts, port, sudo, sshd_log)'));
  }
  const matchNode = entry.get('match', true);
  const match: string[] = [];
  collect(() => {
    if (isScalar(matchNode) && typeof matchNode.value === 'string') match.push(matchNode.value);
    else if (isSeq(matchNode)) {
      matchNode.items.forEach((m, j) => {
        if (!isScalar(m) || typeof m.value !== 'string') fail(file, lines, m as Node, `${at}.match[${j}]`, 'must be a string');
        match.push(m.value);
      });
    } else fail(file, lines, matchNode ?? entry, `${at}.match`, 'is required: a host glob, a CIDR, or a list of them');
  });
  match.forEach((m, j) => {
    if (!validatePattern(m)) collect(() => fail(file, lines, isSeq(matchNode) ? (matchNode.items[j] as Node) : (matchNode as Node), `${at}.match[${j}]`, `${quoteValue(m)} is neither a host glob nor an IP/CIDR`));
  });
  const user =
    collect(() => {
      const userText = str(file, lines, entry, 'user', `${at}.user`, true) ?? '';
      try {
        return parseUser(userText);
      } catch (err) {
        return fail(file, lines, entry.get('user', true), `${at}.user`, (err as Error).message);
      }
    }) ?? '';
  const path = (field: 'key' | 'known_hosts'): string =>
    collect(() => {
      const value = str(file, lines, entry, field, `${at}.${field}`, true) ?? '';
      if (!value.startsWith('/')) fail(file, lines, entry.get(field, true), `${at}.${field}`, 'must be an absolute path');
      return value;
    }) ?? '';
  const login: DiagnosticsLogin = { match, user, key: path('key'), knownHosts: path('known_hosts'), sudo: false };
  collect(() => {
    const sshdLog = str(file, lines, entry, 'sshd_log', `${at}.sshd_log`, false);
    if (sshdLog === undefined) return;
    // It is written into the fixed remote script: a plain absolute path, nothing a shell would expand.
    if (!/^\/[A-Za-z0-9._/-]{1,255}$/.test(sshdLog)) fail(file, lines, entry.get('sshd_log', true), `${at}.sshd_log`, 'must be an absolute path of letters, digits, ".", "_", "-" and "/"');
    login.sshdLog = sshdLog;
  });
  collect(() => {
    const portNode = entry.get('port', true);
    if (portNode === undefined || portNode === null) return;
    if (!isScalar(portNode)) fail(file, lines, portNode, `${at}.port`, 'must be a number');
    try {
      login.port = parsePort(String(portNode.value));
    } catch (err) {
      fail(file, lines, portNode, `${at}.port`, (err as Error).message);
    }
  });
  collect(() => {
    const sudoNode = entry.get('sudo', true);
    if (sudoNode === undefined || sudoNode === null) return;
    if (!isScalar(sudoNode) || typeof sudoNode.value !== 'boolean') fail(file, lines, sudoNode, `${at}.sudo`, 'must be true or false');
    login.sudo = sudoNode.value;
  });
  return login;
}

/**
 * `connection_budget: { connections: 4, window_seconds: 600 }`: raise it only for targets whose
 * fail2ban runs in its default mode and that exempt this bastion from PerSourcePenalties (README).
 */
function parseBudget(node: Node, file: string, lines: LineCounter): BudgetRules {
  const ctx = { file, lines };
  const fields = mappingFields(ctx, node, 'connection_budget', ['connections', 'window_seconds']);
  const connections = numberField(ctx, fields.get('connections'), 'connection_budget.connections', 1, 1000, 'connections');
  const window = numberField(ctx, fields.get('window_seconds'), 'connection_budget.window_seconds', 1, 86_400, 'seconds');
  return { connections: connections ?? DEFAULT_BUDGET_RULES.connections, windowMs: window !== undefined ? window * 1000 : DEFAULT_BUDGET_RULES.windowMs };
}

/** `groups:` name → list of targets or ranges, each checked as the fleet command would. */
function parseGroups(file: string, lines: LineCounter, node: unknown, collect: Collect, max: number): Record<string, string[]> | undefined {
  const { isMap, isScalar, isSeq } = yaml();
  if (node === undefined || node === null) return undefined;
  if (!isMap(node)) fail(file, lines, node as Node, 'groups', 'must be a mapping of group names to lists of hosts');
  const groups: Record<string, string[]> = {};
  for (const item of node.items) {
    collect(() => {
      const name = isScalar(item.key) ? String(item.key.value) : '';
      const at = `groups.${GROUP_NAME.test(name) ? name : safeKey(name)}`;
      if (!GROUP_NAME.test(name)) fail(file, lines, item.key as Node, at, 'a group name is lower-case letters, digits, ".", "_" or "-" (at most 63)');
      const value = item.value as Node | null;
      const entries = isSeq(value) ? value.items : isScalar(value) ? [value] : undefined;
      if (!entries || entries.length === 0) fail(file, lines, value ?? (item.key as Node), at, 'must be a host, a range like db-[1-40], or a list of them');
      let count = 0;
      groups[name] = entries.flatMap((entry, j) =>
        // Past the cap, the rest of the group is not validated: one error says it is too big.
        count > max ? [] : collect(() => {
          if (!isScalar(entry) || typeof entry.value !== 'string' || entry.value.trim() === '') fail(file, lines, entry as Node, `${at}[${j}]`, 'must be a host name, address or range');
          const text = entry.value.trim();
          let names: string[] = [];
          try {
            names = expandPattern(text, max, 'fleet.max_hosts');
            for (const n of names) parseTarget(n);
          } catch (err) {
            fail(file, lines, entry, `${at}[${j}]`, (err as Error).message);
          }
          count += names.length;
          if (count > max) fail(file, lines, entry, `${at}[${j}]`, `the group names more than ${max} hosts (fleet.max_hosts)`);
          return [text];
        }) ?? [],
      );
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
  return parseEngineConfig(readConfigFile(path, 'the engine config'), path);
}

