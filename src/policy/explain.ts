/**
 * Human-readable views of a policy for `dockward policy`: what each identity may do, what one
 * request would get, and the route table with the presets that contain each route.
 */
import { ROUTES, type Route } from '../api/routes.js';
import { formatVersion } from '../api/versions.js';
import { authorize, type Identity, type Policy, type Verdict } from './authorize.js';
import { PRESETS } from './presets.js';

export interface IdentitySummary {
  name: string;
  match: string;
  roles: readonly string[];
  /** Routes allowed outright (not counting audit-only allowances). */
  allowed: string[];
  auditOnly: boolean;
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
  }));
}

export function summaryLines(policy: Policy): string[] {
  return summarizePolicy(policy).map((s) => {
    const roles = s.roles.length ? `roles ${s.roles.join(', ')}` : 'no roles';
    const audit = s.auditOnly ? '; audit-only: everything else is allowed and recorded' : '';
    return `identity ${JSON.stringify(s.name)} (${s.match}): ${roles}; may use ${s.allowed.length} of ${policy.api.routes.routes.length} routes${audit}`;
  });
}

export function explainRequest(policy: Policy, id: Identity, method: string, target: string): { verdict: Verdict; line: string } {
  const verdict = authorize(policy, id, method, target);
  let line: string;
  switch (verdict.kind) {
    case 'allow':
      line = verdict.auditOnly
        ? `allow (audit-only) ${verdict.route} for identity "${verdict.identity}" by ${verdict.rule}, forwarded as ${verdict.forwardTarget}; would be denied: ${verdict.wouldDeny}`
        : `allow ${verdict.route} for identity "${verdict.identity}" by ${verdict.rule}, forwarded as ${verdict.forwardTarget}`;
      break;
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
