import { mkdtemp, mkdir, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'daemon');

/**
 * A filesystem root like a fresh Debian host with docker.io: the stock docker.service and
 * docker.socket, and whatever else a test puts in `files` (target path -> content).
 */
export async function makeRoot(files: Record<string, string> = {}, opts: { stockUnit?: boolean } = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'dw-root-'));
  if (opts.stockUnit !== false) {
    await mkdir(join(root, 'lib/systemd/system'), { recursive: true });
    await copyFile(join(FIXTURES, 'docker.service'), join(root, 'lib/systemd/system/docker.service'));
    await copyFile(join(FIXTURES, 'docker.socket'), join(root, 'lib/systemd/system/docker.socket'));
  }
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}
