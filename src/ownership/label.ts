/**
 * The owner label: set by the gateway on what a tenant creates, and the only mark of ownership.
 * Nobody may set it, change it or filter on it through the gateway (nor on anything else under
 * `io.dockward.`), or a tenant could claim, disown or probe objects.
 */
export const OWNER_LABEL = 'io.dockward.owner';
export const RESERVED_PREFIX = 'io.dockward.';

export class OwnershipRefusal extends Error {
  constructor(
    readonly status: 400 | 403 | 404,
    readonly code: 'DW_OWNER_LABEL' | 'DW_OWNER_NOT_FOUND' | 'DW_OWNER_SCOPE' | 'DW_OWNER_INVALID' | 'DW_OWNER_IMAGE',
    message: string,
  ) {
    super(message);
    this.name = 'OwnershipRefusal';
  }
}

function reservedLabel(where: string, key: string): OwnershipRefusal {
  return new OwnershipRefusal(403, 'DW_OWNER_LABEL', `dockward: ${where} names the label ${JSON.stringify(key)}: labels under ${RESERVED_PREFIX} are set by the gateway only`);
}

/** Sets the owner label in a canonical body's `Labels`, refusing reserved labels sent by the client. */
export function stampLabels(body: Record<string, unknown>, owner: string): void {
  const labels = (body.Labels ?? {}) as Record<string, string>;
  for (const key of Object.keys(labels)) if (key.startsWith(RESERVED_PREFIX)) throw reservedLabel('the body', key);
  body.Labels = { ...labels, [OWNER_LABEL]: owner };
}

/** Filters as dockerd's filters.FromJSON reads them: `{"k":{"v":true}}` or the older `{"k":["v"]}`. */
export type Filters = Record<string, Record<string, boolean>>;

export function parseFilters(raw: string | null): Filters {
  if (raw === null || raw === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', 'dockward: the filters parameter is not JSON');
  }
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', 'dockward: the filters parameter is not a JSON object');
  const out: Filters = {};
  for (const [k, vals] of Object.entries(v as Record<string, unknown>)) {
    const set: Record<string, boolean> = {};
    if (Array.isArray(vals)) for (const x of vals) set[String(x)] = true;
    else if (vals && typeof vals === 'object') for (const [x, on] of Object.entries(vals)) set[x] = on === true;
    else throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', `dockward: the filter ${JSON.stringify(k)} is neither a list nor an object`);
    out[k] = set;
  }
  return out;
}

/** Restricts a list (or prune) to the owner's objects: dockerd applies the label filter itself. */
export function ownerFilters(filters: Filters, owner: string): Filters {
  for (const key of Object.keys(filters.label ?? {})) if (key.startsWith(RESERVED_PREFIX)) throw reservedLabel('the filter', key);
  for (const key of Object.keys(filters['label!'] ?? {})) if (key.startsWith(RESERVED_PREFIX)) throw reservedLabel('the filter', key);
  return { ...filters, label: { ...(filters.label ?? {}), [`${OWNER_LABEL}=${owner}`]: true } };
}
