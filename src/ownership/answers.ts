/**
 * Answers as a tenant sees them: the tenant's own prefix taken off every name (names.ts), and
 * where dockerd cannot filter by label (`system/df`, `events`), what is not the tenant's left out.
 */
import type { ContainerCounts, OwnershipCache } from './cache.js';
import { OWNER_LABEL } from './label.js';
import { tenantName } from './names.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const labelsOwner = (o: Obj) => (isObj(o.Labels) ? (o.Labels as Record<string, string>)[OWNER_LABEL] : undefined);

function renameKeys(o: unknown, owner: string): unknown {
  if (!isObj(o)) return o;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [tenantName(owner, k), v]));
}

function binds(v: unknown, owner: string): unknown {
  return Array.isArray(v) ? v.map((b) => (typeof b === 'string' ? tenantName(owner, b) : b)) : v;
}

function mounts(v: unknown, owner: string): void {
  if (Array.isArray(v)) for (const m of v) if (isObj(m) && typeof m.Name === 'string') m.Name = tenantName(owner, m.Name);
}

/** `containers/json` items and `containers/{id}/json` alike. */
export function container(c: unknown, owner: string): unknown {
  if (!isObj(c)) return c;
  if (Array.isArray(c.Names)) c.Names = c.Names.map((n) => (typeof n === 'string' ? tenantName(owner, n) : n));
  if (typeof c.Name === 'string') c.Name = tenantName(owner, c.Name);
  if (isObj(c.HostConfig)) {
    const hc = c.HostConfig;
    if (typeof hc.NetworkMode === 'string') hc.NetworkMode = tenantName(owner, hc.NetworkMode);
    hc.Binds = binds(hc.Binds, owner);
  }
  if (isObj(c.NetworkSettings)) c.NetworkSettings.Networks = renameKeys(c.NetworkSettings.Networks, owner);
  mounts(c.Mounts, owner);
  return c;
}

export function network(n: unknown, owner: string): unknown {
  if (!isObj(n)) return n;
  if (typeof n.Name === 'string') n.Name = tenantName(owner, n.Name);
  if (isObj(n.Containers)) for (const c of Object.values(n.Containers)) if (isObj(c) && typeof c.Name === 'string') c.Name = tenantName(owner, c.Name);
  return n;
}

export function volume(v: unknown, owner: string): unknown {
  if (isObj(v) && typeof v.Name === 'string') v.Name = tenantName(owner, v.Name);
  return v;
}

export function volumeList(l: unknown, owner: string): unknown {
  if (isObj(l) && Array.isArray(l.Volumes)) l.Volumes = l.Volumes.map((v) => volume(v, owner));
  return l;
}

export const list = (each: (v: unknown, owner: string) => unknown) => (l: unknown, owner: string) => (Array.isArray(l) ? l.map((v) => each(v, owner)) : l);

/** `info`: the container counts are the tenant's own. */
export function info(v: unknown, c: ContainerCounts): unknown {
  if (!isObj(v)) return v;
  v.Containers = c.total;
  v.ContainersRunning = c.running;
  v.ContainersPaused = c.paused;
  v.ContainersStopped = c.stopped;
  return v;
}

/**
 * `images/{name}/json`: images are shared, but one committed from a container (or built by the
 * classic builder) names that container in `Container`, and before API 1.45 in `ContainerConfig`;
 * the Hostname of both configs is its short id (20.10 keeps it in a commit's Config): an image that
 * is not the tenant's shows none of them.
 */
export function image(i: unknown, owner: string): unknown {
  if (!isObj(i) || (isObj(i.Config) && labelsOwner(i.Config) === owner)) return i;
  if (typeof i.Container === 'string') i.Container = '';
  delete i.ContainerConfig;
  if (isObj(i.Config) && typeof i.Config.Hostname === 'string') i.Config.Hostname = '';
  return i;
}

/**
 * `system/df`: images are shared and stay, but how many containers use each is counted over the
 * tenant's own; containers and volumes are the tenant's own; the build cache is nobody's to see.
 */
export function diskUsage(df: unknown, owner: string): unknown {
  if (!isObj(df)) return df;
  if (Array.isArray(df.Containers)) df.Containers = df.Containers.filter((c) => isObj(c) && labelsOwner(c) === owner).map((c) => container(c, owner));
  if (Array.isArray(df.Images) && Array.isArray(df.Containers)) {
    const users = new Map<unknown, number>();
    for (const c of df.Containers as Record<string, unknown>[]) users.set(c.ImageID, (users.get(c.ImageID) ?? 0) + 1);
    for (const i of df.Images) if (isObj(i) && typeof i.Containers === 'number' && i.Containers >= 0) i.Containers = users.get(i.Id) ?? 0;
  }
  if (Array.isArray(df.Volumes)) df.Volumes = df.Volumes.filter((v) => isObj(v) && labelsOwner(v) === owner).map((v) => volume(v, owner));
  if (Array.isArray(df.BuildCache)) df.BuildCache = [];
  return df;
}

interface DaemonEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  /** Events before API 1.22 carry these too. */
  id?: string;
  from?: string;
}

/**
 * One event as the tenant may see it, or undefined. Container events (exec's included) carry the
 * container's labels; networks and volumes are looked up in the cache, which remembers removed
 * ones for a while. Images are shared; anything else (daemon, plugin, swarm) is not the tenant's.
 */
export async function event(cache: OwnershipCache, owner: string, ev: DaemonEvent): Promise<DaemonEvent | undefined> {
  const actor = ev.Actor ?? {};
  const attrs = actor.Attributes ?? {};
  const id = actor.ID ?? '';
  switch (ev.Type) {
    case 'image':
      return ev;
    case 'container':
      if (attrs[OWNER_LABEL] !== owner) return undefined;
      break;
    case 'network':
    case 'volume': {
      let o = cache.ownerOf(ev.Type, id);
      if (!o) {
        await cache.relistAfterMiss(ev.Type).catch(() => undefined);
        o = cache.ownerOf(ev.Type, id);
      }
      if (o?.owner !== owner) return undefined;
      if (ev.Type === 'volume') actor.ID = tenantName(owner, id);
      break;
    }
    default:
      return undefined;
  }
  if (typeof attrs.name === 'string') attrs.name = tenantName(owner, attrs.name);
  if (typeof ev.from === 'string') ev.from = tenantName(owner, ev.from);
  return ev;
}

/**
 * A filter for the streamed `events` answer: whole lines in, the tenant's lines out, in order.
 * `push` takes bytes as they come; `write` gets what may be sent, line by line.
 */
export function eventStream(cache: OwnershipCache, owner: string, write: (b: Buffer) => void): { push(c: Buffer): void; end(done: () => void): void } {
  let pending = '';
  let chain = Promise.resolve();
  return {
    push(c) {
      pending += c.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.trim()) continue;
        chain = chain.then(async () => {
          let ev: DaemonEvent;
          try {
            ev = JSON.parse(line) as DaemonEvent;
          } catch {
            return; // Not an event: nothing a tenant may be shown.
          }
          const kept = await event(cache, owner, ev);
          if (kept) write(Buffer.from(`${JSON.stringify(kept)}\n`));
        });
      }
    },
    end(done) {
      void chain.then(done);
    },
  };
}
