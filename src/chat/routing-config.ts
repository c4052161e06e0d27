// The bot's routing config (SSHCHECK_CONFIG): which bastions there are, and which targets
// each one probes; the checks reach their agents through the broker (src/nats), and these
// static rules win over what the agents declare. Read with yaml's document API so every
// error names the line and the field: `sshcheck.yml:7: rules[1].cidr: "10.0.0.0/33" is not
// a CIDR`. Pure.
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node, Pair } from 'yaml';
import type { CidrBlock } from '../policy/ip.js';
import { parseCidrBlock } from '../policy/ip.js';
import { quoteValue, safeKey, yamlProblem } from '../config/config-file.js';

export interface BastionConfig {
  /** What `via` names, and its agents' --bastion. */
  name: string;
}

export type RouteRule = { kind: 'cidr'; cidr: CidrBlock; bastion: string } | { kind: 'suffix'; suffix: string; bastion: string };

export interface RoutingConfig {
  bastions: BastionConfig[];
  rules: RouteRule[];
  /** The bastion for targets no rule matches. */
  default?: string;
  /** How long the bot reuses a result for the same target (bot side; agents reuse too). */
  reuseMs?: number;
}

export interface ConfigProblem {
  line: number;
  field: string;
  message: string;
}

export class RoutingConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map((p) => `${file}:${p.line}: ${p.field ? `${p.field}: ` : ''}${p.message}`).join('\n'));
    this.name = 'RoutingConfigError';
  }
}

/** One NATS subject token (src/nats/protocol.ts NAME_RE): no dots. */
const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const SUFFIX_RE = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const MAX_PROBLEMS = 20;

// permissions: and limits: are read by access-config.ts from the same file.
const TOP_KEYS = ['bastions', 'rules', 'default', 'reuse_seconds', 'permissions', 'limits'];
/** The fields of the HTTP client for bastions, which is gone: named in a clear error rather than "unknown field". */
const HTTP_KEYS = ['url', 'token_env', 'token_file', 'timeout_seconds'];
const BASTION_KEYS = ['name', ...HTTP_KEYS];
const RULE_KEYS = ['cidr', 'suffix', 'bastion'];

/** Values in errors: capped and printable (a config pointed at a secret file must not print it). */
const quote = quoteValue;

/**
 * The bot config's YAML document, and a problem list in which every problem carries its
 * line; YAML errors and warnings end the parse at once (nothing else can be trusted then).
 * The routing and the access sections (access-config.ts) both read the file through it.
 */
export function configDocument(text: string, file: string): { doc: ReturnType<typeof parseDocument>; problems: ConfigProblem[]; problem: (node: Node | Pair | null | undefined, field: string, message: string) => void; lineOf: (node: Node | Pair | null | undefined) => number } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  const lineOf = (node: Node | Pair | null | undefined): number => {
    const range = node && 'range' in node ? node.range : node && 'key' in node && node.key && typeof node.key === 'object' && 'range' in node.key ? (node.key as Node).range : undefined;
    return range ? lines.linePos(range[0]).line : 1;
  };
  const problem = (node: Node | Pair | null | undefined, field: string, message: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push({ line: lineOf(node), field, message });
  };
  for (const err of [...doc.errors, ...doc.warnings]) {
    const found = yamlProblem(text, lines.linePos(err.pos[0]).line, err.message);
    if (problems.length < MAX_PROBLEMS) problems.push({ line: found.line, field: '', message: `YAML: ${found.message}` });
  }
  if (doc.errors.length > 0) throw new RoutingConfigError(file, problems);
  return { doc, problems, problem, lineOf };
}

/**
 * Parses and validates the config text. `file` is how errors name it. Throws
 * RoutingConfigError listing every problem found (up to 20), each with its line.
 */
