/**
 * Swarm service constraints: `POST /services/create` and `POST /services/{id}/update` carry a
 * `swarm.ServiceSpec` whose `TaskTemplate.ContainerSpec` becomes a container on some node, so a
 * role's container rules apply to it as they apply to `POST /containers/create`, in the spec's own
 * terms (`Privileges` instead of security options, `CapabilityAdd`, `Resources.Limits`,
 * `EndpointSpec.Ports`). What a spec can reach beyond a container is refused outright: plugin
 * and attachment runtimes (a plugin service installs a plugin with the privileges it asks for).
 *
 * dockerd drops fields the request's API version predates (api/server/router/swarm/helpers.go
 * adjustForAPIVersion: CapabilityAdd/Drop, Ulimits and Limits.Pids before 1.41; Seccomp,
 * AppArmor and NoNewPrivileges before 1.44). That only narrows what runs, except where the gateway
 * itself sets such a field: an enforced default that dockerd would drop is refused instead.
 */
import type { ContainerRules, RoleRules } from './rules.js';
import {
  checkCapAdd,
  checkEndpointSysctls,
  checkLogDriver,
  checkMountList,
  checkSysctlNames,
  checkUlimits,
  enforcedCapabilities,
  mergeLogOptions,
  ROTATING_LOG_DRIVERS,
  type CheckedBody,
  type HostFacts,
} from './container.js';
import { isObj, list, num, refuse, str, type BodyRefusal, type Obj } from './plain.js';
import { registryAllowed, registryOf } from './query.js';
import { apiVersionNumber } from '../../api/versions.js';

/** A network as the daemon resolves a service's network target. */
export interface NetworkFacts {
  id: string;
  name: string;
  driver: string;
}

/** The networks a spec names, resolved by the daemon (undefined: not found). */
export type ResolvedNetworks = ReadonlyMap<string, NetworkFacts | undefined>;

/** The networks a spec attaches, and their field: `TaskTemplate.Networks`, else the deprecated `Networks` (as dockerd falls back). */
function serviceNetworks(body: Obj): { at: string; nets: unknown[] } {
  const tt = isObj(body.TaskTemplate) ? body.TaskTemplate : {};
  return list(tt.Networks).length ? { at: 'TaskTemplate.Networks', nets: list(tt.Networks) } : { at: 'Networks', nets: list(body.Networks) };
}

/** The network targets of a spec, for the daemon to resolve. */
export function serviceNetworkTargets(body: Obj): string[] {
  return serviceNetworks(body).nets.filter(isObj).map((n) => str(n.Target));
}

function checkRuntime(tt: Obj): BodyRefusal | undefined {
  const runtime = str(tt.Runtime);
  if (runtime !== '' && runtime !== 'container') {
    return refuse('DW_BODY_RUNTIME', 'TaskTemplate.Runtime', `service runtime ${JSON.stringify(runtime)} is not allowed (a plugin service installs a plugin with the privileges it asks for)`);
  }
  if (tt.PluginSpec !== undefined && tt.PluginSpec !== null) return refuse('DW_BODY_RUNTIME', 'TaskTemplate.PluginSpec', 'plugin services are not allowed');
  if (tt.NetworkAttachmentSpec !== undefined && tt.NetworkAttachmentSpec !== null) {
    return refuse('DW_BODY_RUNTIME', 'TaskTemplate.NetworkAttachmentSpec', 'network attachment tasks are not allowed');
  }
  return undefined;
}

