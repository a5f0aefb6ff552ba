/**
 * Go type descriptions: the shape `encoding/json` decodes a body into, so the gateway can decode
 * it the way dockerd does. A description mirrors a Go type closely enough to reproduce Go's
 * field matching (embedded structs flattened, tags, name conflicts) and its merge semantics.
 */

export type GoType =
  | { kind: 'bool' }
  | { kind: 'string' }
  | { kind: 'int'; bits: 8 | 16 | 32 | 64; signed: boolean }
  | { kind: 'float'; bits: 32 | 64 }
  | { kind: 'ptr'; elem: GoType }
  | { kind: 'slice'; elem: GoType }
  | { kind: 'array'; len: number; elem: GoType }
  | { kind: 'map'; elem: GoType }
  | StructType
  /** interface{}: numbers become float64, objects map[string]interface{}. */
  | { kind: 'any' }
  /** moby's strslice.StrSlice: its UnmarshalJSON takes a string or an array of strings. */
  | { kind: 'strslice' }
  /** []byte: a base64 string in JSON (an array of numbers decodes too). */
  | { kind: 'bytes' };

export interface StructType {
  kind: 'struct';
  /** The Go type, package-qualified (`container.HostConfig`), for messages. */
  name: string;
  fields: GoField[];
}

export interface GoField {
  /** The Go field name (for embedded fields, the type's name). */
  goName: string;
  /** The name from the json tag; undefined when the tag gives none. */
  tagName?: string;
  omitempty: boolean;
  /** An anonymous (embedded) field without a tag name: its fields are promoted. */
  embedded: boolean;
  type: GoType;
}

export const bool: GoType = { kind: 'bool' };
export const string: GoType = { kind: 'string' };
export const int: GoType = { kind: 'int', bits: 64, signed: true };
export const int64 = int;
export const int32: GoType = { kind: 'int', bits: 32, signed: true };
export const uint: GoType = { kind: 'int', bits: 64, signed: false };
export const uint64 = uint;
export const uint32: GoType = { kind: 'int', bits: 32, signed: false };
export const uint16: GoType = { kind: 'int', bits: 16, signed: false };
export const uint8: GoType = { kind: 'int', bits: 8, signed: false };
export const float64: GoType = { kind: 'float', bits: 64 };
export const float32: GoType = { kind: 'float', bits: 32 };
export const any: GoType = { kind: 'any' };
export const strslice: GoType = { kind: 'strslice' };
export const bytes: GoType = { kind: 'bytes' };

/** Kinds whose Go zero value is nil: a pointer to one would need a second level of nil. */
const NILLABLE = new Set<GoType['kind']>(['ptr', 'slice', 'map', 'any', 'strslice', 'bytes']);

export function ptr(elem: GoType): GoType {
  if (NILLABLE.has(elem.kind)) throw new Error(`gojson: a pointer to a ${elem.kind} is not supported`);
  return { kind: 'ptr', elem };
}
export const slice = (elem: GoType): GoType => ({ kind: 'slice', elem });
export const array = (len: number, elem: GoType): GoType => ({ kind: 'array', len, elem });
/** map[K]V with a string-kinded K (Go also allows integer keys; no body here needs them). */
export const map = (elem: GoType): GoType => ({ kind: 'map', elem });

export function struct(name: string, fields: GoField[]): StructType {
  for (const f of fields) {
    if (!/^[\x20-\x7e]*$/.test(f.tagName ?? f.goName)) {
      // Field matching (fold.ts) relies on field names being ASCII.
      throw new Error(`gojson: ${name}.${f.goName} has a non-ASCII JSON name`);
    }
  }
  return { kind: 'struct', name, fields };
}

/** A field as Go's json tag gives it: `field('Privileged', bool)`, `field('CPUShares', int64, { tag: 'CpuShares' })`. */
export function field(goName: string, type: GoType, opts: { tag?: string; omitempty?: boolean } = {}): GoField {
  return { goName, tagName: opts.tag, omitempty: opts.omitempty ?? false, embedded: false, type };
}

/** An embedded struct (or pointer to one) without a json tag name: its fields are promoted. */
export function embed(type: GoType): GoField {
  const target = type.kind === 'ptr' ? type.elem : type;
  if (target.kind !== 'struct') throw new Error('gojson: only structs can be embedded');
  return { goName: target.name.replace(/^.*\./, ''), omitempty: false, embedded: true, type };
}

/** A JSON name of a struct after Go's flattening of embedded structs (encoding/json typeFields). */
export interface FlatField {
  name: string;
  /** Field indexes from the outer struct down through embedded structs to this field. */
  path: number[];
  type: GoType;
  omitempty: boolean;
}

export interface FlatStruct {
  fields: FlatField[];
  byName: Map<string, FlatField>;
  /** Fields by folded name (fold.ts); more than one entry means a key could match several. */
  byFolded: Map<string, FlatField[]>;
}
