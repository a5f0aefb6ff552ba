/**
 * Container constraints: what a role lets its holder put in `POST /containers/create`,
 * `POST /containers/{id}/update` and `POST /containers/{id}/exec`, judged on the canonical body
 * (decoded as dockerd decodes it, keys in Go's canonical spelling) and applied to it: a host path
 * is forwarded resolved, enforced defaults are added. What is returned is what dockerd must get.
 *
 * The body views mirror moby's types: the create body is `container.CreateRequest` (28.5) /
 * `runconfig.ContainerConfigWrapper` (20.10): `container.Config` flattened at the top,
 * `HostConfig` (which embeds `Resources`), `NetworkingConfig`. Values dockerd reads by exact
 * string compare (`host`, `container:`, mount types) are compared exactly here too.
 */
import { judgeHostPath } from './host-paths.js';
import { isObj, keys, list, num, refuse, str, type BodyRefusal, type Obj } from './plain.js';
import { normalizeCapability, type ContainerRules, type Namespace } from './rules.js';

export type { BodyRefusal };

export interface CheckedBody {
  body: Obj;
  /** What the gateway changed, in words, for the audit line and `policy explain`. */
  mutations: string[];
}

export interface HostFacts {
  /** Never mountable, resolved: ALWAYS_PROTECTED, dockerd's socket and data-root. */
  protectedPaths: readonly string[];
  /**
   * Resolves a network as the daemon does (`GET /networks/{target}`); undefined when it has no
   * such network. Absent without a daemon (`policy explain`): then only names are judged.
   */
  network?: (target: string) => Promise<{ id: string; name: string; driver: string } | undefined>;
}

/** Go's strings.SplitN(s, sep, n). */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

/** strconv.ParseBool's true spellings. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/** Security options that only tighten: no-new-privileges switched on. */
function tightening(opt: string): boolean {
  if (opt === 'no-new-privileges') return true;
  const sep = opt.includes('=') ? '=' : ':';
  const [k, v] = splitN(opt, sep, 2);
  return k === 'no-new-privileges' && v !== undefined && GO_TRUE.has(v);
}

const PROPAGATING = new Set(['shared', 'rshared']);

/** HostConfig's namespace modes: "host" (where a namespace is named) or "container:<id>". */
export const NAMESPACE_MODES: readonly (readonly [string, Namespace | undefined])[] = [
  ['NetworkMode', 'network'],
  ['PidMode', 'pid'],
  ['IpcMode', 'ipc'],
  ['UTSMode', 'uts'],
  ['UsernsMode', 'userns'],
  ['CgroupnsMode', 'cgroupns'],
  ['Cgroup', undefined],
];

function checkNamespaces(hc: Obj, rules: ContainerRules): BodyRefusal | undefined {
  for (const [field, ns] of NAMESPACE_MODES) {
    const v = str(hc[field]);
    if (v === 'host' && ns && !rules.hostNamespaces.has(ns)) {
      return refuse('DW_BODY_NAMESPACE', `HostConfig.${field}`, `the host's ${ns} namespace (${field} "host") is not allowed for this role`);
    }
    if (v.startsWith('container:') && !rules.shareNamespaces) {
      return refuse('DW_BODY_NAMESPACE', `HostConfig.${field}`, `joining another container's namespace (${field} ${JSON.stringify(v)}) is not allowed for this role`);
    }
  }
  return undefined;
}

/** Capabilities added (`HostConfig.CapAdd`, a service's `CapabilityAdd`), at field `at`. */
export function checkCapAdd(added: unknown[], at: string, rules: ContainerRules): BodyRefusal | undefined {
  if (rules.capabilities.has('ALL')) return undefined;
  for (let i = 0; i < added.length; i++) {
    const cap = normalizeCapability(str(added[i]));
    if (!rules.capabilities.has(cap)) {
      const allowed = rules.capabilities.size ? [...rules.capabilities].join(', ') : 'none';
      return refuse('DW_BODY_CAPABILITY', `${at}[${i}]`, `capability ${cap === 'ALL' ? 'ALL (every capability)' : cap} is not allowed for this role (allowed: ${allowed})`);
    }
  }
  return undefined;
}

