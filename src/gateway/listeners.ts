/**
 * The two kinds of front door: TCP with mutual TLS (identity = the verified client certificate)
 * and Unix sockets with a fixed identity (the thing to mount into one container instead of
 * docker.sock). Both speak HTTP/1.1 through Node's http server, with the same handlers.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { policyIdentityName, type Identity } from '../policy/index.js';
import { DockwardError } from '../util/errors.js';
import { addressRecord, auditRecord, identityOf, refusedOf, setIdentity, setRefused, STREAM_BUFFER_BYTES, type GatewayContext } from './context.js';
import { handleRequest } from './proxy.js';
import { handleUpgrade } from './hijack.js';
import { loadTlsMaterial, TlsReloader, TLS_SERVER_OPTIONS, type TlsFiles } from './tls-context.js';
import { judgeClient, type RefusedClient } from './client-certificate.js';
import { auditPath } from './audit-log.js';
import type { FairShareLimits } from './fair-share.js';
import { limitHandshakes } from './handshake-limits.js';
import { rawError } from './wire.js';
import { MAX_REQUEST_HEADERS } from './pipeline/screen.js';

export interface TcpListenerSpec {
  kind: 'tcp';
  host: string;
  port: number;
  tls: TlsFiles;
}

export interface UnixListenerSpec {
  kind: 'unix';
  path: string;
  identity: string;
  mode: number;
  uid?: number;
  gid?: number;
}

/**
 * Plain HTTP on TCP with a fixed identity: docker-socket-proxy's front door (`dockward
 * socket-proxy`), for a container network or loopback where nothing else can reach it.
 */
export interface PlainTcpListenerSpec {
  kind: 'plain';
  host: string;
  port: number;
  identity: string;
}

export type ListenerSpec = TcpListenerSpec | UnixListenerSpec | PlainTcpListenerSpec;

export interface ServerLimits extends FairShareLimits {
  /** Whole request head must arrive within this (slowloris). */
  headersTimeoutMs: number;
  /** Head and body of an ordinary request must arrive within this; responses are not limited. */
  requestTimeoutMs: number;
  /** Idle time between requests on a keep-alive connection. */
  keepAliveTimeoutMs: number;
  /**
   * A TLS handshake must finish within this. Connections still in their handshake count against
   * maxConnections, so Node's default (120 s) let a few unauthenticated clients a second keep
   * everyone out.
   */
  handshakeTimeoutMs: number;
  maxConnections: number;
  /**
   * Connections from one client address still in their TLS handshake; past it the oldest is shed
   * (handshake-limits.ts). Without it one host could hold every slot for handshakeTimeoutMs by
   * opening connections and saying nothing, again and again.
   */
  maxHandshakesPerAddress: number;
}

export interface Listener {
  name: string;
  /** `host:port` actually bound (port 0 resolves here) or the socket path. */
  address: string;
  port?: number;
  server: http.Server;
  reloader?: TlsReloader;
  close(): Promise<void>;
}

export function listenerName(spec: ListenerSpec): string {
  if (spec.kind === 'unix') return `unix://${spec.path}`;
  return `${spec.kind === 'tcp' ? 'tcp' : 'http'}://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}`;
}

/**
 * requireHostHeader: a request without Host reaches screen(), which refuses it audited (Node's
 * own 400 is not).
 */
const HTTP_SERVER_OPTIONS = { requireHostHeader: false, highWaterMark: STREAM_BUFFER_BYTES } as const satisfies http.ServerOptions;

