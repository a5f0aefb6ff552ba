/**
 * The two kinds of front door: TCP with mutual TLS (identity = the verified client certificate)
 * and Unix sockets with a fixed identity (the thing to mount into one container instead of
 * docker.sock). Both speak HTTP/1.1 through Node's http server, with the same handlers.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { chmod, chown, lstat, unlink } from 'node:fs/promises';
import type { TLSSocket } from 'node:tls';
import type { Identity } from '../policy/index.js';
import { DockwardError } from '../util/errors.js';
import { auditRecord, identityOf, setIdentity, setRefused, STREAM_BUFFER_BYTES, type GatewayContext } from './context.js';
import { handleRequest } from './proxy.js';
import { handleUpgrade } from './hijack.js';
import { loadTlsMaterial, TlsReloader, TLS_SERVER_OPTIONS, type TlsFiles } from './tls-context.js';
import { judgeClient, type RefusedClient } from './client-certificate.js';
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

export type ListenerSpec = TcpListenerSpec | UnixListenerSpec;

export interface ServerLimits {
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
   * Connections from one client address still in their TLS handshake. Without it one host could
   * hold every slot for handshakeTimeoutMs by opening connections and saying nothing, again and again.
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
  return spec.kind === 'tcp' ? `tcp://${spec.host.includes(':') ? `[${spec.host}]` : spec.host}:${spec.port}` : `unix://${spec.path}`;
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
    const pending = (socket as typeof socket & { _httpMessage?: unknown })._httpMessage;
    // No identity yet means the TLS handshake never completed (a handshake timeout, a refused
    // certificate with the client still connected): there is no channel to answer on, and an
    // HTTP error written into it would wait for a handshake that never comes, holding the
    // connection slot and blocking shutdown. The 'tlsClientError' listener audits it.
    if (!identityOf(socket) || err.code === 'ECONNRESET' || !socket.writable || pending) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const why = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'the request did not arrive in time' : (err.reason ?? err.code ?? 'malformed request');
    rawError(socket, status, `dockward: refused a malformed HTTP request: ${why}`);
    ctx.audit.write(auditRecord(socket, identityOf(socket), name, performance.now(), { decision: 'bad', status, error: why }));
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
  const handshakeOf = limitHandshakes(ctx, server, name, limits.maxHandshakesPerAddress);
  server.on('secureConnection', (socket: TLSSocket) => {
    socket.disableRenegotiation();
    const handshakeDone = handshakeOf(socket);
    const id = judgeClient(socket, name, reloader);
    if ('reason' in id) {
      refuseClient(ctx, socket, name, id, limits.handshakeTimeoutMs, handshakeDone);
      return;
    }
    handshakeDone();
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
  // or an old version (certificates are judged once it is done).
  server.on('tlsClientError', (err: NodeJS.ErrnoException & { reason?: string }, socket) => {
    const why = err.code === 'ECONNRESET' ? 'the client closed the connection during the TLS handshake' : `TLS: ${err.reason ?? err.message}`;
    ctx.audit.write(auditRecord(socket, undefined, name, performance.now(), { decision: 'refused', error: why }));
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
 * A client refused for its certificate is audited once, here, and then answered with the reason
 * whatever it asks (screen()), one request per connection. It is no more authenticated than a
 * client still in its handshake: it keeps its place among its address's handshakes under way,
 * and has as long as a handshake to ask before it is dropped.
 */
function refuseClient(ctx: GatewayContext, socket: TLSSocket, name: string, r: RefusedClient, deadlineMs: number, handshakeDone: () => void): void {
  setRefused(socket, r);
  ctx.audit.write(auditRecord(socket, undefined, name, performance.now(), { decision: 'refused', error: r.reason }));
  const timer = setTimeout(() => socket.destroy(), deadlineMs).unref();
  socket.once('close', () => {
    clearTimeout(timer);
    handshakeDone();
  });
}

/**
 * Who counts as one client for the handshake cap: an IPv4 address (also when IPv4-mapped), or an
 * IPv6 /64, since a single host usually has a whole /64 to pick source addresses from.
 */
export function clientGroup(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address);
  return ip.kind() === 'ipv6' ? `${(ip as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64` : ip.toString();
}

/**
 * Refuses a connection whose client (see clientGroup) already has `max` handshakes under way.
 * Returns, for a socket whose handshake is done, what gives its place back: the caller calls it
 * once the client is authenticated. A failed or abandoned handshake gives it back when its
 * socket closes.
 */
function limitHandshakes(ctx: GatewayContext, server: https.Server, name: string, max: number): (secured: TLSSocket) => () => void {
  const perClient = new Map<string, number>();
  // By address and port: the TLS socket is not the raw socket 'connection' saw.
  const pending = new Map<string, () => void>();
  const key = (s: net.Socket) => `${s.remoteAddress}|${s.remotePort}`;
  // The TLS server starts each handshake in its own 'connection' listener: taken over here, so a
  // refused connection never reaches TLS (which would report it a second time, as a hang-up).
  const startTls = server.listeners('connection') as ((raw: net.Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (raw: net.Socket) => {
    // Reset before Node saw it: nobody left to serve, and no address to count it under.
    if (raw.remoteAddress === undefined) {
      raw.destroy();
      return;
    }
    const client = clientGroup(raw.remoteAddress);
    const n = perClient.get(client) ?? 0;
    if (n >= max) {
      ctx.audit.write(auditRecord(raw, undefined, name, performance.now(), { decision: 'refused', error: `more than ${max} TLS handshakes under way from this address` }));
      raw.destroy();
      return;
    }
    perClient.set(client, n + 1);
    const k = key(raw);
    const done = () => {
      if (pending.get(k) !== done) return;
      pending.delete(k);
      const left = perClient.get(client)! - 1;
      if (left) perClient.set(client, left);
      else perClient.delete(client);
    };
    pending.set(k, done);
    raw.once('close', done);
    for (const listener of startTls) listener.call(server, raw);
  });
  return (secured) => pending.get(key(secured)) ?? (() => undefined);
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

export function openListener(ctx: GatewayContext, spec: ListenerSpec, limits: ServerLimits): Promise<Listener> {
  return spec.kind === 'tcp' ? listenTcp(ctx, spec, limits) : listenUnix(ctx, spec, limits);
}
