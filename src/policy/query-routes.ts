/** The routes whose query parameters change what they do, and which check reads them. */
export type QueryKind = 'build' | 'image-create';

export const QUERY_ROUTES: ReadonlyMap<string, QueryKind> = new Map<string, QueryKind>([
  ['POST /build', 'build'],
  ['POST /images/create', 'image-create'],
]);

/** BuildKit's own API (HTTP/2 after an upgrade): nothing in it can be checked by an HTTP gateway. */
export const BUILDKIT_ROUTES: ReadonlySet<string> = new Set(['POST /session', 'POST /grpc']);

/** Where the docker CLI learns which builder to use. */
export const PING_ROUTES: ReadonlySet<string> = new Set(['GET /_ping', 'HEAD /_ping']);

/**
 * Checkpoints (experimental dockerd): the client names a host directory to write them to, list
 * them from or delete them from (`dir`, CheckpointDir): not for a constrained role.
 */
export const CHECKPOINT_ROUTES: ReadonlySet<string> = new Set([
  'GET /containers/{id}/checkpoints',
  'POST /containers/{id}/checkpoints',
  'DELETE /containers/{id}/checkpoints/{checkpoint}',
]);
