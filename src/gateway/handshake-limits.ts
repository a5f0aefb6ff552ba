/**
 * Connections still in their TLS handshake, per client (clientGroup). One host must not hold
 * every connection slot by opening connections and saying nothing; but a cap that refuses the
 * next connection from a full address turns against the address: 64 silent sockets from one
 * host locked out every client there (all local clients on a loopback listener, everyone behind
 * a NAT). So a full address sheds its oldest unauthenticated connection (a silent one first)
 * to make room, and never refuses a new one: a client that completes its handshake in the time
 * it takes the attacker to open `max` more sockets always gets in, and authenticated connections
 * never count. Under pressure (an address past half its cap, or refused over and over) the
 * handshake deadline shortens, so what an attacker holds is also held briefly.
 */
import type net from 'node:net';
import type https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { clientGroup } from './client-group.js';

/** The handshake deadline under pressure (or the configured one, if shorter). */
export const PRESSURE_HANDSHAKE_MS = 2000;
/** Refused connections from one client per RefusalLog interval past which it is under pressure. */
export const REFUSALS_BEFORE_PRESSURE = 100;

export interface HandshakeLimits {
  /** Handshakes under way per client before its oldest is shed. */
  maxPerAddress: number;
  timeoutMs: number;
  /** Refused connections from this client lately (RefusalLog.recentFrom). */
  recentRefusals(client: string): number;
}

export interface HandshakeGuard {
  /** What gives a secured socket's place back (the caller calls it once the client is authenticated or gone). */
  release(secured: TLSSocket): () => void;
  /** Why the gateway dropped this socket during its handshake, if it did (for its audit line). */
  droppedWhy(socket: TLSSocket): string | undefined;
}

interface Pending {
  raw: net.Socket;
  client: string;
  done(): void;
}

export function limitHandshakes(server: https.Server, limits: HandshakeLimits): HandshakeGuard {
  // Insertion order is age: the first entry of a client is its oldest handshake.
  const perClient = new Map<string, Map<net.Socket, Pending>>();
  // By address and port: the TLS socket is not the raw socket 'connection' saw.
  const byPeer = new Map<string, Pending>();
  const dropped = new WeakMap<net.Socket, string>();
  const peer = (s: net.Socket) => `${s.remoteAddress}|${s.remotePort}`;
  const pressured = (client: string) =>
    (perClient.get(client)?.size ?? 0) > limits.maxPerAddress / 2 || limits.recentRefusals(client) >= REFUSALS_BEFORE_PRESSURE;
  const drop = (raw: net.Socket, why: string) => {
    dropped.set(raw, why);
    raw.destroy();
  };
  // The TLS server starts each handshake in its own 'connection' listener: taken over here.
  const startTls = server.listeners('connection') as ((raw: net.Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (raw: net.Socket) => {
    // Reset before Node saw it: nobody left to serve, and no address to count it under.
    if (raw.remoteAddress === undefined) {
      raw.destroy();
      return;
    }
    const client = clientGroup(raw.remoteAddress);
    let pending = perClient.get(client);
    if (!pending) perClient.set(client, (pending = new Map()));
    if (pending.size >= limits.maxPerAddress) {
      const all = [...pending.values()];
      const victim = all.find((p) => p.raw.bytesRead === 0) ?? all[0]!;
      drop(
        victim.raw,
        `shed to make room: the oldest${victim.raw.bytesRead === 0 ? ' silent' : ''} of ${limits.maxPerAddress} TLS handshakes under way from this address`,
      );
      victim.done();
    }
    const entry: Pending = {
      raw,
      client,
      done: () => {
        clearTimeout(timer);
        if (byPeer.get(key) === entry) byPeer.delete(key);
        if (!pending.delete(raw)) return;
        if (!pending.size && perClient.get(client) === pending) perClient.delete(client);
      },
    };
    const key = peer(raw);
    pending.set(raw, entry);
    byPeer.set(key, entry);
    const deadline = pressured(client) ? Math.min(limits.timeoutMs, PRESSURE_HANDSHAKE_MS) : limits.timeoutMs;
    // Node's handshakeTimeout covers the unpressured case; this one ends a pressured handshake sooner.
    const timer =
      deadline < limits.timeoutMs
        ? setTimeout(() => drop(raw, `no TLS handshake within ${deadline / 1000} s (shortened: this address is under pressure)`), deadline).unref()
        : undefined;
    raw.once('close', entry.done);
    for (const listener of startTls) listener.call(server, raw);
  });
  const rawOf = (s: TLSSocket) => (s as TLSSocket & { _parent?: net.Socket })._parent;
  return {
    release: (secured) => {
      const entry = byPeer.get(peer(secured));
      // Authenticated or refused, its handshake is done: no deadline of ours cuts it any more.
      return entry?.done ?? (() => undefined);
    },
    droppedWhy: (socket) => {
      const raw = rawOf(socket);
      return raw && dropped.get(raw);
    },
  };
}
