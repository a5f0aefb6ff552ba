/**
 * Human-readable views of a policy for `dockward policy`: what each identity may do, what one
 * request would get, and the route table with the presets that contain each route.
 */
import { ROUTES, type Route } from '../api/routes.js';
import { formatVersion, targetApiVersion } from '../api/versions.js';
import { authorize, type Identity, type Policy, type Verdict } from './authorize.js';
import { checkQuery } from './check-query.js';
import type { HostFacts } from './constraints/container.js';
import { ALWAYS_PROTECTED, resolveHostPath } from './constraints/host-paths.js';
import { inspectBody } from './inspect-body.js';
import { PRESETS } from './presets.js';

export interface IdentitySummary {
  name: string;
  match: string;
  roles: readonly string[];
  /** Routes allowed outright (not counting audit-only allowances). */
  allowed: string[];
  auditOnly: boolean;
  scope: 'own' | 'all';
}

export function summarizePolicy(policy: Policy): IdentitySummary[] {
  return policy.identities.map((pid) => ({
    name: pid.name,
    match: pid.match,
    roles: pid.roles,
    allowed: policy.api.routes.routes.filter((r) => {
      const d = pid.decisions[r.index]!;
      return d.allow && !d.auditOnly;
    }).map((r) => r.name),
    auditOnly: pid.decisions.some((d) => d.allow && d.auditOnly),
    scope: pid.scope,
  }));
}

export function summaryLines(policy: Policy): string[] {
  return summarizePolicy(policy).map((s) => {
    const roles = s.roles.length ? `roles ${s.roles.join(', ')}` : 'no roles';
    const audit = s.auditOnly ? '; audit-only: everything else is allowed and recorded' : '';
    const scope = s.scope === 'own' ? '; scope own: sees and touches only the containers, execs, networks and volumes it created' : '';
    return `identity ${JSON.stringify(s.name)} (${s.match}): ${roles}; may use ${s.allowed.length} of ${policy.api.routes.routes.length} routes${scope}${audit}`;
  });
}

export interface Explanation {
  verdict: Verdict;
  line: string;
  /** The query or body stage's refusal, when the route allowed the request but its content not. */
  refused?: { code: string; field: string; message: string };
  /** The body that would be forwarded (canonical, defaults applied), when one was given. */
  body?: unknown;
  mutations?: string[];
}

/** Paths no policy can grant, resolved on this machine: what a gateway here would protect (without its daemon's own). */
function localHostFacts(): HostFacts {
  return { protectedPaths: ALWAYS_PROTECTED.map(resolveHostPath) };
}

/**
 * What the gateway would do with one request, without a daemon: route, identity, query and,
 * with `body`, the body as dockerd `daemonApi` would decode it.
 */
export async function explainRequest(policy: Policy, id: Identity, method: string, target: string, body?: Buffer): Promise<Explanation> {
  const verdict = authorize(policy, id, method, target);
  let line: string;
  switch (verdict.kind) {
    case 'allow': {
      const owned = verdict.owner ? ` (scope own: the objects it names are resolved among its own, anyone else's answer "No such …")` : '';
      const by = `${verdict.route} for identity "${verdict.identity}" by ${verdict.rule}, forwarded as ${verdict.forwardTarget}${owned}`;
      const query = verdict.query && checkQuery(verdict.query, verdict.forwardTarget, verdict.param);
      if (query && !verdict.query!.auditOnly) {
        return { verdict, refused: query, line: `deny (403) ${by}, but its parameters are refused: ${query.field}: ${query.message} (${query.code}, role ${verdict.query!.role})` };
      }
      if (verdict.body && body !== undefined) {
        const daemonApi = formatVersion(policy.api.limits.daemon);
        const o = await inspectBody(verdict.body, body, 'application/json', { daemonApi, requestApi: targetApiVersion(verdict.forwardTarget, daemonApi), host: localHostFacts() });
        if (o.kind === 'refuse') return { verdict, refused: o, line: `deny (${o.status}) ${by}, but its body is refused: ${o.message}` };
        const changed = o.mutations.length ? `; body changed: ${o.mutations.join('; ')}` : '';
        const would = o.wouldDeny ? `; audit-only, the body would be denied: ${o.wouldDeny}` : '';
        return { verdict, body: JSON.parse(o.body.toString('utf8')), mutations: o.mutations, line: `allow ${by}${changed}${would}` };
      }
      const unread = verdict.body ? ` (its body is checked: pass --body FILE to see the decision on one)` : '';
      line = verdict.auditOnly ? `allow (audit-only) ${by}; would be denied: ${verdict.wouldDeny}` : `allow ${by}${unread}`;
      break;
    }
    case 'deny':
      line = `deny (403) by ${verdict.rule}: ${verdict.message}`;
      break;
    case 'bad':
      line = `refused (${verdict.status}): ${verdict.message}`;
      break;
  }
  return { verdict, line };
}

/** The API versions whose dockerd has `route`, e.g. `1.42+`, `1.24-1.44`. */
export function routeVersions(route: Route): string {
  return route.until === undefined ? `${formatVersion(route.since)}+` : `${formatVersion(route.since)}-${formatVersion(route.until - 1)}`;
}

/** Every route the table knows, with the API versions that have it and the presets (other than `all`) that contain it. */
export function routeListing(preset?: string): { route: string; versions: string; presets: string[] }[] {
  const routes = preset === undefined ? ROUTES : PRESETS.get(preset);
  if (!routes) return [];
  return routes.map((r) => ({
    route: r.name,
    versions: routeVersions(r),
    presets: [...PRESETS].filter(([n, rs]) => n !== 'all' && rs.includes(r)).map(([n]) => n),
  }));
}
