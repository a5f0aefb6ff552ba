import { visit, parse, parseTree, modify, applyEdits, printParseErrorCode, type Edit, type ParseError } from 'jsonc-parser';
import { isDeepStrictEqual } from 'node:util';

/**
 * daemon.json as dockerd reads it: Go's encoding/json, strict JSON with no comments and no
 * trailing commas. Users copy commented examples (the seeds have one), so the parse is lenient
 * enough to recover their settings and strict enough to say, with line numbers, everything
 * dockerd would choke on.
 */
export type DaemonConfig = Record<string, unknown>;

export interface JsonIssue {
  kind: 'bom' | 'comment' | 'trailing-comma' | 'duplicate-key' | 'syntax' | 'not-an-object';
  /** 1-based line in the file. */
  line: number;
  message: string;
  /** Where the byte order mark, comment or trailing comma is, so it can be cut out. */
  offset?: number;
  length?: number;
}

export interface ParsedDaemonJson {
  /** The settings, when they could be recovered (comments and trailing commas dropped, last duplicate wins as in Go). */
  config?: DaemonConfig;
  issues: JsonIssue[];
}

export function parseDaemonJson(file: string): ParsedDaemonJson {
  const issues: JsonIssue[] = [];
  // Windows editors start the file with a byte order mark, which Go's decoder refuses; a blank
  // in its place keeps every other offset as it is in the file.
  const text = file.startsWith('\ufeff') ? ` ${file.slice(1)}` : file;
  if (text !== file) issues.push({ kind: 'bom', line: 1, message: 'byte order mark', offset: 0, length: 1 });
  if (text.trim() === '') return { config: {}, issues };
  const seen: Set<string>[] = [];
  let afterComma: { line: number; offset: number } | undefined;
  const closing = () => {
    if (afterComma !== undefined) issues.push({ kind: 'trailing-comma', line: afterComma.line + 1, message: 'trailing comma', offset: afterComma.offset, length: 1 });
    afterComma = undefined;
  };
  visit(
    text,
    {
      onObjectBegin: () => {
        seen.push(new Set());
        afterComma = undefined;
      },
      onObjectEnd: () => {
        closing();
        seen.pop();
      },
      onArrayBegin: () => {
        afterComma = undefined;
      },
      onArrayEnd: closing,
      onObjectProperty: (name, _o, _l, line, _c, path) => {
        afterComma = undefined;
        const keys = seen[seen.length - 1];
        if (!keys) return;
        if (keys.has(name)) {
          const where = [...path().map(String), name].join('.');
          issues.push({ kind: 'duplicate-key', line: line + 1, message: `duplicate key "${where}"` });
        }
        keys.add(name);
      },
      onLiteralValue: () => {
        afterComma = undefined;
      },
      onSeparator: (ch, offset, _l, line) => {
        if (ch === ',') afterComma = { line, offset };
      },
      onComment: (offset, length, line) => {
        issues.push({ kind: 'comment', line: line + 1, message: 'comment (JSON has none)', offset, length });
      },
      onError: (code, _o, _l, line) => {
        issues.push({ kind: 'syntax', line: line + 1, message: `syntax error: ${printParseErrorCode(code)}` });
      },
    },
    { allowTrailingComma: true, disallowComments: false },
  );
  if (issues.some((i) => i.kind === 'syntax')) return { issues };
  const errors: ParseError[] = [];
  const value: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    issues.push({ kind: 'not-an-object', line: 1, message: 'the top level is not a JSON object' });
    return { issues };
  }
  return { config: value as DaemonConfig, issues };
}

/** What dockward writes: strict JSON, two-space indent, trailing newline. */
export function formatDaemonJson(config: DaemonConfig): string {
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The text with its comments and trailing commas cut out and everything else as the user wrote
 * it; undefined when that is not enough to make it strict JSON (duplicate keys, syntax errors).
 */
export function strictText(text: string, issues: JsonIssue[]): string | undefined {
  if (issues.some((i) => i.kind !== 'bom' && i.kind !== 'comment' && i.kind !== 'trailing-comma')) return undefined;
  let out = text;
  for (const i of [...issues].sort((a, b) => b.offset! - a.offset!)) {
    let start = i.offset!;
    let end = start + i.length!;
    // The blanks before a comment go with it; so does a line that held nothing else.
    while (start > 0 && (out[start - 1] === ' ' || out[start - 1] === '\t')) start--;
    if ((start === 0 || out[start - 1] === '\n') && out[end] === '\n') end++;
    out = out.slice(0, start) + out.slice(end);
  }
  return out;
}

/**
 * The new file text. A clean file is edited in place, its formatting and key order kept, so the
 * diff shows only what changed (jsonc-parser's own `modify` reformats the neighbouring property,
 * so additions and changes are spliced at the offsets its parse tree gives); a file with
 * comments, trailing commas or duplicate keys is rewritten whole, which is what removes them.
 */
export function renderDaemonJson(text: string | undefined, clean: boolean, before: DaemonConfig, after: DaemonConfig): string {
  if (!text?.trim() || !clean) return formatDaemonJson(after);
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  let out = text;
  for (const key of Object.keys(before)) if (!(key in after)) out = applyEdits(out, modify(out, [key], undefined, {}));
  const tree = parseTree(out);
  const props = tree?.children ?? [];
  const last = props[props.length - 1];
  if (!tree || tree.type !== 'object' || !last) return formatDaemonJson(after);
  const ind = /[\r\n]([ \t]+)"/.exec(out)?.[1] ?? '  ';
  const unit = ind.startsWith('\t') ? '\t' : ind;
  const at = (v: unknown) => JSON.stringify(v, null, unit).split('\n').join(`${eol}${ind}`);
  const edits: Edit[] = [];
  let added = '';
  for (const [key, value] of Object.entries(after)) {
    if (isDeepStrictEqual(before[key], value)) continue;
    const node = props.find((p) => p.children?.[0]?.value === key)?.children?.[1];
    if (node) edits.push({ offset: node.offset, length: node.length, content: at(value) });
    else added += `,${eol}${ind}${JSON.stringify(key)}: ${at(value)}`;
  }
  if (added) edits.push({ offset: last.offset + last.length, length: 0, content: added });
  out = applyEdits(out, edits);
  // What dockerd will read is checked, not assumed.
  try {
    if (isDeepStrictEqual(JSON.parse(out), after)) return out.endsWith(eol) ? out : `${out}${eol}`;
  } catch {
    /* fall through to a clean rewrite */
  }
  return formatDaemonJson(after);
}
