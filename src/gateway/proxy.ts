/**
 * The ordinary request path: decide, then forward over a keep-alive Unix-socket connection,
 * streaming both bodies (never buffered), or answer the refusal; the exchange's audit line is
 * written when it is over.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { STREAM_BUFFER_BYTES, type GatewayContext } from './context.js';
import { bodyNotRead, decide, streamRefusal, unreadBodyStage } from './pipeline/decide.js';
import { applyPlan, ownershipPlan, ownershipRefusal } from './pipeline/ownership.js';
import { archiveRefusal, buildContextCheck } from './pipeline/build.js';
import { ownedAnswer } from './owned-answer.js';
import { allowFields, finishExchange, forwarding, openExchange, refusalFields, type Exchange } from './pipeline/exchange.js';
import type { Allow, ReadBody, Refuse } from './pipeline/outcome.js';
import { drainRefused, expectsContinue, withoutBody, forwardRequestHeaders, forwardResponseHeaders, jsonBodyHeaders, rawHeader, replyError, sizedBodyHeaders } from './wire.js';

/** Sized answers up to this are sent in one piece; larger ones and streams are relayed. */
const SMALL_ANSWER_BYTES = 64 * 1024;

/** Pieces gathered in one turn are merged into one write when they average less than this. */
const MERGE_BELOW_BYTES = 4096;

/**
 * Runs `fn` once the exchange is over. A client can be gone before the body stage is done: the
 * exchange still gets its audit line then.
 */
function whenClosed(res: ServerResponse, fn: () => void): void {
  if (res.closed) fn();
  else res.once('close', fn);
}

/** Whether the request's framing is its own (chunked, or any Content-Length). */
function hasLength(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
}

/** Whether the request announced a body (chunked, or a Content-Length other than 0). */
function announcesBody(req: IncomingMessage): boolean {
  const h = req.headers;
  return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
}

/**
 * Answers a refusal and closes the connection: a refused request releases its slot, and nothing
 * it sends after is read as a request. A body still arriving is drained first, within bounds.
 */
function refuse(ctx: GatewayContext, ex: Exchange, req: IncomingMessage, res: ServerResponse, r: Refuse, bytesIn = 0): void {
  if (announcesBody(req) && !req.complete) {
    const socket = req.socket as Socket;
    // Node ends a `Connection: close` answer with destroySoon(), which closes the socket with the
    // body unread: the kernel resets the connection, and a client still uploading gets a broken
    // pipe instead of the answer. Only our side ends here; drainRefused() closes the rest.
    socket.destroySoon = () => socket.end();
    drainRefused(socket, req, () => whenClosed(res, () => socket.destroy()));
  }
  replyError(res, r.status, r.message, true);
  if (r.audited) {
    ex.finished = true;
    return;
  }
  whenClosed(res, () => finishExchange(ctx, ex, bytesIn ? { ...refusalFields(r), bytesIn } : refusalFields(r)));
}

export function handleRequest(ctx: GatewayContext, listener: string, req: IncomingMessage, res: ServerResponse): void {
  const ex = openExchange(ctx, listener, req.socket, req.method!, req.url!);
  const o = decide(ctx, req, ex.id);
  if (o.kind === 'refuse') return refuse(ctx, ex, req, res, o);
  const share = ctx.fairShare.startStream(ex.id!, o.verdict);
  if ('refused' in share) return refuse(ctx, ex, req, res, streamRefusal(o.verdict, share));
  whenClosed(res, share.release);
  if (o.verdict.owner) return void owned(ctx, ex, req, res, o);
  if (o.kind === 'allow') {
    const check = buildContextCheck(ctx, o);
    return check ? void spooledArchive(ctx, ex, req, res, o, check) : forward(ctx, ex, req, res, o);
  }
  void withBody(ctx, req, res, o).then(({ next, received }) => (next.kind === 'refuse' ? refuse(ctx, ex, req, res, next, received) : forward(ctx, ex, req, res, next)));
}

/** Reads the body (bounded) and lets it finish the decision; a client waiting for the invitation gets it now. */
async function withBody(ctx: GatewayContext, req: IncomingMessage, res: ServerResponse, o: ReadBody): Promise<{ next: Allow | Refuse; received: number }> {
  if (expectsContinue(req)) res.writeContinue();
  const raw = await readWholeBody(req, ctx.maxBodyBytes, ctx.bodyTimeoutMs);
  const next = await o.withBody(typeof raw !== 'string' && res.closed ? 'client-gone' : raw, req.headers['content-type']);
  return { next, received: typeof raw === 'string' ? 0 : raw.length };
}

