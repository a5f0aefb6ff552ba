/**
 * The ordinary request path: screen, authorize, forward over a keep-alive Unix-socket connection,
 * stream both bodies (never buffered), write the audit line when the exchange is over.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { authorize, checkQuery, inspectBody, type Identity, type Verdict } from '../policy/index.js';
import { auditPath, type AuditRecord } from './audit-log.js';
import { auditRecord, identityOf, refusedOf, STREAM_BUFFER_BYTES, type GatewayContext } from './context.js';
import { expectsContinue, forwardRequestHeaders, forwardResponseHeaders, jsonBodyHeaders, replyError } from './wire.js';

/** Sized answers up to this are sent in one piece; larger ones and streams are relayed. */
const SMALL_ANSWER_BYTES = 64 * 1024;

/** Pieces gathered in one turn are merged into one write when they average less than this. */
const MERGE_BELOW_BYTES = 4096;

export interface Refusal {
  status: number;
  message: string;
  /** The connection's refusal is audited already (refuseClient): one line per refused client. */
  audited?: true;
}

/**
 * Refusals that need no policy: a browser page reaching the Docker API (its requests carry
 * Origin; its CORS preflights are OPTIONS), ambiguous message framing (Node's parser already
 * rejects CL+TE, repeated Content-Length and a bad Transfer-Encoding; this is the second lock),
 * and, failing closed, a connection without an identity or an audit log that cannot be written.
 */
export function screen(ctx: GatewayContext, req: IncomingMessage, id: Identity | undefined): Refusal | undefined {
  if (ctx.audit.failure) return { status: 503, message: `dockward: the audit log cannot be written (${ctx.audit.failure}); no request is forwarded unaudited` };
  if (!id) {
    const refused = refusedOf(req.socket);
    return refused ? { status: 403, message: refused.message, audited: true } : { status: 403, message: 'dockward: the connection has no verified identity' };
  }
  if (req.method === 'OPTIONS') {
    return { status: 403, message: 'dockward: OPTIONS requests are refused (browser preflight into the Docker API)' };
  }
  const h = req.headers;
  // Node's server would refuse these two itself (400, 417) without a word to the audit log.
  if (h.host === undefined) return { status: 400, message: 'dockward: the request has no Host header' };
  if (h.expect !== undefined && h.expect.toLowerCase() !== '100-continue') {
    return { status: 417, message: 'dockward: the only Expect accepted is 100-continue' };
  }
  // dockerd's r.FormValue would read such a body and let it override the query the gateway checked.
  const type = h['content-type']?.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') {
    return { status: 400, message: `dockward: ${type} bodies are refused (dockerd would let them override the request's query)` };
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

/**
 * Runs `fn` once the exchange is over. A client can be gone before the body stage is done: the
 * exchange still gets its audit line then.
 */
function whenClosed(res: ServerResponse, fn: () => void): void {
  if (res.closed) fn();
  else res.once('close', fn);
}

/** Answers a refusal (closing the connection where asked) and audits it when the answer is out. */
function refuseExchange(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, close: boolean, status: number, message: string, record: () => AuditRecord): void {
  replyError(res, status, message, close);
  whenClosed(res, () => ctx.audit.write(record()));
}

export function handleRequest(ctx: GatewayContext, listener: string, req: IncomingMessage, res: ServerResponse): void {
  const startedAt = performance.now();
  const socket = req.socket;
  const id = identityOf(socket);
  const method = req.method!;
  const refusal = screen(ctx, req, id);
  if (refusal) {
    // Framing we do not trust: answer and close rather than guess where the next request starts.
    if (refusal.audited) return replyError(res, refusal.status, refusal.message, true);
    return refuseExchange(ctx, req, res, true, refusal.status, refusal.message, () =>
      auditRecord(socket, id, listener, startedAt, { method, path: auditPath(req.url), decision: refusal.status === 403 ? 'deny' : 'bad', status: refusal.status }),
    );
  }
  const verdict = authorize(ctx.policy, id!, method, req.url!);
  if (verdict.kind !== 'allow') {
    // A client waiting for 100 Continue may send its body anyway after a while: close rather
    // than read a body nobody will use.
    return refuseExchange(ctx, req, res, expectsContinue(req), verdict.status, verdict.message, () =>
      auditRecord(socket, id, listener, startedAt, { method, path: auditPath(req.url), decision: verdict.kind, status: verdict.status, ...verdictFields(verdict) }),
    );
  }
  if (verdict.body) return inspectThenForward(ctx, listener, req, res, id!, verdict, startedAt);
  if (verdict.query) {
    const refusal = checkQuery(verdict.query, verdict.forwardTarget);
    if (refusal && !verdict.query.auditOnly) {
      const message = `dockward: identity ${JSON.stringify(verdict.identity)} may not ${verdict.route} with these parameters: ${refusal.field}: ${refusal.message} (${refusal.code}, role ${verdict.query.role})`;
      // As for a refused route: the unread body (a build context) is drained, so a client still
      // uploading it reads the refusal instead of a broken pipe; Expect clients are closed on.
      return refuseExchange(ctx, req, res, expectsContinue(req), 403, message, () =>
        auditRecord(socket, id, listener, startedAt, { method, path: auditPath(verdict.forwardTarget), decision: 'deny', status: 403, ...verdictFields(verdict), code: refusal.code, field: refusal.field }),
      );
    }
    if (refusal) return forward(ctx, listener, req, res, id!, verdict, startedAt, undefined, `${refusal.field}: ${refusal.message} (${refusal.code})`);
  }
  forward(ctx, listener, req, res, id!, verdict, startedAt);
}

type Allowed = Extract<Verdict, { kind: 'allow' }>;

/**
 * The whole body, however it is framed (Node has already undone chunking): what is checked must
 * be all that dockerd would read. 'too-large' as soon as it outgrows `max`.
 */
function readWholeBody(req: IncomingMessage, max: number, timeoutMs: number): Promise<Buffer | 'too-large' | 'incomplete'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => finish('incomplete'), timeoutMs);
    const finish = (v: Buffer | 'too-large' | 'incomplete') => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve(v);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) finish('too-large');
      else chunks.push(c);
    };
    req.on('data', onData);
    req.once('end', () => finish(Buffer.concat(chunks)));
    req.once('error', () => finish('incomplete'));
  });
}

