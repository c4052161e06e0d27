// The JSON Schemas of docs/schemas/, compiled once with a real validator (ajv, draft 2020-12,
// with formats): tests validate what the real CLI printed against what the docs promise.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const DIR = fileURLToPath(new URL('../../../docs/schemas/', import.meta.url));
const NAMES = ['report', 'fleet', 'explain'] as const;
export type SchemaName = (typeof NAMES)[number];

function load(name: SchemaName): Record<string, unknown> {
  return JSON.parse(readFileSync(`${DIR}${name}.schema.json`, 'utf8')) as Record<string, unknown>;
}

let validators: Record<SchemaName, ValidateFunction> | undefined;

function compile(): Record<SchemaName, ValidateFunction> {
  const ajv = new Ajv2020({ strict: true, allErrors: true, strictRequired: false });
  // ajv-formats is CommonJS with a default export: under NodeNext the callable sits on .default.
  const addFormats = (addFormatsModule as unknown as { default: (a: Ajv2020) => void }).default;
  addFormats(ajv);
  for (const name of NAMES) ajv.addSchema(load(name), `${name}.schema.json`);
  const get = (name: SchemaName): ValidateFunction => {
    const v = ajv.getSchema(`${name}.schema.json`);
    if (!v) throw new Error(`schema ${name} did not compile`);
    return v;
  };
  return { report: get('report'), fleet: get('fleet'), explain: get('explain') };
}

/** The validation errors of `value` against docs/schemas/<name>.schema.json, as lines ([] when valid). */
export function schemaErrors(name: SchemaName, value: unknown): string[] {
  validators ??= compile();
  const validate = validators[name];
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`);
}
