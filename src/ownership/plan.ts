/**
 * What the gateway does with one request of a `scope: own` identity, by route: which object the
 * route parameter means (resolved among the tenant's own, forwarded by full id), how the query
 * and body change (names scoped, owner label stamped and filtered on, references resolved), and
 * how the answer is shown. Routes of kinds ownership does not cover (swarm, plugins, secrets,
 * checkpoints, BuildKit sessions, prunes of shared images) are refused: nobody could tell whose
 * such an object is.
 */
import type { OwnershipCache } from './cache.js';
import { ownerFilters, OwnershipRefusal, parseFilters, type Filters } from './label.js';
import { daemonName, invalidName } from './names.js';
import { resolveExec, resolveOwned } from './resolve.js';
import { containerCreateBody, isSharedNetwork, networkConnectBody, networkCreateBody, networkMode, volumeCreateBody } from './references.js';
import * as answers from './answers.js';
import { namesWritten, refuseOthersNames, stampImage } from './images.js';
import { checkLoadArchive } from './load.js';

export type Answer = { kind: 'json'; rewrite: (v: unknown) => unknown } | { kind: 'events' };

export interface Plan {
  /** Canonical target to forward (the route parameter replaced by the object's full id). */
  target: string;
  /**
   * The body to forward instead of the request's. `canonical`: the body is already the
   * gateway's canonical re-encoding (api/bodies); create bodies are only accepted so.
   */
  body?: (raw: Buffer, canonical: boolean) => Promise<Buffer>;
  /** How a 2xx answer is shown to the tenant. */
  answer?: Answer;
  /**
   * The request body is an archive checked whole before it is forwarded (`docker load`): the
   * gateway spools it to `file` and forwards it unchanged unless this throws a refusal.
   */
  archive?: (file: string) => Promise<void>;
}

export interface OwnedRequest {
  owner: string;
  /** `METHOD template`, e.g. `GET /containers/{id}/json`. */
  route: string;
  target: string;
  param?: string;
}

/** Shared objects (images, the daemon's facts) and routes that name nothing. */
const SHARED = new Set([
  'GET /_ping',
  'HEAD /_ping',
  'GET /version',
  'POST /auth',
  'GET /images/json',
  'GET /images/search',
  'GET /images/get',
]);

/** Routes that point an image name somewhere (or remove it), or make an image: images.ts. */
const IMAGE_WRITES = new Set(['POST /images/{name}/tag', 'DELETE /images/{name}', 'POST /images/create', 'POST /build', 'POST /commit']);

function split(target: string): { path: string; query: URLSearchParams } {
  const q = target.indexOf('?');
  return q === -1 ? { path: target, query: new URLSearchParams() } : { path: target.slice(0, q), query: new URLSearchParams(target.slice(q + 1)) };
}

function join(path: string, query: URLSearchParams): string {
  const q = query.toString();
  return q ? `${path}?${q}` : path;
}

/** The target with the route parameter replaced: `/v1.41/containers/web/json` -> `/v1.41/containers/<id>/json`. */
function withParam(route: string, target: string, value: string): string {
  const { path, query } = split(target);
  const version = /^\/v[0-9.]+(?=\/)/.exec(path)?.[0] ?? '';
  const template = route.slice(route.indexOf(' ') + 1);
  return join(version + template.replace(/\{\w+\}/, encodeURIComponent(value)), query);
}

/** dockerd reads one value per parameter: the first (Go's url.Values.Get). */
function setOnly(query: URLSearchParams, key: string, value: string): void {
  query.delete(key);
  query.set(key, value);
}

function ownFilters(target: string, owner: string, scopeNames = false): string {
  const { path, query } = split(target);
  setOnly(query, 'filters', JSON.stringify(scopedFilters(query, owner, scopeNames)));
  return join(path, query);
}

function scopedFilters(query: URLSearchParams, owner: string, scopeNames: boolean): Filters {
  const filters = ownerFilters(parseFilters(query.get('filters')), owner);
  // A name filter is a pattern (Go regexp) on the daemon's names: an anchored one gets the prefix,
  // its dot escaped (tenant names have no other special character), after its anchor.
  if (scopeNames && filters.name) {
    filters.name = Object.fromEntries(Object.entries(filters.name).map(([n, on]) => [n.startsWith('^') ? `^${owner}\\.${n.slice(1).replace(/^\//, '')}` : n, on]));
  }
  return filters;
}

