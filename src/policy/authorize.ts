/**
 * The gateway's per-request decision: find the policy identity, read the request as dockerd would
 * (canonical target, API version, route), look up the precompiled decision. Runs on every proxied
 * request, so everything that depends only on (policy identity, route) is computed once when the
 * policy is compiled.
 */
import { bounded, engineApi, readRequest, routeNamed, type EngineApi } from '../api/request.js';
import { formatVersion } from '../api/versions.js';
import type { BodyKind } from '../api/bodies/canonical.js';
import type { RoleRules } from './constraints/rules.js';
import type { QueryKind } from './query-routes.js';

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
      /** Set when query parameters must be checked. */
      query?: QueryCheck;
      /** Set for a `scope: own` identity: the owner its objects carry (its policy identity name). */
      owner?: string;
      /** `/_ping`: BuildKit is not for this identity; `Builder-Version` is answered as 1. */
      classicBuilder?: true;
    }
  /** route: null when the request names no route (an identity refused before its request is read). */
  | { kind: 'deny'; status: 403; route: string | null; rule: string; message: string }
  | { kind: 'bad'; status: 400 | 404 | 405; message: string };

export type DenyVerdict = Extract<Verdict, { kind: 'deny' }>;

/** How an allowed request must be checked before it is forwarded, and against whose rules. */
interface Check<K> {
  kind: K;
  rules: RoleRules;
  /** The role whose constraints apply. */
  role: string;
  /** The identity has an audit-only role: a request that breaks the rules is recorded, not refused. */
  auditOnly: boolean;
}

/** The body is read (bounded), decoded as dockerd decodes it, checked and re-encoded. */
export type BodyCheck = Check<BodyKind>;
/** The query parameters that change what the request does are checked. */
export type QueryCheck = Check<QueryKind>;

/** What a policy identity may do with one route, computed when the policy is compiled. */
export type Decision =
  | { allow: true; rule: string; auditOnly: boolean; wouldDeny?: string; body?: BodyCheck; query?: QueryCheck; classicBuilder?: true }
  | { allow: false; verdict: DenyVerdict };

export interface PolicyIdentity {
  readonly name: string;
  /** The match as written, e.g. `cn=ci-*`, for listings. */
  readonly match: string;
  readonly roles: readonly string[];
  /** `own`: a tenant (src/ownership); `all`: sees what its rules allow. */
  readonly scope: 'own' | 'all';
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
  /** The Engine API of the daemon behind the gateway (default: the newest the gateway knows). */
  readonly api: EngineApi;
  /** Identity -> matched policy identity (null: none). G2 reuses Identity objects per connection. */
  readonly identityCache: WeakMap<Identity, PolicyIdentity | null>;
}

/** The same policy in front of dockerd speaking API `version`, for a gateway whose newest is `gatewayNewest`. */
export function withApiVersion(policy: Policy, version: string, gatewayNewest?: string): Policy {
  // The identity cache is shared: which policy identity matches does not depend on the version.
  return { ...policy, api: engineApi(version, gatewayNewest) };
}

/** The newest API version requests may name. */
export function maxApiVersionOf(policy: Policy): string {
  return formatVersion(policy.api.limits.accepted);
}

function policyIdentityOf(policy: Policy, id: Identity): PolicyIdentity | null {
  let found = policy.identityCache.get(id);
  if (found === undefined) {
    found = policy.identities.find((p) => p.matches(id)) ?? null;
    policy.identityCache.set(id, found);
  }
  return found;
}

/** The name of the policy identity a client is (the one its roles come from), or null if none matches. */
export function policyIdentityName(policy: Policy, id: Identity): string | null {
  return policyIdentityOf(policy, id)?.name ?? null;
}

/**
 * An identity no policy entry matches is refused before its request is read any further: a
 * client that may do nothing learns that, not what is wrong with its API version (the docker CLI
 * falls back to its own default version when its /_ping is refused, and would otherwise only
 * ever see "client API version ... is too new").
 */
function unmatched(policy: Policy, id: Identity, method: string, rawTarget: string): Verdict {
  const route = routeNamed(policy.api, method, rawTarget);
  const what = route ? route.name : `use the Docker API (${method} ${bounded(rawTarget)})`;
  return {
    kind: 'deny',
    status: 403,
    route: route?.name ?? null,
    rule: 'default-deny',
    message: `dockward: identity ${JSON.stringify(id.name)} may not ${what} (${policy.unmatchedReason}; default deny)`,
  };
}

export function authorize(policy: Policy, id: Identity, method: string, rawTarget: string): Verdict {
  const pid = policyIdentityOf(policy, id);
  if (!pid) return unmatched(policy, id, method, rawTarget);
  const req = readRequest(policy.api, method, rawTarget);
  if (!req.ok) return { kind: 'bad', status: req.status, message: req.message };
  const { route, forwardTarget } = req;
  const d = pid.decisions[route.index]!;
  if (!d.allow) return d.verdict;
  const v: Verdict = { kind: 'allow', route: route.name, rule: d.rule, forwardTarget, identity: pid.name };
  if (d.auditOnly) {
    v.auditOnly = true;
    v.wouldDeny = d.wouldDeny;
  }
  if (d.body) v.body = d.body;
  if (d.query) v.query = d.query;
  if (d.classicBuilder) v.classicBuilder = true;
  if (req.param !== undefined) v.param = req.param;
  if (pid.scope === 'own') v.owner = pid.name;
  return v;
}