function checkCapabilities(hc: Obj, rules: ContainerRules): BodyRefusal | undefined {
  const added = checkCapAdd(list(hc.CapAdd), 'HostConfig.CapAdd', rules);
  if (added) return added;
  // API 1.40-1.42: a list that replaces the default set outright.
  if (hc.Capabilities !== undefined && hc.Capabilities !== null && !rules.capabilities.has('ALL')) {
    return refuse('DW_BODY_CAPABILITY', 'HostConfig.Capabilities', 'HostConfig.Capabilities replaces the default capability set; it is not allowed for this role (use CapAdd)');
  }
  return undefined;
}

function checkDevices(res: Obj, rules: ContainerRules, prefix: string): BodyRefusal | undefined {
  if (rules.devices) return undefined;
  for (const f of ['Devices', 'DeviceCgroupRules', 'DeviceRequests']) {
    if (list(res[f]).length) return refuse('DW_BODY_DEVICE', `${prefix}${f}`, `host devices (${f}) are not allowed for this role`);
  }
  return undefined;
}

function checkSecurityOpts(hc: Obj, rules: ContainerRules): BodyRefusal | undefined {
  const opts = list(hc.SecurityOpt);
  for (let i = 0; i < opts.length; i++) {
    const o = str(opts[i]);
    if (!tightening(o) && !rules.securityOption(o)) {
      const shown = o.length > 80 ? `${o.slice(0, 80)}...` : o;
      return refuse('DW_BODY_SECURITY_OPT', `HostConfig.SecurityOpt[${i}]`, `security option ${JSON.stringify(shown)} is not allowed for this role`);
    }
  }
  for (const f of ['MaskedPaths', 'ReadonlyPaths']) {
    if (hc[f] !== undefined && hc[f] !== null && !rules.securityOption('systempaths=unconfined')) {
      return refuse('DW_BODY_SYSTEM_PATHS', `HostConfig.${f}`, `HostConfig.${f} overrides which /proc and /sys paths are masked; it is not allowed for this role`);
    }
  }
  return undefined;
}

/** `com.docker.network.endpoint.sysctls`: per-interface sysctls (API 1.46+), `name=value,…`. */
const ENDPOINT_SYSCTLS = 'com.docker.network.endpoint.sysctls';

/** Sysctls by name (`HostConfig.Sysctls`, a service's `Sysctls`), at field `at`. */
export function checkSysctlNames(sysctls: unknown, at: string, rules: ContainerRules): BodyRefusal | undefined {
  for (const name of keys(sysctls)) {
    if (!rules.sysctl(name)) return refuse('DW_BODY_SYSCTL', `${at}.${name}`, `sysctl ${name} is not allowed for this role`);
  }
  return undefined;
}

/** A network endpoint's driver options: the per-interface sysctls in them (API 1.46+). */
export function checkEndpointSysctls(driverOpts: unknown, at: string, net: string, rules: ContainerRules): BodyRefusal | undefined {
  const v = isObj(driverOpts) ? driverOpts[ENDPOINT_SYSCTLS] : undefined;
  if (v === undefined) return undefined;
  for (const kv of str(v).split(',')) {
    const name = kv.split('=')[0]!.trim();
    if (!rules.sysctl(name)) return refuse('DW_BODY_SYSCTL', at, `sysctl ${name} (on network ${net}) is not allowed for this role`);
  }
  return undefined;
}

/** `POST /networks/{id}/connect`: the endpoint's per-interface sysctls, as on a create. */
export function checkNetworkConnect(body: Obj, rules: ContainerRules): BodyRefusal | CheckedBody {
  const ep = isObj(body.EndpointConfig) ? body.EndpointConfig : {};
  return checkEndpointSysctls(ep.DriverOpts, 'EndpointConfig.DriverOpts', 'being connected', rules) ?? { body, mutations: [] };
}

