/**
 * One exchange is one request and its outcome, and gets exactly one audit line: finishExchange()
 * writes it, and a second call (a stream that ends after an error already finished it) is a
 * no-op. Exchanges the gateway is still forwarding are kept, so a policy reload can re-decide them.
 */
import type { Duplex } from 'node:stream';
import type { Identity } from '../../policy/index.js';
import { auditPath, type AuditRecord } from '../audit-log.js';
import { auditRecord, identityOf, type GatewayContext } from '../context.js';
import type { Allow, Refuse } from './outcome.js';

export interface Exchange {
  readonly socket: Duplex;
  readonly id: Identity | undefined;
  readonly listener: string;
  readonly startedAt: number;
  readonly method: string;
  readonly rawTarget: string;
  /** What is being forwarded, once allowed. */
  allowed?: Allow;
  /** Set by the forwarder while it forwards: ends the exchange now (a reload no longer allows it). */
  stop?: () => void;
  /** Why the gateway ended an allowed exchange early: the refusal its audit line carries. */
  endedBy?: Refuse;
  finished: boolean;
}

export function openExchange(ctx: GatewayContext, listener: string, socket: Duplex, method: string, rawTarget: string): Exchange {
  const id = identityOf(socket);
  // Connections are kept from their first request on, so a reload can close those of identities
  // the new policy no longer has.
  if (id && !ctx.connections.has(socket)) {
    ctx.connections.set(socket, listener);
    socket.once('close', () => ctx.connections.delete(socket));
  }
  return { socket, id, listener, startedAt: performance.now(), method, rawTarget, finished: false };
}

/** An allowed exchange is being forwarded: a reload may stop it. */
export function forwarding(ctx: GatewayContext, ex: Exchange, a: Allow, stop: () => void): void {
  ex.allowed = a;
  ex.stop = stop;
  ctx.exchanges.add(ex);
}

/** The audit fields a refusal carries. */
export function refusalFields(r: Refuse): Partial<AuditRecord> & Pick<AuditRecord, 'decision'> {
  const f: Partial<AuditRecord> & Pick<AuditRecord, 'decision'> = { decision: r.decision, status: r.status, path: auditPath(r.target), route: r.route, rule: r.rule };
  if (r.auditOnly) f.auditOnly = true;
  if (r.code !== undefined) f.code = r.code;
  if (r.field !== undefined) f.field = r.field;
  if (r.error !== undefined) f.error = r.error;
  return f;
}

/** The audit fields of an allowed exchange (status, bytes and errors are the forwarder's). */
export function allowFields(a: Allow): Partial<AuditRecord> & Pick<AuditRecord, 'decision'> {
  const v = a.verdict;
  const f: Partial<AuditRecord> & Pick<AuditRecord, 'decision'> = { decision: 'allow', path: auditPath(a.forwardTarget), route: v.route, rule: v.rule };
  if (v.auditOnly) f.auditOnly = true;
  if (a.mutations) f.mutations = a.mutations;
  if (a.wouldDeny !== undefined) f.wouldDeny = a.wouldDeny;
  if (a.features) f.features = a.features;
  return f;
}

/**
 * Writes the exchange's one audit line: `fields` from the forwarder (status, bytes, error). An
 * exchange a reload ended says so, with the rule that now refuses it.
 */
export function finishExchange(ctx: GatewayContext, ex: Exchange, fields: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>): void {
  if (ex.finished) return;
  ex.finished = true;
  if (ex.allowed) ctx.exchanges.delete(ex);
  const rec = auditRecord(ex.socket, ex.id, ex.listener, ex.startedAt, { method: ex.method, path: auditPath(ex.rawTarget), ...fields });
  if (ex.endedBy) {
    rec.decision = ex.endedBy.decision;
    rec.rule = ex.endedBy.rule;
    rec.error = `ended by a policy reload: ${ex.endedBy.message}`;
  }
  ctx.audit.write(rec);
}
