import http from 'node:http';
import https from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import { isIP } from 'node:net';

/** Where a Docker Engine API answers: a Unix socket, or TCP with optional TLS material. */
export type EngineEndpoint =
  | { socketPath: string }
  | { host: string; port: number; tls?: SecureContextOptions & { servername?: string } };

/**
 * The TLS server name (SNI) for the dialed host. An IP gets none (RFC 6066), and it must be set
 * to '' explicitly: otherwise Node derives it from the Host header ("docker") and checks the
 * wrong name.
 */
export function serverName(host: string): string {
  return isIP(host) ? '' : host;
}

export interface EngineResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One Engine API call with its whole answer in memory; for small control-plane calls only. A Buffer body is sent as it is, anything else as JSON. */
export function engineRequest(
  ep: EngineEndpoint,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number; agent?: http.Agent } = {},
): Promise<EngineResponse> {
  const payload = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(JSON.stringify(opts.body));
  const headers: Record<string, string> = { host: 'docker', ...(opts.headers ?? {}) };
  if (payload) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    // A caller making many calls passes a keep-alive agent; one call gets a connection of its own.
    const common = { method, path, headers, agent: opts.agent ?? (false as const) };
    const req =
      'socketPath' in ep
        ? http.request({ ...common, socketPath: ep.socketPath })
        : ep.tls
          ? https.request({ ...common, host: ep.host, port: ep.port, servername: serverName(ep.host), ...ep.tls })
          : http.request({ ...common, host: ep.host, port: ep.port });
    req.setTimeout(opts.timeoutMs ?? 30_000, () => req.destroy(new Error(`timed out after ${opts.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.end(payload);
  });
}

export async function engineJson<T = unknown>(ep: EngineEndpoint, method: string, path: string, body?: unknown, agent?: http.Agent): Promise<T> {
  const res = await engineRequest(ep, method, path, { body, agent });
  if (res.status >= 400) {
    let message = res.body.toString('utf8');
    try {
      message = (JSON.parse(message) as { message?: string }).message ?? message;
    } catch {
      /* not JSON: keep the raw text */
    }
    throw new Error(`${method} ${path}: ${res.status} ${message.trim()}`);
  }
  return (res.body.length ? JSON.parse(res.body.toString('utf8')) : undefined) as T;
}

export async function pingSocket(socketPath: string): Promise<boolean> {
  try {
    const res = await engineRequest({ socketPath }, 'GET', '/_ping', { timeoutMs: 2000 });
    return res.status === 200;
  } catch {
    return false;
  }
}
