/**
 * The body stage of a decision: read the request body as dockerd would (canonical form), judge it
 * against the role's container rules, apply the enforced defaults, and say what to forward — or
 * why not. Pure: the caller reads the bytes (bounded) and writes whatever comes back.
 */
import { BodyError, canonicalBody, serializeBody, type PlainBody } from '../api/bodies/canonical.js';
import type { BodyCheck } from './authorize.js';
import type { BodyCode } from './codes.js';
import { checkAuth } from './constraints/query.js';
import { checkContainerCreate, checkContainerUpdate, checkExecCreate, checkVolumeCreate, type BodyRefusal, type CheckedBody, type HostFacts } from './constraints/container.js';
import { checkNetworkCreate } from './constraints/network.js';
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

function judge(check: BodyCheck, body: PlainBody, host: HostFacts): BodyRefusal | CheckedBody {
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
    case 'auth':
      return checkAuth(body, check.rules) ?? { body, mutations: [] };
  }
}

export function inspectBody(check: BodyCheck, raw: Buffer, contentType: string | undefined, daemonApi: string, host: HostFacts, maxBytes?: number): BodyOutcome {
  if (!isJson(contentType, raw.length)) {
    return { kind: 'refuse', status: 400, code: 'DW_BODY_INVALID', field: '', message: `the body must be JSON (Content-Type: application/json), not ${JSON.stringify(contentType ?? '')}` };
  }
  let body: PlainBody;
  try {
    body = canonicalBody(check.kind, raw, daemonApi, maxBytes);
  } catch (e) {
    if (!(e instanceof BodyError)) throw e;
    return { kind: 'refuse', status: 400, code: 'DW_BODY_INVALID', field: e.field, message: e.message };
  }
  const original = check.auditOnly ? structuredClone(body) : undefined;
  const features = original && bodyFeatures(check.kind, original);
  const learnt = features ? { features } : {};
  const verdict = judge(check, body, host);
  if ('code' in verdict) {
    const message = `${verdict.field ? `${verdict.field}: ` : ''}${verdict.message} (${verdict.code}, role ${check.role})`;
    if (original) return { kind: 'forward', body: serializeBody(original), mutations: [], wouldDeny: message, ...learnt };
    return { kind: 'refuse', status: 403, code: verdict.code, field: verdict.field, message };
  }
  if (original) return { kind: 'forward', body: serializeBody(original), mutations: verdict.mutations.map((m) => `would apply ${m}`), ...learnt };
  return { kind: 'forward', body: serializeBody(verdict.body), mutations: verdict.mutations };
}
