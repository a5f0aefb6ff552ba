import { flatten } from './fields.js';
import { foldKey } from './fold.js';
import type { FlatField, GoType, StructType } from './types.js';
import { GoSlice, GoStruct, zero, type AnyValue, type GoMap, type GoValue } from './value.js';

/**
 * Decodes JSON into a Go type with the semantics of Go's `encoding/json` as dockerd runs it
 * (Go 1.19's decode.go for dockerd 20.10, Go 1.24's for 26.1; Go 1.27's v1 emulation over json/v2
 * with its legacy options for dockerd 28.5; all agree on everything below):
 * - keys match the exact field name first, then case-insensitively (fold.ts); repeated keys are
 *   applied in order, so the last wins, and a repeated struct or pointer key decodes into the
 *   value already there (its fields merge), slices into their existing elements;
 * - escapes are decoded before matching; invalid UTF-8 and unpaired surrogates become U+FFFD;
 * - null sets a pointer, slice, map or interface to nil and leaves anything else as it was;
 * - a number into an integer must be an integer in range; any other type mismatch is an error
 *   (Go records it and dockerd refuses the body; here decoding stops at the first).
 * What Go ignores is reported instead: unknown keys (`unknown`) and what follows the value (`rest`).
 * Bounded: maxBytes of input and maxDepth of nesting, each a refusal, in one linear pass.
 */

export interface DecodeOptions {
  /** Nesting of objects and arrays beyond this is refused (dockerd allows 10000). Default 64. */
  maxDepth?: number;
  /** Default 1 MiB. */
  maxBytes?: number;
}

export interface Decoded {
  value: GoValue;
  /** JSON paths of keys that match no field and carry a non-empty value (EMPTY_JSON), in input order (at most MAX_UNKNOWN of them). */
  unknown: string[];
  /** Count of unknown keys, including those beyond MAX_UNKNOWN. */
  unknownCount: number;
  /**
   * What follows the first JSON value: nothing but whitespace (`end`), a stray `}` or `]`
   * (`closer`, which the `dec.More()` of dockerd 26.1 and 28.5 lets through), or anything else
   * (`content`; dockerd 20.10 ignores it, 26.1 and 28.5 refuse it). `restOffset` is where it starts.
   */
  rest: 'end' | 'closer' | 'content';
  restOffset: number;
}

export class GoJsonError extends Error {
  constructor(
    message: string,
    /** The JSON path of the field that could not be decoded ('' for the body itself). */
    readonly path: string,
    readonly offset: number,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'GoJsonError';
  }
}

export const MAX_UNKNOWN = 20;

/**
 * An unknown key with one of these values is not reported: it cannot mean anything to anyone (a
 * newer client marshals its new fields' zero values: CLI 28 sends `"GwPriority":0,"DNSNames":null`
 * to dockerd 20.10, which ignores them).
 */
const EMPTY_JSON = /^(?:null|false|0|""|\[\s*\]|\{\s*\})$/;

export function decode(input: Uint8Array, type: GoType, opts: DecodeOptions = {}): Decoded {
  const maxBytes = opts.maxBytes ?? 1 << 20;
  if (input.length > maxBytes) throw new GoJsonError(`body is ${input.length} bytes, more than the ${maxBytes} allowed`, '', 0);
  const d = new Decoder(input, opts.maxDepth ?? 64);
  d.ws();
  if (d.i >= input.length) throw new GoJsonError('empty body: expected a JSON value', '', 0);
  const value = d.value(type, zero(type), undefined);
  d.ws();
  const c = input[d.i];
  const rest = c === undefined ? 'end' : c === 0x7d || c === 0x5d ? 'closer' : 'content';
  return { value, unknown: d.unknown, unknownCount: d.unknownCount, rest, restOffset: d.i };
}

/** A JSON path built only when a message needs it: keeps decoding linear in the input. */
interface Path {
  parent: Path | undefined;
  seg: string | number;
}

function render(p: Path | undefined): string {
  const segs: string[] = [];
  for (let q = p; q; q = q.parent) {
    const s = q.seg;
    const shown = typeof s === 'string' && s.length > 64 ? `${s.slice(0, 61)}...` : s;
    segs.push(typeof s === 'number' ? `[${s}]` : /^[A-Za-z0-9_]+$/.test(s) ? `.${s}` : `[${JSON.stringify(shown)}]`);
  }
  return segs.reverse().join('').replace(/^\./, '');
}

