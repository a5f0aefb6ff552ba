/**
 * The Docker Engine API route table, API 1.24 to 1.55, in dockerd's registration order, with the
 * API version that added each route and, where dockerd dropped it, the version that removed it.
 *
 * Sources: the routes dockerd 20.10.24 and 28.5.2 log ("Registering ...") when started with
 * --debug (test/api/dockerd-routing.test.ts compares them with this table), moby's
 * api/server/router/* (daemon/server/router/* since 29.0) at every release tag from 20.10 to
 * 29.7, and the API documents api/docs/v1.24.md to v1.54.yaml for when a route was added.
 *
 * Which routes dockerd serves depends on dockerd's own version, not on the version a request
 * names: dockerd 28.5 (API 1.51) runs `PUT /v1.41/volumes/{name}` (added in 1.42) like any other
 * request, and dockerd 20.10 (1.41) has no such route (404). So a table is taken for one daemon
 * (`routeTable(version)`); a daemon from 29.0 on answers a request below a route's `since` with
 * 400 itself (moby's WithMinimumAPIVersion), which the gateway forwards as dockerd's answer.
 *
 * dockerd registers every route twice, as `/v{version}/PATH` and as `PATH`, except its debug
 * routes: until 27.x (API 1.47) they are unversioned only and answer any method; from 28.0 (1.48)
 * they are ordinary GET routes.
 *
 * Parameter syntax (gorilla/mux, which dockerd uses): `{id*}` is `.*` (greedy, may contain `/`
 * and be empty: image names like `localhost:5000/a/b` live there), `{id+}` is `.+`, `{id}` is one
 * non-empty segment. The template a policy names drops the marker: `/containers/{id}/json`.
 * Parameter names are normalised (moby says `{name}` for container ids in some routes, `{id}`
 * in others) so a policy author has one spelling per resource kind.
 *
 * Routes this table does not know (added by daemons newer than 1.55) are refused (404) rather than
 * guessed at. OPTIONS (dockerd's CORS preflight for any path) is left out: no Docker client sends it.
 */

import { apiVersionNumber, MIN_API_VERSION } from './versions.js';

/** When a route exists: `since` the API version that added it, `until` the one that removed it. */
interface Life {
  since?: string;
  until?: string;
  /** Debug routes: unversioned only on daemons older than this API version. */
  versionedSince?: string;
}

type Def = string | readonly [string, Life];

/** Debug routes became ordinary (versioned, GET only) routes in dockerd 28.0 (moby 2f5412de, 9c1ff095). */
const DEBUG: Life = { versionedSince: '1.48' };

