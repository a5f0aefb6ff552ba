/**
 * Low-level probing of a Docker endpoint: one TLS handshake that records what the server
 * presented (verification is judged afterwards, by verifyCertificate, in Go's terms), then a
 * `/_ping` on the same connection — with TLS 1.3 a rejected client certificate only shows up
 * as an alert on the first read after the handshake. Shared by `connect` and `doctor`.
 */
import http from 'node:http';
import https from 'node:https';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import type { TLSSocket, DetailedPeerCertificate } from 'node:tls';
import { UsageError } from '../util/errors.js';
import { serverName } from '../engine/engine-client.js';
import { allInOrder } from '../util/in-order.js';

export { serverName };

export interface Target {
  /** Normalised, e.g. tcp://127.0.0.1:2376 or tcp://[::1]:2376. */
  url: string;
  host: string;
  port: number;
}

export interface Bundle {
  dir: string;
  ca?: string;
  cert?: string;
  key?: string;
  files: { ca: string; cert: string; key: string };
}

export interface PingAnswer {
  status: number;
  body: string;
  apiVersion?: string;
}

export interface NetError {
  code: string;
  message: string;
  /** The TLS alert the peer sent (RFC 8446 number), when the error is one. */
  alert?: number;
}

export type Probe =
  | { kind: 'tcp-error'; error: NetError }
  | {
      kind: 'tls';
      /** False when the TLS handshake itself failed. */
      handshake: boolean;
      protocol?: string;
      /** PEM certificates the server presented, leaf first. */
      serverChain: string[];
      ping?: PingAnswer;
      error?: NetError;
    }
  | { kind: 'http'; ping?: PingAnswer; error?: NetError };

export const TLS_ALERTS: Record<number, string> = {
  40: 'handshake failure',
  42: 'bad certificate',
  43: 'unsupported certificate',
  44: 'certificate revoked',
  45: 'certificate expired',
  46: 'certificate unknown',
  48: 'unknown ca',
  70: 'protocol version',
  116: 'certificate required',
};

/** `tcp://HOST:PORT` (IPv6 in brackets); the only form a TLS diagnosis makes sense for. */
export function parseTarget(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`invalid address "${url}"`, 'give it as tcp://HOST:PORT, e.g. tcp://docker.example.com:2376');
  }
  if (u.protocol !== 'tcp:') {
    throw new UsageError(`cannot diagnose "${url}": only tcp:// addresses use TLS`, 'give tcp://HOST:PORT (a unix:// socket needs no certificates)');
  }
  if (!u.hostname || !u.port || (u.pathname && u.pathname !== '/')) throw new UsageError(`invalid address "${url}"`, 'give it as tcp://HOST:PORT, with the port');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { url: `tcp://${u.host}`, host, port: Number(u.port) };
}

/** The CLI's own defaults: DOCKER_CERT_PATH, else ~/.docker. */
export function defaultBundleDir(): string {
  return process.env.DOCKER_CERT_PATH ? resolve(process.env.DOCKER_CERT_PATH) : join(homedir(), '.docker');
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'check the bundle directory and its permissions');
  }
}

/** Reads ca.pem, cert.pem and key.pem as the docker CLI names them; missing files stay undefined. */
export async function loadBundle(dir: string): Promise<Bundle> {
  const abs = resolve(dir);
  const files = { ca: join(abs, 'ca.pem'), cert: join(abs, 'cert.pem'), key: join(abs, 'key.pem') };
  const [ca, cert, key] = await allInOrder([readOptional(files.ca), readOptional(files.cert), readOptional(files.key)]);
  return { dir: abs, ca, cert, key, files };
}

function netError(e: unknown): NetError {
  const err = e as NodeJS.ErrnoException;
  const alert = /SSL alert number (\d+)/.exec(err.message)?.[1];
  return { code: err.code ?? 'ERROR', message: err.message, ...(alert ? { alert: Number(alert) } : {}) };
}

function chainOf(socket: TLSSocket): string[] {
  const out: string[] = [];
  let c: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(`-----BEGIN CERTIFICATE-----\n${c.raw.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`);
    c = c.issuerCertificate;
  }
  return out;
}

const PING = { method: 'GET', path: '/_ping', headers: { host: 'docker' }, agent: false as const };

interface Exchange {
  /** The TCP connection was established (tells a dead address from a silent server). */
  connected: boolean;
  ping?: PingAnswer;
  error?: NetError;
}

/** One GET /_ping; `timeout` also bounds the TCP connect, so a black-holed address cannot hang. */
function exchange(req: http.ClientRequest, timeoutMs: number): Promise<Exchange> {
  let connected = false;
  return new Promise((resolvePing) => {
    req.on('socket', (s) => s.once('connect', () => (connected = true)));
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => resolvePing({ connected, error: netError(e) }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => resolvePing({ connected, error: netError(e) }));
      res.on('end', () => {
        const api = res.headers['api-version'];
        resolvePing({ connected, ping: { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8').slice(0, 500), ...(typeof api === 'string' ? { apiVersion: api } : {}) } });
      });
    });
    req.end();
  });
}

/**
 * Handshakes with verification off so that a bad server certificate can still be examined;
 * the caller must treat the connection as unauthenticated (only `/_ping`, which carries nothing).
 */
export async function probeTls(t: Target, b: Pick<Bundle, 'ca' | 'cert' | 'key'>, timeoutMs = 10_000, maxVersion?: 'TLSv1.2'): Promise<Probe> {
  let handshake = false;
  let protocol: string | undefined;
  let serverChain: string[] = [];
  const req = https.request({
    ...PING,
    host: t.host,
    port: t.port,
    timeout: timeoutMs,
    servername: serverName(t.host),
    ...(b.ca ? { ca: b.ca } : {}),
    ...(b.cert && b.key ? { cert: b.cert, key: b.key } : {}),
    rejectUnauthorized: false,
    ...(maxVersion ? { maxVersion } : {}),
  });
  req.on('socket', (s) => {
    const socket = s as TLSSocket;
    socket.once('secureConnect', () => {
      handshake = true;
      protocol = socket.getProtocol() ?? undefined;
      serverChain = chainOf(socket);
    });
  });
  const x = await exchange(req, timeoutMs);
  if (x.error && !x.connected) return { kind: 'tcp-error', error: x.error };
  return { kind: 'tls', handshake, protocol, serverChain, ...(x.ping ? { ping: x.ping } : {}), ...(x.error ? { error: x.error } : {}) };
}

export async function probeHttp(t: Target, timeoutMs = 10_000): Promise<Probe> {
  const x = await exchange(http.request({ ...PING, host: t.host, port: t.port, timeout: timeoutMs }), timeoutMs);
  if (x.error && !x.connected) return { kind: 'tcp-error', error: x.error };
  return { kind: 'http', ...(x.ping ? { ping: x.ping } : {}), ...(x.error ? { error: x.error } : {}) };
}

/** The handshake failed because the other side does not speak TLS at all. */
export function isNotTls(e: NetError | undefined): boolean {
  return !!e && /wrong version number|packet length too long|unknown protocol|record layer failure|http request/i.test(e.message);
}

/** What Go's HTTPS server answers to a plain-HTTP request. */
export function isHttpsAnswer(p: PingAnswer | undefined): boolean {
  return !!p && p.status === 400 && /HTTP request to an HTTPS server/i.test(p.body);
}