function checkSysctls(body: Obj, hc: Obj, rules: ContainerRules): BodyRefusal | undefined {
  const named = checkSysctlNames(hc.Sysctls, 'HostConfig.Sysctls', rules);
  if (named) return named;
  const endpoints = isObj(body.NetworkingConfig) ? body.NetworkingConfig.EndpointsConfig : undefined;
  for (const net of keys(endpoints)) {
    const ep = (endpoints as Obj)[net];
    if (!isObj(ep)) continue;
    if (net === 'host' && !rules.hostNamespaces.has('network')) {
      return refuse('DW_BODY_NAMESPACE', `NetworkingConfig.EndpointsConfig.host`, "the host's network namespace is not allowed for this role");
    }
    const r = checkEndpointSysctls(ep.DriverOpts, `NetworkingConfig.EndpointsConfig.${net}.DriverOpts`, net, rules);
    if (r) return r;
  }
  return undefined;
}

/** Checks one host-path bind; returns the resolved path to forward, or a refusal. */
function hostBind(source: string, readOnly: boolean, field: string, rules: ContainerRules, host: HostFacts): string | BodyRefusal {
  const v = judgeHostPath(source, readOnly, rules.bindMounts, host.protectedPaths);
  return v.ok ? v.resolved : refuse('DW_BODY_HOST_PATH', field, v.reason);
}

/** `HostConfig.Binds`, read as volume/mounts linuxParser.ParseMountRaw reads them. */
function checkBinds(hc: Obj, rules: ContainerRules, host: HostFacts, mutations: string[]): BodyRefusal | undefined {
  const binds = list(hc.Binds);
  for (let i = 0; i < binds.length; i++) {
    const raw = str(binds[i]);
    const field = `HostConfig.Binds[${i}]`;
    const arr = splitN(raw, ':', 4);
    if (arr[0] === '' || arr.length > 3) return refuse('DW_BODY_INVALID', field, `invalid volume specification ${JSON.stringify(raw)}`);
    if (arr.length === 1) continue; // a destination only: an anonymous volume
    const [source, target, mode = ''] = arr as [string, string, string?];
    const opts = mode.split(',');
    if (opts.some((o) => PROPAGATING.has(o))) return refuse('DW_BODY_MOUNT', field, `mount propagation ${mode} reaches back into the host; it is not allowed`);
    if (!source.startsWith('/')) continue; // a named volume
    const resolved = hostBind(source, opts.includes('ro'), field, rules, host);
    if (typeof resolved !== 'string') return resolved;
    if (resolved !== source) {
      binds[i] = [resolved, target, ...(mode ? [mode] : [])].join(':');
      mutations.push(`${field}: host path ${source} forwarded as ${resolved}`);
    }
  }
  return undefined;
}

/** The local volume driver's options that reach the host: a bind of a path, or a device. */
/**
 * Mount flags of the local driver's `o` (moby/sys/mount's flag table, exact names): with `bind` or
 * `rbind` the kernel ignores the type and binds `device`; the others reach existing host mounts.
 */
const BIND_FLAGS = new Set(['bind', 'rbind']);
const HOST_MOUNT_FLAGS = new Set(['remount', 'shared', 'rshared', 'slave', 'rslave', 'move']);

function checkLocalVolumeOptions(opts: Obj, field: string, rules: ContainerRules, host: HostFacts): BodyRefusal | undefined {
  const o = str(opts.o).split(',');
  const flag = o.find((f) => HOST_MOUNT_FLAGS.has(f));
  if (flag) return refuse('DW_BODY_VOLUME_DRIVER', `${field}.o`, `mount flag ${flag} acts on the host's mounts; it is not allowed`);
  const device = opts.device;
  if (device === undefined) return undefined;
  if (o.some((f) => BIND_FLAGS.has(f))) {
    const r = hostBind(str(device), o.includes('ro'), `${field}.device`, rules, host);
    return typeof r === 'string' ? undefined : r;
  }
  if (str(opts.type) === 'tmpfs') return undefined;
  if (!rules.devices) {
    return refuse('DW_BODY_VOLUME_DRIVER', `${field}.device`, `a local volume of device ${JSON.stringify(str(device))} (type ${JSON.stringify(str(opts.type))}) mounts a host device or a remote filesystem; it is not allowed for this role`);
  }
  return undefined;
}

