/**
 * The gateway's per-request decision: canonicalize the target, find the Engine API route, find the
 * policy identity, look up the precompiled decision. Runs on every proxied request, so everything
 * that depends only on (policy identity, route) is computed once when the policy is compiled.
 */
import { matchRoute, routeParam, type Route } from '../gateway/routes.js';
import type { BodyKind } from './body-routes.js';
import type { ContainerRules } from './constraints/rules.js';
import { apiVersionNumber, DEFAULT_MAX_API_VERSION, formatVersion, parseTarget } from '../gateway/target.js';

/** Who is asking, as established by the listener (verified client certificate or unix listener). */
export interface Identity {
  /** The certificate's CN, or a unix listener's fixed identity name. */
  name: string;
  /** Set exactly for certificate identities. */
  cn?: string;
  ou: string[];
  sans: string[];
  serial?: string;
  /** The listener's address, e.g. `tcp://127.0.0.1:2376`, `unix:///run/dockward/agent.sock`. */
  listener: string;
}

export type Verdict =
  | {
      kind: 'allow';
      /** `METHOD template`, e.g. `GET /containers/{id}/logs`. */
      route: string;
      /** Which policy entry allowed it, e.g. `role read-only: preset:read-only`. */
      rule: string;
      /** Canonical path and query to send upstream (rebuilt, never the raw target). */
      forwardTarget: string;
      /** Set when an audit-only role let through what the policy would deny. */
      auditOnly?: boolean;
      /** With auditOnly: the deny message the request would have got. */
      wouldDeny?: string;
      /** The decoded route parameter (container id or name, image name, ...), if the route has one. */
      param?: string;
      /** The policy identity that matched. */
      identity: string;
      /** Set when the body must be decoded and checked before anything is forwarded. */
      body?: BodyCheck;
    }
  | { kind: 'deny'; status: 403; route: string; rule: string; message: string }
  | { kind: 'bad'; status: 400 | 404 | 405; message: string };

export type DenyVerdict = Extract<Verdict, { kind: 'deny' }>;

/** How the body of an allowed request must be checked, and against whose rules. */
export interface BodyCheck {
  kind: BodyKind;
  rules: ContainerRules;
  /** The role whose constraints apply. */
  role: string;
  /** The identity has an audit-only role: a body that breaks the rules is recorded, not refused. */
  auditOnly: boolean;
}

/** What a policy identity may do with one route, computed when the policy is compiled. */
export type Decision =
  | { allow: true; rule: string; auditOnly: boolean; wouldDeny?: string; body?: BodyCheck }
  | { allow: false; verdict: DenyVerdict };

export interface PolicyIdentity {
  readonly name: string;
  /** The match as written, e.g. `cn=ci-*`, for listings. */
  readonly match: string;
  readonly roles: readonly string[];
  readonly matches: (id: Identity) => boolean;
  /** Indexed by Route.index. */
  readonly decisions: readonly Decision[];
}

export interface Policy {
  /** Where it came from (file path or "built-in default policy"), for messages. */
  readonly source: string;
  /** Why an identity no policy identity matches is refused, e.g. `no identity in policy p.yaml matches it`. */
  readonly unmatchedReason: string;
  /** In order: the first identity that matches wins. */
  readonly identities: readonly PolicyIdentity[];
  /** Newest API version accepted, as apiVersionNumber encodes it (default 1.41). */
  readonly maxApiVersion: number;
  /** Identity -> matched policy identity (null: none). G2 reuses Identity objects per connection. */
  readonly identityCache: WeakMap<Identity, PolicyIdentity | null>;
}

/** The same policy accepting API versions up to `version` (the daemon's, from GET /version). */
export function withApiVersion(policy: Policy, version: string): Policy {
  // The identity cache is shared: which policy identity matches does not depend on the version.
  return { ...policy, maxApiVersion: apiVersionNumber(version) };
}

export function maxApiVersionOf(policy: Policy): string {
  return formatVersion(policy.maxApiVersion);
}

const DEFAULT_MAX_API_VERSION_NUMBER = apiVersionNumber(DEFAULT_MAX_API_VERSION);

function badTarget(message: string): Verdict {
  return { kind: 'bad', status: 400, message: `dockward: bad request target: ${message}` };
}

/** The requested path for a message: bounded, since it is the client's text. */
function shown(version: string | undefined, path: string): string {
  const full = version === undefined ? path : `/v${version}${path}`;
  return full.length > 200 ? `${full.slice(0, 200)}...` : full;
}

function policyIdentityOf(policy: Policy, id: Identity): PolicyIdentity | null {
  let found = policy.identityCache.get(id);
  if (found === undefined) {
    found = policy.identities.find((p) => p.matches(id)) ?? null;
    policy.identityCache.set(id, found);
  }
  return found;
}

/** The route dockerd would run for this request, or undefined (for audit of refused requests). */
export function routeOf(method: string, rawTarget: string, maxApiVersion = DEFAULT_MAX_API_VERSION_NUMBER): Route | undefined {
  const parsed = parseTarget(rawTarget, maxApiVersion);
  if (!parsed.ok) return undefined;
  const m = matchRoute(method, parsed.target.path, parsed.target.version !== undefined);
  return m.kind === 'route' ? m.route : undefined;
}

export function authorize(policy: Policy, id: Identity, method: string, rawTarget: string): Verdict {
  const parsed = parseTarget(rawTarget, policy.maxApiVersion);
  if (!parsed.ok) return badTarget(parsed.message);
  const { path, version, forwardTarget } = parsed.target;
  const m = matchRoute(method, path, version !== undefined);
  if (m.kind === 'not-found') {
    return { kind: 'bad', status: 404, message: `dockward: page not found: the Engine API has no route ${method} ${shown(version, path)}` };
  }
  if (m.kind === 'method-not-allowed') {
    return {
      kind: 'bad',
      status: 405,
      message: `dockward: method ${method} is not allowed on ${shown(version, path)} (allowed: ${m.allowed.join(', ')})`,
    };
  }
  const route = m.route;
  const pid = policyIdentityOf(policy, id);
  if (!pid) {
    return {
      kind: 'deny',
      status: 403,
      route: route.name,
      rule: 'default-deny',
      message: `dockward: identity ${JSON.stringify(id.name)} may not ${route.name} (${policy.unmatchedReason}; default deny)`,
    };
  }
  const d = pid.decisions[route.index]!;
  if (!d.allow) return d.verdict;
  const v: Verdict = { kind: 'allow', route: route.name, rule: d.rule, forwardTarget, identity: pid.name };
  if (d.auditOnly) {
    v.auditOnly = true;
    v.wouldDeny = d.wouldDeny;
  }
  if (d.body) v.body = d.body;
  if (route.matcher.kind !== 'exact') v.param = routeParam(route, path);
  return v;
}

