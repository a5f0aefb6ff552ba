/**
 * What a request body asks for that a role's `containers:` rules grant or refuse, in the rules'
 * own terms: the audit line of an audit-only role carries it (`features`), and `dockward policy
 * suggest` turns the features an identity used into rules. Only names, host paths and flags are
 * kept, never values such as environment variables, commands or labels; lists are bounded so a
 * hostile body cannot blow up the audit line.
 */
import type { BodyKind } from '../api/bodies/canonical.js';
import { isObj, keys, list, str, type Obj } from './constraints/plain.js';
import { normalizeCapability } from './constraints/rules.js';
import { NAMESPACE_MODES } from './constraints/container.js';

export interface BodyFeatures {
  privileged?: true;
  capabilities?: string[];
  hostNamespaces?: string[];
  shareNamespaces?: true;
  /** Host paths bound into the container, each with whether every use was read-only. */
  bindMounts?: { path: string; readOnly: boolean }[];
  devices?: true;
  securityOptions?: string[];
  sysctls?: string[];
  volumesFrom?: true;
  /** exec: the user it runs as ("" = the container's). */
  execUser?: string;
}

const MAX_ITEMS = 32;
const MAX_TEXT = 256;

const bounded = (items: string[]): string[] => [...new Set(items.map((s) => s.slice(0, MAX_TEXT)))].slice(0, MAX_ITEMS);

/** The host paths of `HostConfig.Binds` (`/src:/dst[:opts]`) and bind `Mounts`. */
function bindMounts(hc: Obj): { path: string; readOnly: boolean }[] {
  const out: { path: string; readOnly: boolean }[] = [];
  for (const b of list(hc.Binds).map(str)) {
    const parts = b.split(':');
    if (parts.length >= 2 && parts[0]!.startsWith('/')) out.push({ path: parts[0]!, readOnly: (parts[2] ?? '').split(',').includes('ro') });
  }
  for (const m of list(hc.Mounts)) {
    if (isObj(m) && str(m.Type) === 'bind') {
      const bo = isObj(m.BindOptions) ? m.BindOptions : {};
      out.push({ path: str(m.Source), readOnly: m.ReadOnly === true && bo.ReadOnlyNonRecursive !== true });
    }
  }
  return out.slice(0, MAX_ITEMS).map((b) => ({ path: b.path.slice(0, MAX_TEXT), readOnly: b.readOnly }));
}

function containerFeatures(body: Obj): BodyFeatures {
  const hc: Obj = isObj(body.HostConfig) ? body.HostConfig : {};
  const f: BodyFeatures = {};
  if (hc.Privileged === true) f.privileged = true;
  const caps = bounded(list(hc.CapAdd).map((c) => normalizeCapability(str(c))));
  if (caps.length) f.capabilities = caps;
  const modes = NAMESPACE_MODES.map(([field, ns]) => [str(hc[field]), ns] as const);
  const host = modes.flatMap(([v, ns]) => (v === 'host' && ns ? [ns] : []));
  if (host.length) f.hostNamespaces = host;
  if (modes.some(([v]) => v.startsWith('container:'))) f.shareNamespaces = true;
  const binds = bindMounts(hc);
  if (binds.length) f.bindMounts = binds;
  if (['Devices', 'DeviceCgroupRules', 'DeviceRequests'].some((k) => list(hc[k]).length)) f.devices = true;
  // no-new-privileges is always allowed; its value is all there is to it.
  const opts = bounded(list(hc.SecurityOpt).map(str).filter((o) => !o.startsWith('no-new-privileges')));
  if (opts.length) f.securityOptions = opts;
  const sysctls = bounded(keys(hc.Sysctls));
  if (sysctls.length) f.sysctls = sysctls;
  if (list(hc.VolumesFrom).length) f.volumesFrom = true;
  return f;
}

/** The features of a canonical body, or undefined when there are none worth a rule. */
export function bodyFeatures(kind: BodyKind, body: Obj): BodyFeatures | undefined {
  let f: BodyFeatures = {};
  if (kind === 'container-create') f = containerFeatures(body);
  else if (kind === 'exec-create') f = { ...(body.Privileged === true ? { privileged: true as const } : {}), execUser: str(body.User).slice(0, MAX_TEXT) };
  return Object.keys(f).length ? f : undefined;
}
