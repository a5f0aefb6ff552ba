/**
 * Query parameters that change what a request does, read as dockerd reads them: Go's
 * `r.FormValue` (the first value of an exact key, `+` as space, percent-decoded) and
 * `httputils.Int64ValueOrZero` (an integer or else 0). Form-encoded bodies, which dockerd would let
 * override the query, never get this far (screen refuses them).
 *
 * `POST /build` (build.ImageBuildOptions, api/server/router/build): builds run containers, so its
 * network mode, cgroup parent and limits are judged by the role's container rules; a remote
 * context is a URL the daemon fetches for the caller; `version=2` is a BuildKit build, which
 * needs /session. `POST /images/create` (image_routes.go postImagesCreate): `fromImage` names
 * the registry dockerd pulls from, `fromSrc` a URL it fetches.
 */
import { decode, GoJsonError } from '../../api/gojson/decode.js';
import { field, int64, ptr, slice, string, struct } from '../../api/gojson/types.js';
import { GoSlice, GoStruct } from '../../api/gojson/value.js';
import { refuse, type BodyRefusal } from './plain.js';
import type { RoleRules } from './rules.js';

/** go-units Ulimit, as `POST /build?ulimits=` is decoded (json.Unmarshal into []*units.Ulimit). */
const ULIMITS = slice(ptr(struct('units.Ulimit', [field('Name', string), field('Hard', int64), field('Soft', int64)])));

/** httputils.Int64ValueOrZero: strconv.ParseInt(v, 10, 64), 0 when that fails. */
function int64OrZero(v: string | null): bigint {
  if (v === null || !/^[+-]?[0-9]+$/.test(v)) return 0n;
  const n = BigInt(v);
  return n > 0x7fffffffffffffffn || n < -0x8000000000000000n ? 0n : n;
}

/**
 * A URL dockerd fetches for the caller lies within a granted one: same scheme, host and port, and
 * its path at or below the grant's, on a segment boundary. No userinfo and no backslash, where
 * Go's and a WHATWG parser could disagree on the host (`http://site@127.0.0.1/` is loopback).
 */
export function urlWithin(url: string, grant: string): boolean {
  if (/[@\\\s]/.test(url)) return false;
  let u: URL;
  let g: URL;
  try {
    u = new URL(url);
    g = new URL(grant);
  } catch {
    return false;
  }
  if (u.protocol !== g.protocol || u.host !== g.host) return false;
  const base = g.pathname.endsWith('/') ? g.pathname : `${g.pathname}/`;
  return u.pathname === g.pathname || u.pathname.startsWith(base);
}

function fetchAllowed(url: string, grants: readonly string[]): boolean {
  return grants.some((g) => urlWithin(url, g));
}

/**
 * The build's forward target with the role's memory default enforced. The classic builder gives
 * its RUN steps' containers `memory` as their limit, and the CLI sends 0 without `-m`, which is
 * none: as for a container created without a limit, `defaults.memory` or else `maxMemory` is set.
 */
export function buildTargetWithDefaults(target: string, rules: RoleRules): string {
  const c = rules.containers;
  const memory = c.defaults.memory ?? c.maxMemory;
  const at = target.indexOf('?');
  const query = at === -1 ? '' : target.slice(at + 1);
  if (memory === undefined || int64OrZero(new URLSearchParams(query).get('memory')) > 0n) return target;
  // Every `memory` pair goes, however its key is escaped, and the one dockerd reads is ours.
  const kept = query.split('&').filter((pair) => pair !== '' && new URLSearchParams(pair).keys().next().value !== 'memory');
  return `${at === -1 ? target : target.slice(0, at)}?${[...kept, `memory=${memory}`].join('&')}`;
}

export function checkBuildQuery(q: URLSearchParams, rules: RoleRules): BodyRefusal | undefined {
  const c = rules.containers;
  if (q.get('version') === '2' && !rules.buildkit) {
    return refuse('DW_BODY_BUILDKIT', 'version', 'BuildKit builds are not allowed for this role (set DOCKER_BUILDKIT=0 to use the classic builder, whose parameters the gateway checks)');
  }
  const remote = q.get('remote') ?? '';
  if (remote !== '' && !fetchAllowed(remote, rules.buildRemotes)) {
    return refuse('DW_BODY_FETCH', 'remote', `a build context fetched by the daemon from ${JSON.stringify(remote.slice(0, 200))} is not allowed for this role`);
  }
  const network = q.get('networkmode') ?? '';
  if (network === 'host' && !c.hostNamespaces.has('network')) return refuse('DW_BODY_NAMESPACE', 'networkmode', "building with the host's network is not allowed for this role");
  if (network.startsWith('container:') && !c.shareNamespaces) return refuse('DW_BODY_NAMESPACE', 'networkmode', "building in another container's network is not allowed for this role");
  if ((q.get('cgroupparent') ?? '') !== '' && !c.cgroupParent) return refuse('DW_BODY_CGROUP_PARENT', 'cgroupparent', 'a cgroup parent is not allowed for this role');
  const memory = int64OrZero(q.get('memory'));
  if (c.maxMemory !== undefined && memory > BigInt(c.maxMemory)) return refuse('DW_BODY_LIMIT', 'memory', `memory ${memory} is above the role's bound of ${c.maxMemory} bytes`);
  const shm = int64OrZero(q.get('shmsize'));
  if (c.maxShmSize !== undefined && shm > BigInt(c.maxShmSize)) return refuse('DW_BODY_LIMIT', 'shmsize', `shm size ${shm} is above the role's bound of ${c.maxShmSize} bytes`);
  const ulimits = q.get('ulimits') ?? '';
  if (ulimits !== '') {
    let value;
    try {
      value = decode(Buffer.from(ulimits), ULIMITS).value;
    } catch (e) {
      if (e instanceof GoJsonError) return refuse('DW_BODY_INVALID', 'ulimits', `ulimits: ${e.message}`);
      throw e;
    }
    for (const u of value instanceof GoSlice ? value.items : []) {
      if (!(u instanceof GoStruct)) continue;
      const [name, hard, soft] = u.fields as [string, bigint, bigint];
      const max = c.maxUlimits.get(name);
      if (max === undefined || hard > BigInt(max) || soft > BigInt(max) || hard < 0n || soft < 0n) {
        return refuse('DW_BODY_ULIMIT', 'ulimits', `ulimit ${JSON.stringify(name)} ${max === undefined ? 'is not allowed' : `above ${max} is not allowed`} for this role`);
      }
    }
  }
  return undefined;
}

