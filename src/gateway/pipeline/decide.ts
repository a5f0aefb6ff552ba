/**
 * One decision per request, for the ordinary proxy path and the hijack path alike:
 *
 *   screen → canonical target → route → route rules → [query] → [body: decode as Go does →
 *   constraints → mutations → canonical encode] → outcome
 *
 * The bracketed stages exist only where the route's precompiled decision asks for them
 * (authorize() reads target, route and rules in one step), so `/_ping` stays three synchronous
 * steps. A stage returns a refusal value and never writes to a socket. A stage that rewrites what
 * is forwarded (ownership: stamp, resolve, filter) goes after the body stage, on the Allow.
 */
import type { IncomingMessage } from 'node:http';
import { targetApiVersion } from '../../api/versions.js';
import { authorize, checkQuery, inspectBody, queryTargetWithDefaults, type Identity, type Verdict } from '../../policy/index.js';
import type { GatewayContext } from '../context.js';
import type { Share } from '../fair-share.js';
import type { Allow, Allowed, Outcome, ReadBody, Refuse } from './outcome.js';
import { screen } from './screen.js';

/** Routes dockerd hijacks; the target is already canonical (dockerd's ids are greedy: `.+`). */
const HIJACK_PATH = /^(?:\/v[0-9.]+)?\/(?:containers\/.+\/attach(?:\/ws)?|exec\/.+\/start|session|grpc)$/;

