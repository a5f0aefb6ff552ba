/**
 * A Dockerfile's instructions as BuildKit's parser (frontend/dockerfile/parser, which dockerd's
 * classic builder uses) splits them: parser directives (`# escape=`) at the top, comments,
 * line continuations (the escape token at the end of a line; comment and blank lines inside a
 * continuation skipped), the instruction word, its leading `--flags` (extractBuilderFlags), the
 * rest. What the parser reads differently between engine versions (a line ending in two escape
 * tokens) or what this reader does not follow (heredocs, which take the lines after them as
 * data) throws: the caller refuses the build.
 */

export class DockerfileError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
    this.name = 'DockerfileError';
  }
}

export interface Instruction {
  /** Lower-case instruction word (`add`, `from`, …). */
  cmd: string;
  flags: string[];
  /** What follows the instruction word and its flags, trimmed. */
  rest: string;
  /** The whole instruction (continuations joined): what a check that must not depend on the split reads. */
  text: string;
  /** First line, 1-based. */
  line: number;
  /** ONBUILD's instruction. */
  sub?: Instruction;
}

export interface Dockerfile {
  escape: string;
  instructions: Instruction[];
}

const KNOWN = new Set(['add', 'arg', 'cmd', 'copy', 'entrypoint', 'env', 'expose', 'from', 'healthcheck', 'label', 'maintainer', 'onbuild', 'run', 'shell', 'stopsignal', 'user', 'volume', 'workdir']);
const HEREDOC_CAPABLE = new Set(['add', 'copy', 'run']);

/** Go's unicode.IsSpace over the Latin-1 range, which is where a Dockerfile's separators are. */
const SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const trimLeft = (s: string) => {
  let i = 0;
  while (i < s.length && SPACE.test(s[i]!)) i++;
  return s.slice(i);
};
const trimNewline = (s: string) => s.replace(/[\r\n]+$/, '');
const isComment = (s: string) => trimLeft(trimNewline(s)).startsWith('#');
/** Go regexp `\s`. */
const DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/s;
/** reWhitespace. */
const WHITESPACE = /[\t\v\f\r ]+/;

const escapeRe = (e: string) => e.replace(/[\\^$.*+?()[\]{}|`]/g, '\\$&');

class Directives {
  escape = '\\';
  private done = false;
  private seen = new Set<string>();
  private continuation = this.continuationFor('\\');

  private continuationFor(e: string): RegExp {
    const x = escapeRe(e);
    return new RegExp(`([^${x}])${x}[ \\t]*$|^${x}[ \\t]*$`);
  }

  /** DirectiveParser.ParseLine, on every line the parser processes until the first that is not a directive. */
  see(line: string, lineNo: number): void {
    if (this.done) return;
    const m = DIRECTIVE.exec(line);
    const key = m?.[1]!.toLowerCase();
    if (!m || (key !== 'escape' && key !== 'syntax')) {
      this.done = true;
      return;
    }
    if (this.seen.has(key!)) throw new DockerfileError(`only one ${key} parser directive can be used`, lineNo);
    this.seen.add(key!);
    if (key === 'escape') {
      // dockerd 20.10's parser (BuildKit 0.8) reads an escape directive only on the first line,
      // spaced with blanks and tabs only, and no other directive: elsewhere it is a comment there.
      if (lineNo !== 1 || !/^#[ \t]*escape[ \t]*=[ \t]*(.*)$/.test(line.toLowerCase())) throw new DockerfileError('an escape directive after another directive, or spaced otherwise than with blanks, is read differently by different engines', lineNo);
      const v = m[2]!;
      if (v !== '`' && v !== '\\') throw new DockerfileError(`invalid escape token ${JSON.stringify(v)}`, lineNo);
      this.escape = v;
      this.continuation = this.continuationFor(v);
    }
  }

  /** trimContinuationCharacter: the line without its continuation, and whether it ended the instruction. */
  trimContinuation(line: string, lineNo: number): [string, boolean] {
    const e = escapeRe(this.escape);
    // dockerd 20.10's parser took a line ending in two escape tokens as continued; later ones do not.
    if (new RegExp(`${e}${e}[ \\t]*$`).test(line)) throw new DockerfileError(`a line ending in ${this.escape}${this.escape} is read differently by different engines`, lineNo);
    if (this.continuation.test(line)) return [line.replace(this.continuation, '$1'), false];
    return [line, true];
  }
}

/**
 * extractBuilderFlags: leading `--name[=value]` words (quotes and `\` honoured), and the rest. Go
 * reads these byte by byte, taking the bytes 0x85 and 0xA0 inside a UTF-8 character for spaces:
 * a flag with a character beyond ASCII is refused rather than split differently.
 */
