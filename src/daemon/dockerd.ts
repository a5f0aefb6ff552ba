import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

/**
 * The dockerd that proves a configuration: the one first on PATH, as `dockerd` would run in a
 * shell. PATH rather than an option naming a binary, because dockerd starts its companions
 * (containerd, its shim, docker-init, docker-proxy) from PATH too: only PATH names a set that
 * belongs together (a dockerd 28 with containerd 2.1, not with 20.10's containerd 1.6).
 */
export interface Dockerd {
  path: string;
  /** As `dockerd --version` says it, e.g. "28.5.2+dfsg4". */
  version: string;
  major: number;
  minor: number;
  /** `dockerd --validate --config-file` exists from 23.0 on. */
  canValidate: boolean;
}

const execFileP = promisify(execFile);

async function onPath(name: string, path: string): Promise<string | undefined> {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not in this directory */
    }
  }
  return undefined;
}

/** `Docker version 28.5.2+dfsg4, build 3ef3c07` → its version; undefined for anything else. */
export function parseDockerdVersion(text: string): Pick<Dockerd, 'version' | 'major' | 'minor'> | undefined {
  const m = /Docker version ((\d+)\.(\d+)\S*?),? /.exec(text);
  return m ? { version: m[1]!, major: Number(m[2]), minor: Number(m[3]) } : undefined;
}

export async function findDockerd(path = process.env.PATH ?? ''): Promise<Dockerd | undefined> {
  const found = await onPath('dockerd', path);
  if (!found) return undefined;
  let out: string;
  try {
    out = (await execFileP(found, ['--version'], { timeout: 10_000 })).stdout;
  } catch {
    return undefined;
  }
  const v = parseDockerdVersion(out);
  return v && { path: found, ...v, canValidate: v.major >= 23 };
}
