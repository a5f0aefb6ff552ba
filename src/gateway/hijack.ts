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
import { authorize, type Identity, type Verdict } from '../policy/index.js';
import { OwnershipRefusal, planRequest } from '../ownership/index.js';
import { auditPath, type AuditRecord } from './audit-log.js';
import { auditRecord, identityOf, type GatewayContext } from './context.js';
import { screen, verdictFields } from './proxy.js';
import { expectsContinue, forwardRequestHeaders, forwardResponseHeaders, rawError, rawResponseHead } from './wire.js';

/** Routes dockerd hijacks; the target is already canonical (dockerd's ids are greedy: `.+`). */
const HIJACK_PATH = /^(?:\/v[0-9.]+)?\/(?:containers\/.+\/attach(?:\/ws)?|exec\/.+\/start|session|grpc)$/;

function pathPart(target: string): string {
  const q = target.indexOf('?');
  return q === -1 ? target : target.slice(0, q);
}

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

export function handleUpgrade(ctx: GatewayContext, listener: string, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const startedAt = performance.now();
  const id = identityOf(socket);
  const method = req.method!;
  const audit = (fields: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>) =>
    ctx.audit.write(auditRecord(socket, id, listener, startedAt, { method, ...fields }));
  const refuse = (status: number, message: string, fields: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>) => {
    rawError(socket, status, message);
    audit({ status, path: auditPath(req.url), ...fields });
  };
  socket.on('error', () => socket.destroy());
  // Nothing may be written on this connection while an earlier pipelined request's answer is
  // still going out, refusals included.
  void earlierResponse(socket).then(() => upgrade(ctx, req, socket, head, id, refuse, audit));
}

function upgrade(
  ctx: GatewayContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  id: Identity | undefined,
  refuse: (status: number, message: string, fields: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>) => void,
  audit: (fields: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>) => void,
): void {
  const method = req.method!;
  const refusal = screen(ctx, req, id);
  if (refusal?.audited) return rawError(socket, refusal.status, refusal.message);
  if (refusal) return refuse(refusal.status, refusal.message, { decision: refusal.status === 403 ? 'deny' : 'bad' });
  const verdict = authorize(ctx.policy, id!, method, req.url!);
  if (verdict.kind !== 'allow') return refuse(verdict.status, verdict.message, { decision: verdict.kind, ...verdictFields(verdict) });
  // [ownership] A tenant attaches to and starts execs of its own containers only, by full id.
  if (verdict.owner) {
    void planRequest(ctx.ownership, { owner: verdict.owner, route: verdict.route, target: verdict.forwardTarget, param: verdict.param }).then(
      (plan) => upgradeAllowed(ctx, req, socket, head, { ...verdict, forwardTarget: plan.target }, refuse, audit),
      (e: unknown) => {
        const r = e instanceof OwnershipRefusal ? e : { status: 503, message: `dockward: ownership cannot be decided (${(e as Error).message})`, code: 'DW_OWNER_UNAVAILABLE' };
        refuse(r.status, r.message, { decision: r.status === 403 ? 'deny' : 'bad', ...verdictFields(verdict), code: r.code });
      },
    );
    return;
  }
  upgradeAllowed(ctx, req, socket, head, verdict, refuse, audit);
}

