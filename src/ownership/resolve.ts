/**
 * A reference a tenant sends (full id, name, unique id prefix; for volumes a name) resolved to
 * the one object it means among the tenant's own, in dockerd's order (full id, then name, then
 * prefix). What is not the tenant's does not exist for it: the answer is dockerd's own "not
 * found" wording, never a refusal that would confirm the object.
 */
import type { Kind, OwnershipCache, Owned } from './cache.js';
import { OwnershipRefusal } from './label.js';
import { daemonName } from './names.js';

export function notFound(kind: Kind | 'exec', ref: string): OwnershipRefusal {
  const message =
    kind === 'container' ? `No such container: ${ref}` : kind === 'network' ? `network ${ref} not found` : kind === 'volume' ? `get ${ref}: no such volume` : `No such exec instance: ${ref}`;
  return new OwnershipRefusal(404, 'DW_OWNER_NOT_FOUND', message);
}

function find(map: Map<string, Owned>, owner: string, ref: string, byPrefix: boolean): string | undefined | 'ambiguous' {
  const own = (id: string) => map.get(id)?.owner === owner;
  if (own(ref)) return ref;
  const scoped = daemonName(owner, ref);
  let plain: string | undefined;
  for (const [id, o] of map) {
    if (o.owner !== owner) continue;
    if (o.name === scoped) return id;
    // A name dockerd made up (a container created without one) carries no prefix.
    if (o.name === ref) plain = id;
  }
  if (plain || !byPrefix || ref === '') return plain;
  let match: string | undefined;
  for (const [id, o] of map) {
    if (o.owner !== owner || !id.startsWith(ref)) continue;
    if (match) return 'ambiguous';
    match = id;
  }
  return match;
}

/** The full id (a volume's daemon name) of the tenant's object `ref`; throws a not-found refusal. */
export async function resolveOwned(cache: OwnershipCache, kind: Kind, owner: string, ref: string): Promise<string> {
  await cache.whenReady();
  const byPrefix = kind !== 'volume';
  let found = find(cache.mapOf(kind), owner, ref, byPrefix);
  if (found === undefined) {
    // Perhaps created a moment ago, its event not read yet.
    await cache.relistAfterMiss(kind);
    found = find(cache.mapOf(kind), owner, ref, byPrefix);
  }
  if (found === 'ambiguous') return Promise.reject(new OwnershipRefusal(404, 'DW_OWNER_NOT_FOUND', `multiple IDs found with provided prefix: ${ref}`));
  if (found === undefined) return Promise.reject(notFound(kind, ref));
  return found;
}

export async function resolveExec(cache: OwnershipCache, owner: string, id: string): Promise<string> {
  const e = await cache.execOwner(id);
  if (!e.found || e.owner !== owner) throw notFound('exec', id);
  return id;
}