/**
 * The registry host of an image reference as distribution/reference's splitDockerDomain splits it:
 * the part before the first `/` when it has a `.` or `:`, is `localhost`, or has an upper-case
 * letter (a repository path cannot), else Docker Hub.
 */
export function registryOf(ref: string): string {
  const slash = ref.indexOf('/');
  const first = slash === -1 ? '' : ref.slice(0, slash);
  const domain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost' || first.toLowerCase() !== first);
  return domain ? first.toLowerCase() : 'docker.io';
}

/**
 * A registry the role may make dockerd contact. The host's own loopback and link-local addresses
 * only when a pattern names them (not through "*"): a tenant must not reach the host's services.
 */
export function registryAllowed(host: string, rules: RoleRules): boolean {
  const name = host.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  const local = name === 'localhost' || name.endsWith('.localhost') || name === '::1' || name === '0.0.0.0' || /^127\./.test(name) || /^169\.254\./.test(name) || /^fe80:/i.test(name);
  return local ? rules.registryNamed(host) : rules.registry(host);
}

export function checkImageCreateQuery(q: URLSearchParams, rules: RoleRules): BodyRefusal | undefined {
  const src = q.get('fromSrc') ?? '';
  // "-" is an upload in the request body: nothing is fetched.
  if (src !== '' && src !== '-' && !fetchAllowed(src, rules.importURLs)) {
    return refuse('DW_BODY_FETCH', 'fromSrc', `an image imported by the daemon from ${JSON.stringify(src.slice(0, 200))} is not allowed for this role`);
  }
  const image = q.get('fromImage') ?? '';
  if (src === '' && image !== '' && !registryAllowed(registryOf(image), rules)) {
    return refuse('DW_BODY_REGISTRY', 'fromImage', `pulling from registry ${registryOf(image)} is not allowed for this role`);
  }
  return undefined;
}

/**
 * An image name whose registry dockerd contacts: `POST /images/{name}/push` (where the image goes),
 * `GET /distribution/{name}/json` (whose manifest it fetches), `GET /images/search?term=` (which
 * index it searches: registry's splitReposSearchTerm, which registryOf only makes stricter by
 * taking an upper-case first component for a host).
 */
export function checkImageRegistry(field: 'name' | 'term', ref: string, rules: RoleRules): BodyRefusal | undefined {
  if (registryAllowed(registryOf(ref), rules)) return undefined;
  return refuse('DW_BODY_REGISTRY', field, `contacting registry ${registryOf(ref)} is not allowed for this role`);
}

/** `POST /auth`: the registry dockerd logs in to (serveraddress, Docker Hub when empty). */
export function checkAuth(body: Record<string, unknown>, rules: RoleRules): BodyRefusal | undefined {
  const address = typeof body.serveraddress === 'string' ? body.serveraddress : '';
  const host = address === '' ? 'docker.io' : address.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!.toLowerCase();
  if (registryAllowed(host, rules)) return undefined;
  return refuse('DW_BODY_REGISTRY', 'serveraddress', `logging in to registry ${JSON.stringify(host)} is not allowed for this role`);
}

/**
 * `POST /services/{id}/update?rollback=previous` (r.URL.Query().Get): dockerd runs the service's
 * previous spec, whoever wrote it, and ignores the body the gateway checked.
 */
export function checkServiceUpdateQuery(params: URLSearchParams): BodyRefusal | undefined {
  if (params.get('rollback') !== 'previous') return undefined;
  return refuse('DW_BODY_ROLLBACK', 'rollback', 'a rollback to the previous spec runs a spec the gateway did not check; send the spec to roll back to instead');
}

/**
 * `POST /containers/{id}/start?checkpoint=NAME` (r.Form.Get; experimental dockerd): dockerd joins
 * NAME, unchecked, to the container's checkpoint directory, so `../../…` names any host
 * directory, which it stats, copies into containerd's content store and has runc (CRIU) restore
 * the container from. Like the checkpoint routes, not for a constrained role; `checkpoint-dir`
 * too, though dockerd refuses a custom one on start.
 */
export function checkContainerStartQuery(params: URLSearchParams): BodyRefusal | undefined {
  for (const key of ['checkpoint', 'checkpoint-dir']) {
    if ((params.get(key) ?? '') !== '') return refuse('DW_BODY_CHECKPOINT', key, 'starting a container from a checkpoint reads a host directory; it is not allowed for this role');
  }
  return undefined;
}

/** `GET /plugins/privileges?remote=` (r.FormValue): the registry the daemon fetches a plugin's config from. */
export function checkPluginRemoteQuery(params: URLSearchParams, rules: RoleRules): BodyRefusal | undefined {
  const remote = params.get('remote') ?? '';
  if (registryAllowed(registryOf(remote), rules)) return undefined;
  return refuse('DW_BODY_REGISTRY', 'remote', `fetching a plugin from registry ${registryOf(remote)} is not allowed for this role`);
}