/** `swarm.Privileges`, as the executor turns it into security options. */
function checkPrivileges(p: Obj, at: string, rules: ContainerRules): BodyRefusal | undefined {
  if (p.CredentialSpec !== undefined && p.CredentialSpec !== null) {
    return refuse('DW_BODY_SECURITY_OPT', `${at}.CredentialSpec`, 'credential specs (Windows gMSA) are not allowed for this role');
  }
  const selinux = isObj(p.SELinuxContext) ? p.SELinuxContext : undefined;
  if (selinux) {
    const opts = selinux.Disable === true ? ['label=disable'] : (['User', 'Role', 'Type', 'Level'] as const).filter((k) => str(selinux[k]) !== '').map((k) => `label=${k.toLowerCase()}:${str(selinux[k])}`);
    const refused = opts.find((o) => !rules.securityOption(o));
    if (refused) return refuse('DW_BODY_SECURITY_OPT', `${at}.SELinuxContext`, `security option ${JSON.stringify(refused)} is not allowed for this role`);
  }
  const seccomp = isObj(p.Seccomp) ? str(p.Seccomp.Mode) : '';
  if (seccomp === 'unconfined' && !rules.securityOption('seccomp=unconfined')) {
    return refuse('DW_BODY_SECURITY_OPT', `${at}.Seccomp.Mode`, 'seccomp "unconfined" is not allowed for this role');
  }
  if (seccomp === 'custom' && !rules.securityOption('seccomp=*')) {
    return refuse('DW_BODY_SECURITY_OPT', `${at}.Seccomp.Mode`, 'a custom seccomp profile is not allowed for this role (it may allow any system call)');
  }
  const apparmor = isObj(p.AppArmor) ? str(p.AppArmor.Mode) : '';
  if (apparmor === 'disabled' && !rules.securityOption('apparmor=unconfined')) {
    return refuse('DW_BODY_SECURITY_OPT', `${at}.AppArmor.Mode`, 'AppArmor "disabled" is not allowed for this role');
  }
  return undefined;
}

function checkContainerSpec(cs: Obj, rules: ContainerRules, roleRules: RoleRules, host: HostFacts, mutations: string[]): BodyRefusal | undefined {
  const at = 'TaskTemplate.ContainerSpec';
  const image = str(cs.Image);
  if (image !== '' && !registryAllowed(registryOf(image), roleRules)) {
    return refuse('DW_BODY_REGISTRY', `${at}.Image`, `pulling from registry ${registryOf(image)} is not allowed for this role`);
  }
  if (num(cs.OomScoreAdj) < rules.minOomScoreAdj) {
    return refuse('DW_BODY_OOM_SCORE', `${at}.OomScoreAdj`, `OomScoreAdj ${num(cs.OomScoreAdj)} is below the role's minimum of ${rules.minOomScoreAdj}`);
  }
  return (
    (isObj(cs.Privileges) ? checkPrivileges(cs.Privileges, `${at}.Privileges`, rules) : undefined) ??
    checkCapAdd(list(cs.CapabilityAdd), `${at}.CapabilityAdd`, rules) ??
    checkSysctlNames(cs.Sysctls, `${at}.Sysctls`, rules) ??
    checkUlimits(list(cs.Ulimits), `${at}.Ulimits`, rules) ??
    checkMountList(list(cs.Mounts), `${at}.Mounts`, '', rules, host, mutations)
  );
}

function checkNetworks(body: Obj, rules: ContainerRules, networks: ResolvedNetworks | undefined): BodyRefusal | undefined {
  const { at, nets } = serviceNetworks(body);
  for (let i = 0; i < nets.length; i++) {
    const n = nets[i];
    if (!isObj(n)) continue;
    const target = str(n.Target);
    // Without a daemon (policy explain) only the name is known.
    const facts = networks ? networks.get(target) : { id: target, name: target, driver: target === 'host' ? 'host' : '' };
    if (!facts) return refuse('DW_BODY_NAMESPACE', `${at}[${i}].Target`, `network ${JSON.stringify(target)} cannot be resolved by the daemon, so the gateway cannot check it`);
    // Swarm resolves a target by full id, then name, then id prefix, then through the local
    // predefined networks: anything but the exact id or name could resolve differently there.
    if (target !== facts.id && target !== facts.name) {
      return refuse('DW_BODY_NAMESPACE', `${at}[${i}].Target`, `network ${JSON.stringify(target)} must be named by its full id or its name (${facts.name})`);
    }
    if ((facts.driver === 'host' || facts.name === 'host') && !rules.hostNamespaces.has('network')) {
      return refuse('DW_BODY_NAMESPACE', `${at}[${i}].Target`, "the host's network namespace (network \"host\") is not allowed for this role");
    }
    const r = checkEndpointSysctls(n.DriverOpts, `${at}[${i}].DriverOpts`, facts.name, rules);
    if (r) return r;
  }
  return undefined;
}