function pathPart(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

export function refused(v: Exclude<Verdict, Allowed>, target: string | undefined): Refuse {
  if (v.kind === 'bad') return { kind: 'refuse', status: v.status, decision: 'bad', message: v.message, route: null, rule: null, target };
  return { kind: 'refuse', status: v.status, decision: 'deny', message: v.message, route: v.route, rule: v.rule, target };
}

/** A refusal of a request whose route the policy allowed (its checks or framing failed). */
function refusedAfter(v: Allowed, status: number, message: string, extra: Pick<Refuse, 'code' | 'field'> = {}): Refuse {
  return {
    kind: 'refuse',
    status,
    decision: status === 403 ? 'deny' : 'bad',
    message,
    route: v.route,
    rule: v.rule,
    target: v.forwardTarget,
    ...(v.auditOnly ? { auditOnly: true } : {}),
    ...extra,
  };
}

/** A stream over the identity's or certificate's fair share (429): no policy rule decided it. */
export function streamRefusal(v: Allowed, share: Extract<Share, { refused: string }>): Refuse {
  return { kind: 'refuse', status: 429, decision: 'deny', message: `dockward: ${share.refused}`, route: v.route, rule: null, target: v.forwardTarget, code: share.code, error: share.refused };
}

function allow(v: Allowed, wouldDeny: string | undefined): Allow {
  return wouldDeny === undefined ? { kind: 'allow', verdict: v, forwardTarget: v.forwardTarget } : { kind: 'allow', verdict: v, forwardTarget: v.forwardTarget, wouldDeny };
}

/** Under an audit-only role, every refusal the request would have got (route, query, body), for its audit line. */
function allWouldDeny(...parts: (string | undefined)[]): string | undefined {
  return parts.filter(Boolean).join('; ') || undefined;
}

/** Target, route and rules (no screen: headers do not change): what a reload re-decides for open exchanges. */
export function decideRoute(ctx: GatewayContext, id: Identity, method: string, rawTarget: string): Verdict {
  return authorize(ctx.policy, id, method, rawTarget);
}

/** Screen, canonical target, route, route rules: the stages every request passes. */
function routeStage(ctx: GatewayContext, req: IncomingMessage, id: Identity | undefined): Allowed | Refuse {
  const screened = screen(ctx, req, id);
  if (screened) return screened;
  const v = decideRoute(ctx, id!, req.method!, req.url!);
  return v.kind === 'allow' ? v : refused(v, req.url);
}

/** The decision on an ordinary request; a body route's decision waits for its body (ReadBody). */
export function decide(ctx: GatewayContext, req: IncomingMessage, id: Identity | undefined): Outcome {
  let v = routeStage(ctx, req, id);
  if (v.kind === 'refuse') return v;
  let queryWouldDeny: string | undefined;
  if (v.query) {
    const r = checkQuery(v.query, v.forwardTarget, v.param);
    if (r && !v.query.auditOnly) {
      const message = `dockward: identity ${JSON.stringify(v.identity)} may not ${v.route} with these parameters: ${r.field}: ${r.message} (${r.code}, role ${v.query.role})`;
      return refusedAfter(v, 403, message, { code: r.code, field: r.field });
    }
    if (r) queryWouldDeny = `${r.field}: ${r.message} (${r.code})`;
    v = { ...v, forwardTarget: queryTargetWithDefaults(v.query, v.forwardTarget) };
  }
  if (v.body) return bodyStage(ctx, v, queryWouldDeny);
  return allow(v, queryWouldDeny === undefined ? v.wouldDeny : allWouldDeny(v.wouldDeny, queryWouldDeny));
}

/**
 * The decision on a request that asks to switch protocols (exec, attach, BuildKit). Its body is
 * read by the hijack forwarder, within the bounds checked here.
 */
export function decideUpgrade(ctx: GatewayContext, req: IncomingMessage, id: Identity | undefined): Allow | Refuse {
  const v = routeStage(ctx, req, id);
  return v.kind === 'refuse' ? v : upgradeStage(ctx, req, v);
}

/** A body that did not arrive whole, or outgrew `limit`: refused, nothing forwarded. */
export function bodyNotRead(v: Allowed, why: 'too-large' | 'incomplete' | 'client-gone', limit: number): Refuse {
  if (why === 'too-large') return refusedAfter(v, 413, `dockward: the body of ${v.route} is limited to ${limit} bytes, and this one is larger`, { code: 'DW_BODY_TOO_LARGE' });
  if (why === 'incomplete') return refusedAfter(v, 400, 'dockward: the request body did not arrive whole', { code: 'DW_BODY_INVALID' });
  // Nothing is forwarded for nobody.
  return refusedAfter(v, 400, 'dockward: the client closed the connection', { code: 'DW_BODY_INVALID' });
}

/** A body read whole (bounded) before the decision goes on with `decideOn`; what did not arrive whole is refused. */
function readBodyStage(ctx: GatewayContext, v: Allowed, decideOn: (raw: Buffer, contentType: string | undefined) => Promise<Allow | Refuse>): ReadBody {
  return {
    kind: 'read-body',
    verdict: v,
    async withBody(raw, contentType) {
      if (typeof raw === 'string') return bodyNotRead(v, raw, ctx.maxBodyBytes);
      return decideOn(raw, contentType);
    },
  };
}

/**
 * A body no check reads but a later stage must (ownership resolves the container a network
 * connect names): read whole, within the same bounds, and forwarded as it came.
 */
export function unreadBodyStage(ctx: GatewayContext, a: Allow): ReadBody {
  return readBodyStage(ctx, a.verdict, async (raw) => ({ ...a, body: { bytes: raw, received: raw.length } }));
}

/** The body is decoded as dockerd decodes it, checked, mutated and re-encoded: what is forwarded is what was checked. */
function bodyStage(ctx: GatewayContext, v: Allowed, queryWouldDeny: string | undefined): ReadBody {
  const check = v.body!;
  return readBodyStage(ctx, v, async (raw, contentType) => {
    const requestApi = targetApiVersion(v.forwardTarget, ctx.daemonApi);
    const o = await inspectBody(check, raw, contentType, { daemonApi: ctx.daemonApi, requestApi, host: ctx.host });
    if (o.kind === 'refuse') {
      const message = `dockward: identity ${JSON.stringify(v.identity)} may not ${v.route} with this body: ${o.message}`;
      return refusedAfter(v, o.status, message, { code: o.code, field: o.field });
    }
    const a = allow(v, allWouldDeny(v.wouldDeny, queryWouldDeny, o.wouldDeny));
    a.body = { bytes: o.body, received: raw.length };
    if (o.mutations.length) a.mutations = o.mutations;
    if (o.features) a.features = o.features;
    return a;
  });
}

/** What a hijacked exchange must be before the gateway hands it a raw stream to dockerd. */
function upgradeStage(ctx: GatewayContext, req: IncomingMessage, v: Allowed): Allow | Refuse {
  // No hijacked route has a body to check; should a policy ever say otherwise, fail closed.
  if (v.body) return refusedAfter(v, 400, 'dockward: a request whose body must be checked cannot be upgraded');
  if (!HIJACK_PATH.test(pathPart(v.forwardTarget))) {
    // dockerd would ignore Upgrade here and keep parsing HTTP on the connection: tunnelling it
    // would let later requests pass unchecked.
    return refusedAfter(v, 400, 'dockward: Upgrade is only accepted on attach, exec start, /session and /grpc');
  }
  if (req.headers['transfer-encoding'] !== undefined) {
    return refusedAfter(v, 400, 'dockward: a chunked body on an Upgrade request is refused (send Content-Length)');
  }
  const length = Number(req.headers['content-length'] ?? '0');
  if (!Number.isSafeInteger(length) || length < 0) return refusedAfter(v, 400, 'dockward: invalid Content-Length');
  if (length > ctx.maxBodyBytes) return refusedAfter(v, 413, `dockward: the body of an Upgrade request is limited to ${ctx.maxBodyBytes} bytes`);
  return allow(v, v.wouldDeny);
}
