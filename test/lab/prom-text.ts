// A small parser for the Prometheus text exposition format (0.0.4), strict enough to catch
// what a scraper would reject: samples before their # TYPE, bad label syntax or escapes,
// values that are not numbers, histograms whose buckets are not cumulative.
// https://prometheus.io/docs/instrumenting/exposition_formats/

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: number): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: "${text}" is not a sample value`);
  return Number(text);
}

/** Labels between braces; returns them and the index after the closing brace. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start;
  for (;;) {
    while (text[i] === ' ') i++;
    if (text[i] === '}') return { labels, end: i + 1 };
    const eq = text.indexOf('=', i);
    if (eq === -1) throw new Error(`line ${line}: a label without "="`);
    const name = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) throw new Error(`line ${line}: "${name}" is not a label name`);
    if (name in labels) throw new Error(`line ${line}: label ${name} given twice`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: the value of label ${name} must be in double quotes`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`line ${line}: bad escape \\${next ?? ''} in label ${name}`);
      } else value += text[j];
    }
    if (j >= text.length) throw new Error(`line ${line}: unterminated value of label ${name}`);
    labels[name] = value;
    i = j + 1;
    while (text[i] === ' ') i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`line ${line}: expected "," or "}" after label ${name}`);
  }
}

function familyOf(sample: string, families: Map<string, PromFamily>): PromFamily | undefined {
  for (const suffix of ['', '_bucket', '_sum', '_count', '_total']) {
    if (suffix && !sample.endsWith(suffix)) continue;
    const base = suffix ? sample.slice(0, -suffix.length) : sample;
    const f = families.get(base) ?? families.get(sample);
    if (f) return f;
  }
  return undefined;
}

export function parsePrometheusText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // other comments are allowed
      const [, kind, name = '', rest = ''] = m;
      if (!NAME.test(name)) throw new Error(`line ${line}: "${name}" is not a metric name`);
      const family = families.get(name) ?? { name, type: 'untyped' as const, samples: [] };
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: unknown type "${rest}"`);
        if (family.samples.length > 0) throw new Error(`line ${line}: # TYPE ${name} after its samples`);
        family.type = rest as PromFamily['type'];
      } else family.help = rest;
      families.set(name, family);
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{?)/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const name = m[1] ?? '';
    let labels: Record<string, string> = {};
    let rest = raw.slice(name.length);
    if (m[2] === '{') {
      const parsed = parseLabels(raw, name.length + 1, line);
      labels = parsed.labels;
      rest = raw.slice(parsed.end);
    }
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`line ${line}: expected a value (and an optional timestamp)`);
    const value = parseValue(parts[0] ?? '', line);
    const family = familyOf(name, families);
    if (!family) throw new Error(`line ${line}: sample ${name} has no # TYPE before it`);
    family.samples.push({ name, labels, value });
  });
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    // Each series (its labels but le) is a histogram of its own: buckets, _sum and _count.
    const seriesOf = (s: PromSample): string => JSON.stringify(Object.entries(s.labels).filter(([k]) => k !== 'le').sort());
    const series = new Set(family.samples.length > 0 ? family.samples.map(seriesOf) : ['[]']);
    for (const key of series) {
      const samples = family.samples.filter((s) => seriesOf(s) === key);
      const where = key === '[]' ? '' : ` ${key}`;
      const buckets = samples.filter((s) => s.name === `${family.name}_bucket`);
      const count = samples.find((s) => s.name === `${family.name}_count`);
      if (buckets.length === 0 || !count || !samples.some((s) => s.name === `${family.name}_sum`)) throw new Error(`histogram ${family.name}${where} needs _bucket, _sum and _count`);
      let previous = -Infinity;
      let prevValue = 0;
      for (const b of buckets) {
        const le = parseValue(b.labels.le ?? '', 0);
        if (!(le > previous)) throw new Error(`histogram ${family.name}${where}: buckets not in increasing le order`);
        if (b.value < prevValue) throw new Error(`histogram ${family.name}${where}: bucket le=${b.labels.le ?? ''} is not cumulative`);
        previous = le;
        prevValue = b.value;
      }
      if (previous !== Infinity) throw new Error(`histogram ${family.name}${where} has no le="+Inf" bucket`);
      if (prevValue !== count.value) throw new Error(`histogram ${family.name}${where}: the +Inf bucket (${prevValue}) differs from _count (${count.value})`);
    }
  }
  return families;
}

/** The value of one sample, by name and labels (all given labels must match). */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
