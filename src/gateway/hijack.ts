/**
 * Hijacked exchanges: `docker exec`, `attach`, `run -i` and BuildKit's /session and /grpc ask
 * for `Connection: Upgrade` and, after dockerd's 101, the connection carries raw stream bytes
 * both ways. Each gets its own upstream connection (never a pooled one) and, once the 101 is
 * relayed, the gateway only copies bytes: nothing after the upgrade is parsed as HTTP.
 *
 * Requests on these routes WITHOUT an Upgrade header take the ordinary path: dockerd answers 200
 * and streams the output until it closes, which the proxy relays as a normal streamed response;
 * anything the client sends after that request is parsed (and authorized) as a new request, so
 * such a client gets output but no stdin. The docker CLI always sends Upgrade.
 */
import http, { type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import type { AuditRecord } from './audit-log.js';
import type { GatewayContext } from './context.js';
import { decideUpgrade, streamRefusal } from './pipeline/decide.js';
import { ownershipPlan } from './pipeline/ownership.js';
import { allowFields, finishExchange, forwarding, openExchange, refusalFields, type Exchange } from './pipeline/exchange.js';
import type { Allow, Refuse } from './pipeline/outcome.js';
import { drainRefused, expectsContinue, withoutBody, forwardRequestHeaders, forwardResponseHeaders, rawError, rawResponseHead } from './wire.js';

/** An answer dockerd gives instead of switching protocols is relayed whole, up to this. */
const MAX_PLAIN_ANSWER_BYTES = 1 << 20;

/** Reads exactly the request body the head announced; what follows stays separate. */
function readBody(socket: Duplex, head: Buffer, length: number, timeoutMs: number): Promise<{ body: Buffer; rest: Buffer }> {
  if (head.length >= length) return Promise.resolve({ body: head.subarray(0, length), rest: head.subarray(length) });
  return new Promise((resolve, reject) => {
    const chunks = [head];
    let have = head.length;
    const done = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onEnd);
      socket.pause();
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      have += c.length;
      if (have < length) return;
      done();
      const all = Buffer.concat(chunks);
      resolve({ body: all.subarray(0, length), rest: all.subarray(length) });
    };
    const onEnd = () => {
      done();
      reject(new Error('the client closed before sending the whole request body'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error('the request body did not arrive in time'));
    }, timeoutMs);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
  });
}

/** A response still being written for an earlier pipelined request on this connection. */
async function earlierResponse(socket: Duplex): Promise<void> {
  const pending = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (pending && !pending.writableFinished && !pending.destroyed) await Promise.race([once(pending, 'finish'), once(pending, 'close')]);
}

/**
 * Answers a refusal and closes the connection, reading what the client still sends (bounded) so
 * that it reads the answer rather than a reset.
 */
function refuse(ctx: GatewayContext, ex: Exchange, socket: Duplex, r: Refuse): void {
  rawError(socket, r.status, r.message);
  drainRefused(socket, socket, () => socket.destroy());
  if (r.audited) ex.finished = true;
  else finishExchange(ctx, ex, refusalFields(r));
}

export function handleUpgrade(ctx: GatewayContext, listener: string, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const ex = openExchange(ctx, listener, socket, req.method!, req.url!);
  socket.on('error', () => socket.destroy());
  // Nothing may be written on this connection while an earlier pipelined request's answer is
  // still going out, refusals included.
  void earlierResponse(socket).then(() => upgrade(ctx, ex, req, socket, head));
}

function upgrade(ctx: GatewayContext, ex: Exchange, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const o = decideUpgrade(ctx, req, ex.id);
  if (o.kind === 'refuse') return refuse(ctx, ex, socket, o);
  const share = ctx.fairShare.startStream(ex.id!, o.verdict);
  if ('refused' in share) return refuse(ctx, ex, socket, streamRefusal(o.verdict, share));
  socket.once('close', share.release);
  void (async () => {
    let a: Allow = o;
    if (o.verdict.owner) {
      // A tenant attaches to and starts the execs of its own containers only, by full id.
      const plan = await ownershipPlan(ctx, o.verdict);
      if ('kind' in plan) return refuse(ctx, ex, socket, plan);
      a = { ...o, forwardTarget: plan.target };
    }
    const length = Number(req.headers['content-length'] ?? '0');
    // Authorized: a client that waits for the invitation gets it now, not the body timeout.
    if (length > 0 && expectsContinue(req)) socket.write('HTTP/1.1 100 Continue\r\n\r\n');
    let body: Buffer;
    let early: Buffer;
    try {
      ({ body, rest: early } = await readBody(socket, head, length, ctx.bodyTimeoutMs));
    } catch (e) {
      const v = o.verdict;
      return refuse(ctx, ex, socket, { kind: 'refuse', status: 408, decision: 'bad', message: `dockward: ${(e as Error).message}`, route: v.route, rule: v.rule, target: a.forwardTarget });
    }
    tunnel(ctx, ex, socket, req, a, body, early);
  })();
}

