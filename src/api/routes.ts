/**
 * The Docker Engine API route table of dockerd 20.10, in dockerd's own registration order.
 *
 * Source: the routes dockerd 20.10.24 logs ("Registering METHOD, PATH") when started with
 * --debug, cross-checked against moby's api/server/router/* files. dockerd registers every route
 * twice, as `/v{version}/PATH` and as `PATH`; the debug routes only unversioned.
 *
 * Parameter syntax (gorilla/mux, which dockerd uses): `{id*}` is `.*` (greedy, may contain `/`
 * and be empty: image names like `localhost:5000/a/b` live there), `{id+}` is `.+`, `{id}` is one
 * non-empty segment. The template a policy names drops the marker: `/containers/{id}/json`.
 * Parameter names are normalised (moby says `{name}` for container ids in some routes, `{id}`
 * in others) so a policy author has one spelling per resource kind.
 *
 * Routes not in dockerd 20.10 (added by newer daemons) are unknown here, so they are refused
 * (404) rather than guessed at. OPTIONS (dockerd's CORS preflight for any path) is left out: no
 * Docker client sends it.
 */

const DEFS = [
  // container router (checkpoint routes are registered first)
  'GET /containers/{id*}/checkpoints',
  'POST /containers/{id*}/checkpoints',
  'DELETE /containers/{id}/checkpoints/{checkpoint}',
  'HEAD /containers/{id*}/archive',
  'GET /containers/json',
  'GET /containers/{id*}/export',
  'GET /containers/{id*}/changes',
  'GET /containers/{id*}/json',
  'GET /containers/{id*}/top',
  'GET /containers/{id*}/logs',
  'GET /containers/{id*}/stats',
  'GET /containers/{id*}/attach/ws',
  'GET /exec/{id*}/json',
  'GET /containers/{id*}/archive',
  'POST /containers/create',
  'POST /containers/{id*}/kill',
  'POST /containers/{id*}/pause',
  'POST /containers/{id*}/unpause',
  'POST /containers/{id*}/restart',
  'POST /containers/{id*}/start',
  'POST /containers/{id*}/stop',
  'POST /containers/{id*}/wait',
  'POST /containers/{id*}/resize',
  'POST /containers/{id*}/attach',
  'POST /containers/{id*}/copy',
  'POST /containers/{id*}/exec',
  'POST /exec/{id*}/start',
  'POST /exec/{id*}/resize',
  'POST /containers/{id*}/rename',
  'POST /containers/{id*}/update',
  'POST /containers/prune',
  'POST /commit',
  'PUT /containers/{id*}/archive',
  'DELETE /containers/{id*}',
  // image router
  'GET /images/json',
  'GET /images/search',
  'GET /images/get',
  'GET /images/{name*}/get',
  'GET /images/{name*}/history',
  'GET /images/{name*}/json',
  'POST /images/load',
  'POST /images/create',
  'POST /images/{name*}/push',
  'POST /images/{name*}/tag',
  'POST /images/prune',
  'DELETE /images/{name*}',
  // system router
  'GET /_ping',
  'HEAD /_ping',
  'GET /events',
  'GET /info',
  'GET /version',
  'GET /system/df',
  'POST /auth',
  // volume router
  'GET /volumes',
  'GET /volumes/{name*}',
  'POST /volumes/create',
  'POST /volumes/prune',
  'DELETE /volumes/{name*}',
  // build, session (BuildKit), swarm
  'POST /build',
  'POST /build/prune',
  'POST /build/cancel',
  'POST /session',
  'POST /swarm/init',
  'POST /swarm/join',
  'POST /swarm/leave',
  'GET /swarm',
  'GET /swarm/unlockkey',
  'POST /swarm/update',
  'POST /swarm/unlock',
  'GET /services',
  'GET /services/{id}',
  'POST /services/create',
  'POST /services/{id}/update',
  'DELETE /services/{id}',
  'GET /services/{id}/logs',
  'GET /nodes',
  'GET /nodes/{id}',
  'DELETE /nodes/{id}',
  'POST /nodes/{id}/update',
  'GET /tasks',
  'GET /tasks/{id}',
  'GET /tasks/{id}/logs',
  'GET /secrets',
  'POST /secrets/create',
  'DELETE /secrets/{id}',
  'GET /secrets/{id}',
  'POST /secrets/{id}/update',
  'GET /configs',
  'POST /configs/create',
  'DELETE /configs/{id}',
  'GET /configs/{id}',
  'POST /configs/{id}/update',
  // plugin, distribution, grpc (BuildKit), network
  'GET /plugins',
  'GET /plugins/{name*}/json',
  'GET /plugins/privileges',
  'DELETE /plugins/{name*}',
  'POST /plugins/{name*}/enable',
  'POST /plugins/{name*}/disable',
  'POST /plugins/pull',
  'POST /plugins/{name*}/push',
  'POST /plugins/{name*}/upgrade',
  'POST /plugins/{name*}/set',
  'POST /plugins/create',
  'GET /distribution/{name*}/json',
  'POST /grpc',
  'GET /networks',
  'GET /networks/',
  'GET /networks/{id+}',
  'POST /networks/create',
  'POST /networks/{id*}/connect',
  'POST /networks/{id*}/disconnect',
  'POST /networks/prune',
  'DELETE /networks/{id*}',
  // dockerd's debug router: unversioned only, and dockerd accepts any method there; GET and
  // POST (pprof/symbol) are what its handlers use, other methods are refused here.
  'GET /debug/vars',
  'GET /debug/pprof/',
  'GET /debug/pprof/{name}',
  'POST /debug/pprof/{name}',
] as const;