/** A volume's driver and options (inline in a mount, or `POST /volumes/create`). */
function checkVolumeDriver(
  name: string,
  options: unknown,
  [driverField, optionsField]: [string, string],
  rules: ContainerRules,
  host: HostFacts,
): BodyRefusal | undefined {
  const driver = name || 'local';
  if (!rules.volumeDrivers.has(driver)) {
    return refuse('DW_BODY_VOLUME_DRIVER', driverField, `volume driver ${JSON.stringify(driver)} is not allowed for this role (allowed: ${[...rules.volumeDrivers].join(', ') || 'none'})`);
  }
  return driver === 'local' && isObj(options) ? checkLocalVolumeOptions(options, optionsField, rules, host) : undefined;
}

/**
 * `mount.Mount`s (`HostConfig.Mounts`, a service's `ContainerSpec.Mounts`) at field `at`, as
 * daemon/volumes validateMountConfig accepts them; `volumeDriver` is the container's default.
 */
export function checkMountList(mounts: unknown[], at: string, volumeDriver: string, rules: ContainerRules, host: HostFacts, mutations: string[]): BodyRefusal | undefined {
  for (let i = 0; i < mounts.length; i++) {
    const m = mounts[i];
    const field = `${at}[${i}]`;
    if (!isObj(m)) continue;
    const type = str(m.Type);
    if (type === 'bind') {
      const bo = isObj(m.BindOptions) ? m.BindOptions : {};
      if (PROPAGATING.has(str(bo.Propagation))) return refuse('DW_BODY_MOUNT', `${field}.BindOptions.Propagation`, `mount propagation ${str(bo.Propagation)} reaches back into the host; it is not allowed`);
      // Non-recursively read-only leaves the mounts below the source writable.
      const readOnly = m.ReadOnly === true && bo.ReadOnlyNonRecursive !== true;
      const source = str(m.Source);
      const resolved = hostBind(source, readOnly, `${field}.Source`, rules, host);
      if (typeof resolved !== 'string') return resolved;
      if (resolved !== source) {
        m.Source = resolved;
        mutations.push(`${field}.Source: host path ${source} forwarded as ${resolved}`);
      }
    } else if (type === 'volume') {
      const vo = isObj(m.VolumeOptions) ? m.VolumeOptions : {};
      if (str(vo.Subpath).split('/').includes('..')) return refuse('DW_BODY_MOUNT', `${field}.VolumeOptions.Subpath`, 'a volume subpath may not contain ".."');
      const dc = isObj(vo.DriverConfig) ? vo.DriverConfig : undefined;
      if (dc) {
        const at = `${field}.VolumeOptions.DriverConfig`;
        const r = checkVolumeDriver(str(dc.Name) || volumeDriver, dc.Options, [`${at}.Name`, `${at}.Options`], rules, host);
        if (r) return r;
      }
    } else if (type === 'image') {
      const io = isObj(m.ImageOptions) ? m.ImageOptions : {};
      if (str(io.Subpath).split('/').includes('..')) return refuse('DW_BODY_MOUNT', `${field}.ImageOptions.Subpath`, 'an image subpath may not contain ".."');
    } else if (type !== 'tmpfs') {
      return refuse('DW_BODY_MOUNT', `${field}.Type`, `mount type ${JSON.stringify(type)} is not allowed (bind, volume, image and tmpfs are)`);
    }
  }
  return undefined;
}

