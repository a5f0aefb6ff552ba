/**
 * A request body as the dockerd behind the gateway reads it, in canonical form: decoded with Go's
 * semantics (gojson), then re-encoded as Go marshals it and handed on as a plain object with Go's
 * canonical field names. Checks and enforced defaults work on that object, and its serialization
 * is what is forwarded, so dockerd runs exactly what was checked.
 *
 * Refused here (BodyError), because dockerd could read it differently or nobody can check it:
 * a body that does not decode, a field the daemon's struct does not have (Go would ignore it, a
 * newer client may mean something by it), anything after the JSON value, and integers a plain
 * number cannot hold exactly (beyond 2^53: no real limit or size needs them).
 */
import { decode, GoJsonError, type Decoded } from '../gojson/decode.js';
import { encode } from '../gojson/encode.js';
import { flatten } from '../gojson/fields.js';
import type { GoType } from '../gojson/types.js';
import type { GoStruct } from '../gojson/value.js';
import { decodeContainerCreate } from './container-create.js';
import { emptyBodyIsZero, knownDaemon, knownDaemonApis, type StructBodyKind } from './daemons.js';

export type BodyKind = 'container-create' | StructBodyKind;

/** The routes whose body decides what happens, by `METHOD template`. */
export const BODY_ROUTES: ReadonlyMap<string, BodyKind> = new Map<string, BodyKind>([
  ['POST /containers/create', 'container-create'],
  ['POST /containers/{id}/exec', 'exec-create'],
  ['POST /containers/{id}/update', 'container-update'],
  ['POST /volumes/create', 'volume-create'],
  ['POST /networks/create', 'network-create'],
  // The endpoint a container gets holds per-interface sysctls, as in a create's NetworkingConfig.
  ['POST /networks/{id}/connect', 'network-connect'],
  // A service's task is a container on some node: swarm.ServiceSpec, the same for both routes.
  ['POST /services/create', 'service-spec'],
  ['POST /services/{id}/update', 'service-spec'],
  // dockerd logs in to the registry the body names: a server it contacts for the caller.
  ['POST /auth', 'auth'],
]);

export type PlainBody = Record<string, unknown>;

export class BodyError extends Error {
  constructor(
    message: string,
    /** The JSON path of the offending value, '' for the body as a whole. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

function plain(v: unknown, t: GoType): unknown {
  return JSON.parse(encode(v as never, t), (_k, n: unknown) => {
    if (typeof n === 'number' && Number.isInteger(n) && !Number.isSafeInteger(n)) {
      throw new BodyError(`the integer ${n} is beyond what the gateway checks exactly (2^53)`, '');
    }
    return n;
  });
}

function refuseLeftovers(d: Decoded, daemonApi: string): void {
  if (d.unknownCount > 0) {
    const more = d.unknownCount > 1 ? ` (and ${d.unknownCount - 1} more)` : '';
    throw new BodyError(`unknown field ${d.unknown[0]}${more}: dockerd ${daemonApi}'s body has no such field, so the gateway cannot check what it means`, d.unknown[0]!);
  }
  if (d.rest !== 'end') throw new BodyError('data after the JSON body is refused', '');
}

function unknownDaemon(kind: BodyKind, daemonApi: string): BodyError {
  const route = [...BODY_ROUTES].find(([, k]) => k === kind)![0];
  return new BodyError(`the gateway has no model of the body of ${route} for dockerd API ${daemonApi} (it knows ${knownDaemonApis()}), so it cannot check it`, '');
}

/**
 * `container.CreateRequest` (28.5) / `runconfig.ContainerConfigWrapper` (20.10, 26.1) as one plain
 * object: the Config fields at the top, the HostConfig dockerd goes on with (the wrapper also
 * takes HostConfig fields from the top level) under `HostConfig`, and `NetworkingConfig`.
 */
function containerCreate(bytes: Uint8Array, daemonApi: string, maxBytes: number): PlainBody {
  if (!knownDaemon(daemonApi)) throw unknownDaemon('container-create', daemonApi);
  const c = decodeContainerCreate(bytes, daemonApi, { maxBytes });
  refuseLeftovers(c.decoded, daemonApi);
  const root = c.decoded.value as GoStruct;
  const flat = flatten(c.type);
  const configAt = c.type.fields.findIndex((f) => f.embedded && f.goName === 'Config');
  const out = (plain(root.fields[configAt], c.type.fields[configAt]!.type) ?? {}) as PlainBody;
  const hostConfig = flat.byName.get('HostConfig')!;
  if (c.hostConfig) out.HostConfig = plain(c.hostConfig, hostConfig.type);
  const net = flat.byName.get('NetworkingConfig')!;
  const netValue = root.fields[net.path[0]!];
  if (net.path.length === 1 && netValue) out.NetworkingConfig = plain(netValue, net.type);
  return out;
}

function structBody(kind: StructBodyKind, bytes: Uint8Array, daemonApi: string, maxBytes: number): PlainBody {
  const daemon = knownDaemon(daemonApi);
  if (!daemon) throw unknownDaemon(kind, daemonApi);
  const type = daemon.structs[kind];
  // Forwarded with its Content-Length, the zero value reads as dockerd reads nothing.
  const input = bytes.length === 0 && emptyBodyIsZero(daemon, kind) ? Buffer.from('{}') : bytes;
  const d = decode(input, type, { maxBytes });
  refuseLeftovers(d, daemonApi);
  return plain(d.value, type) as PlainBody;
}

/** The canonical body of a `kind` route for a daemon of API `daemonApi`; throws BodyError. */
export function canonicalBody(kind: BodyKind, bytes: Uint8Array, daemonApi: string, maxBytes = DEFAULT_MAX_BODY_BYTES): PlainBody {
  try {
    switch (kind) {
      case 'container-create':
        return containerCreate(bytes, daemonApi, maxBytes);
      default:
        return structBody(kind, bytes, daemonApi, maxBytes);
    }
  } catch (e) {
    if (e instanceof GoJsonError) throw new BodyError(e.message, e.path);
    throw e;
  }
}

/** Serialized for forwarding. */
export function serializeBody(body: PlainBody): Buffer {
  return Buffer.from(JSON.stringify(body));
}
