import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rmdir, rm, stat, unlink, chown, lstat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import lockfile from 'proper-lockfile';
import { writeFilesAtomic, writeFileAtomic, ensureDir } from '../util/atomic-write.js';
import { DockwardError } from '../util/errors.js';
import { atRoot, BACKUP_DIR, PKI_INSTALL_DIR } from './paths.js';
import type { Plan } from './plan.js';

/**
 * Applying a plan and undoing it. Every touched file is copied into a timestamped backup set
 * first, with a manifest saying which files existed (restored on rollback) and which are new
 * (deleted on rollback); then all files are written at once (writeFilesAtomic: a crash leaves
 * the old files intact).
 */
export interface BackupEntry {
  /** Path on the target. */
  path: string;
  existed: boolean;
  /** File name inside the backup set, when it existed. */
  backup?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** sha256 of what apply wrote, so rollback can tell whether someone changed it since. */
  written: string;
}

export interface BackupManifest {
  version: 1;
  created: string;
  files: BackupEntry[];
  /** Directories apply created, removed again on rollback when empty. */
  createdDirs: string[];
}

const ROLLED_BACK = '.rolled-back';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const isRoot = () => process.getuid?.() === 0;

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * A directory of the target system (an image's /var/lib, /etc/docker) that may not exist yet:
 * created traversable as the system's own are, where ensureDir's private mode would lock
 * every other user out of what lies below it.
 */
async function ensureTargetDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o755 });
}

/** Backup sets are named by time, so name order is age order. */
function stamp(d: Date): string {
  return d.toISOString().replace(/[:.]/g, '-');
}

/** One apply or rollback at a time per root: two interleaved would each back up the other's half-written set. */
async function locked<T>(backupRoot: string, fn: () => Promise<T>): Promise<T> {
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(backupRoot, { stale: 60_000, retries: 0 });
  } catch {
    throw new DockwardError(`another dockward daemon apply or rollback is running (${backupRoot}.lock)`, 'wait for it to finish, then run this again');
  }
  try {
    return await fn();
  } finally {
    await release();
  }
}

export async function applyPlan(plan: Plan, now = new Date()): Promise<{ backupDir: string }> {
  const backupRoot = atRoot(plan.root, BACKUP_DIR);
  await ensureTargetDir(dirname(backupRoot));
  await ensureDir(backupRoot, 0o700);
  return locked(backupRoot, () => applyLocked(plan, backupRoot, now));
}