function wire(ctx: GatewayContext, server: http.Server, name: string, limits: ServerLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // No socket idle timeout: `logs -f`, `events` and `wait` are silent for as long as they like.
  server.timeout = 0;
  server.maxConnections = limits.maxConnections;
  // One more than a request may carry, so that screen() sees a request with too many and refuses it.
  server.maxHeadersCount = MAX_REQUEST_HEADERS + 1;
  server.on('request', (req, res) => handleRequest(ctx, name, req, res));
  // With this listener Node no longer answers 100 Continue by itself: forward() does, once the
  // request is authorized, so a refused client is not invited to send its body.
  server.on('checkContinue', (req, res) => handleRequest(ctx, name, req, res));
  // An Expect other than 100-continue comes here instead of 'request'; screen() refuses it.
  server.on('checkExpectation', (req, res) => handleRequest(ctx, name, req, res));
  server.on('upgrade', (req, socket, head) => handleUpgrade(ctx, name, req, socket, head));
  server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string }, socket) => {
    const pending = (socket as typeof socket & { _httpMessage?: http.ServerResponse })._httpMessage;
    // No identity yet means the TLS handshake never completed (a handshake timeout, a refused
    // certificate with the client still connected): there is no channel to answer on, and an
    // HTTP error written into it would wait for a handshake that never comes, holding the
    // connection slot and blocking shutdown. The 'tlsClientError' listener audits it.
    if (!identityOf(socket) || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const why = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'the request did not arrive in time' : (err.reason ?? err.code ?? 'malformed request');
    // Behind a pipelined request whose answer is still going out there is no answering: the
    // connection is closed, and the malformed request still gets its line.
    // An error inside the body of the request in flight (a broken chunk, its timeout) is that
    // exchange's, and audited by it; one after its end is a pipelined request of its own.
    if (pending && !pending.req.complete) {
      socket.destroy();
      return;
    }
    const answered = socket.writable && !pending;
    if (answered) rawError(socket, status, `dockward: refused a malformed HTTP request: ${why}`);
    else socket.destroy();
    ctx.audit.write(auditRecord(socket, identityOf(socket), name, performance.now(), { decision: 'bad', status: answered ? status : null, error: why }));
  });
  // Node closes a CONNECT without a word when nobody listens for it; the gateway is no proxy.
  server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    const refused = refusedOf(socket);
    if (refused) return rawError(socket, 403, refused.message);
    const id = identityOf(socket);
    rawError(socket, 405, 'dockward: CONNECT is refused (this is a Docker API gateway, not a proxy)');
    ctx.audit.write(auditRecord(socket, id, name, performance.now(), { method: 'CONNECT', path: auditPath(req.url), decision: id ? 'bad' : 'refused', status: 405 }));
  });
}

async function listenTcp(ctx: GatewayContext, spec: TcpListenerSpec, limits: ServerLimits): Promise<Listener> {
  const material = await loadTlsMaterial(spec.tls);
  const server = https.createServer({ ...TLS_SERVER_OPTIONS, ...material, noDelay: true, handshakeTimeout: limits.handshakeTimeoutMs, ...HTTP_SERVER_OPTIONS });
  await bind(server, () => server.listen(spec.port, spec.host), listenerName(spec));
  // Named after the bound port (port 0 picks one); handlers are in place before the first
  // connection can be accepted, which needs another turn of the event loop.
  const addr = server.address() as net.AddressInfo;
  const name = listenerName({ ...spec, port: addr.port });
  // OpenSSL checks the CRL on new handshakes only (a reload also makes older session tickets
  // useless): what a certificate opened before its revocation, keep-alive connections, streams
  // such as `logs -f` and hijacked exec sessions alike, is ended here.
  const live = new Set<TLSSocket>();
  const reloader = new TlsReloader(name, spec.tls, server, ctx.log, material);
  reloader.afterReload = () => {
    let ended = 0;
    for (const socket of live) {
      const serial = identityOf(socket)?.serial;
      if (serial !== undefined && reloader.revocation(serial)) {
        socket.destroy();
        ended++;
      }
    }
    if (ended) ctx.log(`${name}: closed ${ended} connection(s) of revoked certificates`);
  };
  const handshakes = limitHandshakes(server, {
    maxPerAddress: limits.maxHandshakesPerAddress,
    timeoutMs: limits.handshakeTimeoutMs,
    recentRefusals: (client) => ctx.refusals.recentFrom(client),
  });
  server.on('secureConnection', (socket: TLSSocket) => {
    socket.disableRenegotiation();
    const handshakeDone = handshakes.release(socket);
    const id = judgeClient(socket, name, reloader);
    if ('reason' in id) return refuseClient(ctx, socket, name, id, limits.handshakeTimeoutMs, handshakeDone);
    const share = ctx.fairShare.openConnection(id, policyIdentityName(ctx.policy, id));
    if ('refused' in share) {
      const refused = { reason: share.refused, message: `dockward: ${share.refused}`, cn: share.cn, serial: share.serial };
      return refuseClient(ctx, socket, name, refused, limits.handshakeTimeoutMs, handshakeDone);
    }
    handshakeDone();
    socket.once('close', share.release);
    live.add(socket);
    socket.once('close', () => live.delete(socket));
    // Half-open: a client that half-closes after stdin (`echo hi | docker exec -i c cat`) must
    // still receive the output that follows. Only once authenticated: a server-wide setting
    // also kept every connection that hung up before its handshake open (CLOSE-WAIT) for good,
    // holding a maxConnections slot each, so a few hundred such hang-ups locked everyone out.
    socket.allowHalfOpen = true;
    // A hijacked stream whose client vanished without a word (half-open: we still wait for
    // output to send) is found by the peer's RST to a keep-alive probe.
    socket.setKeepAlive(true, 60_000);
    setIdentity(socket, id);
  });
  // What fails inside the handshake itself: a client that hangs up or times out, speaks no TLS
  // or an old version, or one the gateway shed (certificates are judged once it is done).
  server.on('tlsClientError', (err: NodeJS.ErrnoException & { reason?: string }, socket) => {
    const why =
      handshakes.droppedWhy(socket) ??
      (err.code === 'ECONNRESET' ? 'the client closed the connection during the TLS handshake' : `TLS: ${err.reason ?? err.message}`);
    ctx.refusals.write(auditRecord(socket, undefined, name, performance.now(), { decision: 'refused', error: why }));
  });
  // Past maxConnections Node closes a new connection before anyone sees it.
  server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
    const remote = data?.remoteAddress ? `${data.remoteAddress}:${data.remotePort}` : name;
    ctx.refusals.write(addressRecord(remote, name, performance.now(), { decision: 'refused', error: `the gateway holds maxConnections (${limits.maxConnections}) connections` }));
  });
  wire(ctx, server, name, limits);
  reloader.watch();
  return {
    name,
    address: `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`,
    port: addr.port,
    server,
    reloader,
    close: async () => reloader.close(),
  };
}