/** Host ports below 1024 and the addresses ports are published on (`nat.PortMap`). */
function checkPorts(hc: Obj, rules: ContainerRules): BodyRefusal | undefined {
  const ports = isObj(hc.PortBindings) ? hc.PortBindings : {};
  for (const [port, bindings] of Object.entries(ports)) {
    const bs = list(bindings);
    for (let i = 0; i < bs.length; i++) {
      const b = bs[i];
      if (!isObj(b)) continue;
      const field = `HostConfig.PortBindings.${port}[${i}]`;
      const ip = str(b.HostIp);
      for (const addr of ip ? [ip] : ['0.0.0.0', '::']) {
        if (!rules.hostIP(addr)) return refuse('DW_BODY_PORT', `${field}.HostIp`, `publishing on ${addr} is not allowed for this role`);
      }
      const start = Number(str(b.HostPort).split('-')[0]);
      if (!rules.privilegedPorts && str(b.HostPort) !== '' && start < 1024) {
        return refuse('DW_BODY_PORT', `${field}.HostPort`, `host port ${str(b.HostPort)} is below 1024; not allowed for this role`);
      }
    }
  }
  return undefined;
}

/** Limits shared by create and update (`container.Resources`). */
function checkResources(res: Obj, rules: ContainerRules, prefix: string): BodyRefusal | undefined {
  const dev = checkDevices(res, rules, prefix);
  if (dev) return dev;
  if (str(res.CgroupParent) !== '' && !rules.cgroupParent) return refuse('DW_BODY_CGROUP_PARENT', `${prefix}CgroupParent`, 'a cgroup parent is not allowed for this role');
  if (rules.maxMemory !== undefined && num(res.Memory) > rules.maxMemory) {
    return refuse('DW_BODY_LIMIT', `${prefix}Memory`, `memory ${num(res.Memory)} is above the role's bound of ${rules.maxMemory} bytes`);
  }
  if (rules.maxPids !== undefined && num(res.PidsLimit) > rules.maxPids) {
    return refuse('DW_BODY_LIMIT', `${prefix}PidsLimit`, `pids limit ${num(res.PidsLimit)} is above the role's bound of ${rules.maxPids}`);
  }
  return checkUlimits(list(res.Ulimits), `${prefix}Ulimits`, rules);
}

/** `units.Ulimit`s (`Resources.Ulimits`, a service's `Ulimits`) at field `at`. */
export function checkUlimits(ulimits: unknown[], at: string, rules: ContainerRules): BodyRefusal | undefined {
  for (let i = 0; i < ulimits.length; i++) {
    const u = ulimits[i];
    if (!isObj(u)) continue;
    const max = rules.maxUlimits.get(str(u.Name));
    if (max === undefined) return refuse('DW_BODY_ULIMIT', `${at}[${i}]`, `ulimit ${JSON.stringify(str(u.Name))} is not allowed for this role`);
    if (num(u.Soft) > max || num(u.Hard) > max || num(u.Soft) < 0 || num(u.Hard) < 0) {
      return refuse('DW_BODY_ULIMIT', `${at}[${i}]`, `ulimit ${str(u.Name)} above ${max} (or unlimited) is not allowed for this role`);
    }
  }
  return undefined;
}

/** A log driver by name (`HostConfig.LogConfig.Type`, a service's `LogDriver.Name`). */
export function checkLogDriver(name: string, at: string, rules: ContainerRules): BodyRefusal | undefined {
  if (name === '' || rules.logDrivers.has(name)) return undefined;
  return refuse('DW_BODY_LOG_DRIVER', at, `log driver ${JSON.stringify(name)} is not allowed for this role (allowed: ${[...rules.logDrivers].join(', ')})`);
}