/**
 * The container list: besides the owner's filters, `since` and `before` name a container that
 * dockerd looks up (id, name or prefix; every value, whatever its boolean) and answers 404 for
 * when it has none, so they are resolved among the tenant's own: anyone else's would be
 * confirmed by a 200. `network` (a name, or an id prefix) and `volume` (a name, or a path) match
 * the daemon's names, so the tenant's own network's id and daemon name and volume's daemon name
 * are added to the values, which dockerd ORs.
 */
async function containerListTarget(cache: OwnershipCache, target: string, owner: string): Promise<string> {
  const { path, query } = split(target);
  const filters = scopedFilters(query, owner, true);
  for (const key of ['since', 'before']) {
    const refs = filters[key];
    if (refs) filters[key] = Object.fromEntries(await Promise.all(Object.entries(refs).map(async ([ref, on]) => [await resolveOwned(cache, 'container', owner, ref), on] as const)));
  }
  const networks = filters.network;
  if (networks) {
    for (const ref of Object.keys(networks)) {
      const id = await resolveOwned(cache, 'network', owner, ref).catch(() => undefined);
      if (!id) continue;
      networks[id] = true;
      // A container not started yet knows its network by name only.
      networks[cache.networks.get(id)!.name] = true;
    }
  }
  const volumes = filters.volume;
  if (volumes) for (const ref of Object.keys(volumes)) if (!ref.startsWith('/')) volumes[daemonName(owner, ref)] = true;
  setOnly(query, 'filters', JSON.stringify(filters));
  return join(path, query);
}

function json<T>(raw: Buffer): T {
  return JSON.parse(raw.toString('utf8')) as T;
}

const out = (v: unknown) => Buffer.from(JSON.stringify(v));

function created(cache: OwnershipCache, owner: string, kind: 'container' | 'network', name: string | undefined): Answer {
  return {
    kind: 'json',
    rewrite: (v) => {
      const id = (v as { Id?: unknown }).Id;
      if (typeof id === 'string') cache.note(kind, id, { owner, name: name ?? '' });
      return v;
    },
  };
}