const at = (parent: Path | undefined, seg: string | number): Path => ({ parent, seg });

function goTypeName(t: GoType): string {
  switch (t.kind) {
    case 'int':
      return `${t.signed ? 'int' : 'uint'}${t.bits}`;
    case 'float':
      return `float${t.bits}`;
    case 'ptr':
      return `*${goTypeName(t.elem)}`;
    case 'slice':
      return `[]${goTypeName(t.elem)}`;
    case 'array':
      return `[${t.len}]${goTypeName(t.elem)}`;
    case 'map':
      return `map[string]${goTypeName(t.elem)}`;
    case 'struct':
      return t.name;
    case 'any':
      return 'interface{}';
    case 'strslice':
      return 'strslice.StrSlice';
    case 'bytes':
      return '[]uint8';
    default:
      return t.kind;
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BYTE_SLICE: GoType = { kind: 'slice', elem: { kind: 'int', bits: 8, signed: false } };

const INT_LITERAL = /^-?(0|[1-9][0-9]*)$/;
/** For runs of ASCII bytes only (windows-1252, the WHATWG meaning of latin1, agrees with ASCII there). */
const ascii = new TextDecoder('latin1');

class Decoder {
  i = 0;
  depth = 0;
  unknown: string[] = [];
  unknownCount = 0;
  constructor(
    readonly b: Uint8Array,
    readonly maxDepth: number,
  ) {}

  fail(message: string, path: Path | undefined): never {
    throw new GoJsonError(message, render(path), this.i);
  }

  syntax(what: string): never {
    const c = this.b[this.i];
    const found = c === undefined ? 'end of input' : `character ${JSON.stringify(String.fromCharCode(c))}`;
    throw new GoJsonError(`invalid JSON at byte ${this.i}: ${found} ${what}`, '', this.i);
  }

  ws(): void {
    const b = this.b;
    while (this.i < b.length) {
      const c = b[this.i];
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.i++;
    }
  }

  mismatch(json: string, t: GoType, path: Path | undefined): never {
    this.fail(`cannot decode a JSON ${json} into Go type ${goTypeName(t)}`, path);
  }

  /** Decodes the value at i into t, given the Go value already there; returns the new value. */
  value(t: GoType, cur: GoValue, path: Path | undefined): GoValue {
    this.ws();
    const c = this.b[this.i];
    if (t.kind === 'ptr') {
      if (c === 0x6e) {
        this.literal('null');
        return null;
      }
      return this.value(t.elem, cur ?? zero(t.elem), path);
    }
    switch (c) {
      case 0x7b:
        return this.object(t, cur, path);
      case 0x5b:
        return this.array(t, cur, path);
      case 0x22: {
        const s = this.string();
        if (t.kind === 'string' || t.kind === 'any') return s;
        if (t.kind === 'strslice') return new GoSlice([s], 1);
        if (t.kind === 'bytes') return this.base64(s, path);
        return this.mismatch('string', t, path);
      }
      case 0x74:
      case 0x66: {
        const v = c === 0x74;
        this.literal(v ? 'true' : 'false');
        if (t.kind === 'bool' || t.kind === 'any') return v;
        return this.mismatch(v ? 'true' : 'false', t, path);
      }
      case 0x6e:
        this.literal('null');
        // Go sets what can be nil to nil and leaves everything else as it was.
        return t.kind === 'slice' || t.kind === 'map' || t.kind === 'any' || t.kind === 'strslice' || t.kind === 'bytes' ? null : cur;
      default:
        if (c === 0x2d || (c !== undefined && c >= 0x30 && c <= 0x39)) return this.number(t, path);
        return this.syntax('where a value was expected');
    }
  }

  literal(word: string): void {
    for (let k = 0; k < word.length; k++) {
      if (this.b[this.i] !== word.charCodeAt(k)) this.syntax(`in literal ${word}`);
      this.i++;
    }
  }

  number(t: GoType, path: Path | undefined): GoValue {
    const b = this.b;
    const start = this.i;
    if (b[this.i] === 0x2d) this.i++;
    if (b[this.i] === 0x30) this.i++;
    else if (this.digits() === 0) this.syntax('in numeric literal');
    if (b[this.i] === 0x2e) {
      this.i++;
      if (this.digits() === 0) this.syntax('after decimal point in numeric literal');
    }
    if (b[this.i] === 0x65 || b[this.i] === 0x45) {
      this.i++;
      if (b[this.i] === 0x2b || b[this.i] === 0x2d) this.i++;
      if (this.digits() === 0) this.syntax('in exponent of numeric literal');
    }
    const lit = ascii.decode(b.subarray(start, this.i));
    if (t.kind === 'int') {
      // strconv.ParseInt/ParseUint: no fraction, no exponent, no sign for unsigned, in range.
      const ok = INT_LITERAL.test(lit) && (t.signed || !lit.startsWith('-'));
      const n = ok ? BigInt(lit) : 0n;
      const bound = 1n << BigInt(t.signed ? t.bits - 1 : t.bits);
      if (!ok || (t.signed ? n < -bound || n >= bound : n >= bound)) this.mismatch(`number ${lit}`, t, path);
      return n;
    }
    if (t.kind === 'float' || t.kind === 'any') {
      const n = Number(lit);
      const max = t.kind === 'float' && t.bits === 32 ? 3.4028234663852886e38 : Number.MAX_VALUE;
      if (!Number.isFinite(n) || Math.abs(n) > max) this.mismatch(`number ${lit}`, t, path);
      return t.kind === 'float' && t.bits === 32 ? Math.fround(n) : n;
    }
    return this.mismatch(`number ${lit}`, t, path);
  }

  digits(): number {
    const start = this.i;
    while (this.i < this.b.length && this.b[this.i]! >= 0x30 && this.b[this.i]! <= 0x39) this.i++;
    return this.i - start;
  }

  enter(path: Path | undefined): void {
    if (++this.depth > this.maxDepth) this.fail(`JSON nested deeper than ${this.maxDepth} levels`, path);
    this.i++;
    this.ws();
  }

  /** After a member or element: true if another follows, false at the closing bracket. */
  more(close: number): boolean {
    this.ws();
    const c = this.b[this.i];
    if (c === 0x2c) {
      this.i++;
      this.ws();
      return true;
    }
    if (c === close) {
      this.i++;
      this.depth--;
      return false;
    }
    return this.syntax(close === 0x7d ? "after object key:value pair (expected ',' or '}')" : "after array element (expected ',' or ']')");
  }

  object(t: GoType, cur: GoValue, path: Path | undefined): GoValue {
    if (t.kind === 'any') return this.anyValue(path);
    if (t.kind !== 'struct' && t.kind !== 'map') this.mismatch('object', t, path);
    this.enter(path);
    const m: GoMap | undefined = t.kind === 'map' ? ((cur as GoMap | null) ?? new Map()) : undefined;
    if (this.b[this.i] === 0x7d) {
      this.close();
      return m ?? cur;
    }
    do {
      const key = this.key();
      if (t.kind === 'map') {
        // A map entry is decoded fresh each time: values never merge, the last one wins.
        m!.set(key, this.value(t.elem, zero(t.elem), at(path, key)));
        continue;
      }
      const f = this.match(t, key, path);
      if (!f) {
        this.ws();
        const start = this.i;
        this.skip();
        if (!EMPTY_JSON.test(Buffer.from(this.b.subarray(start, this.i)).toString('latin1'))) {
          this.unknownCount++;
          if (this.unknown.length < MAX_UNKNOWN) this.unknown.push(render(at(path, key)));
        }
        continue;
      }
      this.setField(cur as GoStruct, f, at(path, f.name));
    } while (this.more(0x7d));
    return m ?? cur;
  }

  /** An object key and its colon. */
  key(): string {
    if (this.b[this.i] !== 0x22) this.syntax('where an object key was expected');
    const key = this.string();
    this.ws();
    if (this.b[this.i] !== 0x3a) this.syntax("after object key (expected ':')");
    this.i++;
    return key;
  }

  match(t: StructType, key: string, path: Path | undefined): FlatField | undefined {
    const flat = flatten(t);
    const exact = flat.byName.get(key);
    if (exact) return exact;
    const folded = foldKey(key);
    const candidates = folded === undefined ? undefined : flat.byFolded.get(folded);
    if (candidates && candidates.length > 1) {
      // Go 1.19 takes the first in field order, json/v2 the first breadth-first: refuse rather than guess.
      this.fail(`key ${JSON.stringify(key)} matches several fields (${candidates.map((c) => c.name).join(', ')})`, path);
    }
    return candidates?.[0];
  }

  /** Sets a flattened field, allocating nil embedded pointers on the way as Go does. */
  setField(s: GoStruct, f: FlatField, path: Path): void {
    let holder = s;
    for (const idx of f.path.slice(0, -1)) {
      let next: GoValue = holder.fields[idx] as GoValue;
      if (next === null) {
        const ft = holder.type.fields[idx]!.type;
        next = zero(ft.kind === 'ptr' ? ft.elem : ft);
        holder.fields[idx] = next;
      }
      holder = next as GoStruct;
    }
    const last = f.path[f.path.length - 1]!;
    holder.fields[last] = this.value(f.type, holder.fields[last]!, path);
  }

  array(t: GoType, cur: GoValue, path: Path | undefined): GoValue {
    if (t.kind === 'any') return this.anyValue(path);
    if (t.kind === 'strslice') return this.strslice(path);
    if (t.kind === 'bytes') return this.array(BYTE_SLICE, cur, path);
    if (t.kind !== 'slice' && t.kind !== 'array') this.mismatch('array', t, path);
    this.enter(path);
    const empty = this.b[this.i] === 0x5d;
    if (t.kind === 'array') {
      const arr = cur as GoValue[];
      let n = 0;
      if (!empty) {
        do {
          if (n < t.len) arr[n] = this.value(t.elem, arr[n]!, at(path, n));
          else this.skip(); // Go drops elements beyond a fixed array's length.
          n++;
        } while (this.more(0x5d));
      } else this.close();
      for (let k = n; k < t.len; k++) arr[k] = zero(t.elem);
      return arr;
    }
    if (empty) {
      this.close();
      return new GoSlice([], 0); // `[]` is a new empty slice: the old backing array is gone.
    }
    // Decode into the existing backing array, also past its length (see GoSlice).
    const s = cur === null ? new GoSlice([], 0) : (cur as GoSlice);
    let n = 0;
    do {
      const old = n < s.backing.length ? s.backing[n]! : zero(t.elem);
      s.backing[n] = this.value(t.elem, old, at(path, n));
      n++;
    } while (this.more(0x5d));
    s.len = n;
    return s;
  }

  /**
   * base64.StdEncoding.Decode, as encoding/json decodes a string into []byte: padding required,
   * `\r` and `\n` skipped anywhere, anything else outside the alphabet an error.
   */
  base64(s: string, path: Path | undefined): GoSlice {
    const text = s.replace(/[\r\n]/g, '');
    if (!BASE64.test(text)) this.fail('illegal base64 data in a []byte field', path);
    const items = [...Buffer.from(text, 'base64')].map((b) => BigInt(b));
    return new GoSlice(items, items.length);
  }

  close(): void {
    this.i++;
    this.depth--;
  }

  /**
   * moby's StrSlice.UnmarshalJSON: json.Unmarshal into a fresh []string, and if that fails, into
   * a string. So an array of strings (null elements become "") or one string; always a new slice.
   */
  strslice(path: Path | undefined): GoValue {
    this.enter(path);
    const out: GoValue[] = [];
    if (this.b[this.i] === 0x5d) {
      this.close();
      return new GoSlice(out, 0);
    }
    do {
      out.push(this.value({ kind: 'string' }, '', at(path, out.length)));
    } while (this.more(0x5d));
    return new GoSlice(out, out.length);
  }

  /** interface{}: a fresh value each time (objects as Map, last key wins; numbers as float64). */
  anyValue(path: Path | undefined): AnyValue {
    this.ws();
    const c = this.b[this.i];
    if (c === 0x7b) {
      this.enter(path);
      const m = new Map<string, AnyValue>();
      if (this.b[this.i] === 0x7d) {
        this.close();
        return m;
      }
      do {
        const key = this.key();
        m.set(key, this.anyValue(at(path, key)));
      } while (this.more(0x7d));
      return m;
    }
    if (c === 0x5b) {
      this.enter(path);
      const a: AnyValue[] = [];
      if (this.b[this.i] === 0x5d) {
        this.close();
        return a;
      }
      do a.push(this.anyValue(at(path, a.length)));
      while (this.more(0x5d));
      return a;
    }
    return this.value({ kind: 'any' }, null, path) as AnyValue;
  }

  /** Skips a value, checking its syntax as Go's scanner does before decoding anything. */
  skip(): void {
    this.anyValue(undefined);
  }

  /** A JSON string at i, unescaped as Go does (see the module comment). */
  string(): string {
    const b = this.b;
    this.i++;
    let out = '';
    let runStart = this.i;
    const flush = (end: number) => {
      if (end - runStart > 64) out += ascii.decode(b.subarray(runStart, end));
      else if (end > runStart) out += String.fromCharCode.apply(null, b.subarray(runStart, end) as unknown as number[]);
    };
    while (true) {
      const c = b[this.i];
      if (c === undefined) this.syntax('in string literal');
      if (c === 0x22) {
        flush(this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.syntax('in string literal');
      if (c < 0x80 && c !== 0x5c) {
        this.i++;
        continue;
      }
      flush(this.i);
      if (c === 0x5c) out += this.escape();
      else out += this.utf8();
      runStart = this.i;
    }
  }

  escape(): string {
    const b = this.b;
    const e = b[this.i + 1];
    this.i += 2;
    switch (e) {
      case 0x22:
        return '"';
      case 0x5c:
        return '\\';
      case 0x2f:
        return '/';
      case 0x62:
        return '\b';
      case 0x66:
        return '\f';
      case 0x6e:
        return '\n';
      case 0x72:
        return '\r';
      case 0x74:
        return '\t';
      case 0x75: {
        const r = this.hex4(this.i);
        this.i += 4;
        if (r < 0xd800 || r > 0xdfff) return String.fromCharCode(r);
        // A surrogate: only a high one followed by an escaped low one makes a pair; anything
        // else is U+FFFD, and what follows is read on its own.
        if (r <= 0xdbff && b[this.i] === 0x5c && b[this.i + 1] === 0x75) {
          const r2 = this.hex4(this.i + 2);
          if (r2 >= 0xdc00 && r2 <= 0xdfff) {
            this.i += 6;
            return String.fromCharCode(r, r2);
          }
        }
        return '\ufffd';
      }
      default:
        this.i -= 1;
        return this.syntax('in string escape code');
    }
  }

  hex4(from: number): number {
    let r = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.b[from + k];
      const v = c === undefined ? -1 : c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (v < 0) {
        this.i = from + k;
        this.syntax('in \\u hexadecimal character escape');
      }
      r = r * 16 + v;
    }
    return r;
  }

  /** One rune as Go's utf8.DecodeRune reads it: an invalid byte is U+FFFD and consumes one byte. */
  utf8(): string {
    const b = this.b;
    const c0 = b[this.i]!;
    let size = 0;
    let lo = 0x80;
    let hi = 0xbf;
    if (c0 >= 0xc2 && c0 <= 0xdf) size = 2;
    else if (c0 >= 0xe0 && c0 <= 0xef) {
      size = 3;
      if (c0 === 0xe0) lo = 0xa0;
      if (c0 === 0xed) hi = 0x9f;
    } else if (c0 >= 0xf0 && c0 <= 0xf4) {
      size = 4;
      if (c0 === 0xf0) lo = 0x90;
      if (c0 === 0xf4) hi = 0x8f;
    }
    const ok =
      size > 0 &&
      (b[this.i + 1] ?? 0) >= lo &&
      (b[this.i + 1] ?? 0xff) <= hi &&
      [2, 3].slice(0, size - 2).every((k) => (b[this.i + k] ?? 0) >= 0x80 && (b[this.i + k] ?? 0xff) <= 0xbf);
    if (!ok) {
      this.i++;
      return '\ufffd';
    }
    const s = Buffer.from(b.subarray(this.i, this.i + size)).toString('utf8');
    this.i += size;
    return s;
  }
}
