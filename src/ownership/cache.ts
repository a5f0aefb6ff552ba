/**
 * Who owns what on the daemon, kept in memory so that resolving a name, id or prefix costs no
 * daemon round trip: containers, networks and volumes are listed once, then kept current by
 * dockerd's own `events` stream. A lost events connection is reopened and everything listed
 * again (events missed meanwhile cannot be replayed reliably). A lookup that misses lists that
 * kind again before it concludes the object does not exist, so an object created a moment ago
 * (its event not read yet) is found. Removed networks and volumes are remembered for a while so
 * that a tenant's events stream can still tell whose object a `destroy` was about.
 */
import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { engineJson, engineRequest } from '../engine/engine-client.js';
import { OWNER_LABEL } from './label.js';

export type Kind = 'container' | 'network' | 'volume';

/** The fewest milliseconds between two listings of one kind that lookups which missed cause. */
export const MISS_RELIST_MS = 100;

export interface ContainerCounts {
  total: number;
  running: number;
  paused: number;
  stopped: number;
}

export interface Owned {
  /** The owner label's value; undefined: no label (the admin's). */
  owner: string | undefined;
  /** The daemon's name, without the leading `/` of container names. */
  name: string;
}

/** How long removed networks and volumes stay known (for events that arrive late). */
const GONE_MS = 10 * 60_000;
const RECONNECT_MS = 250;

interface DaemonEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

type Labels = Record<string, string> | null | undefined;

export class OwnershipCache {
  readonly containers = new Map<string, Owned>();
  readonly networks = new Map<string, Owned>();
  /** By daemon name (a volume's name is its id). */
  readonly volumes = new Map<string, Owned>();
  /** Exec id -> owner, recorded when the gateway creates one (dockerd cannot list them). */
  private readonly execs = new Map<string, string | undefined>();
  private readonly gone = new Map<string, { kind: Kind; owned: Owned; at: number }>();
  private ready: Promise<void> | undefined;
  private refreshing = new Map<Kind, Promise<void>>();
  /** When the last listing of each kind started (performance.now()). */
  private readonly listedAt = new Map<Kind, number>();
  /** The listing that misses of a kind wait for, when the last one was too recent. */
  private readonly relistSoon = new Map<Kind, Promise<void>>();
  private events: { destroy(): void } | undefined;
  private closed = false;

  constructor(readonly socketPath: string) {}

  /** Resolves once the first listing is in; starts the cache on first use. */
  whenReady(): Promise<void> {
    if (!this.ready) this.start();
    return this.ready!;
  }

  private start(): void {
    this.ready = this.connect();
    // Whoever waits sees the failure; nobody waiting is no crash.
    this.ready.catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.events?.destroy();
  }