/**
 * A body route: the body is read in full (bounded), decoded as dockerd decodes it, checked, and
 * what is forwarded is its canonical re-encoding with the enforced defaults, never the bytes as
 * sent. A refusal closes the connection: nothing more is read from it.
 */
function inspectThenForward(ctx: GatewayContext, listener: string, req: IncomingMessage, res: ServerResponse, id: Identity, verdict: Allowed, startedAt: number): void {
  const refuse = (status: number, message: string, fields: Partial<AuditRecord>) =>
    refuseExchange(ctx, req, res, true, status, `dockward: ${message}`, () =>
      auditRecord(req.socket, id, listener, startedAt, { method: req.method!, path: auditPath(verdict.forwardTarget), decision: status === 403 ? 'deny' : 'bad', status, ...verdictFields(verdict), ...fields }),
    );
  if (expectsContinue(req)) res.writeContinue();
  void readWholeBody(req, ctx.maxBodyBytes, ctx.bodyTimeoutMs).then((raw) => {
    if (raw === 'too-large') return refuse(413, `the body of ${verdict.route} is limited to ${ctx.maxBodyBytes} bytes, and this one is larger`, { code: 'DW_BODY_TOO_LARGE' });
    if (raw === 'incomplete') return refuse(400, 'the request body did not arrive whole', { code: 'DW_BODY_INVALID' });
    // The client left while its body was read: nothing is forwarded for nobody.
    if (res.closed) return refuse(400, 'the client closed the connection', { code: 'DW_BODY_INVALID', bytesIn: raw.length });
    const outcome = inspectBody(verdict.body!, raw, req.headers['content-type'], ctx.daemonApi, ctx.host);
    if (outcome.kind === 'refuse') {
      const who = `identity ${JSON.stringify(verdict.identity)} may not ${verdict.route} with this body`;
      return refuse(outcome.status, `${who}: ${outcome.message}`, { code: outcome.code, field: outcome.field, bytesIn: raw.length });
    }
    forward(ctx, listener, req, res, id, verdict, startedAt, { raw: raw.length, body: outcome.body, mutations: outcome.mutations, wouldDeny: outcome.wouldDeny });
  });
}

