/**
 * Small archives built in memory with the mode of every entry set here, not taken from files on
 * disk: a key travels as 0400 whatever umask or filesystem it was read from.
 */
import { pack } from 'tar-stream';
import { gzipSync } from 'node:zlib';

export type TarEntry = { name: string; mode: number; data: string | Buffer } | { name: string; mode: number; dir: true };

export async function tarArchive(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  // A fixed owner and time: the archive says nothing about the machine or user that made it.
  const common = { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0) };
  for (const e of entries) {
    if ('dir' in e) p.entry({ ...common, name: e.name, mode: e.mode, type: 'directory' });
    else p.entry({ ...common, name: e.name, mode: e.mode }, typeof e.data === 'string' ? Buffer.from(e.data) : e.data);
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export async function tarGzArchive(entries: TarEntry[]): Promise<Buffer> {
  return gzipSync(await tarArchive(entries));
}
