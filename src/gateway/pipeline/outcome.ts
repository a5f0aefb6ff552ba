/**
 * What a decision comes to: a value, never a write to a socket. The forwarders act on it and
 * finishExchange() turns it into the exchange's one audit line.
 */
import type { BodyFeatures, Verdict } from '../../policy/index.js';
import type { Answer } from '../../ownership/index.js';

export type Allowed = Extract<Verdict, { kind: 'allow' }>;

/** Forward. `verdict` is the precompiled route decision, shared, never changed. */
export interface Allow {
  kind: 'allow';
  verdict: Allowed;
  /** Canonical path and query to send upstream; a later stage (ownership) may rewrite it. */
  forwardTarget: string;
  /** The checked body that replaces the request's own: its canonical re-encoding. */
  body?: { bytes: Buffer; received: number };
  /** The request's body as it came, spooled to a file and checked whole (a tenant's `docker load`). */
  archive?: { file: string; size: number };
  /** What the gateway changed in the body (audit-only: would have changed). */
  mutations?: string[];
  /** Audit-only: the refusal the request would have got. */
  wouldDeny?: string;
  /** Audit-only: what the body asked for in the rules' terms, for `policy suggest`. */
  features?: BodyFeatures;
  /** A tenant's view of a 2xx answer (ownership): names translated, lists and events filtered. */
  answer?: Answer;
}

/** Answer `status` with a Docker-style error naming the rule, forward nothing. */
export interface Refuse {
  kind: 'refuse';
  status: number;
  decision: 'deny' | 'bad';
  message: string;
  route: string | null;
  rule: string | null;
  /** The canonical target once the route is known, else the client's (the audit line drops its query). */
  target: string | undefined;
  auditOnly?: true;
  /** A body or query refusal's stable code (DW_…) and the field it is about. */
  code?: string;
  field?: string;
  /** Why, where the status alone does not say (a fair-share limit). */
  error?: string;
  /** The connection's refusal is audited already (refused TLS client): one line per refused client. */
  audited?: true;
}

/** The body decides: read it whole (bounded), then ask `withBody`. */
export interface ReadBody {
  kind: 'read-body';
  verdict: Allowed;
  withBody(raw: Buffer | 'too-large' | 'incomplete' | 'client-gone', contentType: string | undefined): Promise<Allow | Refuse>;
}

export type Outcome = Allow | Refuse | ReadBody;
