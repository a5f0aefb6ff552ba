/**
 * What dockerd 20.10 accepts in daemon.json and on its command line. dockerd refuses to start
 * when daemon.json holds a key that matches no flag ("the following directives don't match any
 * configuration option") or a key that is also given as a flag ("the following directives are
 * specified both as a flag and in the configuration file").
 *
 * The key list was taken from the installed dockerd 20.10 itself: a daemon.json holding every
 * flag name (plus plural forms) was fed to it and the keys it did not call unknown were kept,
 * which also catches the hidden flags `--help` does not list (graph, cluster-store, ...).
 */
export const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'add-runtime', 'allow-nondistributable-artifacts', 'api-cors-header', 'authorization-plugin',
  'authorization-plugins', 'bip', 'bridge', 'builder', 'cgroup-parent', 'cluster-advertise',
  'cluster-store', 'cluster-store-opt', 'cluster-store-opts', 'config-file', 'containerd',
  'containerd-namespace', 'containerd-plugins-namespace', 'cpu-rt-period', 'cpu-rt-runtime',
  'cri-containerd', 'data-root', 'debug', 'default-address-pool', 'default-address-pools',
  'default-cgroupns-mode', 'default-gateway', 'default-gateway-v6', 'default-ipc-mode',
  'default-runtime', 'default-shm-size', 'default-ulimit', 'default-ulimits',
  'deprecated-key-path', 'dns', 'dns-opt', 'dns-opts', 'dns-search', 'exec-opt', 'exec-opts',
  'exec-root', 'experimental', 'features', 'fixed-cidr', 'fixed-cidr-v6', 'graph', 'group',
  'help', 'host', 'host-gateway-ip', 'hosts', 'icc', 'init', 'init-path', 'insecure-registries',
  'insecure-registry', 'ip', 'ip-forward', 'ip-masq', 'ip6tables', 'iptables', 'ipv6', 'label',
  'labels', 'live-restore', 'log-driver', 'log-level', 'log-opt', 'log-opts',
  'max-concurrent-downloads', 'max-concurrent-uploads', 'max-download-attempts', 'metrics-addr',
  'mtu', 'network-control-plane-mtu', 'network-diagnostic-port', 'no-new-privileges',
  'node-generic-resource', 'node-generic-resources', 'oom-score-adjust', 'pidfile', 'raw-logs',
  'registry-mirror', 'registry-mirrors', 'rootless', 'runtimes', 'seccomp-profile',
  'selinux-enabled', 'shutdown-timeout', 'storage-driver', 'storage-opt', 'storage-opts',
  'swarm-default-advertise-addr', 'tls', 'tlscacert', 'tlscert', 'tlskey', 'tlsverify',
  'userland-proxy', 'userland-proxy-path', 'userns-remap', 'version',
]);

/**
 * Object-valued keys dockerd keeps whole; any other object in daemon.json is flattened one level
 * before the unknown-key check, so `{"tls": {"x": 1}}` is reported as the unknown key `x`.
 */
const FLAT_OPTIONS = new Set(['cluster-store-opts', 'log-opts', 'runtimes', 'default-ulimits', 'features', 'builder']);

/** Keys that newer dockerd versions know; naming them makes the problem say why 20.10 refuses them. */
const NEWER_KEYS: Record<string, string> = {
  proxies: '23.0', 'default-network-opts': '24.0', 'log-format': '25.0', 'cdi-spec-dirs': '25.0',
  'http-proxy': '23.0', 'https-proxy': '23.0', 'no-proxy': '23.0', 'min-api-version': '25.0',
};

/** Flags whose daemon.json key has another name (dockerd's NamedOption values). */
const NAMED_OPTIONS: Record<string, string> = {
  host: 'hosts', label: 'labels', 'log-opt': 'log-opts', 'storage-opt': 'storage-opts',
  'exec-opt': 'exec-opts', 'dns-opt': 'dns-opts', 'insecure-registry': 'insecure-registries',
  'registry-mirror': 'registry-mirrors', 'authorization-plugin': 'authorization-plugins',
  'default-ulimit': 'default-ulimits', 'add-runtime': 'runtimes',
  'default-address-pool': 'default-address-pools', 'node-generic-resource': 'node-generic-resources',
  'cluster-store-opt': 'cluster-store-opts',
};

const SHORT_FLAGS: Record<string, string> = { H: 'host', D: 'debug', G: 'group', l: 'log-level', p: 'pidfile', b: 'bridge', s: 'storage-driver', g: 'graph', v: 'version', h: 'help' };

/** dockerd's boolean flags: they take no separate value word (`--icc=false` is their only form with one). */
export const BOOLEAN_FLAGS: ReadonlySet<string> = new Set([
  'cri-containerd', 'debug', 'experimental', 'help', 'icc', 'init', 'ip-forward', 'ip-masq',
  'ip6tables', 'iptables', 'ipv6', 'live-restore', 'no-new-privileges', 'raw-logs', 'rootless',
  'selinux-enabled', 'tls', 'tlsverify', 'userland-proxy', 'version',
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
export function ignoredKeys(config: Record<string, unknown>): { key: string; name: string }[] {
  return Object.keys(config).flatMap((key) => {
    const name = NAMED_OPTIONS[key];
    return name && name !== key ? [{ key, name }] : [];
  });
}

export interface UnknownKey {
  key: string;
  /** The top-level key it sits under when dockerd flattened an object. */
  parent?: string;
  hint: string;
}

export function unknownKeys(config: Record<string, unknown>): UnknownKey[] {
  const out: UnknownKey[] = [];
  const check = (key: string, parent?: string) => {
    if (KNOWN_KEYS.has(key)) return;
    out.push({ key, parent, hint: hintFor(key) });
  };
  for (const [key, value] of Object.entries(config)) {
    if (value && typeof value === 'object' && !Array.isArray(value) && !FLAT_OPTIONS.has(key)) {
      for (const inner of Object.keys(value)) check(inner, key);
    } else {
      check(key);
    }
  }
  return out;
}

function hintFor(key: string): string {
  const newer = NEWER_KEYS[key];
  if (newer) return `"${key}" exists from dockerd ${newer} on; this dockerd (20.10) refuses it: remove it`;
  const near = [...KNOWN_KEYS].map((k) => [k, distance(key, k)] as const).sort((a, b) => a[1] - b[1])[0];
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