  /** The events stream is opened first and listing follows, so nothing falls between the two. */
  private connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let buffered = '';
      let ended = false;
      const lost = () => {
        if (ended) return;
        ended = true;
        this.lost();
      };
      const req = engineRequestStream(this.socketPath, '/events?filters=' + encodeURIComponent(JSON.stringify({ type: ['container', 'network', 'volume'] })));
      this.events = req;
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`the daemon's events stream answered ${res.statusCode}`));
          res.resume();
          lost();
          return;
        }
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          buffered += text;
          let nl: number;
          while ((nl = buffered.indexOf('\n')) !== -1) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line.trim()) void this.apply(JSON.parse(line) as DaemonEvent);
          }
        });
        res.on('close', lost);
        void Promise.all((['container', 'network', 'volume'] as const).map((k) => this.refresh(k))).then(() => resolve(), reject);
      });
      req.on('error', (e) => {
        reject(e);
        lost();
      });
    });
  }

  private lost(): void {
    if (this.closed) return;
    this.events = undefined;
    // Until the new listing is in, lookups wait for it rather than trust what may be stale.
    setTimeout(() => {
      if (!this.closed) this.start();
    }, RECONNECT_MS);
  }

  private async apply(ev: DaemonEvent): Promise<void> {
    const id = ev.Actor?.ID;
    const attrs = ev.Actor?.Attributes ?? {};
    if (!id) return;
    if (ev.Type === 'container') {
      if (ev.Action === 'create' || ev.Action === 'rename') this.containers.set(id, { owner: attrs[OWNER_LABEL], name: attrs.name ?? '' });
      else if (ev.Action === 'destroy') this.forget('container', this.containers, id);
    } else if (ev.Type === 'network' || ev.Type === 'volume') {
      const map = ev.Type === 'network' ? this.networks : this.volumes;
      if (ev.Action === 'create' && !map.has(id)) await this.inspect(ev.Type, id).catch(() => undefined);
      else if (ev.Action === 'destroy') this.forget(ev.Type, map, id);
    }
  }

  private forget(kind: Kind, map: Map<string, Owned>, id: string): void {
    const owned = map.get(id);
    if (!owned) return;
    map.delete(id);
    const now = Date.now();
    for (const [k, g] of this.gone) if (now - g.at > GONE_MS) this.gone.delete(k);
    this.gone.set(`${kind}:${id}`, { kind, owned, at: now });
  }

  private async inspect(kind: 'network' | 'volume', id: string): Promise<void> {
    if (kind === 'network') {
      const n = await engineJson<{ Id: string; Name: string; Labels: Labels }>({ socketPath: this.socketPath }, 'GET', `/networks/${encodeURIComponent(id)}`);
      this.networks.set(n.Id, { owner: n.Labels?.[OWNER_LABEL], name: n.Name });
    } else {
      const v = await engineJson<{ Name: string; Labels: Labels }>({ socketPath: this.socketPath }, 'GET', `/volumes/${encodeURIComponent(id)}`);
      this.volumes.set(v.Name, { owner: v.Labels?.[OWNER_LABEL], name: v.Name });
    }
  }

  /** Lists one kind again (concurrent callers share one listing). */
  refresh(kind: Kind): Promise<void> {
    let p = this.refreshing.get(kind);
    if (!p) {
      this.listedAt.set(kind, performance.now());
      p = this.list(kind).finally(() => this.refreshing.delete(kind));
      this.refreshing.set(kind, p);
    }
    return p;
  }

  /**
   * After a lookup missed: lists again in case the object was made or renamed a moment ago (its
   * event not read yet), but one listing of a kind serves every miss within MISS_RELIST_MS: each
   * is a whole list from dockerd, and a tenant asking for names that do not exist, in a loop,
   * made the gateway list every container on the daemon as fast as it asked. A miss soon after a
   * listing waits for the next one rather than being answered from what may be stale.
   */
  relistAfterMiss(kind: Kind): Promise<void> {
    const running = this.refreshing.get(kind) ?? this.relistSoon.get(kind);
    if (running) return running;
    const wait = MISS_RELIST_MS - (performance.now() - (this.listedAt.get(kind) ?? -Infinity));
    if (wait <= 0) return this.refresh(kind);
    const soon = delay(wait).then(() => {
      this.relistSoon.delete(kind);
      return this.refresh(kind);
    });
    this.relistSoon.set(kind, soon);
    return soon;
  }

  private async list(kind: Kind): Promise<void> {
    const ep = { socketPath: this.socketPath };
    const fresh = new Map<string, Owned>();
    if (kind === 'container') {
      for (const c of await engineJson<{ Id: string; Names: string[] | null; Labels: Labels }[]>(ep, 'GET', '/containers/json?all=1')) {
        fresh.set(c.Id, { owner: c.Labels?.[OWNER_LABEL], name: (c.Names ?? [])[0]?.replace(/^\//, '') ?? '' });
      }
    } else if (kind === 'network') {
      for (const n of await engineJson<{ Id: string; Name: string; Labels: Labels }[]>(ep, 'GET', '/networks')) fresh.set(n.Id, { owner: n.Labels?.[OWNER_LABEL], name: n.Name });
    } else {
      const { Volumes } = await engineJson<{ Volumes: { Name: string; Labels: Labels }[] | null }>(ep, 'GET', '/volumes');
      for (const v of Volumes ?? []) fresh.set(v.Name, { owner: v.Labels?.[OWNER_LABEL], name: v.Name });
    }
    const map = this.mapOf(kind);
    for (const id of map.keys()) if (!fresh.has(id)) this.forget(kind, map, id);
    for (const [id, o] of fresh) map.set(id, o);
  }

  mapOf(kind: Kind): Map<string, Owned> {
    return kind === 'container' ? this.containers : kind === 'network' ? this.networks : this.volumes;
  }

  /** What the gateway itself just created, known before its event is read. */
  note(kind: Kind, id: string, owned: Owned): void {
    this.mapOf(kind).set(id, owned);
  }

  /** Known or recently removed: for events about objects that may be gone by now. */
  ownerOf(kind: Kind, id: string): Owned | undefined {
    return this.mapOf(kind).get(id) ?? this.gone.get(`${kind}:${id}`)?.owned;
  }

  noteExec(id: string, owner: string): void {
    this.execs.set(id, owner);
  }

  /** An exec's owner is its container's; asked of dockerd when the gateway did not create it. */
  async execOwner(id: string): Promise<{ found: boolean; owner?: string }> {
    if (this.execs.has(id)) return { found: true, owner: this.execs.get(id) };
    const res = await engineRequest({ socketPath: this.socketPath }, 'GET', `/exec/${encodeURIComponent(id)}/json`);
    if (res.status !== 200) return { found: false };
    const exec = JSON.parse(res.body.toString('utf8')) as { ID: string; ContainerID: string };
    if (exec.ID !== id) return { found: false };
    await this.whenReady();
    let c = this.containers.get(exec.ContainerID);
    if (!c) {
      await this.relistAfterMiss('container');
      c = this.containers.get(exec.ContainerID);
    }
    return { found: true, owner: c?.owner };
  }

  /**
   * The owner label of the image a name (or id) points to now; undefined when there is no such
   * image or it has no label. Asked of dockerd: only requests that re-point or remove a name ask.
   */
  async imageOwner(ref: string): Promise<string | undefined> {
    const res = await engineRequest({ socketPath: this.socketPath }, 'GET', `/images/${ref}/json`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`the daemon answered ${res.status} about image ${ref}`);
    const image = JSON.parse(res.body.toString('utf8')) as { Config?: { Labels?: Labels } | null };
    return image.Config?.Labels?.[OWNER_LABEL];
  }

  /**
   * The owner's containers by state, counted as dockerd's `info` counts every container (paused,
   * running, and the rest as stopped). Listed by dockerd with the owner label filter: the cache
   * knows owners, not states.
   */
  async containerCounts(owner: string): Promise<ContainerCounts> {
    const filters = encodeURIComponent(JSON.stringify({ label: { [`${OWNER_LABEL}=${owner}`]: true } }));
    const list = await engineJson<{ State?: string }[]>({ socketPath: this.socketPath }, 'GET', `/containers/json?all=1&filters=${filters}`);
    const counts = { total: list.length, running: 0, paused: 0, stopped: 0 };
    for (const c of list) {
      if (c.State === 'running') counts.running++;
      else if (c.State === 'paused') counts.paused++;
      else counts.stopped++;
    }
    return counts;
  }

  /** Creates a volume with its owner label (a container's named volume that does not exist yet). */
  async createVolume(name: string, owner: string): Promise<void> {
    await engineJson({ socketPath: this.socketPath }, 'POST', '/volumes/create', { Name: name, Labels: { [OWNER_LABEL]: owner } });
    this.volumes.set(name, { owner, name });
  }
}

/** A long-lived GET whose answer is read as it streams. */
function engineRequestStream(socketPath: string, path: string): http.ClientRequest {
  const req = http.request({ socketPath, path, method: 'GET', headers: { host: 'docker' }, agent: false });
  req.end();
  return req;
}
