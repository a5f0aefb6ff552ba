import { foldKey } from './fold.js';
import type { FlatField, FlatStruct, GoType, StructType } from './types.js';

const cache = new WeakMap<StructType, FlatStruct>();

/**
 * The JSON names of a struct after embedded structs are flattened, by Go's rules
 * (encoding/json typeFields, unchanged in json/v2's v1 emulation): breadth-first through
 * embedded structs, a type visited once; of several fields with one name the shallowest wins,
 * at equal depth the only tagged one, otherwise the name is dropped altogether.
 */
export function flatten(t: StructType): FlatStruct {
  let flat = cache.get(t);
  if (!flat) {
    flat = build(t);
    cache.set(t, flat);
  }
  return flat;
}

interface Candidate extends FlatField {
  tagged: boolean;
}

function build(root: StructType): FlatStruct {
  const found: Candidate[] = [];
  const visited = new Set<StructType>();
  let next: { type: StructType; path: number[] }[] = [{ type: root, path: [] }];
  let nextCount = new Map<StructType, number>();
  while (next.length) {
    const current = next;
    const count = nextCount;
    next = [];
    nextCount = new Map();
    for (const { type, path } of current) {
      if (visited.has(type)) continue;
      visited.add(type);
      type.fields.forEach((f, i) => {
        const index = [...path, i];
        const target: GoType = f.type.kind === 'ptr' ? f.type.elem : f.type;
        if (!f.embedded || target.kind !== 'struct') {
          const c: Candidate = { name: f.tagName ?? f.goName, path: index, type: f.type, omitempty: f.omitempty, tagged: f.tagName !== undefined };
          found.push(c);
          // The same struct embedded twice at one depth: its fields annihilate each other.
          if ((count.get(type) ?? 0) > 1) found.push({ ...c });
          return;
        }
        const n = (nextCount.get(target) ?? 0) + 1;
        nextCount.set(target, n);
        if (n === 1) next.push({ type: target, path: index });
      });
    }
  }
  const byNameAll = new Map<string, Candidate[]>();
  for (const c of found) byNameAll.set(c.name, [...(byNameAll.get(c.name) ?? []), c]);
  const fields: FlatField[] = [];
  for (const group of byNameAll.values()) {
    group.sort((a, b) => a.path.length - b.path.length || Number(b.tagged) - Number(a.tagged) || comparePaths(a.path, b.path));
    const [first, second] = group;
    if (second && first!.path.length === second.path.length && first!.tagged === second.tagged) continue;
    const { tagged: _tagged, ...f } = first!;
    fields.push(f);
  }
  fields.sort((a, b) => comparePaths(a.path, b.path));
  const byName = new Map(fields.map((f) => [f.name, f]));
  const byFolded = new Map<string, FlatField[]>();
  for (const f of fields) {
    const k = foldKey(f.name)!;
    byFolded.set(k, [...(byFolded.get(k) ?? []), f]);
  }
  return { fields, byName, byFolded };
}

function comparePaths(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
