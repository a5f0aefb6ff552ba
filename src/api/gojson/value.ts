import { flatten } from './fields.js';
import type { FlatField, GoType, StructType } from './types.js';

/**
 * A decoded Go value, interpreted through its GoType:
 * bool → boolean, string → string, int → bigint (int64 is exact), float → number,
 * ptr → null (nil) or the pointee, slice and strslice → null (nil) or GoSlice, array → GoValue[],
 * map → null (nil) or Map, struct → GoStruct, interface{} → JSON-like (objects as Map, numbers as number).
 */
export type GoValue = boolean | string | bigint | number | null | GoSlice | GoValue[] | GoMap | GoStruct | AnyValue[];
export type GoMap = Map<string, GoValue>;
export type AnyValue = null | boolean | number | string | AnyValue[] | Map<string, AnyValue>;

/**
 * A Go slice with its backing array: `encoding/json` decodes a repeated array key into the
 * elements already there, also those past the length (its `MergeWithLegacySemantics`), so
 * `[{…a…},{…b…}]` then `[{…}]` then `[{…},{…}]` merges the last element into b.
 */
export class GoSlice {
  constructor(
    public backing: GoValue[],
    public len: number,
  ) {}
  get items(): GoValue[] {
    return this.backing.slice(0, this.len);
  }
}

export class GoStruct {
  constructor(
    readonly type: StructType,
    /** Indexed like type.fields; an embedded pointer is null while nil. */
    readonly fields: GoValue[],
  ) {}
}

export function zero(t: GoType): GoValue {
  switch (t.kind) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'int':
      return 0n;
    case 'float':
      return 0;
    case 'array':
      return Array.from({ length: t.len }, () => zero(t.elem));
    case 'struct':
      return new GoStruct(
        t,
        t.fields.map((f) => zero(f.type)),
      );
    default:
      return null;
  }
}

/** The value of a flattened field, or undefined when an embedded pointer on its way is nil. */
export function fieldValue(s: GoStruct, f: FlatField): GoValue | undefined {
  let cur: GoValue = s;
  for (const i of f.path) {
    if (cur === null) return undefined;
    cur = (cur as GoStruct).fields[i]!;
  }
  return cur;
}

/**
 * Reads a value by its JSON names, dot-separated (`HostConfig.Privileged`, `Config.Cmd`),
 * through pointers, struct fields and string-keyed maps: undefined when something on the way is
 * nil or absent. For tests and policy checks that want one field of a decoded body.
 */
export function lookup(v: GoValue, t: GoType, path: string[]): { value: GoValue; type: GoType } | undefined {
  let cur = v;
  let type = t;
  for (const seg of path) {
    if (type.kind === 'ptr') {
      if (cur === null) return undefined;
      type = type.elem;
    }
    if (type.kind === 'struct') {
      const f = flatten(type).byName.get(seg);
      if (!f) return undefined;
      const fv = fieldValue(cur as GoStruct, f);
      if (fv === undefined) return undefined;
      cur = fv;
      type = f.type;
    } else if (type.kind === 'map') {
      if (cur === null || !(cur as GoMap).has(seg)) return undefined;
      cur = (cur as GoMap).get(seg)!;
      type = type.elem;
    } else return undefined;
  }
  return { value: cur, type };
}