export function loadRoutingConfig(text: string, file: string): RoutingConfig {
  const { doc, problems, problem, lineOf } = configDocument(text, file);

  const config: RoutingConfig = { bastions: [], rules: [] };
  const root = doc.contents;
  // An empty file configures nothing: the engine runs in the bot's process.
  if (root === null || (isScalar(root) && (root.value === null || root.value === undefined))) return config;
  if (!isMap(root)) throw new RoutingConfigError(file, [{ line: lineOf(root), field: '', message: 'the config must be a mapping with bastions:, rules: and default:' }]);

  /** The pairs of a mapping as key → pair, reporting unknown and non-string keys. */
  const fields = (node: Node, path: string, allowed: readonly string[]): Map<string, Pair> => {
    const out = new Map<string, Pair>();
    if (!isMap(node)) return out;
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? pair.key.value : undefined;
      if (typeof key !== 'string') {
        problem(pair, path || 'key', 'keys must be plain words');
        continue;
      }
      if (!allowed.includes(key)) {
        problem(pair, path ? `${path}.${safeKey(key)}` : safeKey(key), `unknown field; the fields here are ${allowed.join(', ')}`);
        continue;
      }
      out.set(key, pair);
    }
    return out;
  };
  /** A string field; a missing required one is reported at its mapping's first line. */
  const stringField = (container: Node, pairs: Map<string, Pair>, key: string, path: string, required: boolean): { value: string; node: Node } | undefined => {
    const pair = pairs.get(key);
    const field = path ? `${path}.${key}` : key;
    if (!pair) {
      if (required) problem(container, field, 'required');
      return undefined;
    }
    const node = pair.value as Node | null;
    if (!isScalar(node) || typeof node.value !== 'string' || node.value.trim() === '') {
      problem(node ?? pair, field, `must be a non-empty string${isScalar(node) ? `, not ${quote(node.value)}` : ''}`);
      return undefined;
    }
    return { value: node.value.trim(), node };
  };
  const secondsField = (pairs: Map<string, Pair>, key: string, path: string, min: number, max: number): number | undefined => {
    const pair = pairs.get(key);
    if (!pair) return undefined;
    const node = pair.value as Node | null;
    const value = isScalar(node) ? node.value : undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      problem(node ?? pair, path ? `${path}.${key}` : key, `must be a number of seconds from ${min} to ${max}, not ${quote(value)}`);
      return undefined;
    }
    return Math.round(value * 1000);
  };

  const top = fields(root, '', TOP_KEYS);
  const names = new Map<string, number>();

  const bastionsPair = top.get('bastions');
  const bastionsNode = bastionsPair?.value as Node | null | undefined;
  if (bastionsPair && !(isScalar(bastionsNode) && bastionsNode.value === null)) {
    if (!isSeq(bastionsNode)) problem(bastionsNode ?? bastionsPair, 'bastions', 'must be a list of bastions (- name: eu-1)');
    else
      bastionsNode.items.forEach((item, i) => {
        const path = `bastions[${i}]`;
        const node = item as Node;
        if (!isMap(node)) return problem(node, path, 'must be a mapping with name (- name: eu-1)');
        const pairs = fields(node, path, BASTION_KEYS);
        for (const key of HTTP_KEYS) {
          const pair = pairs.get(key);
          // The bot once reached bastions over HTTP; their agents now dial out to the broker.
          if (pair) problem(pair, `${path}.${key}`, 'bastions are reached through the broker now: remove url, token_env, token_file and timeout_seconds, set SSHCHECK_NATS_URL for the bot and run `sshcheck agent --bastion <name>` on the bastion (docs/deploy.md)');
        }
        const name = stringField(node, pairs, 'name', path, true);
        if (!name) return;
        if (!NAME_RE.test(name.value)) problem(name.node, `${path}.name`, `${quote(name.value)} is not a bastion name: lower-case letters, digits, "_", "-" (it is what people type after "via", and the agents' --bastion)`);
        else if (names.has(name.value)) problem(name.node, `${path}.name`, `${quote(name.value)} is already the name of bastions[${names.get(name.value) ?? 0}]`);
        else {
          names.set(name.value, i);
          config.bastions.push({ name: name.value });
        }
      });
  }

  const known = (): string => (names.size > 0 ? `the bastions are ${[...names.keys()].join(', ')}` : 'no bastions are configured');
  const bastionRef = (container: Node, pairs: Map<string, Pair>, key: string, path: string, required: boolean): string | undefined => {
    const ref = stringField(container, pairs, key, path, required);
    if (ref && !names.has(ref.value)) {
      problem(ref.node, path ? `${path}.${key}` : key, `${quote(ref.value)} is not a configured bastion: ${known()}`);
      return undefined;
    }
    return ref?.value;
  };

  const rulesPair = top.get('rules');
  const rulesNode = rulesPair?.value as Node | null | undefined;
  if (rulesPair && !(isScalar(rulesNode) && rulesNode.value === null)) {
    if (!isSeq(rulesNode)) problem(rulesNode ?? rulesPair, 'rules', 'must be a list of rules (- cidr: … or - suffix: …, with bastion: …)');
    else
      rulesNode.items.forEach((item, i) => {
        const path = `rules[${i}]`;
        const node = item as Node;
        if (!isMap(node)) return problem(node, path, 'must be a mapping: cidr or suffix, and bastion');
        const before = problems.length;
        const pairs = fields(node, path, RULE_KEYS);
        const bastion = bastionRef(node, pairs, 'bastion', path, true);
        const cidr = stringField(node, pairs, 'cidr', path, false);
        const suffix = stringField(node, pairs, 'suffix', path, false);
        if (cidr && suffix) return problem(suffix.node, `${path}.suffix`, 'a rule has either cidr or suffix, not both: write two rules');
        if (!cidr && !suffix) return problem(node, path, 'needs cidr (for IP addresses, e.g. 10.1.0.0/16) or suffix (for names, e.g. eu.example.com)');
        if (cidr) {
          const parsed = parseCidrBlock(cidr.value, { requirePrefix: true });
          if ('error' in parsed) problem(cidr.node, `${path}.cidr`, `${quote(cidr.value)} ${parsed.error}`);
          else if (bastion && problems.length === before) config.rules.push({ kind: 'cidr', cidr: parsed, bastion });
        } else if (suffix) {
          const normalized = suffix.value.toLowerCase().replace(/^\*?\./, '').replace(/\.$/, '');
          if (!SUFFIX_RE.test(normalized)) problem(suffix.node, `${path}.suffix`, `${quote(suffix.value)} is not a domain suffix: write e.g. eu.example.com (it matches db-3.eu.example.com and eu.example.com)`);
          else if (bastion && problems.length === before) config.rules.push({ kind: 'suffix', suffix: normalized, bastion });
        }
      });
  }

  const fallback = bastionRef(root, top, 'default', '', false);
  if (fallback !== undefined) config.default = fallback;
  const reuseMs = secondsField(top, 'reuse_seconds', '', 0, 60);
  if (reuseMs !== undefined) config.reuseMs = reuseMs;
  if ((config.rules.length > 0 || fallback !== undefined) && names.size === 0 && problems.length === 0) {
    problem(root, 'bastions', 'rules and default need bastions to route to');
  }
  if (problems.length > 0) throw new RoutingConfigError(file, problems.sort((a, b) => a.line - b.line));
  return config;
}
