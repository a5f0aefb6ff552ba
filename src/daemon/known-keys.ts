/**
 * What dockerd accepts in daemon.json and on its command line. dockerd refuses to start when
 * daemon.json holds a key that matches no flag ("the following directives don't match any
 * configuration option") or a key that is also given as a flag ("the following directives are
 * specified both as a flag and in the configuration file").
 *
 * Each key list was taken from that dockerd itself: a daemon.json holding every flag name, JSON
 * tag of moby's daemon/config (28.5) and plural form was fed to it, and the keys it did not call
 * unknown were kept, which also catches the hidden flags `--help` does not list (graph,
 * cluster-store, ...). 28.5's flattening rules are read from daemon/config/config.go
 * (flatOptions, skipValidateOptions).
 */
const COMMON = [
  'add-runtime', 'allow-nondistributable-artifacts', 'api-cors-header', 'authorization-plugin',
  'authorization-plugins', 'bip', 'bridge', 'builder', 'cgroup-parent', 'config-file', 'containerd',
  'containerd-namespace', 'containerd-plugins-namespace', 'cpu-rt-period', 'cpu-rt-runtime', 'cri-containerd',
  'data-root', 'debug', 'default-address-pool', 'default-address-pools', 'default-cgroupns-mode',
  'default-gateway', 'default-gateway-v6', 'default-ipc-mode', 'default-runtime', 'default-shm-size',
  'default-ulimit', 'default-ulimits', 'deprecated-key-path', 'dns', 'dns-opt', 'dns-opts', 'dns-search', 'exec-opt',
  'exec-opts', 'exec-root', 'experimental', 'features', 'fixed-cidr', 'fixed-cidr-v6', 'group', 'help', 'host',
  'host-gateway-ip', 'hosts', 'icc', 'init', 'init-path', 'insecure-registries', 'insecure-registry', 'ip', 'ip-forward',
  'ip-masq', 'ip6tables', 'iptables', 'ipv6', 'label', 'labels', 'live-restore', 'log-driver', 'log-level', 'log-opt',
  'log-opts', 'max-concurrent-downloads', 'max-concurrent-uploads', 'max-download-attempts', 'metrics-addr',
  'mtu', 'network-control-plane-mtu', 'network-diagnostic-port', 'no-new-privileges', 'node-generic-resource',
  'node-generic-resources', 'pidfile', 'raw-logs', 'registry-mirror', 'registry-mirrors', 'rootless', 'runtimes',
  'seccomp-profile', 'selinux-enabled', 'shutdown-timeout', 'storage-driver', 'storage-opt', 'storage-opts',
  'swarm-default-advertise-addr', 'tls', 'tlscacert', 'tlscert', 'tlskey', 'tlsverify', 'userland-proxy',
  'userland-proxy-path', 'userns-remap', 'version',
];

export interface DockerdKeys {
  /** The dockerd the keys were taken from. */
  version: string;
  known: ReadonlySet<string>;
  /**
   * Object-valued keys dockerd keeps whole; any other object in daemon.json is flattened one
   * level before the unknown-key check, so `{"tls": {"x": 1}}` is reported as the unknown key `x`.
   */
  whole: ReadonlySet<string>;
}

const WHOLE = ['cluster-store-opts', 'log-opts', 'runtimes', 'default-ulimits', 'features', 'builder'];

export const DOCKERD_20_10: DockerdKeys = {
  version: '20.10',
  known: new Set([...COMMON, 'cluster-advertise', 'cluster-store', 'cluster-store-opt', 'cluster-store-opts', 'graph', 'oom-score-adjust']),
  whole: new Set(WHOLE),
};

export const DOCKERD_28_5: DockerdKeys = {
  version: '28.5',
  known: new Set([
    ...COMMON, 'allow-direct-routing', 'bip6', 'cdi-spec-dir', 'cdi-spec-dirs', 'default-network-opt', 'default-network-opts',
    'feature', 'host-gateway-ips', 'http-proxy', 'https-proxy', 'ip-forward-no-drop', 'log-format', 'no-proxy', 'validate',
  ]),
  whole: new Set([...WHOLE, 'default-network-opts']),
};

/**
 * The keys of the dockerd a configuration is for: 20.10's before 23.0, 28.5's from 23.0 on
 * (a 23–27 dockerd may lack a key 28.5 added; `dockerd --validate`, which those have, says so
 * before anything is written).
 */
export function dockerdKeys(major: number): DockerdKeys {
  return major < 23 ? DOCKERD_20_10 : DOCKERD_28_5;
}

/** The first dockerd that knows a key 20.10 refuses, where moby's history says it. */
const NEWER_KEYS: Record<string, string> = {
  proxies: '23.0', 'http-proxy': '23.0', 'https-proxy': '23.0', 'no-proxy': '23.0', 'default-network-opts': '24.0',
  'log-format': '25.0', 'cdi-spec-dirs': '25.0',
};

