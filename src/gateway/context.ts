import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { HostFacts, Identity, Policy } from '../policy/index.js';
import type { AuditLog, AuditRecord, Decision } from './audit-log.js';
import type { AcceptEncodingMode } from './wire.js';
import type { RefusedClient } from './client-certificate.js';
import type { FairShare } from './fair-share.js';
import type { RefusalLog } from './refusal-log.js';
import type { Exchange } from './pipeline/exchange.js';
import type { OwnershipCache } from '../ownership/index.js';
import type { BodySpool } from './spool.js';

/** What every listener's handlers share. `policy` is swapped whole on reload. */
export interface GatewayContext {
  upstreamSocket: string;
  /** Keep-alive connections to dockerd for ordinary requests; hijacks get their own. */
  agent: http.Agent;
  policy: Policy;
  audit: AuditLog;
  acceptEncoding: AcceptEncodingMode;
  /** Upper bound of a request body read before forwarding (upgrade requests, checked bodies). */
  maxBodyBytes: number;
  /** What no container may reach on this host (for body checks). */
  host: HostFacts;
  /** dockerd's API version: which body structs it decodes. */
  daemonApi: string;
  bodyTimeoutMs: number;
  log(line: string): void;
  /** Who owns what on the daemon, for `scope: own` identities; started on first use. */
  ownership: OwnershipCache;
  /** Where a tenant's `docker load` archive or a constrained role's build context is held while it is checked (bounded by maxLoadBytes). */
  spool: BodySpool;
  /** Client sockets of live hijacked streams, so a shutdown can end them. */
  tunnels: Set<Duplex>;
  /** Connections and streams per identity and certificate. */
  fairShare: FairShare;
  /** Where refused connections are audited, repeats aggregated. */
  refusals: RefusalLog;
  /** Allowed exchanges still being forwarded, so a policy reload can re-decide them. */
  exchanges: Set<Exchange>;
  /** Client connections with an identity that have sent a request, and their listener. */
  connections: Map<Duplex, string>;
}

/**
 * The highWaterMark of every socket and message, client side and upstream alike. With Node's
 * default 16 KiB an archive or log stream stalls each time a socket holds 16 KiB (the other
 * side is paused until 'drain'); 512 KiB keeps both sides flowing. Measured on a 200 MB archive:
 * download ~160-280 -> ~270-320 MB/s with it on the client side, upload ~160-190 -> ~220-260
 * MB/s with it upstream as well (and relay()'s batching). What one stream direction can hold is
 * a few times this (the source message's buffer, one gathered batch in relay(), and the
 * destination socket's buffer, which one batch written just under the mark can take to twice
 * it): about 2 MiB, measured with a stalled reader, so at worst ~4 MiB per connection.
 */
export const STREAM_BUFFER_BYTES = 512 * 1024;

const IDENTITY = Symbol('dockward.identity');
const REFUSED = Symbol('dockward.refused');
type Tagged = { [IDENTITY]?: Identity; [REFUSED]?: RefusedClient };

/** The identity is fixed per connection (listener or verified certificate), set when it opens. */
export function setIdentity(socket: Duplex, id: Identity): void {
  (socket as Duplex & Tagged)[IDENTITY] = id;
}

export function identityOf(socket: Duplex): Identity | undefined {
  return (socket as Duplex & Tagged)[IDENTITY];
}

/**
 * A TLS client refused for its certificate (or the lack of one): it has no identity, and every
 * request on its connection is answered with the reason and nothing else (screen()).
 */
export function setRefused(socket: Duplex, r: RefusedClient): void {
  (socket as Duplex & Tagged)[REFUSED] = r;
}

export function refusedOf(socket: Duplex): RefusedClient | undefined {
  return (socket as Duplex & Tagged)[REFUSED];
}

/**
 * The client's address. A TLS socket whose handshake failed has already lost its own handle;
 * the TCP socket beneath it (`_parent`, set by Node for every server-side TLS socket) still knows.
 */
export function remoteOf(socket: Duplex, listener: string): string {
  const s = socket as Socket & { _parent?: Socket };
  const raw = s.remoteAddress ? s : s._parent;
  return raw?.remoteAddress ? `${raw.remoteAddress}:${raw.remotePort}` : listener;
}

/** The audit record of one exchange; fields the caller does not know stay null. */
export function auditRecord(
  socket: Duplex,
  id: Identity | undefined,
  listener: string,
  startedAt: number,
  fields: Partial<AuditRecord> & { decision: Decision },
): AuditRecord {
  const refused = id ? undefined : refusedOf(socket);
  return addressRecord(remoteOf(socket, listener), listener, startedAt, {
    identity: id?.name ?? null,
    cn: id?.cn ?? refused?.cn ?? null,
    serial: id?.serial ?? refused?.serial ?? null,
    ...fields,
  });
}

/** The audit record of a connection known only by its client's address (`remote`). */
export function addressRecord(remote: string, listener: string, startedAt: number, fields: Partial<AuditRecord> & { decision: Decision }): AuditRecord {
  return {
    time: new Date(Date.now() - (performance.now() - startedAt)).toISOString(),
    identity: null,
    cn: null,
    serial: null,
    remote,
    listener,
    method: null,
    route: null,
    path: null,
    rule: null,
    status: null,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
    ...fields,
  };
}