/** A tenant's request: its objects resolved among its own, its body stamped, its answer planned (pipeline/ownership.ts). */
async function owned(ctx: GatewayContext, ex: Exchange, req: IncomingMessage, res: ServerResponse, o: Allow | ReadBody): Promise<void> {
  const plan = await ownershipPlan(ctx, o.verdict);
  if ('kind' in plan) return refuse(ctx, ex, req, res, plan);
  const archive = plan.archive ?? (o.kind === 'allow' ? buildContextCheck(ctx, { ...o, forwardTarget: plan.target }) : undefined);
  if (archive) {
    // An archive is checked whole, never read into memory as a checked body would be.
    if (o.kind !== 'allow') return refuse(ctx, ex, req, res, ownershipRefusal(o.verdict, new Error(`${o.verdict.route} has a body check as well as an archive check`)));
    return spooledArchive(ctx, ex, req, res, { ...o, forwardTarget: plan.target }, archive);
  }
  // The body is read when a check or the plan needs it; otherwise it is relayed as it comes.
  const read = o.kind === 'read-body' || plan.body ? await withBody(ctx, req, res, o.kind === 'read-body' ? o : unreadBodyStage(ctx, o)) : { next: o as Allow, received: 0 };
  const received = read.received;
  if (read.next.kind === 'refuse') return refuse(ctx, ex, req, res, read.next, received);
  const next = await applyPlan(plan, read.next, o.kind === 'read-body');
  if (next.kind === 'refuse') return refuse(ctx, ex, req, res, next, received);
  forward(ctx, ex, req, res, next);
}

/**
 * An archive checked whole (a tenant's `docker load`, whose manifest comes last; a constrained
 * role's build context): spooled to disk, checked, then forwarded unchanged from the file. The
 * file goes when the exchange ends, however it ends.
 */
async function spooledArchive(ctx: GatewayContext, ex: Exchange, req: IncomingMessage, res: ServerResponse, a: Allow, check: (file: string) => Promise<void>): Promise<void> {
  if (expectsContinue(req)) res.writeContinue();
  let s;
  try {
    s = await ctx.spool.spool(req);
  } catch (e) {
    return refuse(ctx, ex, req, res, ownershipRefusal(a.verdict, new Error(`the archive cannot be spooled: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)));
  }
  if ('refused' in s) {
    const r = s.refused === 'spool-failed' ? ownershipRefusal(a.verdict, new Error(`the archive cannot be spooled: ${s.error}`)) : bodyNotRead(a.verdict, s.refused, ctx.spool.maxBytes);
    return refuse(ctx, ex, req, res, r, s.received);
  }
  const { file, size } = s;
  whenClosed(res, () => void rm(file, { force: true }));
  try {
    await check(file);
  } catch (e) {
    return refuse(ctx, ex, req, res, archiveRefusal(a.verdict, e), size);
  }
  if (res.closed) return refuse(ctx, ex, req, res, bodyNotRead(a.verdict, 'client-gone', ctx.spool.maxBytes), size);
  forward(ctx, ex, req, res, { ...a, archive: { file, size } });
}

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

function forward(ctx: GatewayContext, ex: Exchange, req: IncomingMessage, res: ServerResponse, a: Allow): void {
  let bytesIn = 0;
  let bytesOut = 0;
  let error: string | undefined;
  const body = a.body;
  // An answer the gateway rewrites for a tenant must arrive uncompressed.
  const encoding = a.answer ? 'strip' : ctx.acceptEncoding;
  const upReq = http.request({
    agent: ctx.agent,
    socketPath: ctx.upstreamSocket,
    method: req.method,
    path: a.forwardTarget,
    headers: (body
      ? jsonBodyHeaders(req.rawHeaders, encoding, body.bytes.length)
      : a.archive
        ? sizedBodyHeaders(req.rawHeaders, encoding, a.archive.size)
        : hasLength(req)
        ? forwardRequestHeaders(req.rawHeaders, encoding)
        : withoutBody(forwardRequestHeaders(req.rawHeaders, encoding), req.method!)) as unknown as http.OutgoingHttpHeaders,
  });
  upReq.on('error', (e: NodeJS.ErrnoException) => {
    error ??= `upstream: ${e.code ?? e.message}`;
    if (!res.headersSent) replyError(res, 502, `dockward: cannot reach the Docker daemon at ${ctx.upstreamSocket}: ${e.code ?? e.message}`, true);
    else res.destroy();
  });
  upReq.on('response', (upRes) => {
    const headers = forwardResponseHeaders(upRes.rawHeaders, ctx.policy.api.pinnedVersion, a.verdict.classicBuilder);
    if (a.answer && upRes.statusCode! < 300) return ownedAnswer(ctx, a.verdict.owner!, a.answer, upRes, res, headers, (n) => (bytesOut += n));
    const length = rawHeader(upRes.rawHeaders, 'content-length');
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
  forwarding(ctx, ex, a, () => res.destroy());
  whenClosed(res, () => {
    // The client went away (or the answer is complete): a still-running upstream exchange, such
    // as `logs -f` or `events`, must not outlive it.
    if (!res.writableFinished) upReq.destroy();
    const f = allowFields(a);
    f.status = res.headersSent ? res.statusCode : null;
    f.bytesIn = bytesIn;
    f.bytesOut = bytesOut;
    if (error) f.error = error;
    finishExchange(ctx, ex, f);
  });
  if (body) {
    bytesIn = body.received;
    upReq.end(body.bytes);
    return;
  }
  if (a.archive) {
    bytesIn = a.archive.size;
    const file = createReadStream(a.archive.file, { highWaterMark: STREAM_BUFFER_BYTES });
    file.once('error', (e: NodeJS.ErrnoException) => {
      error ??= `spooled archive: ${e.code ?? e.message}`;
      upReq.destroy();
    });
    // However the upstream exchange ends, the file is not held open.
    upReq.once('close', () => file.destroy());
    file.pipe(upReq);
    return;
  }
  // The request is authorized: now the body may come.
  if (expectsContinue(req)) res.writeContinue();
  if (announcesBody(req)) {
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