/** Ports published through the routing mesh or on the node (`swarm.PortConfig`): on every address. */
function checkPorts(body: Obj, rules: ContainerRules): BodyRefusal | undefined {
  const ep = isObj(body.EndpointSpec) ? body.EndpointSpec : {};
  const ports = list(ep.Ports);
  for (let i = 0; i < ports.length; i++) {
    const p = ports[i];
    if (!isObj(p) || num(p.PublishedPort) === 0) continue;
    const field = `EndpointSpec.Ports[${i}].PublishedPort`;
    for (const addr of ['0.0.0.0', '::']) {
      if (!rules.hostIP(addr)) return refuse('DW_BODY_PORT', field, `publishing on ${addr} (every service port is) is not allowed for this role`);
    }
    if (!rules.privilegedPorts && num(p.PublishedPort) < 1024) return refuse('DW_BODY_PORT', field, `host port ${num(p.PublishedPort)} is below 1024; not allowed for this role`);
  }
  return undefined;
}

function checkTaskResources(tt: Obj, rules: ContainerRules): BodyRefusal | undefined {
  const res = isObj(tt.Resources) ? tt.Resources : {};
  const limits = isObj(res.Limits) ? res.Limits : {};
  if (rules.maxMemory !== undefined && num(limits.MemoryBytes) > rules.maxMemory) {
    return refuse('DW_BODY_LIMIT', 'TaskTemplate.Resources.Limits.MemoryBytes', `memory ${num(limits.MemoryBytes)} is above the role's bound of ${rules.maxMemory} bytes`);
  }
  if (rules.maxPids !== undefined && num(limits.Pids) > rules.maxPids) {
    return refuse('DW_BODY_LIMIT', 'TaskTemplate.Resources.Limits.Pids', `pids limit ${num(limits.Pids)} is above the role's bound of ${rules.maxPids}`);
  }
  const reservations = isObj(res.Reservations) ? res.Reservations : {};
  if (list(reservations.GenericResources).length && !rules.devices) {
    return refuse('DW_BODY_DEVICE', 'TaskTemplate.Resources.Reservations.GenericResources', 'generic resources (GPUs and other node devices) are not allowed for this role');
  }
  const log = isObj(tt.LogDriver) ? str(tt.LogDriver.Name) : '';
  return checkLogDriver(log, 'TaskTemplate.LogDriver.Name', rules);
}

/** The API version from which dockerd keeps what each enforced default sets in a spec. */
const DEFAULT_SINCE = { noNewPrivileges: '1.44', capabilities: '1.41', pids: '1.41' } as const;

function unkept(what: keyof typeof DEFAULT_SINCE, requestApi: string): BodyRefusal | undefined {
  if (apiVersionNumber(requestApi) >= apiVersionNumber(DEFAULT_SINCE[what])) return undefined;
  return refuse(
    'DW_BODY_SERVICE_DEFAULTS',
    '',
    `the role enforces ${what} on services, which dockerd keeps only from API ${DEFAULT_SINCE[what]}; this request is API ${requestApi} (use a newer client or daemon)`,
  );
}

