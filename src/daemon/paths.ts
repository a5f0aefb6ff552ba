import { readlink } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { DockwardError } from '../util/errors.js';

/** A target-system path under `--root` (the identity when the root is `/`). */
export function atRoot(root: string, path: string): string {
  return root === '/' ? path : join(resolve(root), path);
}

/**
 * The file a target path names once its symlinks are followed as on the target system: an
 * absolute link is taken inside `root` (as chroot would), never on this host.
 */
export async function resolveAtRoot(root: string, path: string): Promise<string> {
  const rest = path.split('/').filter(Boolean);
  let at = '/';
  for (let links = 0; rest.length; ) {
    const name = rest.shift()!;
    if (name === '.') continue;
    if (name === '..') {
      at = posix.dirname(at);
      continue;
    }
    const next = posix.join(at, name);
    let target: string;
    try {
      target = await readlink(atRoot(root, next));
    } catch {
      // Not a link, or not there yet.
      at = next;
      continue;
    }
    if (++links > 40) throw new DockwardError(`${path}: too many levels of symbolic links`, `fix the links under ${root}`);
    rest.unshift(...target.split('/').filter(Boolean));
    if (target.startsWith('/')) at = '/';
  }
  return at;
}

export const DAEMON_JSON = '/etc/docker/daemon.json';
export const SUBUID = '/etc/subuid';
export const SUBGID = '/etc/subgid';
export const PASSWD = '/etc/passwd';
export const GROUP = '/etc/group';
export const PKI_INSTALL_DIR = '/etc/docker/pki';
export const BACKUP_DIR = '/var/lib/dockward/daemon-backups';