/** Keys 20.10 read that 28.5 refuses, and what takes their place. */
const REMOVED_KEYS: Record<string, string> = {
  graph: 'use "data-root"',
  'cluster-store': 'the legacy cluster store is gone: remove it',
  'cluster-store-opts': 'the legacy cluster store is gone: remove it',
  'cluster-advertise': 'the legacy cluster store is gone: remove it',
  'oom-score-adjust': 'remove it (set OOMScoreAdjust= in the docker.service unit instead)',
};

/** Flags whose daemon.json key has another name (dockerd's NamedOption values). */
const NAMED_OPTIONS: Record<string, string> = {
  host: 'hosts', label: 'labels', 'log-opt': 'log-opts', 'storage-opt': 'storage-opts',
  'exec-opt': 'exec-opts', 'dns-opt': 'dns-opts', 'insecure-registry': 'insecure-registries',
  'registry-mirror': 'registry-mirrors', 'authorization-plugin': 'authorization-plugins',
  'default-ulimit': 'default-ulimits', 'add-runtime': 'runtimes',
  'default-address-pool': 'default-address-pools', 'node-generic-resource': 'node-generic-resources',
  'cluster-store-opt': 'cluster-store-opts', 'cdi-spec-dir': 'cdi-spec-dirs',
  'default-network-opt': 'default-network-opts', feature: 'features',
};

const SHORT_FLAGS: Record<string, string> = { H: 'host', D: 'debug', G: 'group', l: 'log-level', p: 'pidfile', b: 'bridge', s: 'storage-driver', g: 'graph', v: 'version', h: 'help' };

/** dockerd's boolean flags: they take no separate value word (`--icc=false` is their only form with one). */
export const BOOLEAN_FLAGS: ReadonlySet<string> = new Set([
  'cri-containerd', 'debug', 'experimental', 'help', 'icc', 'init', 'ip-forward', 'ip-masq',
  'ip6tables', 'iptables', 'ipv6', 'live-restore', 'no-new-privileges', 'raw-logs', 'rootless',
  'selinux-enabled', 'tls', 'tlsverify', 'userland-proxy', 'version', 'allow-direct-routing',
  'ip-forward-no-drop', 'validate',
]);

/** The long flag name for `-H` / `--host`. */
export function longFlagName(name: string): string {
  return SHORT_FLAGS[name] ?? name;
}

/** The daemon.json key a command-line flag collides with. */
export function configKeyOfFlag(flag: string): string {
  const long = longFlagName(flag);
  return NAMED_OPTIONS[long] ?? long;
}

/**
 * Keys dockerd accepts but never reads: the flag's own name where daemon.json uses another
 * (`host` for `hosts`). The unknown-key check passes them because they name a flag, and the
 * JSON decoder skips them, so `{"host": [...]}` (as the seeds write it) silently does nothing.
 */
export function ignoredKeys(config: Record<string, unknown>, keys: DockerdKeys): { key: string; name: string }[] {
  return Object.keys(config).flatMap((key) => {
    const name = NAMED_OPTIONS[key];
    return name && name !== key && keys.known.has(key) ? [{ key, name }] : [];
  });
}

export interface UnknownKey {
  key: string;
  /** The top-level key it sits under when dockerd flattened an object. */
  parent?: string;
  hint: string;
}

export function unknownKeys(config: Record<string, unknown>, keys: DockerdKeys): UnknownKey[] {
  const out: UnknownKey[] = [];
  const check = (key: string, parent?: string) => {
    if (keys.known.has(key)) return;
    out.push({ key, parent, hint: hintFor(key, keys) });
  };
  for (const [key, value] of Object.entries(config)) {
    if (value && typeof value === 'object' && !Array.isArray(value) && !keys.whole.has(key)) {
      for (const inner of Object.keys(value)) check(inner, key);
    } else {
      check(key);
    }
  }
  return out;
}

function hintFor(key: string, keys: DockerdKeys): string {
  if (keys === DOCKERD_20_10 && (DOCKERD_28_5.known.has(key) || NEWER_KEYS[key])) {
    const from = NEWER_KEYS[key] ? `from dockerd ${NEWER_KEYS[key]} on` : 'in newer dockerd (28.5 has it)';
    return `"${key}" exists ${from}; dockerd 20.10 refuses it: remove it, or upgrade dockerd`;
  }
  if (keys === DOCKERD_28_5 && DOCKERD_20_10.known.has(key)) return `"${key}" was a key of dockerd 20.10; dockerd 28.5 refuses it: ${REMOVED_KEYS[key] ?? 'remove it'}`;
  const near = [...keys.known].map((k) => [k, distance(key, k)] as const).sort((a, b) => a[1] - b[1])[0];
  if (near && near[1] <= Math.max(2, Math.floor(key.length / 4))) return `did you mean "${near[0]}"? rename or remove it`;
  return 'remove it';
}

/** Levenshtein distance, for the "did you mean" hint on a misspelt key. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