/** A checked body: what replaces the request's own. */
interface Replacement {
  raw: number;
  body: Buffer;
  mutations: string[];
  wouldDeny?: string;
}

function forward(
  ctx: GatewayContext,
  listener: string,
  req: IncomingMessage,
  res: ServerResponse,
  id: Identity,
  verdict: Allowed,
  startedAt: number,
  replacement?: Replacement,
  /** Audit-only: why the query would have been refused. */
  wouldDeny = replacement?.wouldDeny,
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
    headers: (replacement ? jsonBodyHeaders(req.rawHeaders, ctx.acceptEncoding, replacement.body.length) : forwardRequestHeaders(req.rawHeaders, ctx.acceptEncoding)) as unknown as http.OutgoingHttpHeaders,
  });
  upReq.on('error', (e: NodeJS.ErrnoException) => {
    error ??= `upstream: ${e.code ?? e.message}`;
    if (!res.headersSent) replyError(res, 502, `dockward: cannot reach the Docker daemon at ${ctx.upstreamSocket}: ${e.code ?? e.message}`, true);
    else res.destroy();
  });
  upReq.on('response', (upRes) => {
    const headers = forwardResponseHeaders(upRes.rawHeaders, ctx.policy.api.pinnedVersion, verdict.classicBuilder);
    const length = upRes.headers['content-length'];
    // Node fixes the framing (Content-Length or chunked) when the head is written, so an answer
    // that may still be coalesced writes its head only once that is decided.
    if (length !== undefined) res.writeHead(upRes.statusCode!, upRes.statusMessage, headers);
    upRes.on('error', (e: NodeJS.ErrnoException) => {
      error ??= `upstream: ${e.code ?? e.message}`;
      res.destroy();
    });
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
    upRes.on('data', (c: Buffer) => (bytesOut += c.length));
    // An answer that has no body by definition (HEAD, 1xx, 204, 304) must not be given a
    // Content-Length: 0 would be false for HEAD and is forbidden for 204 (RFC 9110 8.6).
    const status = upRes.statusCode!;
    const bodyless = req.method === 'HEAD' || status < 200 || status === 204 || status === 304;
    if (length === undefined) coalesceOrStream(upRes, res, req.method === 'GET', (body) => res.writeHead(status, upRes.statusMessage, body === undefined || bodyless ? headers : [...headers, 'Content-Length', String(body.length)]));
    else relay(upRes, res);
  });
  whenClosed(res, () => {
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
        ...(replacement?.mutations.length ? { mutations: replacement.mutations } : {}),
        ...(wouldDeny ? { wouldDeny } : {}),
      }),
    );
  });
  if (replacement) {
    bytesIn = replacement.raw;
    upReq.end(replacement.body);
    return;
  }
  const h = req.headers;
  // The request is authorized: now the body may come.
  if (expectsContinue(req)) res.writeContinue();
  if (h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')) {
    req.on('data', (c: Buffer) => (bytesIn += c.length));
    req.on('error', (e: NodeJS.ErrnoException) => {
      error ??= `request body: ${e.code ?? e.message}`;
      upReq.destroy();
    });
    relay(req, upReq);
  } else {
    upReq.end();
  }
}

