/**
 * What a role lets its holder put in a container (create, update, exec): the `containers:` block
 * of a role in the policy file, its schema, and its compiled form; and beside it what the role's
 * builds, image pulls and new networks may do.
 *
 *   roles:
 *     ci:
 *       allow: [preset:containers, preset:exec]
 *       containers:                     # every key optional; shown with its default
 *         privileged: false
 *         capabilities: []              # may be added (--cap-add); NET_ADMIN or CAP_NET_ADMIN; ALL = any
 *         hostNamespaces: []            # network, pid, ipc, uts, userns, cgroupns: "host" modes allowed
 *         shareNamespaces: false        # container:<id> modes (network, pid, ipc, cgroup)
 *         devices: false                # --device, --device-cgroup-rule, --gpus
 *         securityOptions: []           # further --security-opt values (globs); no-new-privileges is always allowed
 *         sysctls: []                   # sysctl names (globs), also per network endpoint
 *         bindMounts: []                # - { path: /srv/ci, readOnly: true } (subpaths: below it too;
 *                                       #   default: only for read-only grants)
 *         volumeDrivers: [local]
 *         volumesFrom: false
 *         runtimes: [runc]
 *         logDrivers: [json-file, local, none]
 *         annotations: false
 *         cgroupParent: false
 *         minOomScoreAdj: 0
 *         maxMemory: null               # bytes or "512m", "2g"
 *         maxPids: null
 *         maxShmSize: null
 *         maxUlimits: {}                # nofile: 65536 (soft and hard)
 *         privilegedPorts: true         # host ports below 1024
 *         hostIPs: ["*"]                # addresses ports may be published on (globs)
 *         execPrivileged: false
 *         execUsers: ["*"]              # users exec may run as (globs; "" = the container's)
 *         defaults:                     # enforced on what is forwarded; never widening
 *           noNewPrivileges: true
 *           capabilities: null          # a list: drop all others (CapDrop ALL, these added back)
 *           user: null                  # e.g. "65534:65534" where the request names none
 *           readOnlyRootfs: false
 *           memory: null
 *           pids: null
 *           log: null                   # { max-size: 10m, max-file: "3" } for json-file/local
 *
 * Beside it, in the same role:
 *
 *       build:
 *         buildkit: false               # /session, /grpc and version=2 builds: BuildKit's own API,
 *                                       # which an HTTP gateway cannot read (so: full build trust)
 *         remote: []                    # URL prefixes dockerd may fetch a build context from
 *       images:
 *         registries: ["*"]             # registries to pull from (globs on the registry host); the
 *                                       # host's loopback/link-local only when named, not by "*"
 *         importURLs: []                # URL prefixes `docker import URL` may fetch
 *       networks:                       # POST /networks/create
 *         drivers: [bridge]             # overlay networks are always created encrypted
 *         options: []                   # driver options (-o) by name (globs), e.g. com.docker.network.bridge.name
 *         addresses: false              # --subnet, --gateway, --ip-range, --aux-address, IPAM drivers and options
 *
 * Builds are containers too: `networkmode`, `cgroupparent`, `memory`, `shmsize` and `ulimits`
 * of `POST /build` are judged by the `containers` rules.
 *
 * A role with `unrestricted: true` (the admin's) has none of these constraints.
 */
import { compileGlob } from '../glob.js';
import type { AllowedHostPath } from './host-paths.js';

export const NAMESPACES = ['network', 'pid', 'ipc', 'uts', 'userns', 'cgroupns'] as const;
export type Namespace = (typeof NAMESPACES)[number];

export interface ContainerRulesDoc {
  privileged?: boolean;
  capabilities?: string[];
  hostNamespaces?: Namespace[];
  shareNamespaces?: boolean;
  devices?: boolean;
  securityOptions?: string[];
  sysctls?: string[];
  bindMounts?: { path: string; readOnly?: boolean; subpaths?: boolean }[];
  volumeDrivers?: string[];
  volumesFrom?: boolean;
  runtimes?: string[];
  logDrivers?: string[];
  annotations?: boolean;
  cgroupParent?: boolean;
  minOomScoreAdj?: number;
  maxMemory?: number | string;
  maxPids?: number;
  maxShmSize?: number | string;
  maxUlimits?: Record<string, number>;
  privilegedPorts?: boolean;
  hostIPs?: string[];
  execPrivileged?: boolean;
  execUsers?: string[];
  defaults?: {
    noNewPrivileges?: boolean;
    capabilities?: string[];
    user?: string;
    readOnlyRootfs?: boolean;
    memory?: number | string;
    pids?: number;
    log?: Record<string, string>;
  };
}

