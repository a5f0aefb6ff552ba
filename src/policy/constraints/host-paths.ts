/**
 * Host paths a container may bind-mount: compared after cleaning and resolving symlinks on the
 * host (the gateway runs beside dockerd, on the same filesystem), on a path-segment boundary.
 *
 * Some paths are never mountable, whatever the policy says: the Docker and containerd sockets,
 * their directories and state, and dockward's own PKI. A bind of any of them — or of a directory
 * that contains one, such as `/`, `/run` or `/var` — hands out root on the host.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';

/** Paths whose exposure is root on the host; the daemon's socket and data-root are added at run time. */
export const ALWAYS_PROTECTED = [
  '/var/run/docker.sock',
  '/run/docker.sock',
  '/run/docker',
  '/var/run/docker',
  '/run/containerd',
  '/var/run/containerd',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/etc/docker',
  '/etc/dockward',
] as const;

export interface AllowedHostPath {
  /** Clean, absolute, symlinks resolved when the policy was compiled (where it existed). */
  readonly path: string;
  readonly readOnly: boolean;
  /**
   * Paths below it may be mounted too. Off by default for a writable grant: its holder can put a
   * symlink where a checked directory was between `create` and `start`, and dockerd follows it.
   */
  readonly subpaths: boolean;
}

/** Lexical cleaning, as Go's path.Clean: one meaning per path. */
export function cleanPath(p: string): string {
  return posix.normalize(p).replace(/(.)\/$/, '$1');
}

/** `inner` is `outer` or lies below it, on a segment boundary (`/srv/a` is not below `/srv/ab`). */
export function isWithin(inner: string, outer: string): boolean {
  return inner === outer || outer === '/' || inner.startsWith(`${outer}/`);
}

/**
 * The path the kernel will mount: symlinks resolved for the part that exists; what does not exist
 * yet (dockerd creates missing `Binds` sources) is appended as written, cleaned. Synchronous: a
 * few syscalls per bind, on container create only, and usable where a policy is compiled.
 */
export function resolveHostPath(p: string): string {
  const clean = cleanPath(p);
  const rest: string[] = [];
  let head = clean;
  for (;;) {
    try {
      const real = realpathSync(head);
      return rest.length ? cleanPath(posix.join(real, ...rest.reverse())) : real;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // Not there (yet): resolve the parent. Anything else (a loop, no permission) cannot be checked.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`cannot resolve host path ${JSON.stringify(p)}: ${code ?? String(e)}`, { cause: e });
      if (head === '/') return clean;
      rest.push(posix.basename(head));
      head = posix.dirname(head);
    }
  }
}

/**
 * Mount points strictly below `path` on this host. A bind made read-only by `:ro` is read-only
 * only at its top on dockerd 20.10 and for API < 1.44: what is mounted below it stays writable.
 */
function submountsBelow(path: string): string[] {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  const below: string[] = [];
  for (const line of info.split('\n')) {
    const point = line.split(' ')[4]?.replace(/\\040/g, ' ');
    if (point && point !== path && isWithin(point, path)) below.push(point);
  }
  return below;
}

export type HostPathVerdict = { ok: true; resolved: string } | { ok: false; reason: string };

/**
 * May `source` be bind-mounted (read-only if `readOnly`)? `protectedPaths` are resolved already.
 * A protected path may be neither mounted nor reached through a mounted ancestor.
 */
export function judgeHostPath(source: string, readOnly: boolean, allowed: readonly AllowedHostPath[], protectedPaths: readonly string[]): HostPathVerdict {
  if (!posix.isAbsolute(source)) return { ok: false, reason: `host path ${JSON.stringify(source)} is not absolute` };
  let resolved: string;
  try {
    resolved = resolveHostPath(source);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const shown = resolved === cleanPath(source) ? JSON.stringify(source) : `${JSON.stringify(source)} (${resolved} on the host)`;
  const hit = protectedPaths.find((p) => isWithin(resolved, p) || isWithin(p, resolved));
  if (hit) return { ok: false, reason: `host path ${shown} exposes ${hit}, which is never mountable` };
  const grant = allowed.find((a) => isWithin(resolved, a.path));
  if (!grant) {
    const list = allowed.length ? `allowed: ${allowed.map((a) => a.path + (a.readOnly ? ' (read-only)' : '')).join(', ')}` : 'the role allows no host paths';
    return { ok: false, reason: `host path ${shown} is not in the role's bind-mount allowlist (${list})` };
  }
  if (grant.readOnly && !readOnly) return { ok: false, reason: `host path ${shown} may only be mounted read-only (add :ro or readonly)` };
  if (grant.readOnly) {
    const below = submountsBelow(resolved);
    if (below.length) return { ok: false, reason: `host path ${shown} has mounts below it (${below[0]}) that a read-only bind would leave writable` };
  }
  if (resolved !== grant.path && !grant.subpaths) {
    return {
      ok: false,
      reason: `host path ${shown} lies below the writable grant ${grant.path}, where a symlink could replace it before the container starts: mount ${grant.path} itself (or grant it read-only, or with subpaths: true)`,
    };
  }
  return { ok: true, resolved };
}
