/**
 * The body of `POST /containers/create`, as the dockerd behind the gateway decodes it.
 *
 * Which struct applies is a property of the daemon, not of the request's API version: dockerd
 * 20.10 (API ≤ 1.41) and 26.1 (API ≤ 1.45) decode every request into
 * runconfig.ContainerConfigWrapper, 28.5 (API ≤ 1.51) into container.CreateRequest, whatever
 * `/v1.NN/` the client asked for. All decode the body once, with json.NewDecoder
 * (runconfig.decodeContainerConfig / loadJSON); 26.1 and 28.5 then call `dec.More()`, which
 * refuses a second value but not a stray `}` or `]`. (28.5's debug
 * middleware re-reads bodies up to 4 KiB into a map for its log only, when dockerd runs with
 * --debug; StrSlice.UnmarshalJSON decodes its own bytes twice, as []string then string.)
 */
import { decode, type Decoded, type DecodeOptions } from '../gojson/decode.js';
import { flatten } from '../gojson/fields.js';
import type { StructType } from '../gojson/types.js';
import { lookup, zero, type GoStruct, type GoValue } from '../gojson/value.js';
import { knownDaemon } from './daemons.js';

/** The body type for a daemon by its API version (`Api-Version` of `/_ping`); undefined if not known. */
export function containerCreateType(daemonApi: string): StructType | undefined {
  return knownDaemon(daemonApi)?.containerCreate;
}

export interface ContainerCreate {
  decoded: Decoded;
  type: StructType;
  /** The HostConfig dockerd goes on with (null: none was sent), by the daemon's own rules. */
  hostConfig: GoStruct | null;
}

export function decodeContainerCreate(body: Uint8Array, daemonApi: string, opts?: DecodeOptions): ContainerCreate {
  const type = containerCreateType(daemonApi);
  if (!type) throw new Error(`no container create body is known for a daemon of API ${daemonApi}`);
  const decoded = decode(body, type, opts);
  const root = decoded.value as GoStruct;
  const hostConfig = embeddedHostConfig(type) >= 0 ? wrapperHostConfig(root) : (get(root, 'HostConfig') as GoStruct | null);
  return { decoded, type, hostConfig };
}

function get(s: GoStruct, name: string): GoValue | undefined {
  return lookup(s, s.type, [name])?.value;
}

function set(s: GoStruct, name: string, v: GoValue): void {
  const f = flatten(s.type).byName.get(name)!;
  let holder = s;
  for (const i of f.path.slice(0, -1)) holder = holder.fields[i] as GoStruct;
  holder.fields[f.path[f.path.length - 1]!] = v;
}

/** Where runconfig.ContainerConfigWrapper embeds its deprecated *HostConfig; -1 in other types. */
function embeddedHostConfig(t: StructType): number {
  return t.fields.findIndex((f) => f.embedded && f.goName === 'HostConfig');
}

/**
 * runconfig ContainerConfigWrapper.getHostConfig (moby 20.10.24 and 26.1.5 alike): the wrapper
 * embeds a deprecated *HostConfig, so HostConfig fields may also come at the top level of the
 * body. They are the HostConfig when no "HostConfig" object was sent; otherwise only Memory,
 * MemorySwap, CpuShares, CpusetCpus and VolumeDriver carry over, where the inner one leaves them
 * zero; and a top-level "Cpuset" fills an empty CpusetCpus. Updates the inner HostConfig in
 * place, as Go does.
 */
function wrapperHostConfig(w: GoStruct): GoStruct | null {
  const top = w.fields[embeddedHostConfig(w.type)] as GoStruct | null;
  const inner = get(w, 'HostConfig') as GoStruct | null;
  let hc = top ?? inner;
  if (top && inner) {
    for (const name of ['Memory', 'MemorySwap', 'CpuShares', 'CpusetCpus', 'VolumeDriver']) {
      const v = get(top, name)!;
      const f = flatten(top.type).byName.get(name)!;
      if (v !== zero(f.type) && get(inner, name) === zero(f.type)) set(inner, name, v);
    }
    hc = inner;
  }
  const cpuset = get(w, 'Cpuset');
  if (hc && cpuset !== '' && get(hc, 'CpusetCpus') === '') set(hc, 'CpusetCpus', cpuset!);
  return hc;
}
