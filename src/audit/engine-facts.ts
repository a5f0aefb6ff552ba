import http from 'node:http';
import https from 'node:https';
import { engineJson, serverName } from '../engine/engine-client.js';
import type { AuditTarget } from './target.js';
import { allInOrder } from '../util/in-order.js';

/**
 * What the Engine API says about a daemon: the truth the host's files and flags are compared
 * with. Every container is inspected, stopped ones too: one list, then the inspects in parallel
 * over a few kept-alive connections (a daemon with 500 containers is 500 small calls, not 500
 * connections or CLI processes).
 */
export interface EngineFacts {
  version: Record<string, unknown> & { Version?: string; ApiVersion?: string; Os?: string };
  info: Info;
  containers: ContainerInspect[];
  /** Every image, inspected: what a container gets when it does not choose its own user. */
  images: ImageInspect[];
  networks: NetworkSummary[];
  /** `GET /swarm` on a manager. */
  swarm?: SwarmSpec;
}

export interface Info {
  Name?: string;
  SecurityOptions?: string[];
  LiveRestoreEnabled?: boolean;
  ExperimentalBuild?: boolean;
  LoggingDriver?: string;
  DockerRootDir?: string;
  RegistryConfig?: { InsecureRegistryCIDRs?: string[]; IndexConfigs?: Record<string, { Name: string; Secure: boolean; Official?: boolean }> };
  Plugins?: { Authorization?: string[] | null };
  Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean; NodeID?: string };
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  State?: { Status?: string };
  Config?: { User?: string; Env?: string[] | null; Image?: string };
  HostConfig?: {
    Privileged?: boolean;
    CapAdd?: string[] | null;
    SecurityOpt?: string[] | null;
    NetworkMode?: string;
    PidMode?: string;
    IpcMode?: string;
    UTSMode?: string;
    UsernsMode?: string;
    Devices?: { PathOnHost: string; PathInContainer: string }[] | null;
    ReadonlyRootfs?: boolean;
    Memory?: number;
    PidsLimit?: number | null;
    PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[] | null> | null;
    MaskedPaths?: string[] | null;
    LogConfig?: { Type?: string; Config?: Record<string, string> };
  };
  Mounts?: { Type?: string; Source?: string; Destination?: string; RW?: boolean }[];
}

export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  Config?: { User?: string } | null;
}

export interface NetworkSummary {
  Name: string;
  Driver: string;
  Options?: Record<string, string> | null;
  Scope?: string;
}

export interface SwarmSpec {
  Spec?: { EncryptionConfig?: { AutoLockManagers?: boolean }; CAConfig?: { NodeCertExpiry?: number } };
}

/** How many inspects are in flight at once: enough to hide latency, few enough not to load the daemon. */
export const INSPECT_CONCURRENCY = 16;

export async function collectEngineFacts(t: AuditTarget, onProgress?: (done: number, total: number) => void): Promise<EngineFacts> {
  const ep = t.endpoint;
  const agent =
    'socketPath' in ep
      ? new http.Agent({ keepAlive: true, maxSockets: INSPECT_CONCURRENCY })
      : ep.tls
        ? new https.Agent({ keepAlive: true, maxSockets: INSPECT_CONCURRENCY, servername: serverName(ep.host), ...ep.tls })
        : new http.Agent({ keepAlive: true, maxSockets: INSPECT_CONCURRENCY });
  const get = <T>(path: string) => engineJson<T>(ep, 'GET', path, undefined, agent);
  try {
    const [version, info, list, imageList, networks] = await allInOrder([
      get<EngineFacts['version']>('/version'),
      get<Info>('/info'),
      get<{ Id: string }[]>('/containers/json?all=1'),
      get<{ Id: string }[]>('/images/json'),
      get<NetworkSummary[]>('/networks'),
    ]);
    const swarm = info.Swarm?.ControlAvailable ? await get<SwarmSpec>('/swarm') : undefined;
    let done = 0;
    onProgress?.(0, list.length);
    const containers = await inspectAll(list, (id) => get<ContainerInspect>(`/containers/${id}/json`), () => onProgress?.(++done, list.length));
    const images = await inspectAll(imageList, (id) => get<ImageInspect>(`/images/${id}/json`));
    containers.sort((a, b) => a.Name.localeCompare(b.Name));
    return { version, info, containers, images, networks, swarm };
  } finally {
    agent.destroy();
  }
}

/** Inspects each listed object, INSPECT_CONCURRENCY at a time; one removed since the list is left out. */
async function inspectAll<T>(list: { Id: string }[], inspect: (id: string) => Promise<T>, onEach?: () => void): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const { Id } = list[next++]!;
      try {
        out.push(await inspect(Id));
      } catch (e) {
        if (!/: 404 /.test((e as Error).message)) throw e;
      }
      onEach?.();
    }
  };
  await Promise.all(Array.from({ length: Math.min(INSPECT_CONCURRENCY, list.length) }, worker));
  return out;
}