// Versions above 1.24 are moby's own per-route minimums (WithMinimumAPIVersion, dockerd 29.0+) or
// else the first API document that lists the route; the rest are in API 1.24 or undocumented.
const DEFS: readonly Def[] = [
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
  // Refused by its handler from API 1.24 on; the route itself went in dockerd 26.0 (moby b3a0ff99).
  ['POST /containers/{id*}/copy', { until: '1.45' }],
  'POST /containers/{id*}/exec',
  'POST /exec/{id*}/start',
  'POST /exec/{id*}/resize',
  'POST /containers/{id*}/rename',
  'POST /containers/{id*}/update',
  ['POST /containers/prune', { since: '1.25' }],
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
  ['GET /images/{name*}/attestations', { since: '1.55' }],
  'POST /images/load',
  'POST /images/create',
  'POST /images/{name*}/push',
  'POST /images/{name*}/tag',
  ['POST /images/prune', { since: '1.25' }],
  'DELETE /images/{name*}',
  // system router
  'GET /_ping',
  ['HEAD /_ping', { since: '1.40' }],
  'GET /events',
  'GET /info',
  'GET /version',
  ['GET /system/df', { since: '1.25' }],
  'POST /auth',
  // volume router
  'GET /volumes',
  'GET /volumes/{name*}',
  'POST /volumes/create',
  ['POST /volumes/prune', { since: '1.25' }],
  ['PUT /volumes/{name*}', { since: '1.42' }],
  'DELETE /volumes/{name*}',
  // build, session (BuildKit), swarm
  'POST /build',
  ['POST /build/prune', { since: '1.31' }],
  'POST /build/cancel',
  ['POST /session', { since: '1.31' }],
  'POST /swarm/init',
  'POST /swarm/join',
  'POST /swarm/leave',
  'GET /swarm',
  ['GET /swarm/unlockkey', { since: '1.25' }],
  'POST /swarm/update',
  ['POST /swarm/unlock', { since: '1.25' }],
  'GET /services',
  'GET /services/{id}',
  'POST /services/create',
  'POST /services/{id}/update',
  'DELETE /services/{id}',
  ['GET /services/{id}/logs', { since: '1.25' }],
  'GET /nodes',
  'GET /nodes/{id}',
  'DELETE /nodes/{id}',
  'POST /nodes/{id}/update',
  'GET /tasks',
  'GET /tasks/{id}',
  ['GET /tasks/{id}/logs', { since: '1.29' }],
  ['GET /secrets', { since: '1.25' }],
  ['POST /secrets/create', { since: '1.25' }],
  ['DELETE /secrets/{id}', { since: '1.25' }],
  ['GET /secrets/{id}', { since: '1.25' }],
  ['POST /secrets/{id}/update', { since: '1.25' }],
  ['GET /configs', { since: '1.30' }],
  ['POST /configs/create', { since: '1.30' }],
  ['DELETE /configs/{id}', { since: '1.30' }],
  ['GET /configs/{id}', { since: '1.30' }],
  ['POST /configs/{id}/update', { since: '1.30' }],
  // plugin, distribution, network
  'GET /plugins',
  'GET /plugins/{name*}/json',
  ['GET /plugins/privileges', { since: '1.25' }],
  'DELETE /plugins/{name*}',
  'POST /plugins/{name*}/enable',
  'POST /plugins/{name*}/disable',
  'POST /plugins/pull',
  ['POST /plugins/{name*}/push', { since: '1.25' }],
  ['POST /plugins/{name*}/upgrade', { since: '1.26' }],
  ['POST /plugins/{name*}/set', { since: '1.25' }],
  ['POST /plugins/create', { since: '1.25' }],
  ['GET /distribution/{name*}/json', { since: '1.30' }],
  'GET /networks',
  'GET /networks/',
  'GET /networks/{id+}',
  'POST /networks/create',
  'POST /networks/{id*}/connect',
  'POST /networks/{id*}/disconnect',
  ['POST /networks/prune', { since: '1.25' }],
  'DELETE /networks/{id*}',
  // dockerd's debug router. Before 28.0 it answers any method; GET and POST (pprof/symbol) are
  // what its handlers use, other methods are refused here.
  ['GET /debug/vars', DEBUG],
  ['GET /debug/pprof/', DEBUG],
  ['GET /debug/pprof/cmdline', DEBUG],
  ['GET /debug/pprof/profile', DEBUG],
  ['GET /debug/pprof/symbol', DEBUG],
  ['GET /debug/pprof/trace', DEBUG],
  ['GET /debug/pprof/{name}', DEBUG],
  ['POST /debug/pprof/{name}', { ...DEBUG, until: '1.48' }],
  // grpc (BuildKit): registered after the others since dockerd 28.0, between distribution and
  // network before; no path is shared, so the order does not change what matches.
  'POST /grpc',
];

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
  /** The API version that added the route (apiVersionNumber). */
  readonly since: number;
  /** The API version whose dockerd no longer has it, if one does. */
  readonly until: number | undefined;
  /** dockerd older than this serves the route unversioned only (0: always both). */
  readonly versionedSince: number;
  readonly matcher: Matcher;
}

