/**
 * Request bodies of a tenant: the owner label stamped into what it creates, its names scoped,
 * and every object the body names (another container's namespaces, volumes, links, networks)
 * resolved among the tenant's own and replaced by its full id, so dockerd uses exactly the
 * object that was checked. Works on canonical bodies (api/bodies/canonical.ts): Go's field names.
 */
import { decode } from '../api/gojson/decode.js';
import { foldKey } from '../api/gojson/fold.js';
import { encode } from '../api/gojson/encode.js';
import { any, bool, field, string, struct } from '../api/gojson/types.js';
import type { OwnershipCache } from './cache.js';
import { OwnershipRefusal, stampLabels } from './label.js';
import { daemonName, invalidName } from './names.js';
import { resolveOwned } from './resolve.js';

type Body = Record<string, unknown>;

/** Networks every tenant may use by name: dockerd's own, which nobody creates. */
const SHARED_NETWORKS = new Set(['default', 'bridge', 'host', 'none']);

export function isSharedNetwork(ref: string): boolean {
  return SHARED_NETWORKS.has(ref);
}

/**
 * An object a body names that the tenant does not have: dockerd's wording, but 400, not 404: the
 * docker CLI takes a 404 on create for a missing image and would go and pull it.
 */
async function inBody(resolving: Promise<string>): Promise<string> {
  try {
    return await resolving;
  } catch (e) {
    if (e instanceof OwnershipRefusal && e.status === 404) throw new OwnershipRefusal(400, e.code, e.message);
    throw e;
  }
}

function containerRef(cache: OwnershipCache, owner: string, ref: string): Promise<string> {
  return inBody(resolveOwned(cache, 'container', owner, ref));
}

/** `container:X` (network, pid, ipc, cgroup modes) with X resolved; other modes as they are. */
async function modeRef(cache: OwnershipCache, owner: string, mode: unknown): Promise<unknown> {
  if (typeof mode !== 'string' || !mode.startsWith('container:')) return mode;
  return `container:${await containerRef(cache, owner, mode.slice('container:'.length))}`;
}

async function networkRef(cache: OwnershipCache, owner: string, ref: string): Promise<string> {
  return isSharedNetwork(ref) ? ref : inBody(resolveOwned(cache, 'network', owner, ref));
}

/** A network mode (containers, builds): `container:X`, dockerd's own networks, or a network of the tenant's. */
export async function networkMode(cache: OwnershipCache, owner: string, mode: unknown): Promise<unknown> {
  if (typeof mode !== 'string' || mode === '' || mode.startsWith('container:')) return modeRef(cache, owner, mode);
  return networkRef(cache, owner, mode);
}

/** A named volume of the tenant's; one that does not exist yet is created with its label (dockerd would create it unlabelled). */
async function volumeRef(cache: OwnershipCache, owner: string, name: string): Promise<string> {
  try {
    return await resolveOwned(cache, 'volume', owner, name);
  } catch (e) {
    const scoped = daemonName(owner, name);
    const invalid = invalidName('volume', name);
    if (invalid) throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', invalid);
    // Taken by an object that is not the tenant's (the admin's, unlabelled): as if it did not exist.
    if (cache.volumes.has(scoped)) throw e;
    await cache.createVolume(scoped, owner);
    return scoped;
  }
}

/** Links `container[:alias]`, the container resolved among the tenant's own; the alias defaults to the name as given, or the link would be called by the id. */
function linkRefs(cache: OwnershipCache, owner: string, links: unknown[]): Promise<string[]> {
  return Promise.all(
    links.map(async (l) => {
      const [name, alias] = String(l).split(':', 2) as [string, string | undefined];
      return `${await containerRef(cache, owner, name.replace(/^\//, ''))}:${alias ?? name.replace(/^\//, '')}`;
    }),
  );
}

/**
 * An endpoint (`EndpointSettings`) of a create or connect body, made to name only the tenant's
 * own: its links resolved like `HostConfig.Links`, and its `NetworkID` dropped, since dockerd
 * attaches the endpoint to the network `NetworkID` names (an id, name or prefix of anyone's) rather
 * than to the user-defined network it is filed under (moby's getNetworkID); without it, dockerd
 * uses the network the gateway resolved. A connect body's endpoint is passed on as the client wrote
 * it, so every key Go's decoder would take for a field (any case, ſ, the Kelvin sign) is handled.
 */