/** A create body, changed by `make`; only the gateway's canonical form is accepted. */
function checkedBody(route: string, make: (body: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>>): NonNullable<Plan['body']> {
  return async (raw, canonical) => {
    // Fails closed: a body nobody decoded as dockerd does cannot be stamped reliably.
    if (!canonical) throw new OwnershipRefusal(403, 'DW_OWNER_SCOPE', `dockward: ${route} needs its body checked for scope: own, and this identity's role does not check bodies`);
    return out(await make(json(raw)));
  };
}

export async function planRequest(cache: OwnershipCache, r: OwnedRequest): Promise<Plan> {
  const { owner, route, target, param } = r;
  if (IMAGE_WRITES.has(route)) {
    const { path, query } = split(target);
    await refuseOthersNames(cache, owner, namesWritten(route, query, param));
    stampImage(route, query, owner);
    if (route === 'POST /build') {
      // A build runs in a network: another tenant's, or another tenant's container's, is not the tenant's to use.
      const mode = query.get('networkmode');
      if (mode) setOnly(query, 'networkmode', String(await networkMode(cache, owner, mode)));
    }
    if (route === 'POST /commit') {
      const ref = query.get('container');
      if (ref) setOnly(query, 'container', await resolveOwned(cache, 'container', owner, ref));
    }
    return { target: join(path, query) };
  }
  if (route === 'POST /images/load') return { target, archive: (file) => checkLoadArchive(cache, owner, file) };
  if (route === 'GET /images/{name}/json') return { target, answer: { kind: 'json', rewrite: (v) => answers.image(v, owner) } };
  if (SHARED.has(route) || route.includes(' /images/{name}') || route.startsWith('GET /distribution/')) return { target };
  switch (route) {
    case 'GET /containers/json':
      return { target: await containerListTarget(cache, target, owner), answer: { kind: 'json', rewrite: (v) => answers.list(answers.container)(v, owner) } };
    case 'POST /containers/create': {
      const { path, query } = split(target);
      const name = query.get('name');
      let daemon: string | undefined;
      if (name) {
        const invalid = invalidName('container', name);
        if (invalid) throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', invalid);
        daemon = daemonName(owner, name.replace(/^\//, ''));
        setOnly(query, 'name', daemon);
      }
      return {
        target: join(path, query),
        body: checkedBody(route, (b) => containerCreateBody(cache, owner, b)),
        answer: created(cache, owner, 'container', daemon),
      };
    }
    case 'POST /containers/prune':
    case 'POST /networks/prune':
    case 'POST /volumes/prune':
      return { target: ownFilters(target, owner) };
    case 'GET /networks':
    case 'GET /networks/':
      return { target: ownFilters(target, owner, true), answer: { kind: 'json', rewrite: (v) => answers.list(answers.network)(v, owner) } };
    case 'POST /networks/create':
      return {
        target,
        body: checkedBody(route, (b) => networkCreateBody(owner, b)),
        answer: created(cache, owner, 'network', undefined),
      };
    case 'GET /volumes':
      return { target: ownFilters(target, owner, true), answer: { kind: 'json', rewrite: (v) => answers.volumeList(v, owner) } };
    case 'POST /volumes/create':
      return {
        target,
        body: checkedBody(route, (b) => volumeCreateBody(owner, b)),
        answer: {
          kind: 'json',
          rewrite: (v) => {
            const name = (v as { Name?: unknown }).Name;
            if (typeof name === 'string') cache.note('volume', name, { owner, name });
            return answers.volume(v, owner);
          },
        },
      };
    case 'GET /events': {
      const { path, query } = split(target);
      const filters = parseFilters(query.get('filters'));
      // Filtered as the answer streams; a filter on the owner label is refused all the same.
      ownerFilters(filters, owner);
      // dockerd matches these against the daemon's names (and ids): the tenant's own daemon names are added to the values, which it ORs.
      for (const key of ['container', 'network', 'volume']) for (const name of Object.keys(filters[key] ?? {})) filters[key]![daemonName(owner, name)] = true;
      if (Object.keys(filters).length) setOnly(query, 'filters', JSON.stringify(filters));
      return { target: join(path, query), answer: { kind: 'events' } };
    }
    case 'GET /info': {
      // The daemon's facts are shared, its container counts are not: another tenant's containers
      // would show there. Counted as dockerd counts them, over the tenant's own.
      const counts = await cache.containerCounts(owner);
      return { target, answer: { kind: 'json', rewrite: (v) => answers.info(v, counts) } };
    }
    case 'GET /system/df':
      return { target, answer: { kind: 'json', rewrite: (v) => answers.diskUsage(v, owner) } };
  }
  if (param !== undefined && /^[A-Z]+ \/containers\/\{id\}(\/(?!checkpoints)|$)/.test(route)) {
    const id = await resolveOwned(cache, 'container', owner, param);
    const plan: Plan = { target: withParam(route, target, id) };
    if (route === 'GET /containers/{id}/json') plan.answer = { kind: 'json', rewrite: (v) => answers.container(v, owner) };
    if (route === 'POST /containers/{id}/exec') {
      plan.answer = {
        kind: 'json',
        rewrite: (v) => {
          const execId = (v as { Id?: unknown }).Id;
          if (typeof execId === 'string') cache.noteExec(execId, owner);
          return v;
        },
      };
    }
    if (route === 'POST /containers/{id}/rename') {
      const { path, query } = split(plan.target);
      const name = query.get('name') ?? '';
      const invalid = invalidName('container', name);
      if (invalid) throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', invalid);
      setOnly(query, 'name', daemonName(owner, name.replace(/^\//, '')));
      plan.target = join(path, query);
    }
    return plan;
  }
  if (param !== undefined && route.includes(' /exec/{id}')) return { target: withParam(route, target, await resolveExec(cache, owner, param)) };
  if (param !== undefined && /^[A-Z]+ \/networks\/\{id\}/.test(route)) {
    const attach = route.endsWith('/connect') || route.endsWith('/disconnect');
    // dockerd's own networks are anyone's to join and leave by name, as in a create body; not to
    // inspect (that lists everyone's containers on them) or remove.
    const network = attach && isSharedNetwork(param) ? param : await resolveOwned(cache, 'network', owner, param);
    const plan: Plan = { target: withParam(route, target, network) };
    if (route === 'GET /networks/{id}') plan.answer = { kind: 'json', rewrite: (v) => answers.network(v, owner) };
    if (attach) plan.body = (raw) => networkConnectBody(cache, owner, raw);
    return plan;
  }
  if (param !== undefined && /^[A-Z]+ \/volumes\/\{name\}/.test(route)) {
    const plan: Plan = { target: withParam(route, target, await resolveOwned(cache, 'volume', owner, param)) };
    if (route === 'GET /volumes/{name}') plan.answer = { kind: 'json', rewrite: (v) => answers.volume(v, owner) };
    return plan;
  }
  throw new OwnershipRefusal(403, 'DW_OWNER_SCOPE', `dockward: ${route} is refused under scope: own (ownership does not cover what it acts on)`);
}
