/**
 * YAML configuration files (policy.yaml, gateway.yaml, ...): parse with `yaml` keeping source
 * positions, validate with ajv, and turn the first problem into one UsageError that names the
 * file and line, e.g. `policy.yaml:12: unknown key "rolez" under "identities[0]"`.
 *
 * Schemas should set `additionalProperties: false` on every object so a misspelt key is an error
 * instead of a silently ignored setting (a security tool must not run with a policy it misread).
 */
import { Ajv, type AnySchemaObject, type ErrorObject, type ValidateFunction } from 'ajv';
import { isMap, isNode, isPair, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { UsageError } from './errors.js';

export type YamlPath = ReadonlyArray<string | number>;

export interface YamlConfig<T> {
  value: T;
  /** 1-based line of the value at `path` (or of the nearest ancestor that exists). */
  lineOf(path: YamlPath): number;
  /** Throw a UsageError `source:line: message` for a semantic problem found after validation. */
  fail(path: YamlPath, message: string): never;
}

// useDefaults lets a schema carry the default of an optional setting next to its type. allErrors
// lets an unknown key (a typo: `rolez`) be reported before the required key it was meant to be.
const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true, verbose: true });
const compiled = new WeakMap<object, ValidateFunction>();

function validatorFor(schema: AnySchemaObject): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

/** `identities[0].match.cn`; the empty path is the document itself. */
export function formatYamlPath(path: YamlPath): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out;
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

function describeError(e: ErrorObject, path: (string | number)[]): { at: (string | number)[]; message: string } {
  const where = formatYamlPath(path);
  const subject = where === '' ? 'the document' : `"${where}"`;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((e.parentSchema?.properties as Record<string, unknown> | undefined) ?? {});
      const under = where === '' ? 'at top level' : `under "${where}"`;
      const hint = allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : '';
      return { at: [...path, key], message: `unknown key "${key}" ${under}${hint}` };
    }
    case 'required':
      return { at: path, message: `${subject} is missing required key "${String(params.missingProperty)}"` };
    case 'type': {
      const t = String(params.type);
      const article = /^[aeiou]/.test(t) ? 'an' : 'a';
      return { at: path, message: `${subject} must be ${article} ${t.replace(',', ' or ')}` };
    }
    case 'enum':
      return {
        at: path,
        message: `${subject} must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'minProperties':
    case 'minItems':
    case 'minLength':
      if (params.limit === 1) return { at: path, message: `${subject} must not be empty` };
      return { at: path, message: `${subject} ${e.message ?? 'is too short'}` };
    case 'const':
      return { at: path, message: `${subject} must be ${JSON.stringify(params.allowedValue)}` };
    default:
      return { at: path, message: `${subject} ${e.message ?? 'is invalid'}` };
  }
}

/** Line of the node at `path`; for a key that is present, the key's own line. */
function lineFinder(doc: Document, lc: LineCounter): (path: YamlPath) => number {
  const lineAt = (offset: number | undefined): number => (offset === undefined ? 1 : lc.linePos(offset).line);
  return (path) => {
    let node: unknown = doc.contents;
    let line = lineAt(isNode(node) ? node.range?.[0] : undefined);
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) return line;
        const key = pair.key as Node;
        line = lineAt(key.range?.[0]);
        node = pair.value;
      } else if (node && typeof node === 'object' && 'items' in node && typeof seg === 'number') {
        const item = (node as { items: unknown[] }).items[seg];
        if (!isNode(item)) return line;
        line = lineAt(item.range?.[0]);
        node = item;
      } else {
        return line;
      }
    }
    return line;
  };
}

function keyAt(doc: Document, offset: number): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        found = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

export function parseYamlConfig<T>(text: string, schema: AnySchemaObject, sourceName: string): YamlConfig<T> {
  const lc = new LineCounter();
  // uniqueKeys: a repeated key is an error, never "the last one wins" (which one did the author mean?).
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false, strict: true });
  const problem = doc.errors[0];
  if (problem) {
    const line = lc.linePos(problem.pos[0]).line;
    let msg = problem.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? 'invalid YAML';
    if (problem.code === 'DUPLICATE_KEY') msg = `duplicate key "${keyAt(doc, problem.pos[0]) ?? '?'}"`;
    else if (problem.code === 'MULTIPLE_DOCS') msg = 'only one YAML document is allowed';
    throw new UsageError(`${sourceName}:${line}: ${msg}`, 'fix the YAML syntax');
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) {
    throw new UsageError(`${sourceName}: the file is empty`, 'it must be a YAML mapping');
  }
  const lineOf = lineFinder(doc, lc);
  const fail = (path: YamlPath, message: string): never => {
    throw new UsageError(`${sourceName}:${lineOf(path)}: ${message}`);
  };
  const validate = validatorFor(schema);
  if (!validate(value)) {
    const errors = validate.errors ?? [];
    const err = errors.find((e) => e.keyword === 'additionalProperties') ?? errors[0];
    if (!err) fail([], 'does not match its schema');
    const { at, message } = describeError(err as ErrorObject, pointerToPath((err as ErrorObject).instancePath));
    fail(at, message);
  }
  return { value: value as T, lineOf, fail };
}

export function loadYamlConfig<T>(text: string, schema: AnySchemaObject, sourceName: string): T {
  return parseYamlConfig<T>(text, schema, sourceName).value;
}