async function ownEndpoint(cache: OwnershipCache, owner: string, endpoint: unknown): Promise<void> {
  if (typeof endpoint !== 'object' || endpoint === null || Array.isArray(endpoint)) return;
  const ep = endpoint as Body;
  for (const key of Object.keys(ep)) {
    const field = foldKey(key);
    if (field === 'NETWORKID') delete ep[key];
    else if (field === 'LINKS' && Array.isArray(ep[key])) ep[key] = await linkRefs(cache, owner, ep[key] as unknown[]);
  }
}

/** `name:/path[:mode]` binds: a source that is not an absolute path is a named volume. */
async function bindRef(cache: OwnershipCache, owner: string, bind: string): Promise<string> {
  const colon = bind.indexOf(':');
  if (colon <= 0 || bind.startsWith('/')) return bind;
  return `${await volumeRef(cache, owner, bind.slice(0, colon))}${bind.slice(colon)}`;
}

export async function containerCreateBody(cache: OwnershipCache, owner: string, body: Body): Promise<Body> {
  stampLabels(body, owner);
  const hc = body.HostConfig as Body | null | undefined;
  if (hc) {
    for (const key of ['PidMode', 'IpcMode', 'Cgroup'] as const) hc[key] = await modeRef(cache, owner, hc[key]);
    hc.NetworkMode = await networkMode(cache, owner, hc.NetworkMode);
    if (Array.isArray(hc.VolumesFrom)) {
      hc.VolumesFrom = await Promise.all(
        (hc.VolumesFrom as string[]).map(async (v) => {
          const colon = v.lastIndexOf(':');
          const [ref, rest] = colon > 0 && /^:(ro|rw)$/.test(v.slice(colon)) ? [v.slice(0, colon), v.slice(colon)] : [v, ''];
          return `${await containerRef(cache, owner, ref)}${rest}`;
        }),
      );
    }
    if (Array.isArray(hc.Links)) hc.Links = await linkRefs(cache, owner, hc.Links);
    if (Array.isArray(hc.Binds)) hc.Binds = await Promise.all((hc.Binds as string[]).map((b) => bindRef(cache, owner, b)));
    if (Array.isArray(hc.Mounts)) {
      for (const m of hc.Mounts as Body[]) {
        if (m.Type === 'volume' && typeof m.Source === 'string' && m.Source !== '') m.Source = await volumeRef(cache, owner, m.Source);
      }
    }
  }
  const nc = body.NetworkingConfig as Body | null | undefined;
  const endpoints = nc?.EndpointsConfig as Body | null | undefined;
  if (nc && endpoints) {
    const out: Body = {};
    for (const [name, conf] of Object.entries(endpoints)) {
      await ownEndpoint(cache, owner, conf);
      out[await networkRef(cache, owner, name)] = conf;
    }
    nc.EndpointsConfig = out;
  }
  return body;
}

export function networkCreateBody(owner: string, body: Body): Body {
  stampLabels(body, owner);
  if (typeof body.Name === 'string' && body.Name !== '') body.Name = daemonName(owner, body.Name);
  return body;
}

export function volumeCreateBody(owner: string, body: Body): Body {
  stampLabels(body, owner);
  if (typeof body.Name === 'string' && body.Name !== '') {
    const invalid = invalidName('volume', body.Name);
    if (invalid) throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', invalid);
    body.Name = daemonName(owner, body.Name);
  }
  return body;
}

/**
 * moby's types.NetworkConnect / NetworkDisconnect (api/types/network), merged: the gateway only
 * reads `Container`; EndpointConfig is passed on as decoded (dockerd decodes it itself).
 */
const NETWORK_CONNECT = struct('network.ConnectOptions', [
  field('Container', string),
  field('EndpointConfig', any, { omitempty: true }),
  field('Force', bool, { omitempty: true }),
]);

/** Connect and disconnect bodies: the container resolved among the tenant's own. */
export async function networkConnectBody(cache: OwnershipCache, owner: string, raw: Buffer): Promise<Buffer> {
  let d;
  try {
    d = decode(raw.length ? raw : Buffer.from('{}'), NETWORK_CONNECT);
  } catch (e) {
    throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', `dockward: the body does not decode: ${(e as Error).message}`);
  }
  if (d.unknownCount > 0 || d.rest !== 'end') throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', `dockward: the body has ${d.unknownCount ? `an unknown field ${d.unknown[0]}` : 'data after the JSON value'}`);
  const body = JSON.parse(encode(d.value, NETWORK_CONNECT)) as Body;
  body.Container = await containerRef(cache, owner, String(body.Container ?? ''));
  await ownEndpoint(cache, owner, body.EndpointConfig);
  return Buffer.from(JSON.stringify(body));
}