/** The enforced defaults, in the spec's terms; each only narrows what the request asked for. */
function applyDefaults(body: Obj, cs: Obj, rules: ContainerRules, requestApi: string, mutations: string[]): BodyRefusal | undefined {
  const d = rules.defaults;
  const at = 'TaskTemplate.ContainerSpec';
  if (d.noNewPrivileges) {
    const r = unkept('noNewPrivileges', requestApi);
    if (r) return r;
    const p: Obj = isObj(cs.Privileges) ? cs.Privileges : (cs.Privileges = {});
    if (p.NoNewPrivileges !== true) {
      p.NoNewPrivileges = true;
      mutations.push(`${at}.Privileges.NoNewPrivileges: true`);
    }
  }
  if (d.capabilities) {
    const r = unkept('capabilities', requestApi);
    if (r) return r;
    cs.CapabilityAdd = enforcedCapabilities(list(cs.CapabilityDrop), list(cs.CapabilityAdd), d.capabilities);
    cs.CapabilityDrop = ['ALL'];
    mutations.push(`${at}.CapabilityDrop: ALL; CapabilityAdd: ${(cs.CapabilityAdd as string[]).join(', ') || 'none'}`);
  }
  if (d.user !== undefined && str(cs.User) === '') {
    cs.User = d.user;
    mutations.push(`${at}.User: ${d.user}`);
  }
  if (d.readOnlyRootfs && cs.ReadOnly !== true) {
    cs.ReadOnly = true;
    mutations.push(`${at}.ReadOnly: true`);
  }
  const tt = body.TaskTemplate as Obj;
  const memory = d.memory ?? rules.maxMemory;
  const pids = d.pids ?? rules.maxPids;
  if (memory !== undefined || pids !== undefined) {
    const res: Obj = isObj(tt.Resources) ? tt.Resources : (tt.Resources = {});
    const limits: Obj = isObj(res.Limits) ? res.Limits : (res.Limits = {});
    if (memory !== undefined && num(limits.MemoryBytes) <= 0) {
      limits.MemoryBytes = memory;
      mutations.push(`TaskTemplate.Resources.Limits.MemoryBytes: ${memory}`);
    }
    if (pids !== undefined && num(limits.Pids) <= 0) {
      const r = unkept('pids', requestApi);
      if (r) return r;
      limits.Pids = pids;
      mutations.push(`TaskTemplate.Resources.Limits.Pids: ${pids}`);
    }
  }
  if (d.log) {
    const ld = isObj(tt.LogDriver) ? tt.LogDriver : undefined;
    // No LogDriver: the daemon's default driver, which may not rotate at all.
    const driver: Obj = ld ?? (tt.LogDriver = { Name: 'json-file' });
    if (ROTATING_LOG_DRIVERS.has(str(driver.Name))) {
      if (!ld) mutations.push('TaskTemplate.LogDriver.Name: json-file');
      const set = mergeLogOptions(isObj(driver.Options) ? driver.Options : (driver.Options = {}), d.log);
      if (set) mutations.push(`TaskTemplate.LogDriver.Options: ${set}`);
    }
  }
  return undefined;
}

/**
 * `POST /services/create` and `POST /services/{id}/update`: judge the canonical spec, return it as
 * it must be forwarded. `requestApi` is the API version the request is made in.
 */
export function checkServiceSpec(body: Obj, roleRules: RoleRules, host: HostFacts, networks: ResolvedNetworks | undefined, requestApi: string): BodyRefusal | CheckedBody {
  const rules = roleRules.containers;
  const tt: Obj = isObj(body.TaskTemplate) ? body.TaskTemplate : (body.TaskTemplate = {});
  const cs: Obj = isObj(tt.ContainerSpec) ? tt.ContainerSpec : (tt.ContainerSpec = {});
  const mutations: string[] = [];
  const refusal =
    checkRuntime(tt) ??
    checkContainerSpec(cs, rules, roleRules, host, mutations) ??
    checkTaskResources(tt, rules) ??
    checkNetworks(body, rules, networks) ??
    checkPorts(body, rules) ??
    applyDefaults(body, cs, rules, requestApi, mutations);
  return refusal ?? { body, mutations };
}
