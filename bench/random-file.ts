import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

/** `mb` MiB of random bytes: archives and images nothing along the way can compress. */
export async function writeRandomFile(path: string, mb: number): Promise<void> {
  const fh = await open(path, 'w');
  const chunk = randomBytes(1 << 20);
  for (let i = 0; i < mb; i++) await fh.write(chunk);
  await fh.close();
}