/**
 * Streams as it comes (logs -f, events, archives): nothing held beyond one turn of the event loop
 * and the destination's highWaterMark, and no idle timeout. What arrives within one turn leaves
 * at its end in one write, so the reader at the other end wakes once for it: a TCP read holds up
 * to four TLS records, each its own 'data' event, and dockerd flushes every log line as its own
 * HTTP chunk. Small pieces are merged (per write, the framing costs more than a copy); large ones
 * are written under one cork, since a copy of them only feeds the garbage collector (measured:
 * half the mark-compacts on an archive download). Measured against writing each chunk as it
 * comes, on a 200 MB archive upload (with STREAM_BUFFER_BYTES upstream): ~160-190 -> ~220-260
 * MB/s, dockerd using half the CPU it did; on `logs` of 100-byte lines, ~10% less gateway CPU.
 * Clean-up is the caller's: res 'close' in forward() ends the upstream exchange.
 */
function relay(src: IncomingMessage, dest: http.ClientRequest | ServerResponse): void {
  let gathered: Buffer[] = [];
  let size = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (!gathered.length) return;
    const chunks = gathered;
    const merge = chunks.length > 1 && size / chunks.length < MERGE_BELOW_BYTES;
    gathered = [];
    size = 0;
    let more = true;
    if (merge) more = dest.write(Buffer.concat(chunks));
    else {
      dest.cork();
      for (const c of chunks) more = dest.write(c);
      dest.uncork();
    }
    if (!more) src.pause();
  };
  src.on('data', (c: Buffer) => {
    gathered.push(c);
    size += c.length;
    // libuv reads a busy socket up to 32 times in one turn: the bound stays STREAM_BUFFER_BYTES.
    if (size >= STREAM_BUFFER_BYTES) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  dest.on('drain', () => src.resume());
  src.once('end', () => {
    flush();
    dest.end();
  });
}

/** How long an answer without Content-Length may be held to leave in one piece. */
const COALESCE_MS = 5;

/**
 * An answer without Content-Length is either a JSON document dockerd sent chunked because it
 * outgrew Go's 2 KiB buffer (`/containers/json` with a dozen containers), complete within a
 * millisecond, or a stream (wait, events, logs -f) that may stay silent for minutes while the
 * client needs its status now (docker run starts the container only once its wait request got
 * the 200). It is held for at most COALESCE_MS and SMALL_ANSWER_BYTES: if it ends by then it
 * leaves as one write with a Content-Length (one TLS record instead of head, chunks and
 * terminator: measured ~8% less gateway CPU per `/containers/json` with 12 containers);
 * otherwise the head and what came so far go out at once and the rest streams.
 * Only a GET answer (a listing) is held: a POST answered without Content-Length is a stream whose
 * head the client acts on (wait, build, pull, load), and holding wait's head delayed every
 * `docker run`'s start by COALESCE_MS plus timer latency (5-10 ms here, more on a busy machine).
 */
function coalesceOrStream(upRes: IncomingMessage, res: ServerResponse, hold: boolean, writeHead: (completeBody?: Buffer) => void): void {
  const held: Buffer[] = [];
  let size = 0;
  const collect = (c: Buffer) => {
    held.push(c);
    size += c.length;
    if (size > SMALL_ANSWER_BYTES) startStreaming();
  };
  const heldBytes = () => (held.length === 1 ? held[0]! : Buffer.concat(held));
  const finish = () => {
    clearTimeout(timer);
    const body = heldBytes();
    writeHead(body);
    res.end(body);
  };
  const startStreaming = () => {
    clearTimeout(timer);
    upRes.off('data', collect);
    upRes.off('end', finish);
    writeHead();
    if (size) res.write(heldBytes());
    else res.flushHeaders();
    relay(upRes, res);
  };
  const timer = hold ? setTimeout(startStreaming, COALESCE_MS) : undefined;
  if (!timer) return startStreaming();
  res.once('close', () => clearTimeout(timer));
  upRes.on('data', collect);
  upRes.once('end', finish);
}