function compile(def: Def, index: number): Route {
  const [text, life] = typeof def === 'string' ? [def, {} as Life] : def;
  const [method, pattern] = text.split(' ') as [string, string];
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
    if (params.some((p) => p[2] !== '')) throw new Error(`route ${text}: several greedy parameters`);
    const source = pattern.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '([^/]+)');
    matcher = { kind: 'segments', re: new RegExp(`^${source}$`) };
  }
  return {
    index,
    method,
    template,
    pattern,
    name: `${method} ${template}`,
    since: apiVersionNumber(life.since ?? MIN_API_VERSION),
    until: life.until === undefined ? undefined : apiVersionNumber(life.until),
    versionedSince: life.versionedSince === undefined ? 0 : apiVersionNumber(life.versionedSince),
    matcher,
  };
}

/** Every route of every API version the table knows, in registration order. */
export const ROUTES: readonly Route[] = DEFS.map(compile);

/** The newest API version whose routes the table knows. */
export const ROUTES_KNOWN_THROUGH = '1.55';

/** Routes by `METHOD template`. */
export const ROUTES_BY_NAME: ReadonlyMap<string, Route> = new Map(ROUTES.map((r) => [r.name, r]));

/** Routes by template (all methods). */
export const ROUTES_BY_TEMPLATE: ReadonlyMap<string, readonly Route[]> = groupBy(ROUTES, (r) => r.template);

function groupBy(routes: readonly Route[], key: (r: Route) => string): Map<string, Route[]> {
  const m = new Map<string, Route[]>();
  for (const r of routes) {
    const k = key(r);
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  }
  return m;
}

/** Whether dockerd speaking API `daemon` (apiVersionNumber) has `route`. */
export function routeExists(route: Route, daemon: number): boolean {
  return route.since <= daemon && (route.until === undefined || daemon < route.until);
}

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

/** The routes of one dockerd, by the API version it speaks. */
export interface RouteTable {
  /** The daemon's API version (apiVersionNumber). */
  readonly daemon: number;
  /** The routes it has, in registration order. */
  readonly routes: readonly Route[];
  /**
   * Which route dockerd would run for `method` on the decoded, unversioned `path` (as produced
   * by parseTarget), mirroring gorilla/mux: the first registered route matching path and method.
   */
  match(method: string, path: string, versioned: boolean): RouteMatch;
}

function buildTable(daemon: number): RouteTable {
  const routes = ROUTES.filter((r) => routeExists(r, daemon));
  // Candidates by first path segment ("containers", "_ping", ...), in registration order, since
  // dockerd (gorilla/mux) takes the first registered route whose path and method both match.
  const segmentOf = (r: Route) => firstSegment(r.template.replace(/\{\w+\}.*$/, ''));
  const unversioned = groupBy(routes, segmentOf);
  const versioned = groupBy(
    routes.filter((r) => daemon >= r.versionedSince),
    segmentOf,
  );
  const match = (method: string, path: string, isVersioned: boolean): RouteMatch => {
    const candidates = (isVersioned ? versioned : unversioned).get(firstSegment(path));
    if (!candidates) return NOT_FOUND;
    let pathKnown = false;
    for (const r of candidates) {
      if (!pathMatches(r, path)) continue;
      if (r.method === method) return ROUTE_MATCHES[r.index]!;
      pathKnown = true;
    }
    if (!pathKnown) return NOT_FOUND;
    const allowed = candidates.filter((r) => pathMatches(r, path)).map((r) => r.method);
    return { kind: 'method-not-allowed', allowed: [...new Set(allowed)] };
  };
  return { daemon, routes, match };
}

const TABLES = new Map<number, RouteTable>();

/** The route table of dockerd speaking API `daemonVersion` (apiVersionNumber). */
export function routeTable(daemonVersion: number): RouteTable {
  let t = TABLES.get(daemonVersion);
  if (!t) TABLES.set(daemonVersion, (t = buildTable(daemonVersion)));
  return t;
}

export function routeParam(route: Route, path: string): string | undefined {
  const m = route.matcher;
  if (m.kind === 'affix') return path.slice(m.prefix.length, path.length - m.suffix.length);
  if (m.kind === 'segments') return m.re.exec(path)?.[1];
  return undefined;
}
