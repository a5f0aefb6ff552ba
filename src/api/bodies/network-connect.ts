/**
 * The body of `POST /networks/{id}/connect`: 20.10's types.NetworkConnect and 28.5's
 * network.ConnectOptions (26.1: types.NetworkConnect too) are all `{Container string; EndpointConfig *EndpointSettings
 * "json:,omitempty"}`, decoded by json.NewDecoder (20.10) or httputils.ReadJSON (26.1, 28.5). Written
 * by hand; the EndpointSettings is the one the same daemon's create body model holds (the values
 * of NetworkingConfig.EndpointsConfig), so an endpoint reads the same on a create and a connect.
 */
import { field, ptr, string, struct, type GoType, type StructType } from '../gojson/types.js';

function member(t: StructType, goName: string): GoType {
  const f = t.fields.find((x) => x.goName === goName);
  if (!f) throw new Error(`${t.name} has no field ${goName}`);
  return f.type;
}

function deref(t: GoType): GoType {
  return t.kind === 'ptr' ? deref(t.elem) : t;
}

function asStruct(t: GoType): StructType {
  const s = deref(t);
  if (s.kind !== 'struct') throw new Error(`expected a struct, got ${s.kind}`);
  return s;
}

/** `ConnectOptions` for the daemon whose create body is `createRequest`. */
export function networkConnectType(createRequest: StructType): StructType {
  const networking = asStruct(member(createRequest, 'NetworkingConfig'));
  const endpoints = deref(member(networking, 'EndpointsConfig'));
  if (endpoints.kind !== 'map') throw new Error('NetworkingConfig.EndpointsConfig is not a map');
  return struct('network.ConnectOptions', [field('Container', string), field('EndpointConfig', ptr(asStruct(endpoints.elem)), { omitempty: true })]);
}
