/** The routes whose query parameters (or route parameter) change what they do, and which check reads them. */
export type QueryKind = 'build' | 'image-create' | 'service-update' | 'plugin-privileges' | 'image-registry' | 'image-search' | 'container-start';

export const QUERY_ROUTES: ReadonlyMap<string, QueryKind> = new Map<string, QueryKind>([
  ['POST /build', 'build'],
  ['POST /images/create', 'image-create'],
  // `rollback=previous` runs the service's previous spec instead of the body the gateway checked.
  ['POST /services/{id}/update', 'service-update'],
  // The daemon fetches the plugin's config from the registry `remote` names.
  ['GET /plugins/privileges', 'plugin-privileges'],
  // The daemon contacts the registry the image name in the path names (the route parameter).
  ['POST /images/{name}/push', 'image-registry'],
  ['GET /distribution/{name}/json', 'image-registry'],
  // The daemon searches the registry `term` names.
  ['GET /images/search', 'image-search'],
  // `checkpoint` restores the container from a checkpoint directory (experimental dockerd).
  ['POST /containers/{id}/start', 'container-start'],
]);

/** BuildKit's own API (HTTP/2 after an upgrade): nothing in it can be checked by an HTTP gateway. */
export const BUILDKIT_ROUTES: ReadonlySet<string> = new Set(['POST /session', 'POST /grpc']);

/** Where the docker CLI learns which builder to use. */
export const PING_ROUTES: ReadonlySet<string> = new Set(['GET /_ping', 'HEAD /_ping']);

const CHECKPOINTS = 'checkpoints name host directories the daemon writes and deletes';
const PLUGINS = 'a plugin runs as root with the privileges, host mounts and devices it asks for, which the gateway does not hold to container rules';

/**
 * Routes no constrained role is granted, whatever its allow list says, with the reason: what they
 * do reaches past anything the gateway can check. Checkpoints (experimental dockerd) take a host
 * directory (`dir`, CheckpointDir); joining a swarm hands this node to that swarm's managers,
 * which then run any container on it; installing, upgrading or configuring a plugin gives it whatever
 * it asks for.
 */
export const UNCONSTRAINABLE_ROUTES: ReadonlyMap<string, string> = new Map([
  ['GET /containers/{id}/checkpoints', CHECKPOINTS],
  ['POST /containers/{id}/checkpoints', CHECKPOINTS],
  ['DELETE /containers/{id}/checkpoints/{checkpoint}', CHECKPOINTS],
  ['POST /swarm/join', "joining a swarm lets that swarm's managers run any container on this node"],
  ['POST /plugins/pull', PLUGINS],
  ['POST /plugins/{name}/upgrade', PLUGINS],
  ['POST /plugins/create', PLUGINS],
  ['POST /plugins/{name}/set', PLUGINS],
]);
