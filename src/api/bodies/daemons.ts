/**
 * The dockerd releases whose request bodies the gateway models exactly, by the daemon's API
 * version (`Api-Version` of its `/_ping`): the Go types each decodes bodies into, generated from
 * its own source (generate.ts), and how its routers read a body. Behind a dockerd of any other API
 * version no body of a constrained role gets through: its fields are not known.
 *
 * The struct bodies, by the routers' code: 20.10 decodes with json.NewDecoder(r.Body).Decode
 * (exec: types.ExecConfig, update: container.UpdateConfig, volumes: volume.VolumeCreateBody,
 * networks: types.NetworkCreateRequest, services: swarm.ServiceSpec); 26.1 with
 * httputils.ReadJSON (types.ExecConfig, container.UpdateConfig, volume.CreateOptions,
 * types.NetworkCreateRequest, swarm.ServiceSpec); 28.5 with httputils.ReadJSON
 * (container.ExecOptions, container.UpdateConfig, volume.CreateOptions, network.CreateRequest,
 * swarm.ServiceSpec). A network connect's body (types.NetworkConnect, 28.5's network.ConnectOptions)
 * is read the same way as each daemon's others. `/auth` is json.NewDecoder into a registry.AuthConfig in all three. What the
 * routers then drop by request version (update's PidsLimit before 1.40, KernelMemory from 1.42;
 * exec's ConsoleSize before 1.42; volumes' ClusterVolumeSpec before 1.42; networks' EnableIPv4
 * before 1.48) only narrows what runs, so it is checked as sent.
 */
import type { StructType } from '../gojson/types.js';
import { authConfig } from './auth.js';
import { containerCreate141 } from './container-create-1.41.generated.js';
import { containerCreate145 } from './container-create-1.45.generated.js';
import { containerCreate151 } from './container-create-1.51.generated.js';
import { containerUpdate141 } from './container-update-1.41.generated.js';
import { containerUpdate145 } from './container-update-1.45.generated.js';
import { containerUpdate151 } from './container-update-1.51.generated.js';
import { execCreate141 } from './exec-create-1.41.generated.js';
import { execCreate145 } from './exec-create-1.45.generated.js';
import { execCreate151 } from './exec-create-1.51.generated.js';
import { networkConnectType } from './network-connect.js';
import { networkCreate141 } from './network-create-1.41.generated.js';
import { networkCreate145 } from './network-create-1.45.generated.js';
import { networkCreate151 } from './network-create-1.51.generated.js';
import { serviceSpec141 } from './service-spec-1.41.generated.js';
import { serviceSpec145 } from './service-spec-1.45.generated.js';
import { serviceSpec151 } from './service-spec-1.51.generated.js';
import { volumeCreate141 } from './volume-create-1.41.generated.js';
import { volumeCreate145 } from './volume-create-1.45.generated.js';
import { volumeCreate151 } from './volume-create-1.51.generated.js';

/** Bodies dockerd decodes straight into one struct. */
export type StructBodyKind = 'exec-create' | 'container-update' | 'volume-create' | 'network-create' | 'network-connect' | 'service-spec' | 'auth';

export interface KnownDaemon {
  /** The moby release the types come from. */
  moby: string;
  /**
   * `POST /containers/create`: runconfig.ContainerConfigWrapper (20.10, 26.1: HostConfig fields
   * are read at the top level too) or container.CreateRequest (28.5).
   */
  containerCreate: StructType;
  structs: Readonly<Record<StructBodyKind, StructType>>;
  /** Its routers read the struct bodies but `/auth` with httputils.ReadJSON. */
  readJson: boolean;
}

export const KNOWN_DAEMONS: Readonly<Record<string, KnownDaemon>> = {
  '1.41': {
    moby: '20.10.24',
    containerCreate: containerCreate141,
    structs: {
      'exec-create': execCreate141,
      'container-update': containerUpdate141,
      'volume-create': volumeCreate141,
      'network-create': networkCreate141,
      'network-connect': networkConnectType(containerCreate141),
      'service-spec': serviceSpec141,
      auth: authConfig,
    },
    readJson: false,
  },
  '1.45': {
    moby: '26.1.5',
    containerCreate: containerCreate145,
    structs: {
      'exec-create': execCreate145,
      'container-update': containerUpdate145,
      'volume-create': volumeCreate145,
      'network-create': networkCreate145,
      'network-connect': networkConnectType(containerCreate145),
      'service-spec': serviceSpec145,
      auth: authConfig,
    },
    readJson: true,
  },
  '1.51': {
    moby: '28.5.2',
    containerCreate: containerCreate151,
    structs: {
      'exec-create': execCreate151,
      'container-update': containerUpdate151,
      'volume-create': volumeCreate151,
      'network-create': networkCreate151,
      'network-connect': networkConnectType(containerCreate151),
      'service-spec': serviceSpec151,
      auth: authConfig,
    },
    readJson: true,
  },
};

/** The daemon of API `daemonApi`, if the gateway knows it. */
export function knownDaemon(daemonApi: string): KnownDaemon | undefined {
  return Object.hasOwn(KNOWN_DAEMONS, daemonApi) ? KNOWN_DAEMONS[daemonApi] : undefined;
}

/**
 * Whether `daemon` reads an empty `kind` body as the struct's zero value: httputils.ReadJSON skips
 * a body whose Content-Length is 0; json.NewDecoder (20.10's routers, `/auth`) fails on EOF.
 */
export function emptyBodyIsZero(daemon: KnownDaemon, kind: StructBodyKind): boolean {
  return daemon.readJson && kind !== 'auth';
}

/** The known API versions for a message: `1.41, 1.45 and 1.51`. */
export function knownDaemonApis(): string {
  const apis = Object.keys(KNOWN_DAEMONS);
  return apis.length > 1 ? `${apis.slice(0, -1).join(', ')} and ${apis.at(-1)}` : apis.join('');
}
