/**
 * What one identity, and one certificate, may hold at once: connections, and long-lived streams
 * (requests on STREAM_ROUTES in flight). Without it one authenticated identity could
 * hold every connection slot of the gateway (a read-only one opening a thousand `events`
 * streams), and the next connection, the admin's included, was reset at accept. Counted across
 * listeners; a refusal names the limit that was hit.
 */
import type { Identity } from '../policy/index.js';

export interface FairShareLimits {
  maxConnectionsPerIdentity: number;
  maxConnectionsPerCertificate: number;
  maxStreamsPerIdentity: number;
  maxStreamsPerCertificate: number;
}

/**
 * Routes whose answer lasts as long as the client, the container or the build wants, not a
 * request's time. Any other request holds its connection for milliseconds; connections bound them.
 */
const STREAM_ROUTES = new Set([
  'GET /events',
  'GET /containers/{id*}/logs',
  'GET /containers/{id*}/stats',
  'GET /containers/{id*}/attach/ws',
  'POST /containers/{id*}/wait',
  'POST /containers/{id*}/attach',
  'POST /exec/{id*}/start',
  'GET /services/{id}/logs',
  'GET /tasks/{id}/logs',
  'POST /session',
  'POST /grpc',
]);

const NOTHING_HELD = { release: () => undefined };

/** Either what gives the place back (call it once), or why there is none. */
export type Share = { release: () => void } | { refused: string; code: 'DW_LIMIT_CONNECTIONS' | 'DW_LIMIT_STREAMS'; cn: string | null; serial: string | null };

class Counter {
  private readonly held = new Map<string, number>();

  count(key: string): number {
    return this.held.get(key) ?? 0;
  }

  take(keys: string[]): () => void {
    for (const k of keys) this.held.set(k, this.count(k) + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      for (const k of keys) {
        const left = this.count(k) - 1;
        if (left > 0) this.held.set(k, left);
        else this.held.delete(k);
      }
    };
  }
}

export class FairShare {
  private readonly connections = new Counter();
  private readonly streams = new Counter();

  constructor(private readonly limits: FairShareLimits) {}

  /**
   * A new authenticated connection of `id`, which is the policy identity `identity` (counted
   * under its certificate's CN when no policy identity matches: every request is refused then).
   */
  openConnection(id: Identity, identity: string | null): Share {
    return this.claim(this.connections, id, identity ?? id.name, 'connections', 'DW_LIMIT_CONNECTIONS', this.limits.maxConnectionsPerIdentity, this.limits.maxConnectionsPerCertificate);
  }

  /** A request of `id` that the policy allowed as `verdict.identity` on `verdict.route`, about to be forwarded. */
  startStream(id: Identity, verdict: { identity: string; route: string }): Share {
    if (!STREAM_ROUTES.has(verdict.route)) return NOTHING_HELD;
    return this.claim(this.streams, id, verdict.identity, 'streams (events, logs, stats, wait, attach, exec, BuildKit sessions)', 'DW_LIMIT_STREAMS', this.limits.maxStreamsPerIdentity, this.limits.maxStreamsPerCertificate);
  }

  private claim(counter: Counter, id: Identity, identity: string, what: string, code: 'DW_LIMIT_CONNECTIONS' | 'DW_LIMIT_STREAMS', perIdentity: number, perCertificate: number): Share {
    const idKey = `identity:${identity}`;
    const certKey = id.serial === undefined ? undefined : `certificate:${id.serial}`;
    const setting = code === 'DW_LIMIT_CONNECTIONS' ? 'Connections' : 'Streams';
    if (counter.count(idKey) >= perIdentity) {
      return { code, cn: id.cn ?? null, serial: id.serial ?? null, refused: `identity ${JSON.stringify(identity)} already holds ${perIdentity} ${what}, its limit (max${setting}PerIdentity); end some, or ask the operator to raise it` };
    }
    if (certKey && counter.count(certKey) >= perCertificate) {
      return { code, cn: id.cn ?? null, serial: id.serial ?? null, refused: `the certificate with serial ${id.serial} already holds ${perCertificate} ${what}, its limit (max${setting}PerCertificate); end some, or ask the operator to raise it` };
    }
    return { release: counter.take(certKey ? [idKey, certKey] : [idKey]) };
  }
}
