import { open, rename, unlink, mkdir, stat, chmod, link, copyFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DockwardError } from './errors.js';

export interface PlannedFile {
  path: string;
  data: string | Uint8Array;
  mode: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Writes a set of files so that either all of them land or none does: every file is first
 * written and fsynced to a temp name beside its target with its final mode, and only then
 * renamed into place. A crash before the renames leaves the old files intact; refusing to
 * overwrite is decided for the whole set before anything is written.
 */
export async function writeFilesAtomic(files: PlannedFile[], opts: { force?: boolean; dirMode?: number } = {}): Promise<void> {
  if (!opts.force) {
    const existing: string[] = [];
    for (const f of files) if (await exists(f.path)) existing.push(f.path);
    if (existing.length) {
      throw new DockwardError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}`, 'pass --force to overwrite');
    }
  }
  const temps: { tmp: string; path: string }[] = [];
  try {
    for (const f of files) {
      await mkdir(dirname(f.path), { recursive: true, mode: opts.dirMode ?? 0o700 });
      const tmp = join(dirname(f.path), `.${basename(f.path)}.${randomBytes(6).toString('hex')}.tmp`);
      // Created with the final mode so a key is never readable by others, not even briefly.
      const fh = await open(tmp, 'wx', f.mode);
      temps.push({ tmp, path: f.path });
      try {
        await fh.writeFile(f.data);
        await fh.chmod(f.mode);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await renameAll(temps);
  } catch (e) {
    await Promise.all(temps.map((t) => unlink(t.tmp).catch(() => undefined)));
    throw e;
  }
  await Promise.all([...new Set(files.map((f) => dirname(f.path)))].map(syncDir));
}

/**
 * Renames every temp file onto its target. A rename can still fail midway (an immutable or
 * busy target, a directory in the way): then the targets already replaced get their previous
 * content back (kept as hard links until the set is in place), so the set stays all-or-nothing.
 */
async function renameAll(temps: { tmp: string; path: string }[]): Promise<void> {
  const previous = new Map<string, string>();
  try {
    for (const t of temps) {
      const keep = `${t.tmp}.previous`;
      try {
        // A hard link costs nothing; where one is refused (an immutable target, a filesystem
        // without links) a copy does the same job.
        await link(t.path, keep).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') throw e;
          return copyFile(t.path, keep, fsConstants.COPYFILE_EXCL);
        });
        previous.set(t.path, keep);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    const done: string[] = [];
    try {
      for (const t of temps) {
        await rename(t.tmp, t.path);
        done.push(t.path);
      }
    } catch (e) {
      for (const path of done.reverse()) {
        const keep = previous.get(path);
        await (keep ? rename(keep, path) : unlink(path)).catch(() => undefined);
        previous.delete(path);
      }
      throw e;
    }
  } finally {
    await Promise.all([...previous.values()].map((keep) => unlink(keep).catch(() => undefined)));
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, opts: { force?: boolean } = {}): Promise<void> {
  return writeFilesAtomic([{ path, data, mode }], opts);
}

/** Creates a directory with the given mode, tightening it if it already exists. */
export async function ensureDir(path: string, mode = 0o700): Promise<void> {
  await mkdir(path, { recursive: true, mode });
  await chmod(path, mode);
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  }
}