const size = { oneOf: [{ type: 'integer', minimum: 1 }, { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?\\s*[bkmgtBKMGT]?[bB]?$' }] };
const strings = { type: 'array', items: { type: 'string', minLength: 1 } };

export interface BuildRulesDoc {
  buildkit?: boolean;
  remote?: string[];
}

export interface ImageRulesDoc {
  registries?: string[];
  importURLs?: string[];
}

export const BUILD_RULES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { buildkit: { type: 'boolean' }, remote: { type: 'array', items: { type: 'string', minLength: 1 } } },
} as const;

export interface NetworkRulesDoc {
  drivers?: string[];
  options?: string[];
  addresses?: boolean;
}

export const NETWORK_RULES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: { drivers: strings, options: strings, addresses: { type: 'boolean' } },
} as const;

export const IMAGE_RULES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    registries: { type: 'array', items: { type: 'string', minLength: 1 } },
    importURLs: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
} as const;

export const CONTAINER_RULES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    privileged: { type: 'boolean' },
    capabilities: strings,
    hostNamespaces: { type: 'array', items: { enum: [...NAMESPACES] } },
    shareNamespaces: { type: 'boolean' },
    devices: { type: 'boolean' },
    securityOptions: strings,
    sysctls: strings,
    bindMounts: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: { path: { type: 'string', pattern: '^/' }, readOnly: { type: 'boolean' }, subpaths: { type: 'boolean' } },
      },
    },
    volumeDrivers: strings,
    volumesFrom: { type: 'boolean' },
    runtimes: strings,
    logDrivers: strings,
    annotations: { type: 'boolean' },
    cgroupParent: { type: 'boolean' },
    minOomScoreAdj: { type: 'integer', minimum: -1000, maximum: 1000 },
    maxMemory: size,
    maxPids: { type: 'integer', minimum: 1 },
    maxShmSize: size,
    maxUlimits: { type: 'object', additionalProperties: { type: 'integer', minimum: 0 } },
    privilegedPorts: { type: 'boolean' },
    hostIPs: strings,
    execPrivileged: { type: 'boolean' },
    execUsers: { type: 'array', items: { type: 'string' } },
    defaults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        noNewPrivileges: { type: 'boolean' },
        capabilities: { type: 'array', items: { type: 'string', minLength: 1 } },
        user: { type: 'string', minLength: 1 },
        readOnlyRootfs: { type: 'boolean' },
        memory: size,
        pids: { type: 'integer', minimum: 1 },
        log: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
  },
} as const;

export interface ContainerRules {
  readonly privileged: boolean;
  /** Normalized (`CAP_…`), or 'ALL' in the set for any. */
  readonly capabilities: ReadonlySet<string>;
  readonly hostNamespaces: ReadonlySet<Namespace>;
  readonly shareNamespaces: boolean;
  readonly devices: boolean;
  readonly securityOption: (opt: string) => boolean;
  readonly sysctl: (name: string) => boolean;
  readonly bindMounts: readonly AllowedHostPath[];
  readonly volumeDrivers: ReadonlySet<string>;
  readonly volumesFrom: boolean;
  readonly runtimes: ReadonlySet<string>;
  readonly logDrivers: ReadonlySet<string>;
  readonly annotations: boolean;
  readonly cgroupParent: boolean;
  readonly minOomScoreAdj: number;
  readonly maxMemory?: number;
  readonly maxPids?: number;
  readonly maxShmSize?: number;
  readonly maxUlimits: ReadonlyMap<string, number>;
  readonly privilegedPorts: boolean;
  readonly hostIP: (ip: string) => boolean;
  readonly execPrivileged: boolean;
  readonly execUser: (user: string) => boolean;
  readonly defaults: {
    readonly noNewPrivileges: boolean;
    readonly capabilities?: readonly string[];
    readonly user?: string;
    readonly readOnlyRootfs: boolean;
    readonly memory?: number;
    readonly pids?: number;
    readonly log?: Readonly<Record<string, string>>;
  };
}