function checkHostSettings(hc: Obj, rules: ContainerRules): BodyRefusal | undefined {
  if (hc.Privileged === true && !rules.privileged) return refuse('DW_BODY_PRIVILEGED', 'HostConfig.Privileged', 'privileged containers are not allowed for this role');
  if (list(hc.VolumesFrom).length && !rules.volumesFrom) return refuse('DW_BODY_VOLUMES_FROM', 'HostConfig.VolumesFrom', "mounting another container's volumes is not allowed for this role");
  const driver = str(hc.VolumeDriver);
  if (driver !== '' && !rules.volumeDrivers.has(driver)) return refuse('DW_BODY_VOLUME_DRIVER', 'HostConfig.VolumeDriver', `volume driver ${JSON.stringify(driver)} is not allowed for this role`);
  const runtime = str(hc.Runtime);
  if (runtime !== '' && !rules.runtimes.has(runtime)) return refuse('DW_BODY_RUNTIME', 'HostConfig.Runtime', `runtime ${JSON.stringify(runtime)} is not allowed for this role`);
  if (keys(hc.Annotations).length && !rules.annotations) return refuse('DW_BODY_ANNOTATIONS', 'HostConfig.Annotations', 'OCI annotations are not allowed for this role');
  if (num(hc.OomScoreAdj) < rules.minOomScoreAdj) {
    return refuse('DW_BODY_OOM_SCORE', 'HostConfig.OomScoreAdj', `OomScoreAdj ${num(hc.OomScoreAdj)} is below the role's minimum of ${rules.minOomScoreAdj}`);
  }
  if (rules.maxShmSize !== undefined && num(hc.ShmSize) > rules.maxShmSize) {
    return refuse('DW_BODY_LIMIT', 'HostConfig.ShmSize', `shm size ${num(hc.ShmSize)} is above the role's bound of ${rules.maxShmSize} bytes`);
  }
  return checkLogDriver(isObj(hc.LogConfig) ? str(hc.LogConfig.Type) : '', 'HostConfig.LogConfig.Type', rules);
}

/** The enforced capability set: every other one dropped, the defaults the request kept and what it added. */
export function enforcedCapabilities(drop: unknown[], add: unknown[], defaults: readonly string[]): string[] {
  const dropped = new Set(drop.map((c) => normalizeCapability(str(c))));
  const base = dropped.has('ALL') ? [] : defaults.filter((c) => !dropped.has(c));
  return [...new Set([...base, ...add.map((c) => normalizeCapability(str(c)))])];
}

/** Log drivers that take rotation options ('' is the daemon's default, json-file). */
export const ROTATING_LOG_DRIVERS: ReadonlySet<string> = new Set(['', 'json-file', 'local']);

/** Adds the enforced log options the request did not set; says what it set. */
export function mergeLogOptions(config: Obj, log: Readonly<Record<string, string>>): string | undefined {
  const set = Object.entries(log).filter(([k]) => config[k] === undefined);
  for (const [k, v] of set) config[k] = v;
  return set.length ? set.map(([k, v]) => `${k}=${v}`).join(', ') : undefined;
}

/** The enforced defaults; each only narrows what the request asked for. */
function applyDefaults(body: Obj, hc: Obj, rules: ContainerRules, mutations: string[]): void {
  const d = rules.defaults;
  const secOpts = list(hc.SecurityOpt).map(str);
  // Options apply in order, the last one wins: the enforced one goes last.
  if (d.noNewPrivileges && secOpts.at(-1) !== 'no-new-privileges') {
    hc.SecurityOpt = [...secOpts, 'no-new-privileges'];
    mutations.push('HostConfig.SecurityOpt: no-new-privileges');
  }
  if (d.capabilities) {
    hc.CapAdd = enforcedCapabilities(list(hc.CapDrop), list(hc.CapAdd), d.capabilities);
    hc.CapDrop = ['ALL'];
    mutations.push(`HostConfig.CapDrop: ALL; CapAdd: ${(hc.CapAdd as string[]).join(', ') || 'none'}`);
  }
  if (d.user !== undefined && str(body.User) === '') {
    body.User = d.user;
    mutations.push(`User: ${d.user}`);
  }
  // On a cgroup v1 host dockerd's default (API 1.41) is the host's cgroup namespace.
  if (str(hc.CgroupnsMode) === '' && !rules.hostNamespaces.has('cgroupns')) {
    hc.CgroupnsMode = 'private';
    mutations.push('HostConfig.CgroupnsMode: private');
  }
  if (d.readOnlyRootfs && hc.ReadonlyRootfs !== true) {
    hc.ReadonlyRootfs = true;
    mutations.push('HostConfig.ReadonlyRootfs: true');
  }
  const memory = d.memory ?? rules.maxMemory;
  if (memory !== undefined && num(hc.Memory) <= 0) {
    hc.Memory = memory;
    mutations.push(`HostConfig.Memory: ${memory}`);
  }
  const pids = d.pids ?? rules.maxPids;
  if (pids !== undefined && num(hc.PidsLimit) <= 0) {
    hc.PidsLimit = pids;
    mutations.push(`HostConfig.PidsLimit: ${pids}`);
  }
  if (d.log) {
    const lc: Obj = isObj(hc.LogConfig) ? hc.LogConfig : (hc.LogConfig = { Type: '', Config: null });
    if (ROTATING_LOG_DRIVERS.has(str(lc.Type))) {
      const set = mergeLogOptions(isObj(lc.Config) ? lc.Config : (lc.Config = {}), d.log);
      if (set) mutations.push(`HostConfig.LogConfig.Config: ${set}`);
    }
  }
}