function upgradeAllowed(
  ctx: GatewayContext,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  verdict: Extract<Verdict, { kind: 'allow' }>,
  refuse: (status: number, message: string, fields: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>) => void,
  audit: (fields: Partial<AuditRecord> & Pick<AuditRecord, 'decision'>) => void,
): void {
  const fields = { path: auditPath(verdict.forwardTarget), ...verdictFields(verdict) };
  // No hijacked route has a body to check; should a policy ever say otherwise, fail closed.
  if (verdict.body) return refuse(400, 'dockward: a request whose body must be checked cannot be upgraded', { decision: 'bad', ...fields });
  if (!HIJACK_PATH.test(pathPart(verdict.forwardTarget))) {
    // dockerd would ignore Upgrade here and keep parsing HTTP on the connection: tunnelling it
    // would let later requests pass unchecked.
    return refuse(400, 'dockward: Upgrade is only accepted on attach, exec start, /session and /grpc', { decision: 'bad', ...fields });
  }
  if (req.headers['transfer-encoding'] !== undefined) {
    return refuse(400, 'dockward: a chunked body on an Upgrade request is refused (send Content-Length)', { decision: 'bad', ...fields });
  }
  const length = Number(req.headers['content-length'] ?? '0');
  if (!Number.isSafeInteger(length) || length < 0) return refuse(400, 'dockward: invalid Content-Length', { decision: 'bad', ...fields });
  if (length > ctx.maxBodyBytes) {
    return refuse(413, `dockward: the body of an Upgrade request is limited to ${ctx.maxBodyBytes} bytes`, { decision: 'bad', ...fields });
  }
  // Authorized: a client that waits for the invitation gets it now, not the body timeout.
  if (length > 0 && expectsContinue(req)) socket.write('HTTP/1.1 100 Continue\r\n\r\n');
  void (async () => {
    let body: Buffer;
    let early: Buffer;
    try {
      ({ body, rest: early } = await readBody(socket, head, length, ctx.bodyTimeoutMs));
    } catch (e) {
      return refuse(408, `dockward: ${(e as Error).message}`, { decision: 'bad', ...fields });
    }
    tunnel(ctx, socket, req, verdict.forwardTarget, body, early, (rec) => audit({ decision: 'allow', ...fields, ...rec }));
  })();
}

/**
 * `early` is whatever the client sent after the body before seeing our answer (stdin typed
 * ahead). It is held, and written upstream only once dockerd has switched protocols, so it is
 * stream data there; if dockerd answers anything but 101 it is dropped with the connection, and
 * can never be read by dockerd as a second, unchecked HTTP request.
 */
function tunnel(
  ctx: GatewayContext,
  socket: Duplex,
  req: IncomingMessage,
  target: string,
  body: Buffer,
  early: Buffer,
  audit: (rec: Partial<AuditRecord>) => void,
): void {
  let logged = false;
  const done = (rec: Partial<AuditRecord>) => {
    if (logged) return;
    logged = true;
    audit(rec);
  };
  const s = socket as Duplex & { bytesRead?: number; bytesWritten?: number };
  const in0 = s.bytesRead ?? 0;
  const out0 = s.bytesWritten ?? 0;
  const upReq = http.request({
    agent: false,
    socketPath: ctx.upstreamSocket,
    method: req.method,
    path: target,
    headers: forwardRequestHeaders(req.rawHeaders, ctx.acceptEncoding, req.headers.upgrade ?? 'tcp') as unknown as http.OutgoingHttpHeaders,
  });
  // A client gone before dockerd answered takes its pending exchange with it.
  const abandon = () => upReq.destroy();
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
      if (size > 1 << 20) upRes.destroy(new Error('answer too large'));
      else chunks.push(c);
    });
    upRes.on('error', () => socket.destroy());
    upRes.on('end', () => {
      const payload = Buffer.concat(chunks);
      const headers = forwardResponseHeaders(upRes.rawHeaders).filter((_, i, a) => {
        const name = a[i - (i % 2)]!.toLowerCase();
        return name !== 'content-length' && name !== 'transfer-encoding';
      });
      headers.push('Content-Length', String(payload.length), 'Connection', 'close');
      socket.end(Buffer.concat([Buffer.from(rawResponseHead(upRes.statusCode!, upRes.statusMessage ?? '', headers)), payload]));
      done({ status: upRes.statusCode!, bytesIn: body.length, bytesOut: payload.length });
    });
  });
  upReq.on('upgrade', (upRes: IncomingMessage, up: Duplex, upHead: Buffer) => {
    socket.off('close', abandon);
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
    socket.once('close', () => {
      ctx.tunnels.delete(socket);
      done({ status: upRes.statusCode!, hijacked: true, bytesIn: (s.bytesRead ?? 0) - in0, bytesOut: (s.bytesWritten ?? 0) - out0 });
    });
  });
  upReq.end(body);
}