function extractFlags(line: string, lineNo: number): { rest: string; flags: string[] } {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const ch = pos < line.length ? line[pos]! : '';
    if (phase === 'spaces') {
      if (pos === line.length) break;
      // A character beyond ASCII starts with a byte Go does not take for a space: the rest starts there.
      if (ch > '\x7f') return { rest: line.slice(pos), flags: words };
      if (SPACE.test(ch)) continue;
      if (ch !== '-' || pos + 1 === line.length || line[pos + 1] !== '-') return { rest: line.slice(pos), flags: words };
      phase = 'word';
    }
    if (pos === line.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (ch > '\x7f') throw new DockerfileError('a flag holds a character beyond ASCII, which the builder splits byte by byte', lineNo);
    if (phase === 'word') {
      if (SPACE.test(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: line.slice(pos), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      let c = ch;
      if (c === '\\') {
        if (pos + 1 === line.length) continue;
        c = line[++pos]!;
      }
      word += c;
      continue;
    }
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    let c = ch;
    if (c === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      c = line[++pos]!;
    }
    word += c;
  }
  return { rest: '', flags: words };
}

function instruction(line: string, lineNo: number): Instruction {
  const trimmed = line.trim();
  const split = WHITESPACE.exec(trimmed);
  const word = split ? trimmed.slice(0, split.index) : trimmed;
  const after = split ? trimmed.slice(split.index + split[0].length) : '';
  const cmd = word.toLowerCase();
  if (!KNOWN.has(cmd)) throw new DockerfileError(`unknown instruction ${JSON.stringify(word.slice(0, 40))}`, lineNo);
  const { rest, flags } = after ? extractFlags(after, lineNo) : { rest: '', flags: [] };
  const i: Instruction = { cmd, flags, rest: rest.trim(), text: trimmed, line: lineNo };
  if (cmd === 'onbuild') {
    if (!i.rest) throw new DockerfileError('ONBUILD needs an instruction', lineNo);
    i.sub = instruction(i.rest, lineNo);
    if (['onbuild', 'from', 'maintainer'].includes(i.sub.cmd)) throw new DockerfileError(`ONBUILD ${i.sub.cmd.toUpperCase()} is not allowed`, lineNo);
  }
  const inner = i.sub ?? i;
  // Heredocs take the lines after them as data, which this reader would read as instructions.
  if (HEREDOC_CAPABLE.has(inner.cmd) && line.includes('<<')) throw new DockerfileError(`${inner.cmd.toUpperCase()} with << (a heredoc) is not read by dockward`, lineNo);
  return i;
}

/** parser.Parse over the text (bytes as UTF-8, a leading BOM dropped). */
export function parseDockerfile(text: string): Dockerfile {
  const d = new Directives();
  const lines = text.replace(/^\ufeff/, '').split(/(?<=\n)/);
  const out: Instruction[] = [];
  let n = 0;
  /** processLine: newline trimmed, left-trimmed when it starts an instruction, seen by the directive parser, comment blanked. */
  const process = (raw: string, strip: boolean): string => {
    let t = trimNewline(raw);
    if (strip) t = trimLeft(t);
    d.see(t, n + 1);
    return t.startsWith('#') ? '' : t;
  };
  while (n < lines.length) {
    const bytes = process(lines[n]!, true);
    n++;
    const start = n;
    let [line, end] = d.trimContinuation(bytes, n);
    if (end && line === '') continue;
    while (!end && n < lines.length) {
      const raw = lines[n]!;
      const t = process(raw, false);
      n++;
      if (isComment(raw)) continue;
      if (trimLeft(trimNewline(t)) === '') continue;
      const [more, e] = d.trimContinuation(t, n);
      line += more;
      end = e;
    }
    out.push(instruction(line, start));
  }
  if (!out.length) throw new DockerfileError('the Dockerfile has no instructions');
  return { escape: d.escape, instructions: out };
}

/** parseStringsWhitespaceDelimited (FROM, and ADD/COPY outside JSON form). */
export function whitespaceWords(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE);
}

/**
 * parseMaybeJSONToList (ADD, COPY): a JSON array of strings, or else whitespace-delimited words.
 * A `[` that is not such an array is read both ways: whichever the parser takes, each is checked.
 */
export function listWords(rest: string): string[][] {
  if (rest.startsWith('[')) {
    try {
      const v = JSON.parse(rest) as unknown;
      if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return [v as string[]];
    } catch {
      /* not JSON: the parser falls back to words */
    }
  }
  return [whitespaceWords(rest)];
}

/**
 * parseWords (ENV, ARG, LABEL): words split on whitespace outside quotes; quotes and escapes kept
 * for the substitution that follows.
 */
export function quotedWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  const chars = [...rest];
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = chars[pos] ?? '';
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (SPACE.test(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || word !== '') words.push(word);
      break;
    }
    if (phase === 'word') {
      if (SPACE.test(ch)) {
        phase = 'spaces';
        if (blankOK || word !== '') words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        ch = chars[++pos]!;
      }
      word += ch;
      continue;
    }
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      ch = chars[++pos]!;
    }
    word += ch;
  }
  return words;
}

/**
 * parseNameVal (ENV, LABEL) and parseNameOrNameVal (ARG): `k=v …`, or the legacy `k v` (ENV,
 * LABEL: one pair, the value the rest of the line). Names and values still to be substituted.
 */
export function pairs(rest: string, escape: string, legacy: boolean): [string, string | undefined][] {
  const words = quotedWords(rest, escape);
  if (!words.length) return [];
  if (legacy && !words[0]!.includes('=')) {
    const m = WHITESPACE.exec(rest);
    if (!m) throw new DockerfileError('a name without a value');
    return [[rest.slice(0, m.index), rest.slice(m.index + m[0].length)]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq === -1 && legacy) throw new DockerfileError(`${JSON.stringify(w.slice(0, 100))} is not name=value`);
    return eq === -1 ? [w, undefined] : [w.slice(0, eq), w.slice(eq + 1)];
  });
}