/** `POST /containers/create`: judge the canonical body, return it as it must be forwarded. */
export function checkContainerCreate(body: Obj, rules: ContainerRules, host: HostFacts): BodyRefusal | CheckedBody {
  const hc: Obj = isObj(body.HostConfig) ? body.HostConfig : (body.HostConfig = {});
  const mutations: string[] = [];
  const refusal =
    checkHostSettings(hc, rules) ??
    checkCapabilities(hc, rules) ??
    checkNamespaces(hc, rules) ??
    checkSecurityOpts(hc, rules) ??
    checkSysctls(body, hc, rules) ??
    checkResources(hc, rules, 'HostConfig.') ??
    checkPorts(hc, rules) ??
    checkBinds(hc, rules, host, mutations) ??
    checkMountList(list(hc.Mounts), 'HostConfig.Mounts', str(hc.VolumeDriver), rules, host, mutations);
  if (refusal) return refusal;
  applyDefaults(body, hc, rules, mutations);
  return { body, mutations };
}

/** `POST /containers/{id}/update`: `container.UpdateConfig` (Resources + RestartPolicy). */
export function checkContainerUpdate(body: Obj, rules: ContainerRules): BodyRefusal | CheckedBody {
  // Here 0 or -1 means unlimited (null leaves the limit as it is).
  if (rules.maxPids !== undefined && typeof body.PidsLimit === 'number' && body.PidsLimit <= 0) {
    return refuse('DW_BODY_LIMIT', 'PidsLimit', `an unlimited pids limit is above the role's bound of ${rules.maxPids}`);
  }
  return checkResources(body, rules, '') ?? { body, mutations: [] };
}

/** `POST /volumes/create`: `volume.CreateOptions` (28.5) / `volume.VolumeCreateBody` (20.10). */
export function checkVolumeCreate(body: Obj, rules: ContainerRules, host: HostFacts): BodyRefusal | undefined {
  // A swarm cluster volume (API 1.42+): created by a CSI plugin on whichever nodes, out of sight.
  if (body.ClusterVolumeSpec !== undefined && body.ClusterVolumeSpec !== null) {
    return refuse('DW_BODY_VOLUME_DRIVER', 'ClusterVolumeSpec', 'cluster volumes (ClusterVolumeSpec) are created by a swarm CSI plugin the gateway cannot check; not allowed for this role');
  }
  return checkVolumeDriver(str(body.Driver), body.DriverOpts, ['Driver', 'DriverOpts'], rules, host);
}

/** `POST /containers/{id}/exec`: `container.ExecOptions`. */
export function checkExecCreate(body: Obj, rules: ContainerRules): BodyRefusal | CheckedBody {
  if (body.Privileged === true && !rules.execPrivileged) return refuse('DW_BODY_PRIVILEGED', 'Privileged', 'privileged exec is not allowed for this role');
  const user = str(body.User);
  if (!rules.execUser(user)) return refuse('DW_BODY_EXEC_USER', 'User', `exec as user ${JSON.stringify(user || '(the container\'s)')} is not allowed for this role`);
  return { body, mutations: [] };
}
