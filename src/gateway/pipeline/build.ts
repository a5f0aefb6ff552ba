/**
 * The build stage of a constrained role's `POST /build` (classic builder): its context is
 * spooled and checked whole before dockerd sees it (build/check.ts). Unrestricted identities,
 * audit-only roles and a granted `remote` context (the body is not the context then) stream as
 * before.
 */
import { BuildRefusal, checkBuildContext } from '../../build/check.js';
import type { GatewayContext } from '../context.js';
import { ownershipRefusal } from './ownership.js';
import type { Allow, Allowed, Refuse } from './outcome.js';

export function buildContextCheck(ctx: GatewayContext, a: Allow): ((file: string) => Promise<void>) | undefined {
  const q = a.verdict.query;
  if (q?.kind !== 'build' || q.auditOnly) return undefined;
  const i = a.forwardTarget.indexOf('?');
  const query = new URLSearchParams(i === -1 ? '' : a.forwardTarget.slice(i + 1));
  if ((query.get('remote') ?? '') !== '') return undefined;
  return (file) => checkBuildContext({ rules: q.rules, owner: a.verdict.owner, query, socketPath: ctx.upstreamSocket }, file);
}

/** What an archive check threw, as a refusal: a build check's in the words of the role's other build checks. */
export function archiveRefusal(v: Allowed, e: unknown): Refuse {
  if (!(e instanceof BuildRefusal)) return ownershipRefusal(v, e);
  const q = v.query!;
  return {
    kind: 'refuse',
    status: e.status,
    decision: e.status === 403 ? 'deny' : 'bad',
    message: `dockward: identity ${JSON.stringify(v.identity)} may not ${v.route} with this build context: ${e.message.replace(/^dockward: /, '')} (${e.code}, role ${q.role})`,
    route: v.route,
    rule: v.rule,
    target: v.forwardTarget,
    code: e.code,
    field: 'Dockerfile',
  };
}