/**
 * `early` is whatever the client sent after the body before seeing our answer (stdin typed
 * ahead). It is held, and written upstream only once dockerd has switched protocols, so it is
 * stream data there; if dockerd answers anything but 101 it is dropped with the connection, and
 * can never be read by dockerd as a second, unchecked HTTP request.
 *
 * Every way this ends finishes the exchange (one audit line): dockerd unreachable, the client
 * gone before dockerd answered, a plain answer instead of 101, or the stream closing.
 */
function tunnel(ctx: GatewayContext, ex: Exchange, socket: Duplex, req: IncomingMessage, a: Allow, body: Buffer, early: Buffer): void {
  const done = (rec: Partial<AuditRecord>) => finishExchange(ctx, ex, { ...allowFields(a), ...rec });
  const s = socket as Duplex & { bytesRead?: number; bytesWritten?: number };
  const in0 = s.bytesRead ?? 0;
  const out0 = s.bytesWritten ?? 0;
  const upReq = http.request({
    agent: false,
    socketPath: ctx.upstreamSocket,
    method: req.method,
    path: a.forwardTarget,
    headers: (req.headers['content-length'] === undefined
      ? withoutBody(forwardRequestHeaders(req.rawHeaders, ctx.acceptEncoding, req.headers.upgrade ?? 'tcp'), req.method!)
      : forwardRequestHeaders(req.rawHeaders, ctx.acceptEncoding, req.headers.upgrade ?? 'tcp')) as unknown as http.OutgoingHttpHeaders,
  });
  forwarding(ctx, ex, a, () => socket.destroy());
  // A client gone before dockerd answered takes its pending exchange with it.
  const abandon = () => {
    upReq.destroy();
    done({ status: null, error: 'the client closed the connection before dockerd answered' });
  };
  socket.once('close', abandon);
  upReq.on('error', (e: NodeJS.ErrnoException) => {
    rawError(socket, 502, `dockward: cannot reach the Docker daemon at ${ctx.upstreamSocket}: ${e.code ?? e.message}`);
    done({ status: 502, error: `upstream: ${e.code ?? e.message}` });
  });
  upReq.on('response', (upRes) => {
    // dockerd did not hijack (no such container, not running, a detached exec): relay its answer
    // and close, since nobody knows what the client meant to send next.
    const chunks: Buffer[] = [];
    let size = 0;
    upRes.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_PLAIN_ANSWER_BYTES) upRes.destroy(new Error(`dockerd's answer instead of 101 is over ${MAX_PLAIN_ANSWER_BYTES} bytes`));
      else chunks.push(c);
    });
    upRes.on('error', (e) => {
      socket.destroy();
      done({ status: upRes.statusCode!, error: `upstream: ${e.message}` });
    });
    upRes.on('end', () => {
      const payload = Buffer.concat(chunks);
      const headers = forwardResponseHeaders(upRes.rawHeaders).filter((_, i, a) => {
        const name = a[i - (i % 2)]!.toLowerCase();
        return name !== 'content-length' && name !== 'transfer-encoding';
      });
      headers.push('Content-Length', String(payload.length), 'Connection', 'close');
      socket.off('close', abandon);
      socket.end(Buffer.concat([Buffer.from(rawResponseHead(upRes.statusCode!, upRes.statusMessage ?? '', headers)), payload]));
      drainRefused(socket, socket, () => socket.destroy());
      done({ status: upRes.statusCode!, bytesIn: body.length, bytesOut: payload.length });
    });
  });
  upReq.on('upgrade', (upRes: IncomingMessage, up: Duplex, upHead: Buffer) => {
    socket.off('close', abandon);
    const end = () => {
      ctx.tunnels.delete(socket);
      done({ status: upRes.statusCode!, hijacked: true, bytesIn: (s.bytesRead ?? 0) - in0, bytesOut: (s.bytesWritten ?? 0) - out0 });
    };
    // The client left while dockerd switched: nobody to relay for.
    if (socket.destroyed) {
      up.destroy();
      return end();
    }
    ctx.tunnels.add(socket);
    socket.write(rawResponseHead(upRes.statusCode!, upRes.statusMessage ?? '', upRes.rawHeaders));
    if (upHead.length) socket.write(upHead);
    if (early.length) up.write(early);
    // pipe() ends the destination when the source ends: the client's half-close (stdin done)
    // becomes a write shutdown towards dockerd while its output keeps flowing back, and dockerd's
    // end of the stream ends ours.
    socket.pipe(up);
    up.pipe(socket);
    up.on('error', () => socket.destroy());
    socket.on('close', () => up.destroy());
    up.on('close', () => {
      if (!socket.writableEnded) socket.destroy();
    });
    socket.once('close', end);
  });
  upReq.end(body);
}
