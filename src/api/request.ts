/**
 * How one dockerd reads a request: the target canonicalized (target.ts), the API version checked
 * against what the gateway accepts for this daemon (versions.ts), the route found in the daemon's
 * own table (routes.ts). What the gateway checks is what it forwards.
 */
import { routeParam, routeTable, type Route, type RouteTable } from './routes.js';
import { parseTarget, type VersionLimits } from './target.js';
import { apiVersionNumber, formatVersion, NEWEST_API_VERSION } from './versions.js';

/** The Engine API of one dockerd as the gateway serves it. */
export interface EngineApi {
  readonly limits: VersionLimits;
  readonly routes: RouteTable;
  /**
   * Set when dockerd is newer than the gateway: the version the gateway forwards unversioned
   * requests at (dockerd would serve them at its own, which the gateway does not know) and
   * advertises in `Api-Version`, so clients negotiate down to it instead of failing.
   */
  readonly pinnedVersion: string | undefined;
}

/**
 * The API of dockerd speaking `daemonVersion`, served by a gateway whose newest API version is
 * `gatewayNewest` (NEWEST_API_VERSION; lower only to test a daemon newer than the gateway).
 */
export function engineApi(daemonVersion: string, gatewayNewest = NEWEST_API_VERSION): EngineApi {
  const daemon = apiVersionNumber(daemonVersion);
  const accepted = Math.min(daemon, apiVersionNumber(gatewayNewest));
  return {
    limits: { accepted, daemon },
    routes: routeTable(daemon),
    pinnedVersion: accepted < daemon ? formatVersion(accepted) : undefined,
  };
}

export type ReadRequest =
  | {
      ok: true;
      route: Route;
      /** Canonical path and query to send upstream (rebuilt, never the raw target). */
      forwardTarget: string;
      /** The decoded route parameter (container id or name, image name, ...), if the route has one. */
      param: string | undefined;
    }
  | { ok: false; status: 400 | 404 | 405; message: string };

/** The client's text for a message, bounded. */
export function bounded(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function shown(version: string | undefined, path: string): string {
  return bounded(version === undefined ? path : `/v${version}${path}`);
}

export function readRequest(api: EngineApi, method: string, rawTarget: string): ReadRequest {
  const parsed = parseTarget(rawTarget, api.limits);
  if (!parsed.ok) return { ok: false, status: 400, message: `dockward: bad request target: ${parsed.message}` };
  const { path, version } = parsed.target;
  const pinned = version === undefined ? api.pinnedVersion : undefined;
  const m = api.routes.match(method, path, version !== undefined || pinned !== undefined);
  if (m.kind === 'not-found') {
    return { ok: false, status: 404, message: `dockward: page not found: the Engine API has no route ${method} ${shown(version, path)}` };
  }
  if (m.kind === 'method-not-allowed') {
    return { ok: false, status: 405, message: `dockward: method ${method} is not allowed on ${shown(version, path)} (allowed: ${m.allowed.join(', ')})` };
  }
  const route = m.route;
  return {
    ok: true,
    route,
    forwardTarget: pinned === undefined ? parsed.target.forwardTarget : `/v${pinned}${parsed.target.forwardTarget}`,
    param: route.matcher.kind === 'exact' ? undefined : routeParam(route, path),
  };
}

/** The route a request names whatever its API version, for messages about who may not use it. */
export function routeNamed(api: EngineApi, method: string, rawTarget: string): Route | undefined {
  const parsed = parseTarget(rawTarget, { accepted: Number.MAX_SAFE_INTEGER, daemon: Number.MAX_SAFE_INTEGER });
  if (!parsed.ok) return undefined;
  const m = api.routes.match(method, parsed.target.path, parsed.target.version !== undefined);
  return m.kind === 'route' ? m.route : undefined;
}