/** What a constrained role may do: its containers, builds and images. */
export interface RoleRules {
  readonly containers: ContainerRules;
  readonly buildkit: boolean;
  readonly buildRemotes: readonly string[];
  readonly registry: (host: string) => boolean;
  /** The registries a pattern other than "*" names (for the host's own addresses). */
  readonly registryNamed: (host: string) => boolean;
  readonly importURLs: readonly string[];
  readonly networkDrivers: ReadonlySet<string>;
  readonly networkOption: (name: string) => boolean;
  readonly networkAddresses: boolean;
}

export function compileRoleRules(containers: ContainerRules, build: BuildRulesDoc = {}, images: ImageRulesDoc = {}, networks: NetworkRulesDoc = {}): RoleRules {
  return {
    containers,
    buildkit: build.buildkit ?? false,
    buildRemotes: build.remote ?? [],
    registry: anyGlob(images.registries ?? ['*']),
    registryNamed: anyGlob((images.registries ?? []).filter((p) => p !== '*')),
    importURLs: images.importURLs ?? [],
    networkDrivers: new Set(networks.drivers ?? ['bridge']),
    networkOption: anyGlob(networks.options ?? []),
    networkAddresses: networks.addresses ?? false,
  };
}

/**
 * A capability name as dockerd normalizes it (oci/caps.NormalizeLegacyCapabilities): Go's
 * strings.ToUpper (Unicode: `ſys_admin` is SYS_ADMIN), `CAP_` prefix added; `ALL` stays.
 */
export function normalizeCapability(name: string): string {
  const up = name.toUpperCase();
  if (up === 'ALL') return 'ALL';
  return up.startsWith('CAP_') ? up : `CAP_${up}`;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A size as docker's flags write it (`512m`, `2g`, `1.5GB`), binary units like docker's RAMInBytes. */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') return v;
  const m = /^([0-9]+(?:\.[0-9]+)?)\s*([bkmgt]?)b?$/i.exec(v.trim());
  if (!m) throw new Error(`invalid size ${JSON.stringify(v)} (e.g. 536870912, "512m", "2g")`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

function anyGlob(patterns: readonly string[]): (s: string) => boolean {
  const tests = patterns.map(compileGlob);
  return (s) => tests.some((t) => t(s));
}

/** Compiled rules; `bindMounts` paths must already be resolved (see resolveHostPath). */
export function compileContainerRules(doc: ContainerRulesDoc, bindMounts: readonly AllowedHostPath[]): ContainerRules {
  const d = doc.defaults ?? {};
  return {
    privileged: doc.privileged ?? false,
    capabilities: new Set((doc.capabilities ?? []).map(normalizeCapability)),
    hostNamespaces: new Set(doc.hostNamespaces ?? []),
    shareNamespaces: doc.shareNamespaces ?? false,
    devices: doc.devices ?? false,
    securityOption: anyGlob(doc.securityOptions ?? []),
    sysctl: anyGlob(doc.sysctls ?? []),
    bindMounts,
    volumeDrivers: new Set(doc.volumeDrivers ?? ['local']),
    volumesFrom: doc.volumesFrom ?? false,
    runtimes: new Set(doc.runtimes ?? ['runc']),
    logDrivers: new Set(doc.logDrivers ?? ['json-file', 'local', 'none']),
    annotations: doc.annotations ?? false,
    cgroupParent: doc.cgroupParent ?? false,
    minOomScoreAdj: doc.minOomScoreAdj ?? 0,
    maxMemory: doc.maxMemory === undefined ? undefined : parseSize(doc.maxMemory),
    maxPids: doc.maxPids,
    maxShmSize: doc.maxShmSize === undefined ? undefined : parseSize(doc.maxShmSize),
    maxUlimits: new Map(Object.entries(doc.maxUlimits ?? {})),
    privilegedPorts: doc.privilegedPorts ?? true,
    hostIP: anyGlob(doc.hostIPs ?? ['*']),
    execPrivileged: doc.execPrivileged ?? false,
    execUser: anyGlob(doc.execUsers ?? ['*']),
    defaults: {
      noNewPrivileges: d.noNewPrivileges ?? true,
      capabilities: d.capabilities?.map(normalizeCapability),
      user: d.user,
      readOnlyRootfs: d.readOnlyRootfs ?? false,
      memory: d.memory === undefined ? undefined : parseSize(d.memory),
      pids: d.pids,
      log: d.log,
    },
  };
}
