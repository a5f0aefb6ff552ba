/**
 * The HTTP pieces shared by the plain proxy path and the hijack path: which headers cross the
 * gateway, and how a refusal looks on the wire (Docker-style JSON, so the docker CLI prints
 * `Error response from daemon: <message>`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { STATUS_CODES } from 'node:http';

/** What to do with the client's Accept-Encoding; see `forwardRequestHeaders`. */
export type AcceptEncodingMode = 'strip' | 'forward';

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection: the client's connection to us
// is not our connection to dockerd, which the keep-alive agent manages itself.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'upgrade',
  // The gateway answers `100 Continue` itself, once the request is authorized.
  'expect',
]);

/**
 * Headers a client could use to claim an identity or origin that some later hop might trust.
 * The identity is the verified certificate (or the listener) and nothing the client writes.
 */
function claimsIdentity(lower: string): boolean {
  return (
    lower.startsWith('x-forwarded-') ||
    lower.startsWith('x-dockward-') ||
    lower.startsWith('x-client-') ||
    lower.startsWith('x-ssl-') ||
    lower === 'forwarded' ||
    lower === 'x-real-ip'
  );
}

/** Extra hop-by-hop names a sender listed in its Connection header (`Connection: close, X-Foo`). */
function connectionTokens(raw: string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      for (const t of raw[i + 1]!.split(',')) {
        const name = t.trim().toLowerCase();
        if (name) (tokens ??= new Set()).add(name);
      }
    }
  }
  return tokens;
}

/**
 * The client's headers as dockerd should see them, as a flat raw list (Node's http client takes
 * it as is, keeping case and order, with no per-header setHeader work on the hot path).
 *
 * Accept-Encoding is dropped by default: over TCP the docker CLI asks for gzip, and dockerd then
 * compresses `docker cp` archives on a single core, about 7x slower than sending them raw
 * (FIELD-NOTES). Between the gateway and dockerd there is only a Unix socket, so compression buys
 * nothing there; `forward` exists for a gateway whose clients sit behind a slow link.
 */
export function forwardRequestHeaders(raw: string[], acceptEncoding: AcceptEncodingMode, upgrade?: string): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || claimsIdentity(lower) || listed?.has(lower)) continue;
    if (lower === 'accept-encoding' && acceptEncoding === 'strip') continue;
    out.push(name, raw[i + 1]!);
  }
  if (upgrade !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', upgrade);
  return out;
}

/**
 * Says "no body" to dockerd for a request that sent none. Node frames a request whose headers
 * are given as a list when it creates it, before it knows no body follows, and chunks a POST or
 * PUT without a length; dockerd counts a chunked body as one (`POST /containers/{id}/start`:
 * "starting container with non-empty request body"). GET and HEAD are never chunked.
 */
export function withoutBody(headers: string[], method: string): string[] {
  if (method !== 'GET' && method !== 'HEAD') headers.push('Content-Length', '0');
  return headers;
}

/** The request's headers for a body the gateway rewrote: its own framing and type, nothing of the client's. */
export function jsonBodyHeaders(raw: string[], acceptEncoding: AcceptEncodingMode, length: number): string[] {
  return sizedBodyHeaders(raw, acceptEncoding, length, 'application/json');
}

/** The request's headers for a body the gateway sends itself, `length` bytes, and of `contentType` when given. */
export function sizedBodyHeaders(raw: string[], acceptEncoding: AcceptEncodingMode, length: number, contentType?: string): string[] {
  const replaced = new Set(['content-length', 'transfer-encoding', ...(contentType ? ['content-type'] : [])]);
  const out = forwardRequestHeaders(raw, acceptEncoding).filter((_, i, a) => !replaced.has(a[i - (i % 2)]!.toLowerCase()));
  if (contentType) out.push('Content-Type', contentType);
  out.push('Content-Length', String(length));
  return out;
}

