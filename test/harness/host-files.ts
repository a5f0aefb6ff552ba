import { readFileSync, writeFileSync, rmSync, statSync, chmodSync, chownSync } from 'node:fs';
import lockfile from 'proper-lockfile';

/**
 * This host's own files that a test must change (dockerd with userns-remap "default" adds the
 * dockremap user and its subordinate ids to /etc/passwd, /etc/subuid, ...): saved first and put
 * back byte for byte, with mode and owner, when the test ends, however it ends (a failed
 * assertion, an exception, SIGINT/SIGTERM from the runner). Suites on one machine (two
 * checkouts, two helpers) take turns through a lock, so neither saves the other's changes.
 */
export interface HostFiles {
  restore(): Promise<void>;
}

interface Saved {
  path: string;
  data?: Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
}

const LOCK = '/run/lock/dockward-test-host-files';

function save(path: string): Saved {
  try {
    const st = statSync(path);
    return { path, data: readFileSync(path), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { path };
    throw e;
  }
}

function putBack(s: Saved): void {
  if (!s.data) {
    rmSync(s.path, { force: true });
    return;
  }
  writeFileSync(s.path, s.data);
  chmodSync(s.path, s.mode!);
  chownSync(s.path, s.uid!, s.gid!);
}

export async function guardHostFiles(paths: string[]): Promise<HostFiles> {
  const release = await lockfile.lock(LOCK, { realpath: false, stale: 30 * 60_000, update: 60_000, retries: { retries: 120, minTimeout: 1000, maxTimeout: 5000 } });
  const saved = paths.map(save);
  let done = false;
  // Synchronous: an 'exit' listener cannot wait for promises.
  const restoreSync = () => {
    if (done) return;
    done = true;
    for (const s of saved) putBack(s);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    restoreSync();
    process.kill(process.pid, signal);
  };
  process.once('exit', restoreSync);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    restore: async () => {
      process.off('exit', restoreSync);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      try {
        restoreSync();
      } finally {
        await release();
      }
    },
  };
}
