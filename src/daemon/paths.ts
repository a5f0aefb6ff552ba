import { join, resolve } from 'node:path';

/** A target-system path under `--root` (the identity when the root is `/`). */
export function atRoot(root: string, path: string): string {
  return root === '/' ? path : join(resolve(root), path);
}

export const DAEMON_JSON = '/etc/docker/daemon.json';
export const SUBUID = '/etc/subuid';
export const SUBGID = '/etc/subgid';
export const PASSWD = '/etc/passwd';
export const GROUP = '/etc/group';
export const PKI_INSTALL_DIR = '/etc/docker/pki';
export const BACKUP_DIR = '/var/lib/dockward/daemon-backups';
