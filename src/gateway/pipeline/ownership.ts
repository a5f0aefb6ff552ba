/**
 * The ownership stage (`scope: own`), after route, query and body: the objects a tenant's request
 * names are resolved among its own and forwarded by full id, its body is stamped with the owner
 * and its references resolved, and its answer is planned (names translated, lists filtered).
 * Asked of the ownership cache, so it is the one stage that may wait; it runs only for tenants.
 */
import { OwnershipRefusal, planRequest, type Plan } from '../../ownership/index.js';
import type { GatewayContext } from '../context.js';
import type { Allow, Allowed, Refuse } from './outcome.js';

/** What an ownership stage threw, as a refusal: a daemon that cannot be asked fails closed. */
export function ownershipRefusal(v: Allowed, e: unknown): Refuse {
  const r =
    e instanceof OwnershipRefusal
      ? { status: e.status, code: e.code, message: e.message }
      : { status: 503, code: 'DW_OWNER_UNAVAILABLE', message: `dockward: ownership cannot be decided (${(e as Error).message}); nothing is forwarded` };
  return { kind: 'refuse', status: r.status, decision: r.status === 403 ? 'deny' : 'bad', message: r.message, route: v.route, rule: v.rule, target: v.forwardTarget, code: r.code };
}

/** The tenant's plan for this request, or its refusal (dockerd's own "No such …" where the object is not its). */
export async function ownershipPlan(ctx: GatewayContext, v: Allowed): Promise<Plan | Refuse> {
  try {
    return await planRequest(ctx.ownership, { owner: v.owner!, route: v.route, target: v.forwardTarget, param: v.param });
  } catch (e) {
    return ownershipRefusal(v, e);
  }
}

/** The allowed request as the plan forwards it: resolved target, planned answer, owned body. */
export async function applyPlan(plan: Plan, a: Allow, canonical: boolean): Promise<Allow | Refuse> {
  const owned: Allow = { ...a, forwardTarget: plan.target, ...(plan.answer ? { answer: plan.answer } : {}) };
  if (!plan.body || !a.body) return owned;
  try {
    owned.body = { bytes: await plan.body(a.body.bytes, canonical), received: a.body.received };
  } catch (e) {
    return ownershipRefusal(a.verdict, e);
  }
  return owned;
}