/**
 * The first value of header `lower` (a lower-case name) in a raw list. Reading one header of an
 * answer this way spares Node building the whole `headers` object, which it does lazily on first
 * access: ~1% of the gateway's CPU per `/containers/json` (profiled, issue #15). llhttp refuses a
 * message with two Content-Length headers, so for that one the first is the only one.
 */
export function rawHeader(raw: string[], lower: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === lower.length && raw[i]!.toLowerCase() === lower) return raw[i + 1];
  }
  return undefined;
}

/**
 * dockerd's response headers minus the ones that describe its connection to us. With
 * `apiVersion` (dockerd is newer than the gateway), `Api-Version` says that version instead of
 * dockerd's, so a client negotiating on it (the docker CLI reads it from /_ping) asks for a version
 * the gateway accepts. With `classicBuilder`, `Builder-Version` says 1: an identity without
 * BuildKit is told so (the docker CLI up to 22.x reads it; later ones need DOCKER_BUILDKIT=0).
 */
export function forwardResponseHeaders(raw: string[], apiVersion?: string, classicBuilder?: boolean): string[] {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    // How our answer is framed is ours to decide (Node chunks what has no Content-Length);
    // echoing dockerd's Transfer-Encoding could contradict a Content-Length we set.
    if (HOP_BY_HOP.has(lower) || lower === 'transfer-encoding' || listed?.has(lower)) continue;
    let value = raw[i + 1]!;
    if (apiVersion !== undefined && lower === 'api-version') value = apiVersion;
    else if (classicBuilder && lower === 'builder-version') value = '1';
    out.push(raw[i]!, value);
  }
  return out;
}

export function dockerErrorBody(message: string): string {
  return `${JSON.stringify({ message })}\n`;
}

/** A refusal on a live HTTP exchange. */
export function replyError(res: ServerResponse, status: number, message: string, close = false): void {
  const body = dockerErrorBody(message);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  };
  if (close) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}

/**
 * Whether the client waits for `100 Continue` before it sends its body: it asked (screen() lets
 * only 100-continue through) and speaks HTTP/1.1, since an HTTP/1.0 client must not be sent 1xx.
 */
export function expectsContinue(req: IncomingMessage): boolean {
  return req.headers.expect !== undefined && (req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1));
}

/** A refusal written straight to a socket the HTTP server no longer owns (upgrade, parse error). */
export function rawError(socket: Duplex, status: number, message: string): void {
  const body = dockerErrorBody(message);
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Raw HTTP/1.1 head for a response relayed onto a socket. */
export function rawResponseHead(status: number, statusMessage: string, headers: string[]): string {
  let head = `HTTP/1.1 ${status} ${statusMessage}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * How much of a refused request's body is still read, and for how long, before the connection
 * is closed. A docker CLI still uploading (a build context) reads the refusal and hangs up within
 * milliseconds; closing at once would reset the connection with its upload unread, and the CLI
 * would print a broken pipe instead of the refusal. Anyone else loses the connection at a bound.
 */
const DRAIN_BYTES = 16 * 1024 * 1024;
const DRAIN_MS = 10_000;
const DRAIN_IDLE_MS = 2_000;

/**
 * Reads and discards `body` after a refusal: `done` once it ends, `socket` destroyed at once at
 * any bound (bytes, time, silence).
 */
export function drainRefused(socket: Duplex, body: Readable, done: () => void): void {
  if (socket.destroyed) return;
  let read = 0;
  const cut = () => socket.destroy();
  // unref: a gateway shutting down does not wait for a refused client.
  const total = setTimeout(cut, DRAIN_MS).unref();
  const idle = setTimeout(cut, DRAIN_IDLE_MS).unref();
  body.on('data', (c: Buffer) => {
    read += c.length;
    if (read > DRAIN_BYTES) cut();
    else idle.refresh();
  });
  body.once('end', done);
  socket.once('close', () => {
    clearTimeout(total);
    clearTimeout(idle);
  });
  body.resume();
}
