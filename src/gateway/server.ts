/**
 * `dockward gateway`: an authenticating, authorizing, auditing reverse proxy in front of the
 * daemon's Unix socket. This module wires listeners, upstream, policy and audit log together and
 * owns reload and shutdown.
 */
import { OwnershipCache } from '../ownership/index.js';
import http from 'node:http';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname } from 'node:path';
import { BODY_ROUTES, DEFAULT_MAX_BODY_BYTES } from '../api/bodies/canonical.js';
import { knownDaemon, knownDaemonApis } from '../api/bodies/daemons.js';
import { ROUTES_KNOWN_THROUGH } from '../api/routes.js';
import { apiVersionNumber, NEWEST_API_VERSION } from '../api/versions.js';
import { engineRequest } from '../engine/engine-client.js';
import { ALWAYS_PROTECTED, loadPolicyFile, resolveHostPath, withApiVersion, type Policy } from '../policy/index.js';
import { DockwardError } from '../util/errors.js';
import { AuditLog } from './audit-log.js';
import { STREAM_BUFFER_BYTES, type GatewayContext } from './context.js';
import { FairShare } from './fair-share.js';
import { RefusalLog } from './refusal-log.js';
import { BodySpool } from './spool.js';
import { redecideOpen } from './pipeline/reload.js';
import { openListener, type Listener, type ListenerSpec, type ServerLimits } from './listeners.js';
import type { AcceptEncodingMode } from './wire.js';

export interface GatewayOptions {
  upstreamSocket: string;
  listeners: ListenerSpec[];
  policy: Policy;
  /** Re-read on reload when set; a policy that fails to load keeps the previous one. */
  policyFile?: string;
  /** File path, or '-' for stdout. */
  auditLog: string;
  acceptEncoding?: AcceptEncodingMode;
  limits?: Partial<ServerLimits>;
  /** Bodies the gateway reads before forwarding (checked bodies, upgrade requests); 1 MiB by default. */
  maxBodyBytes?: number;
  /** A tenant's `docker load` archive or a constrained role's build context, spooled to disk to be checked whole; 8 GiB by default. */
  maxLoadBytes?: number;
  /** Where the private directory of spooled archives is made; the OS's temporary directory by default. */
  spoolDir?: string;
  /** Operational messages (reloads, refusals of the gateway's own config); stderr by default. */
  log?: (line: string) => void;
  /** The newest API version accepted (default NEWEST_API_VERSION); lower only to try a daemon newer than the gateway. */
  newestApiVersion?: string;
}

export interface Gateway {
  listeners: Listener[];
  /** dockerd's API version, read at start. */
  apiVersion: string;
  /** Reload TLS material of every TCP listener and the policy file, reopen the audit log; never throws. */
  reload(): Promise<void>;
  /** Stop accepting, let ordinary requests finish (up to `graceMs`), end streams, flush the audit log. */
  close(graceMs?: number): Promise<void>;
}

export const DEFAULT_MAX_LOAD_BYTES = 8 * 1024 ** 3;

export const DEFAULT_LIMITS: ServerLimits = {
  headersTimeoutMs: 20_000,
  // Generous: `docker load` or a build context over a slow link is one long request body.
  requestTimeoutMs: 15 * 60_000,
  keepAliveTimeoutMs: 30_000,
  handshakeTimeoutMs: 10_000,
  maxConnections: 1024,
  maxHandshakesPerAddress: 64,
  // A quarter of maxConnections: no identity can take more than that of the others' share.
  maxConnectionsPerIdentity: 256,
  maxConnectionsPerCertificate: 128,
  maxStreamsPerIdentity: 128,
  maxStreamsPerCertificate: 64,
};

