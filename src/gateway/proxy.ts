/**
 * The ordinary request path: screen, authorize, forward over a keep-alive Unix-socket connection,
 * stream both bodies (never buffered), write the audit line when the exchange is over.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { authorize, type Identity, type Verdict } from '../policy/index.js';
import { auditPath } from './audit-log.js';
import { auditRecord, identityOf, type GatewayContext } from './context.js';
import { forwardRequestHeaders, forwardResponseHeaders, replyError } from './wire.js';

/** Sized answers up to this are sent in one piece; larger ones and streams are piped. */
const SMALL_ANSWER_BYTES = 64 * 1024;

export interface Refusal {
  status: number;
  message: string;
}

/**
 * Refusals that need no policy: a browser page reaching the Docker API (its requests carry
 * Origin; its CORS preflights are OPTIONS), ambiguous message framing (Node's parser already
 * rejects CL+TE, repeated Content-Length and a bad Transfer-Encoding; this is the second lock),
 * and, failing closed, a connection without an identity or an audit log that cannot be written.
 */
export function screen(ctx: GatewayContext, req: IncomingMessage, id: Identity | undefined): Refusal | undefined {
  if (ctx.audit.failure) return { status: 503, message: `dockward: the audit log cannot be written (${ctx.audit.failure}); no request is forwarded unaudited` };
  if (!id) return { status: 403, message: 'dockward: the connection has no verified identity' };
  if (req.method === 'OPTIONS') {
    return { status: 403, message: 'dockward: OPTIONS requests are refused (browser preflight into the Docker API)' };
  }
  const h = req.headers;
  // Node's server would refuse these two itself (400, 417) without a word to the audit log.
  if (h.host === undefined) return { status: 400, message: 'dockward: the request has no Host header' };
  if (h.expect !== undefined && h.expect.toLowerCase() !== '100-continue') {
    return { status: 417, message: 'dockward: the only Expect accepted is 100-continue' };
  }
  if (h.origin !== undefined) {
    return { status: 403, message: 'dockward: requests with an Origin header are refused (a web page must not drive the Docker API)' };
  }
  const te = h['transfer-encoding'];
  // Go's server knows only `chunked`; anything else would be framed differently by each hop.
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') {
    return { status: 400, message: 'dockward: only Transfer-Encoding: chunked is accepted' };
  }
  if (h['content-length'] !== undefined) {
    if (te !== undefined) {
      return { status: 400, message: 'dockward: Content-Length together with Transfer-Encoding is refused' };
    }
    let n = 0;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 14 && raw[i]!.toLowerCase() === 'content-length') n++;
    if (n > 1) return { status: 400, message: 'dockward: repeated Content-Length is refused' };
  }
  return undefined;
}

export function verdictFields(v: Verdict): { route: string | null; rule: string | null; auditOnly?: boolean } {
  if (v.kind === 'bad') return { route: null, rule: null };
  return v.kind === 'allow' && v.auditOnly ? { route: v.route, rule: v.rule, auditOnly: true } : { route: v.route, rule: v.rule };
}

export function handleRequest(ctx: GatewayContext, listener: string, req: IncomingMessage, res: ServerResponse): void {
  const startedAt = performance.now();
  const socket = req.socket;
  const id = identityOf(socket);
  const method = req.method!;
  const refusal = screen(ctx, req, id);
  if (refusal) {
    // Framing we do not trust: answer and close rather than guess where the next request starts.
    replyError(res, refusal.status, refusal.message, true);
    res.once('close', () =>
      ctx.audit.write(
        auditRecord(socket, id, listener, startedAt, { method, path: auditPath(req.url), decision: refusal.status === 403 ? 'deny' : 'bad', status: refusal.status }),
      ),
    );
    return;
  }
  const verdict = authorize(ctx.policy, id!, method, req.url!);
  if (verdict.kind !== 'allow') {
    replyError(res, verdict.status, verdict.message);
    res.once('close', () =>
      ctx.audit.write(
        auditRecord(socket, id, listener, startedAt, { method, path: auditPath(req.url), decision: verdict.kind, status: verdict.status, ...verdictFields(verdict) }),
      ),
    );
    return;
  }
  forward(ctx, listener, req, res, id!, verdict, startedAt);
}