async function applyLocked(plan: Plan, backupRoot: string, now: Date): Promise<{ backupDir: string }> {
  const root = plan.root;
  let backupDir = join(backupRoot, stamp(now));
  for (let i = 1; ; i++) {
    try {
      await mkdir(backupDir, { mode: 0o700 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i > 50) throw e;
      backupDir = join(backupRoot, `${stamp(now)}-${i}`);
    }
  }
  let keepBackup = false;
  try {
    const createdDirs = new Set<string>();
    for (const f of plan.files) {
      for (let d = dirname(f.path); d !== '/' && !(await exists(atRoot(root, d))); d = dirname(d)) createdDirs.add(d);
    }
    const entries: BackupEntry[] = [];
    const copies: { path: string; data: Buffer; mode: number }[] = [];
    for (const [n, f] of plan.files.entries()) {
      const target = atRoot(root, f.path);
      const entry: BackupEntry = { path: f.path, existed: false, written: sha256(f.after) };
      if (await exists(target)) {
        const st = await stat(target);
        // The plan was computed from what was on disk; a file changed since would be lost.
        const now = await readFile(target);
        if (!f.before || !now.equals(f.before)) throw new DockwardError(`${f.path} changed while the plan was being made`, 'run apply again');
        entry.existed = true;
        entry.backup = `${n}-${f.path.split('/').pop()}`;
        entry.mode = st.mode & 0o7777;
        entry.uid = st.uid;
        entry.gid = st.gid;
        copies.push({ path: join(backupDir, entry.backup), data: now, mode: 0o600 });
      } else if (f.before) {
        throw new DockwardError(`${f.path} disappeared while the plan was being made`, 'run apply again');
      }
      entries.push(entry);
    }
    const manifest: BackupManifest = { version: 1, created: now.toISOString(), files: entries, createdDirs: [...createdDirs] };
    await writeFilesAtomic([...copies, { path: join(backupDir, 'manifest.json'), data: `${JSON.stringify(manifest, null, 2)}\n`, mode: 0o600 }]);
    try {
      if (plan.files.some((f) => f.path.startsWith(`${PKI_INSTALL_DIR}/`))) {
        await ensureTargetDir(dirname(atRoot(root, PKI_INSTALL_DIR)));
        await ensureDir(atRoot(root, PKI_INSTALL_DIR), 0o700);
      }
      await writeFilesAtomic(
        plan.files.map((f) => ({ path: atRoot(root, f.path), data: f.after, mode: f.mode })),
        { force: true, dirMode: 0o755 },
      );
      // dockerd runs as root and reads these as root, whoever ran apply.
      if (isRoot()) for (const f of plan.files) await chown(atRoot(root, f.path), 0, 0);
    } catch (e) {
      // Each file is replaced by a rename, but a failure between two renames would leave the set half
      // applied: put every file back as it was before reporting the failure.
      try {
        await restoreSet(root, backupDir, manifest);
      } catch (r) {
        keepBackup = true;
        throw new DockwardError(`${fsFailure(e)}, and putting the files back failed too: ${fsFailure(r)}`, `restore them by hand from ${backupDir} (manifest.json lists them)`);
      }
      throw e;
    }
  } catch (e) {
    if (!keepBackup) await rm(backupDir, { recursive: true, force: true });
    if (e instanceof DockwardError) throw e;
    throw new DockwardError(fsFailure(e), 'nothing was changed: the files are as they were; make the target writable (read-only mount? chattr +i?), then apply again');
  }
  return { backupDir };
}

/** A file-system error as the file it is about; a temp file beside a target stands for its directory. */
function fsFailure(e: unknown): string {
  const x = e as NodeJS.ErrnoException & { dest?: string };
  const where = x.dest ?? x.path;
  if (!x.code || !where) return (e as Error).message;
  return /\/\.[^/]+\.tmp$/.test(where) ? `cannot create files in ${dirname(where)}: ${x.code}` : `cannot write ${where}: ${x.code}`;
}

export interface RollbackResult {
  backupDir: string;
  restored: string[];
  removed: string[];
}

export async function latestBackup(root: string): Promise<string | undefined> {
  const backupRoot = atRoot(root, BACKUP_DIR);
  let names: string[];
  try {
    names = await readdir(backupRoot);
  } catch {
    return undefined;
  }
  const sets = names.filter((n) => !n.endsWith(ROLLED_BACK)).sort();
  const last = sets[sets.length - 1];
  return last ? join(backupRoot, last) : undefined;
}

export async function rollback(root: string, opts: { force?: boolean } = {}): Promise<RollbackResult> {
  const none = () => new DockwardError(`no backup set to roll back to in ${atRoot(root, BACKUP_DIR)}`, 'rollback restores what `dockward daemon apply` replaced');
  if (!(await latestBackup(root))) throw none();
  return locked(atRoot(root, BACKUP_DIR), async () => {
    const backupDir = await latestBackup(root);
    if (!backupDir) throw none();
    return rollbackLocked(root, backupDir, opts);
  });
}

async function rollbackLocked(root: string, backupDir: string, opts: { force?: boolean }): Promise<RollbackResult> {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(join(backupDir, 'manifest.json'), 'utf8')) as BackupManifest;
  } catch (e) {
    throw new DockwardError(`cannot read ${join(backupDir, 'manifest.json')}: ${(e as Error).message}`, 'restore the files from that directory by hand');
  }
  const changed: string[] = [];
  for (const f of manifest.files) {
    const now = await readFile(atRoot(root, f.path)).catch(() => undefined);
    if (!now || sha256(now) !== f.written) changed.push(f.path);
  }
  if (changed.length && !opts.force) {
    throw new DockwardError(`${changed.join(', ')} changed since dockward applied it`, 'pass --force to roll back anyway (those changes are lost)');
  }
  const { restored, removed } = await restoreSet(root, backupDir, manifest);
  const kept = `${backupDir}${ROLLED_BACK}`;
  await rename(backupDir, kept);
  await writeFileAtomic(join(kept, 'rolled-back-at'), `${new Date().toISOString()}\n`, 0o600);
  return { backupDir: kept, restored, removed };
}

/** Puts every file of a backup set back: existing ones restored with mode and owner, new ones deleted. */
async function restoreSet(root: string, backupDir: string, manifest: BackupManifest): Promise<{ restored: string[]; removed: string[] }> {
  const restore = manifest.files.filter((f) => f.existed);
  const copies: { entry: BackupEntry; path: string; data: Buffer; mode: number }[] = [];
  for (const f of restore) {
    const data = await readFile(join(backupDir, f.backup!));
    const now = await readFile(atRoot(root, f.path)).catch(() => undefined);
    const st = now && (await stat(atRoot(root, f.path)));
    // A file still as it was (apply failed before reaching it) is left alone.
    if (now?.equals(data) && st && (st.mode & 0o7777) === f.mode) continue;
    copies.push({ entry: f, path: atRoot(root, f.path), data, mode: f.mode ?? 0o644 });
  }
  await writeFilesAtomic(copies, { force: true, dirMode: 0o755 });
  if (isRoot()) for (const c of copies) await chown(c.path, c.entry.uid ?? 0, c.entry.gid ?? 0);
  const removed: string[] = [];
  for (const f of manifest.files.filter((x) => !x.existed)) {
    await unlink(atRoot(root, f.path)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    removed.push(f.path);
  }
  // Deepest first, and only when empty: something else may have been put there since.
  for (const d of [...manifest.createdDirs].sort((a, b) => b.length - a.length)) await rmdir(atRoot(root, d)).catch(() => undefined);
  return { restored: restore.map((f) => f.path), removed };
}
