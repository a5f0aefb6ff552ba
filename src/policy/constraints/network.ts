/**
 * Network constraints: what a role lets its holder create with `POST /networks/create`, judged
 * on the canonical body (`network.CreateRequest` in 28.5, `types.NetworkCreateRequest` in 20.10:
 * the create options flattened at the top, with `Name`).
 *
 * What hands out the host: a driver that attaches to a host interface (macvlan, ipvlan with
 * `parent`, host), driver options that pick the host bridge or switch off isolation
 * (`com.docker.network.bridge.name`, `…enable_icc`, `…gateway_mode_ipv4=routed`), and an address
 * plan of the caller's choice, which can shadow the host's own networks. So by default a role may
 * create bridge networks with dockerd's own options and addresses. Swarm's ingress network and
 * networks taking their configuration from a config-only network (made by someone else) are never
 * for a constrained role. Overlay networks, where allowed, are always encrypted.
 */
import type { CheckedBody } from './container.js';
import { isObj, refuse as refuseWith, type BodyRefusal, type Obj } from './plain.js';
import type { RoleRules } from './rules.js';

const refuse = (field: string, message: string): BodyRefusal => refuseWith('DW_BODY_NETWORK', field, message);

/** The overlay driver's option that encrypts its VXLAN traffic (libnetwork drivers/overlay). */
const ENCRYPTED = 'encrypted';

function checkAddresses(body: Obj, rules: RoleRules): BodyRefusal | undefined {
  if (rules.networkAddresses || !isObj(body.IPAM)) return undefined;
  const ipam = body.IPAM;
  if (typeof ipam.Driver === 'string' && ipam.Driver !== '' && ipam.Driver !== 'default') {
    return refuse('IPAM.Driver', `IPAM driver ${JSON.stringify(ipam.Driver)} is not allowed for this role (networks.addresses)`);
  }
  if (isObj(ipam.Options) && Object.keys(ipam.Options).length) return refuse('IPAM.Options', 'IPAM options are not allowed for this role (networks.addresses)');
  if (Array.isArray(ipam.Config) && ipam.Config.length) {
    return refuse('IPAM.Config', "subnets, gateways and address ranges of the caller's choice are not allowed for this role (networks.addresses)");
  }
  return undefined;
}

/** `POST /networks/create`: judge the canonical body, return it as it must be forwarded. */
export function checkNetworkCreate(body: Obj, rules: RoleRules): BodyRefusal | CheckedBody {
  // An empty Driver is dockerd's default: bridge (daemon/network.go, libnetwork's default driver).
  const driver = typeof body.Driver === 'string' && body.Driver !== '' ? body.Driver : 'bridge';
  if (!rules.networkDrivers.has(driver)) {
    return refuse('Driver', `network driver ${JSON.stringify(driver)} is not allowed for this role (allowed: ${[...rules.networkDrivers].join(', ') || 'none'})`);
  }
  if (body.Ingress === true) return refuse('Ingress', "swarm's ingress network is not allowed for this role");
  if (isObj(body.ConfigFrom)) return refuse('ConfigFrom', 'a network configured from a config-only network is not allowed for this role');
  const options: Obj = isObj(body.Options) ? body.Options : {};
  for (const name of Object.keys(options)) {
    if (!rules.networkOption(name) && !(driver === 'overlay' && name === ENCRYPTED)) {
      return refuse(`Options.${name}`, `network driver option ${JSON.stringify(name)} is not allowed for this role (networks.options)`);
    }
  }
  const refusal = checkAddresses(body, rules);
  if (refusal) return refusal;
  const mutations: string[] = [];
  if (driver === 'overlay' && options[ENCRYPTED] === undefined) {
    body.Options = { ...options, [ENCRYPTED]: '' };
    mutations.push(`Options.${ENCRYPTED}: overlay traffic encrypted`);
  }
  return { body, mutations };
}
