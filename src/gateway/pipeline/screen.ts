/**
 * The first stage of every decision, before any policy: what no identity may send.
 */
import type { IncomingMessage } from 'node:http';
import type { Identity } from '../../policy/index.js';
import { refusedOf, type GatewayContext } from '../context.js';
import type { Refuse } from './outcome.js';

/**
 * The most headers a request may carry. The listeners read one more (`maxHeadersCount`), so a
 * request with more is seen and refused (431) instead of having the rest dropped unseen: an
 * `Origin` hidden behind 2000 others would otherwise pass the check below.
 */
export const MAX_REQUEST_HEADERS = 2000;

function refusal(status: number, message: string, rawTarget: string | undefined): Refuse {
  return { kind: 'refuse', status, decision: status === 403 ? 'deny' : 'bad', message, route: null, rule: null, target: rawTarget };
}

/**
 * Refusals that need no policy: a browser page reaching the Docker API (its requests carry
 * Origin; its CORS preflights are OPTIONS), ambiguous message framing (Node's parser already
 * rejects CL+TE, repeated Content-Length and a bad Transfer-Encoding; this is the second lock),
 * and, failing closed, a connection without an identity or an audit log that cannot be written.
 */
export function screen(ctx: GatewayContext, req: IncomingMessage, id: Identity | undefined): Refuse | undefined {
  const target = req.url;
  if (ctx.audit.failure) return refusal(503, `dockward: the audit log cannot be written (${ctx.audit.failure}); no request is forwarded unaudited`, target);
  if (!id) {
    const refused = refusedOf(req.socket);
    return refused ? { ...refusal(403, refused.message, target), audited: true } : refusal(403, 'dockward: the connection has no verified identity', target);
  }
  if (req.rawHeaders.length > 2 * MAX_REQUEST_HEADERS) {
    return refusal(431, `dockward: a request may carry at most ${MAX_REQUEST_HEADERS} headers`, target);
  }
  if (req.method === 'OPTIONS') return refusal(403, 'dockward: OPTIONS requests are refused (browser preflight into the Docker API)', target);
  const h = req.headers;
  // Node's server would refuse these two itself (400, 417) without a word to the audit log.
  if (h.host === undefined) return refusal(400, 'dockward: the request has no Host header', target);
  if (h.expect !== undefined && h.expect.toLowerCase() !== '100-continue') return refusal(417, 'dockward: the only Expect accepted is 100-continue', target);
  // dockerd's r.FormValue would read such a body and let it override the query the gateway checked.
  // Go reads the header as UTF-8 and lower-cases and trims it by Unicode rules (İ is i, a no-break
  // space is a space), Node as Latin-1: only an ASCII type reads the same to both.
  if (/[\u0080-\uffff]/.test(h['content-type'] ?? '')) return refusal(400, 'dockward: a Content-Type with characters beyond ASCII is refused (dockerd could read it as a form)', target);
  const type = h['content-type']?.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data') {
    return refusal(400, `dockward: ${type} bodies are refused (dockerd would let them override the request's query)`, target);
  }
  if (h.origin !== undefined) return refusal(403, 'dockward: requests with an Origin header are refused (a web page must not drive the Docker API)', target);
  const te = h['transfer-encoding'];
  // Go's server knows only `chunked`; anything else would be framed differently by each hop.
  if (te !== undefined && te.trim().toLowerCase() !== 'chunked') return refusal(400, 'dockward: only Transfer-Encoding: chunked is accepted', target);
  if (h['content-length'] !== undefined) {
    if (te !== undefined) return refusal(400, 'dockward: Content-Length together with Transfer-Encoding is refused', target);
    let n = 0;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 14 && raw[i]!.toLowerCase() === 'content-length') n++;
    if (n > 1) return refusal(400, 'dockward: repeated Content-Length is refused', target);
  }
  return undefined;
}