/**
 * A client refused for its certificate (or over its fair share) is audited once, here, and then
 * answered with the reason whatever it asks (screen()), one request per connection. It is no more
 * authenticated than a client still in its handshake: it keeps its place among its address's
 * handshakes under way (and may be shed like one), and has as long as a handshake to ask before
 * it is dropped.
 */
function refuseClient(ctx: GatewayContext, socket: TLSSocket, name: string, r: RefusedClient, deadlineMs: number, handshakeDone: () => void): void {
  setRefused(socket, r);
  ctx.refusals.write(auditRecord(socket, undefined, name, performance.now(), { decision: 'refused', error: r.reason }));
  const timer = setTimeout(() => socket.destroy(), deadlineMs).unref();
  socket.once('close', () => {
    clearTimeout(timer);
    handshakeDone();
  });
}

function bind(server: net.Server, listen: () => void, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) =>
      reject(new DockwardError(`cannot listen on ${name}: ${e.code ?? e.message}`, e.code === 'EADDRINUSE' ? 'another process uses it; pick another address' : undefined));
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
    listen();
  });
}

/** A leftover socket file of a gateway that died may be replaced; anything else is not ours. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new DockwardError(`${path} exists and is not a socket`, 'remove it or choose another --unix path');
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code !== 'ECONNREFUSED' && e.code !== 'ENOENT'));
  });
  if (live) throw new DockwardError(`another process is listening on ${path}`, 'stop it or choose another --unix path');
  await unlink(path);
}

async function listenUnix(ctx: GatewayContext, spec: UnixListenerSpec, limits: ServerLimits): Promise<Listener> {
  const name = listenerName(spec);
  const identity: Identity = { name: spec.identity, ou: [], sans: [], listener: name };
  await clearStaleSocket(spec.path);
  const server = http.createServer(HTTP_SERVER_OPTIONS);
  server.on('connection', (socket: net.Socket) => setIdentity(socket, identity));
  wire(ctx, server, name, limits);
  // The socket file is created by bind() with the process umask; a tight umask for that
  // synchronous call means it is never reachable by others before the chmod below.
  const old = process.umask(0o177);
  try {
    await bind(server, () => server.listen(spec.path), name);
  } finally {
    process.umask(old);
  }
  try {
    if (spec.uid !== undefined || spec.gid !== undefined) await chown(spec.path, spec.uid ?? -1, spec.gid ?? -1);
    await chmod(spec.path, spec.mode);
  } catch (e) {
    server.close();
    throw new DockwardError(`cannot set owner/mode of ${spec.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return {
    name,
    address: spec.path,
    server,
    close: async () => {
      await unlink(spec.path).catch(() => undefined);
    },
  };
}

async function listenPlain(ctx: GatewayContext, spec: PlainTcpListenerSpec, limits: ServerLimits): Promise<Listener> {
  const server = http.createServer({ ...HTTP_SERVER_OPTIONS, noDelay: true });
  await bind(server, () => server.listen(spec.port, spec.host), listenerName(spec));
  const addr = server.address() as net.AddressInfo;
  const name = listenerName({ ...spec, port: addr.port });
  const identity: Identity = { name: spec.identity, ou: [], sans: [], listener: name };
  server.on('connection', (socket: net.Socket) => setIdentity(socket, identity));
  wire(ctx, server, name, limits);
  return { name, address: `${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`, port: addr.port, server, close: async () => undefined };
}

export function openListener(ctx: GatewayContext, spec: ListenerSpec, limits: ServerLimits): Promise<Listener> {
  if (spec.kind === 'tcp') return listenTcp(ctx, spec, limits);
  return spec.kind === 'unix' ? listenUnix(ctx, spec, limits) : listenPlain(ctx, spec, limits);
}
