/**
 * A policy reload re-decides what is open: a stream the new policy refuses (an `events` or
 * `logs -f` of a route no longer granted, an exec session of an identity no longer matched) is
 * ended, and a connection whose identity the new policy no longer has is closed, as revocation
 * ends what a revoked certificate opened. Each gets one audit line saying why.
 */
import { policyIdentityName } from '../../policy/index.js';
import { auditRecord, identityOf, type GatewayContext } from '../context.js';
import { decideRoute, refused } from './decide.js';

/** Ends the open exchanges and closes the connections `ctx.policy` no longer allows; how many of each. */
export function redecideOpen(ctx: GatewayContext): { exchanges: number; connections: number } {
  let exchanges = 0;
  for (const ex of [...ctx.exchanges]) {
    const v = decideRoute(ctx, ex.id!, ex.method, ex.rawTarget);
    if (v.kind === 'allow') continue;
    ex.endedBy = refused(v, ex.allowed!.forwardTarget);
    ex.stop!();
    exchanges++;
  }
  let connections = 0;
  for (const [socket, listener] of [...ctx.connections]) {
    const id = identityOf(socket);
    // A connection whose exchange was ended above is closed already, with that exchange's line.
    if (!id || socket.destroyed || policyIdentityName(ctx.policy, id) !== null) continue;
    socket.destroy();
    connections++;
    const rec = auditRecord(socket, id, listener, performance.now(), { decision: 'deny', rule: 'default-deny', status: null });
    rec.error = `connection closed by a policy reload: ${ctx.policy.unmatchedReason}`;
    ctx.audit.write(rec);
  }
  return { exchanges, connections };
}
