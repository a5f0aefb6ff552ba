/**
 * A policy reload re-decides what is still being forwarded: a stream the new policy refuses (an
 * `events` or `logs -f` of a route no longer granted, an exec session of an identity no longer
 * matched) is ended, as revocation ends what a revoked certificate opened. Its audit line says
 * so, with the rule that refuses it now.
 */
import type { GatewayContext } from '../context.js';
import { decideRoute, refused } from './decide.js';

/** Ends the open exchanges `ctx.policy` no longer allows; returns how many. */
export function redecideOpenExchanges(ctx: GatewayContext): number {
  let ended = 0;
  for (const ex of [...ctx.exchanges]) {
    const v = decideRoute(ctx, ex.id!, ex.method, ex.rawTarget);
    if (v.kind === 'allow') continue;
    ex.endedBy = refused(v, ex.allowed!.forwardTarget);
    ex.stop!();
    ended++;
  }
  return ended;
}