/**
 * Seam for body inspection (a later issue): a route whose body must be checked will read it
 * (bounded) before this call and forward the checked bytes instead of piping `req`.
 */
function forward(
  ctx: GatewayContext,
  listener: string,
  req: IncomingMessage,
  res: ServerResponse,
  id: Identity,
  verdict: Extract<Verdict, { kind: 'allow' }>,
  startedAt: number,
): void {
  const socket = req.socket;
  let bytesIn = 0;
  let bytesOut = 0;
  let error: string | undefined;
  const upReq = http.request({
    agent: ctx.agent,
    socketPath: ctx.upstreamSocket,
    method: req.method,
    path: verdict.forwardTarget,
    headers: forwardRequestHeaders(req.rawHeaders, ctx.acceptEncoding) as unknown as http.OutgoingHttpHeaders,
  });
  upReq.on('error', (e: NodeJS.ErrnoException) => {
    error ??= `upstream: ${e.code ?? e.message}`;
    if (!res.headersSent) replyError(res, 502, `dockward: cannot reach the Docker daemon at ${ctx.upstreamSocket}: ${e.code ?? e.message}`, true);
    else res.destroy();
  });
  upReq.on('response', (upRes) => {
    res.writeHead(upRes.statusCode!, upRes.statusMessage, forwardResponseHeaders(upRes.rawHeaders));
    upRes.on('error', (e: NodeJS.ErrnoException) => {
      error ??= `upstream: ${e.code ?? e.message}`;
      res.destroy();
    });
    const length = upRes.headers['content-length'];
    if (length !== undefined && Number(length) <= SMALL_ANSWER_BYTES) {
      // A small sized answer (ping, inspect, most JSON) leaves as head and body in one write,
      // which over TLS is one record and one syscall instead of three.
      const chunks: Buffer[] = [];
      upRes.on('data', (c: Buffer) => {
        chunks.push(c);
        bytesOut += c.length;
      });
      upRes.on('end', () => res.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
      return;
    }
    // Node holds the head until the first body byte; a streamed answer (wait, events, logs -f)
    // may have no body byte for minutes while the client needs the status now (docker run
    // starts the container only after its wait request got its 200).
    if (length === undefined) res.flushHeaders();
    upRes.on('data', (c: Buffer) => (bytesOut += c.length));
    // Streams as it comes (logs -f, events, archives): no buffering, and no idle timeout on it.
    // pipe() rather than pipeline(): the latter costs an AbortController and a DOMException per
    // request (measured: ~8% of the gateway's CPU on /_ping); res 'close' below does the cleanup.
    upRes.pipe(res);
  });
  res.once('close', () => {
    // The client went away (or the answer is complete): a still-running upstream exchange, such
    // as `logs -f` or `events`, must not outlive it.
    if (!res.writableFinished) upReq.destroy();
    ctx.audit.write(
      auditRecord(socket, id, listener, startedAt, {
        method: req.method!,
        path: auditPath(verdict.forwardTarget),
        decision: 'allow',
        status: res.headersSent ? res.statusCode : null,
        bytesIn,
        bytesOut,
        ...verdictFields(verdict),
        ...(error ? { error } : {}),
      }),
    );
  });
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')) {
    req.on('data', (c: Buffer) => (bytesIn += c.length));
    req.on('error', (e: NodeJS.ErrnoException) => {
      error ??= `request body: ${e.code ?? e.message}`;
      upReq.destroy();
    });
    req.pipe(upReq);
  } else {
    upReq.end();
  }
}
