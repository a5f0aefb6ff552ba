/**
 * Image names a tenant made are its own: an image it builds, commits or imports carries its
 * owner label (stamped into the build's `labels`, the commit's or import's `changes`), and a
 * request that would re-point or remove a name whose image carries another tenant's label
 * (`tag`, `build -t`, `commit`, `pull`, `import`, `rmi`; `load` in load.ts) is refused, so no tenant can swap the
 * image another one runs next. Images themselves stay shared: anyone may run any image.
 */
import type { OwnershipCache } from './cache.js';
import { OWNER_LABEL, OwnershipRefusal, RESERVED_PREFIX, stampLabels } from './label.js';

function withTag(repo: string, tag: string | null): string {
  return tag ? `${repo}:${tag}` : repo;
}

/** A digest as go-digest parses one, for the algorithms dockerd registers. */
const DIGEST = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;

/** A pull's `tag` that parses as a digest is one to dockerd (postImagesCreate): `repo@digest`, which re-points no name. */
function pulled(repo: string, tag: string | null): string {
  return tag && DIGEST.test(tag) ? `${repo}@${tag}` : withTag(repo, tag);
}

/** The names a request points at an image (or removes), by route. */
export function namesWritten(route: string, query: URLSearchParams, param: string | undefined): string[] {
  switch (route) {
    case 'POST /images/{name}/tag':
    case 'POST /commit': {
      const repo = query.get('repo');
      return repo ? [withTag(repo, query.get('tag'))] : [];
    }
    case 'POST /build':
      return query.getAll('t').filter(Boolean);
    case 'POST /images/create': {
      const from = query.get('fromImage');
      if (from) return [pulled(from, query.get('tag'))];
      const repo = query.get('repo');
      return repo ? [withTag(repo, query.get('tag'))] : [];
    }
    case 'DELETE /images/{name}':
      return param ? [param] : [];
    default:
      return [];
  }
}

export async function refuseOthersNames(cache: OwnershipCache, owner: string, names: string[]): Promise<void> {
  for (const name of names) {
    const other = await cache.imageOwner(name);
    if (other !== undefined && other !== owner) {
      throw new OwnershipRefusal(403, 'DW_OWNER_IMAGE', `dockward: the image name ${name} is another tenant's: a tenant may not re-point or remove it`);
    }
  }
}

/**
 * dockerd joins the changes with line breaks and parses them as one Dockerfile, so a change that
 * spans lines (a line break; a trailing `\`, or `` ` `` after an escape directive) swallows the
 * gateway's LABEL line that follows it, and a label built from variables (`LABEL ${P}.owner=bob`)
 * is then the one that stays. A change starting with `#` is a comment or a parser directive.
 */
function spansLines(change: string): boolean {
  return /[\r\n]/.test(change) || /^\s*#/.test(change) || /[\\`][ \t]*$/.test(change);
}

/** The owner label stamped into what the request makes: build labels, or a commit's or import's Dockerfile changes. */
export function stampImage(route: string, query: URLSearchParams, owner: string): void {
  if (route === 'POST /build') {
    let labels: Record<string, unknown> = {};
    const raw = query.get('labels');
    if (raw) {
      try {
        labels = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', 'dockward: the labels parameter is not JSON');
      }
      if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', 'dockward: the labels parameter is not a JSON object');
    }
    const body = { Labels: labels };
    stampLabels(body, owner);
    query.delete('labels');
    query.set('labels', JSON.stringify(body.Labels));
    return;
  }
  if (route === 'POST /commit' || (route === 'POST /images/create' && query.get('fromSrc'))) {
    const changes = query.getAll('changes');
    if (changes.some((c) => c.includes(RESERVED_PREFIX))) {
      throw new OwnershipRefusal(403, 'DW_OWNER_LABEL', `dockward: the changes name a label under ${RESERVED_PREFIX}: such labels are set by the gateway only`);
    }
    if (changes.some(spansLines)) {
      throw new OwnershipRefusal(400, 'DW_OWNER_INVALID', 'dockward: a change must be one Dockerfile instruction on one line (no line break, comment, parser directive or line continuation)');
    }
    // Last, so it wins over any LABEL before it.
    query.append('changes', `LABEL ${OWNER_LABEL}=${owner}`);
  }
}
