import { flatten } from './fields.js';
import type { GoType } from './types.js';
import { fieldValue, type AnyValue, type GoMap, type GoSlice, type GoStruct, type GoValue } from './value.js';

/**
 * Serializes a decoded value as Go's `json.Marshal` would marshal the struct: canonical field
 * names in field order, `omitempty` as Go defines empty, nil as null, map keys sorted, the fields
 * of a nil embedded pointer left out, strings escaped as Go escapes them. What the gateway checked
 * is then exactly what dockerd decodes.
 */
export function encode(v: GoValue, t: GoType): string {
  const out: string[] = [];
  write(out, v, t);
  return out.join('');
}

function write(out: string[], v: GoValue, t: GoType): void {
  switch (t.kind) {
    case 'bool':
      out.push(v ? 'true' : 'false');
      return;
    case 'string':
      out.push(quote(v as string));
      return;
    case 'int':
      out.push((v as bigint).toString());
      return;
    case 'float':
      out.push(formatFloat(v as number));
      return;
    case 'ptr':
      if (v === null) out.push('null');
      else write(out, v, t.elem);
      return;
    case 'slice':
    case 'strslice': {
      if (v === null) {
        out.push('null');
        return;
      }
      const elem: GoType = t.kind === 'slice' ? t.elem : { kind: 'string' };
      const items = (v as GoSlice).items;
      out.push('[');
      items.forEach((e, k) => {
        if (k) out.push(',');
        write(out, e, elem);
      });
      out.push(']');
      return;
    }
    case 'bytes':
      out.push(v === null ? 'null' : `"${Buffer.from((v as GoSlice).items.map(Number)).toString('base64')}"`);
      return;
    case 'array':
      out.push('[');
      (v as GoValue[]).forEach((e, k) => {
        if (k) out.push(',');
        write(out, e, t.elem);
      });
      out.push(']');
      return;
    case 'map': {
      if (v === null) {
        out.push('null');
        return;
      }
      const m = v as GoMap;
      out.push('{');
      [...m.keys()].sort(compareBytes).forEach((k, n) => {
        if (n) out.push(',');
        out.push(quote(k), ':');
        write(out, m.get(k)!, t.elem);
      });
      out.push('}');
      return;
    }
    case 'struct': {
      const s = v as GoStruct;
      out.push('{');
      let first = true;
      for (const f of flatten(t).fields) {
        const fv = fieldValue(s, f);
        if (fv === undefined || (f.omitempty && isEmpty(fv, f.type))) continue;
        if (!first) out.push(',');
        first = false;
        out.push(quote(f.name), ':');
        write(out, fv, f.type);
      }
      out.push('}');
      return;
    }
    case 'any':
      writeAny(out, v as AnyValue);
      return;
  }
}

function writeAny(out: string[], v: AnyValue): void {
  if (v === null) out.push('null');
  else if (typeof v === 'boolean') out.push(String(v));
  else if (typeof v === 'number') out.push(formatFloat(v));
  else if (typeof v === 'string') out.push(quote(v));
  else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((e, k) => {
      if (k) out.push(',');
      writeAny(out, e);
    });
    out.push(']');
  } else {
    out.push('{');
    [...v.keys()].sort(compareBytes).forEach((k, n) => {
      if (n) out.push(',');
      out.push(quote(k), ':');
      writeAny(out, v.get(k)!);
    });
    out.push('}');
  }
}

/** Go's omitempty: false, 0, "", nil pointer or interface, and empty slice, map or array. */
function isEmpty(v: GoValue, t: GoType): boolean {
  switch (t.kind) {
    case 'bool':
      return v === false;
    case 'string':
      return v === '';
    case 'int':
      return v === 0n;
    case 'float':
      return v === 0;
    case 'ptr':
    case 'any':
      return v === null;
    case 'slice':
    case 'strslice':
    case 'bytes':
      return v === null || (v as GoSlice).len === 0;
    case 'map':
      return v === null || (v as GoMap).size === 0;
    case 'array':
      return t.len === 0;
    case 'struct':
      return false;
  }
}

/** Go sorts map keys by their UTF-8 bytes; for well-formed strings that is code point order. */
function compareBytes(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return Buffer.compare(x, y);
}

// eslint-disable-next-line no-control-regex -- control characters are what Go escapes
const NEEDS_ESCAPE = /[\x00-\x1f"\\<>&\u2028\u2029]/;

/** Go's encodeState.string with HTML escaping on (json.Marshal's default). */
function quote(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  let start = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    let esc: string | undefined;
    if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = '\\\\';
    else if (c === 0x0a) esc = '\\n';
    else if (c === 0x0d) esc = '\\r';
    else if (c === 0x09) esc = '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) esc = `\\u${c.toString(16).padStart(4, '0')}`;
    if (esc) {
      out += s.slice(start, k) + esc;
      start = k + 1;
    }
  }
  return `${out}${s.slice(start)}"`;
}

/** Go's float64 encoding: shortest representation, exponent form below 1e-6 and from 1e21 (`1e-7`, `1e+21`). */
function formatFloat(n: number): string {
  const abs = Math.abs(n);
  if (Object.is(n, -0)) return '-0';
  return abs !== 0 && (abs < 1e-6 || abs >= 1e21) ? n.toExponential() : String(n);
}