/** dockerd must be there before we promise anyone a front door to it. */
export async function upstreamVersion(socketPath: string): Promise<string> {
  const hint = 'start dockerd, or pass --docker-socket PATH or set DOCKER_HOST=unix://PATH';
  if (!existsSync(socketPath)) throw new DockwardError(`no Docker socket at ${socketPath}`, hint);
  try {
    const res = await engineRequest({ socketPath }, 'GET', '/version', { timeoutMs: 5000 });
    if (res.status !== 200) throw new Error(`GET /version answered ${res.status}`);
    return (JSON.parse(res.body.toString('utf8')) as { ApiVersion: string }).ApiVersion;
  } catch (e) {
    throw new DockwardError(`the Docker daemon at ${socketPath} does not answer: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, hint);
  }
}

/**
 * The paths no container may mount on this host: the fixed list, dockerd's socket and its
 * directory, and dockerd's data-root as the daemon reports it (resolved, as mounts are compared).
 */
export async function protectedHostPaths(socketPath: string): Promise<string[]> {
  const res = await engineRequest({ socketPath }, 'GET', '/info', { timeoutMs: 5000 });
  if (res.status !== 200) throw new DockwardError(`the Docker daemon at ${socketPath} answered GET /info with ${res.status}`, 'check the daemon');
  const root = (JSON.parse(res.body.toString('utf8')) as { DockerRootDir?: string }).DockerRootDir;
  const paths = [...ALWAYS_PROTECTED, socketPath, dirname(socketPath), ...(root ? [root] : [])];
  return [...new Set(paths.map(resolveHostPath))];
}

/**
 * A network as the daemon resolves `target` (full id, name or id prefix; local and, on a swarm
 * manager, swarm networks): what a service spec's network target means. Undefined when the
 * daemon has no such network or cannot say: the body stage then refuses, failing closed.
 */
export async function lookupNetwork(socketPath: string, target: string): Promise<{ id: string; name: string; driver: string } | undefined> {
  try {
    const res = await engineRequest({ socketPath }, 'GET', `/networks/${encodeURIComponent(target)}`, { timeoutMs: 10_000 });
    if (res.status !== 200) return undefined;
    const n = JSON.parse(res.body.toString('utf8')) as { Id?: string; Name?: string; Driver?: string };
    return { id: n.Id ?? '', name: n.Name ?? '', driver: n.Driver ?? '' };
  } catch {
    return undefined;
  }
}

/** What a gateway in front of a daemon newer than itself does about it, or undefined. */
export function newerDaemonWarning(daemonVersion: string, gatewayNewest: string): string | undefined {
  if (apiVersionNumber(daemonVersion) <= apiVersionNumber(gatewayNewest)) return undefined;
  const unknownRoutes =
    apiVersionNumber(daemonVersion) > apiVersionNumber(ROUTES_KNOWN_THROUGH) ? `; routes added after API ${ROUTES_KNOWN_THROUGH} are refused (404)` : '';
  return (
    `warning: dockerd speaks API ${daemonVersion}, newer than the gateway's ${gatewayNewest}: requests for newer API versions are ` +
    `refused, unversioned requests are forwarded as API ${gatewayNewest}, and Api-Version answers say ${gatewayNewest} ` +
    `so clients negotiate down to it${unknownRoutes}`
  );
}

/** Behind a dockerd whose body types the gateway has no model of, constrained roles lose the body routes. */
function unmodelledBodiesWarning(daemonVersion: string): string | undefined {
  if (knownDaemon(daemonVersion)) return undefined;
  return (
    `warning: the gateway has no model of the request bodies of dockerd API ${daemonVersion} (it knows ${knownDaemonApis()}): ` +
    `every role that is not unrestricted is refused the routes whose body it checks (${[...BODY_ROUTES.keys()].join(', ')})`
  );
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  if (!opts.listeners.length) throw new DockwardError('the gateway has no listener', 'pass --listen HOST:PORT or --unix PATH');
  const log = opts.log ?? ((line: string) => process.stderr.write(`dockward gateway: ${line}\n`));
  const apiVersion = await upstreamVersion(opts.upstreamSocket);
  const newest = opts.newestApiVersion ?? NEWEST_API_VERSION;
  const newerDaemon = newerDaemonWarning(apiVersion, newest);
  if (newerDaemon) log(newerDaemon);
  const unmodelled = unmodelledBodiesWarning(apiVersion);
  if (unmodelled) log(unmodelled);
  const protectedPaths = await protectedHostPaths(opts.upstreamSocket);
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const audit = new AuditLog(opts.auditLog, log);
  const ctx: GatewayContext = {
    upstreamSocket: opts.upstreamSocket,
    // No cap on busy upstream sockets: long-lived answers (events, logs -f, wait) each hold one,
    // and a cap would let one client's streams queue everybody else's requests behind them. The
    // bound is the listeners' maxConnections (a connection has one request in flight at a time).
    // LIFO reuse keeps a few hot idle connections instead of cycling through all of them.
    // The Agent hands its options to each socket it creates: highWaterMark is the sockets'.
    agent: new http.Agent({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo', highWaterMark: STREAM_BUFFER_BYTES } as http.AgentOptions),
    // Requests are read as this dockerd reads them: its routes, its versions up to the gateway's.
    policy: withApiVersion(opts.policy, apiVersion, newest),
    audit,
    acceptEncoding: opts.acceptEncoding ?? 'strip',
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    host: { protectedPaths, network: (target) => lookupNetwork(opts.upstreamSocket, target) },
    daemonApi: apiVersion,
    bodyTimeoutMs: limits.headersTimeoutMs,
    log,
    ownership: new OwnershipCache(opts.upstreamSocket),
    spool: new BodySpool(opts.spoolDir ?? tmpdir(), opts.maxLoadBytes ?? DEFAULT_MAX_LOAD_BYTES),
    tunnels: new Set(),
    fairShare: new FairShare(limits),
    refusals: new RefusalLog(audit),
    exchanges: new Set(),
    connections: new Map(),
  };
  // Tenants' first requests need not wait for the daemon's listing.
  if (ctx.policy.identities.some((p) => p.scope === 'own')) void ctx.ownership.whenReady().catch(() => undefined);
  const listeners: Listener[] = [];
  try {
    for (const spec of opts.listeners) listeners.push(await openListener(ctx, spec, limits));
  } catch (e) {
    for (const l of listeners) {
      l.server.close();
      await l.close();
    }
    ctx.agent.destroy();
    ctx.refusals.close();
    ctx.ownership.close();
    await ctx.spool.close();
    await audit.close();
    throw e;
  }

  const reload = async () => {
    await Promise.all(listeners.map((l) => l.reloader?.reload()));
    try {
      audit.reopen();
    } catch (e) {
      log(`audit log not reopened, still writing to the previous one: ${(e as Error).message}`);
    }
    if (opts.policyFile) {
      try {
        ctx.policy = withApiVersion(await loadPolicyFile(opts.policyFile), apiVersion, newest);
        log(`policy reloaded from ${opts.policyFile}`);
        const { exchanges, connections } = redecideOpen(ctx);
        if (exchanges || connections) log(`the reloaded policy ended ${exchanges} request(s) and stream(s) and closed ${connections} connection(s) it no longer allows`);
      } catch (e) {
        log(`policy reload failed, keeping the previous policy: ${(e as Error).message}`);
      }
    }
  };

  let closing: Promise<void> | undefined;
  const close = (graceMs = 10_000) =>
    (closing ??= (async () => {
      const drained = Promise.all(listeners.map((l) => new Promise<void>((r) => l.server.close(() => r()))));
      for (const l of listeners) l.server.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const l of listeners) l.server.closeAllConnections();
        for (const t of ctx.tunnels) t.destroy();
      }, graceMs);
      // Hijacked streams are not the HTTP server's any more: end them now, they have no "finish".
      for (const t of ctx.tunnels) t.destroy();
      await drained;
      clearTimeout(timer);
      for (const l of listeners) await l.close();
      ctx.agent.destroy();
      ctx.refusals.close();
      ctx.ownership.close();
      await ctx.spool.close();
      await audit.close();
    })());

  return { listeners, apiVersion, reload, close };
}
