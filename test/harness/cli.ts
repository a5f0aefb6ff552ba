import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess, type ProcessResult } from './process.js';

export const DOCKWARD_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export type CliResult = ProcessResult;

/** Runs the built `dockward` binary, as a user would (`npm test` builds first). */
export function dockward(args: string[], opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...(opts.env ?? {}) })) if (v !== undefined) env[k] = v;
  return runProcess(process.execPath, [DOCKWARD_BIN, ...args], { env, input: opts.input, timeoutMs: opts.timeoutMs, cwd: opts.cwd });
}

/** Path → mode and content hash of every file under dir: compare before/after to prove "nothing changed". */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const snap: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        snap[p + '/'] = ((await stat(p)).mode & 0o7777).toString(8);
        await walk(p);
      } else {
        const st = await stat(p);
        snap[p] = `${(st.mode & 0o7777).toString(8)} ${createHash('sha256').update(await readFile(p)).digest('hex')}`;
      }
    }
  };
  await walk(dir);
  return snap;
}
