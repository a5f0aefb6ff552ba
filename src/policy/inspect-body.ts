/**
 * The body stage of a decision: read the request body as dockerd would (canonical form), judge it
 * against the role's container rules, apply the enforced defaults, and say what to forward — or
 * why not. Pure: the caller reads the bytes (bounded) and writes whatever comes back.
 */
import { BodyError, canonicalBody, serializeBody, type PlainBody } from '../api/bodies/canonical.js';
import type { BodyCheck } from './authorize.js';
import type { BodyCode } from './codes.js';
import { checkAuth } from './constraints/query.js';
import { checkContainerCreate, checkContainerUpdate, checkExecCreate, checkNetworkConnect, checkVolumeCreate, type BodyRefusal, type CheckedBody, type HostFacts } from './constraints/container.js';
import { checkNetworkCreate } from './constraints/network.js';
import { checkServiceSpec, serviceNetworkTargets, type ResolvedNetworks } from './constraints/service.js';
import { bodyFeatures, type BodyFeatures } from './body-features.js';

export type BodyOutcome =
  | {
      kind: 'forward';
      body: Buffer;
      /** What the gateway changed (or, under audit-only, would have changed). */
      mutations: string[];
      /** Audit-only: the refusal the body would have got. */
      wouldDeny?: string;
      /** Audit-only: what the body asks for in the rules' terms, for `policy suggest`. */
      features?: BodyFeatures;
    }
  | { kind: 'refuse'; status: 400 | 403; code: BodyCode; field: string; message: string };

/** dockerd's httputils.CheckForJSON: no Content-Type is fine only for an empty body. */
function isJson(contentType: string | undefined, length: number): boolean {
  if (contentType === undefined || contentType === '') return length === 0;
  return contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** What the body stage knows of the request besides its body. */
export interface BodyContext {
  /** The API version of the dockerd behind the gateway, whose types decode the body. */
  daemonApi: string;
  /** The API version the request is made in (dockerd drops fields older versions lack). */
  requestApi: string;
  host: HostFacts;
  maxBytes?: number;
}

/** The networks a service spec names, as the daemon resolves them (only with a daemon). */
async function resolveNetworks(body: PlainBody, host: HostFacts): Promise<ResolvedNetworks | undefined> {
  const lookup = host.network;
  if (!lookup) return undefined;
  const targets = [...new Set(serviceNetworkTargets(body))];
  return new Map(await Promise.all(targets.map(async (t) => [t, await lookup(t)] as const)));
}

function judge(check: BodyCheck, body: PlainBody, ctx: BodyContext, networks: ResolvedNetworks | undefined): BodyRefusal | CheckedBody {
  const host = ctx.host;
  switch (check.kind) {
    case 'container-create':
      return checkContainerCreate(body, check.rules.containers, host);
    case 'exec-create':
      return checkExecCreate(body, check.rules.containers);
    case 'container-update':
      return checkContainerUpdate(body, check.rules.containers);
    case 'volume-create':
      return checkVolumeCreate(body, check.rules.containers, host) ?? { body, mutations: [] };
    case 'network-create':
      return checkNetworkCreate(body, check.rules);
    case 'network-connect':
      return checkNetworkConnect(body, check.rules.containers);
    case 'service-spec':
      return checkServiceSpec(body, check.rules, host, networks, ctx.requestApi);
    case 'auth':
      return checkAuth(body, check.rules) ?? { body, mutations: [] };
  }
}

export async function inspectBody(check: BodyCheck, raw: Buffer, contentType: string | undefined, ctx: BodyContext): Promise<BodyOutcome> {
  if (!isJson(contentType, raw.length)) {
    return { kind: 'refuse', status: 400, code: 'DW_BODY_INVALID', field: '', message: `the body must be JSON (Content-Type: application/json), not ${JSON.stringify(contentType ?? '')}` };
  }
  let body: PlainBody;
  try {
    body = canonicalBody(check.kind, raw, ctx.daemonApi, ctx.maxBytes);
  } catch (e) {
    if (!(e instanceof BodyError)) throw e;
    return { kind: 'refuse', status: 400, code: 'DW_BODY_INVALID', field: e.field, message: e.message };
  }
  const original = check.auditOnly ? structuredClone(body) : undefined;
  const features = original && bodyFeatures(check.kind, original);
  const learnt = features ? { features } : {};
  const networks = check.kind === 'service-spec' ? await resolveNetworks(body, ctx.host) : undefined;
  const verdict = judge(check, body, ctx, networks);
  if ('code' in verdict) {
    const message = `${verdict.field ? `${verdict.field}: ` : ''}${verdict.message} (${verdict.code}, role ${check.role})`;
    if (original) return { kind: 'forward', body: serializeBody(original), mutations: [], wouldDeny: message, ...learnt };
    return { kind: 'refuse', status: 403, code: verdict.code, field: verdict.field, message };
  }
  if (original) return { kind: 'forward', body: serializeBody(original), mutations: verdict.mutations.map((m) => `would apply ${m}`), ...learnt };
  return { kind: 'forward', body: serializeBody(verdict.body), mutations: verdict.mutations };
}