const UNVERSIONED_ONLY_PREFIX = '/debug/';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'] as const;

/** How a route's path is matched: exact, one parameter between a prefix and a suffix, or segments. */
type Matcher =
  | { kind: 'exact' }
  | { kind: 'affix'; prefix: string; suffix: string; minParam: 0 | 1; oneSegment: boolean }
  | { kind: 'segments'; re: RegExp };

export interface Route {
  /** Position in the table; policies precompile decisions into arrays indexed by it. */
  readonly index: number;
  readonly method: string;
  /** The template a policy names, e.g. `/containers/{id}/json`. */
  readonly template: string;
  /** The template with its parameter kinds, e.g. `/containers/{id*}/json`. */
  readonly pattern: string;
  /** `METHOD template`, e.g. `GET /containers/{id}/json`: what audit logs and messages show. */
  readonly name: string;
  readonly unversionedOnly: boolean;
  readonly matcher: Matcher;
}

function compile(def: string, index: number): Route {
  const [method, pattern] = def.split(' ') as [string, string];
  const template = pattern.replace(/\{(\w+)[*+]?\}/g, '{$1}');
  const params = [...pattern.matchAll(/\{(\w+)([*+]?)\}/g)];
  let matcher: Matcher;
  if (params.length === 0) {
    matcher = { kind: 'exact' };
  } else if (params.length === 1) {
    const p = params[0]!;
    matcher = {
      kind: 'affix',
      prefix: pattern.slice(0, p.index),
      suffix: pattern.slice(p.index + p[0].length),
      minParam: p[2] === '*' ? 0 : 1,
      oneSegment: p[2] === '',
    };
  } else {
    // Only segment parameters ({x} = [^/]+) occur here, so the expression cannot backtrack.
    if (params.some((p) => p[2] !== '')) throw new Error(`route ${def}: several greedy parameters`);
    const source = pattern.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '([^/]+)');
    matcher = { kind: 'segments', re: new RegExp(`^${source}$`) };
  }
  return {
    index,
    method,
    template,
    pattern,
    name: `${method} ${template}`,
    unversionedOnly: pattern.startsWith(UNVERSIONED_ONLY_PREFIX),
    matcher,
  };
}

export const ROUTES: readonly Route[] = DEFS.map(compile);

/** Routes by `METHOD template`. */
export const ROUTES_BY_NAME: ReadonlyMap<string, Route> = new Map(ROUTES.map((r) => [r.name, r]));

/** Routes by template (all methods). */
export const ROUTES_BY_TEMPLATE: ReadonlyMap<string, readonly Route[]> = (() => {
  const m = new Map<string, Route[]>();
  for (const r of ROUTES) m.set(r.template, [...(m.get(r.template) ?? []), r]);
  return m;
})();

// Candidates by first path segment ("containers", "_ping", ...), in registration order, because
// dockerd (gorilla/mux) takes the first registered route whose path and method both match.
const BY_FIRST_SEGMENT: ReadonlyMap<string, readonly Route[]> = (() => {
  const m = new Map<string, Route[]>();
  for (const r of ROUTES) {
    const key = firstSegment(r.template.replace(/\{\w+\}.*$/, ''));
    m.set(key, [...(m.get(key) ?? []), r]);
  }
  return m;
})();

function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end === -1 ? path.slice(1) : path.slice(1, end);
}

function pathMatches(r: Route, path: string): boolean {
  const m = r.matcher;
  switch (m.kind) {
    case 'exact':
      return path === r.template;
    case 'affix': {
      const paramLen = path.length - m.prefix.length - m.suffix.length;
      if (paramLen < m.minParam || !path.startsWith(m.prefix) || !path.endsWith(m.suffix)) return false;
      if (!m.oneSegment) return true;
      const slash = path.indexOf('/', m.prefix.length);
      return slash === -1 || slash >= m.prefix.length + paramLen;
    }
    case 'segments':
      return m.re.test(path);
  }
}

export type RouteMatch =
  | { kind: 'route'; route: Route }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'not-found' };

const NOT_FOUND: RouteMatch = Object.freeze({ kind: 'not-found' });
// Preallocated so the hot path returns without allocating.
const ROUTE_MATCHES: readonly RouteMatch[] = ROUTES.map((route) => Object.freeze({ kind: 'route', route }));

/**
 * Which route dockerd would run for `method` on the decoded, unversioned `path` (as produced by
 * parseTarget), mirroring gorilla/mux: the first registered route matching path and method.
 */
export function matchRoute(method: string, path: string, versioned: boolean): RouteMatch {
  const candidates = BY_FIRST_SEGMENT.get(firstSegment(path));
  if (!candidates) return NOT_FOUND;
  let pathKnown = false;
  for (const r of candidates) {
    if (versioned && r.unversionedOnly) continue;
    if (!pathMatches(r, path)) continue;
    if (r.method === method) return ROUTE_MATCHES[r.index]!;
    pathKnown = true;
  }
  if (!pathKnown) return NOT_FOUND;
  const allowed = candidates.filter((r) => !(versioned && r.unversionedOnly) && pathMatches(r, path)).map((r) => r.method);
  return { kind: 'method-not-allowed', allowed: [...new Set(allowed)] };
}

/** The decoded value of a route's first parameter (container id, image name, ...), if it has one. */
export function routeParam(route: Route, path: string): string | undefined {
  const m = route.matcher;
  if (m.kind === 'affix') return path.slice(m.prefix.length, path.length - m.suffix.length);
  if (m.kind === 'segments') return m.re.exec(path)?.[1];
  return undefined;
}
