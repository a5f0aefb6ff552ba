/**
 * A tar archive held in a file (a spooled request body), read as dockerd unpacks it into a
 * directory: the whole input decompressed (gzip here; bzip2, xz and zstd are refused, Node cannot
 * read them), entries read by Go's archive/tar rules (go-tar.ts), the last of each name winning.
 * Only the files a caller asks for are kept in memory. Whatever cannot be read so is an
 * ArchiveError, which the caller turns into its refusal.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { tarEntries, TarFormatError, type TarEntry } from './go-tar.js';

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArchiveError';
  }
}

export type Compression = 'none' | 'gzip';

/** The archive as it is once unpacked. */
export interface Unpacked {
  /** Regular files; undefined data: not kept on this reading. */
  files: Map<string, Buffer | undefined>;
  /** Names that were, at some point, something other than a regular file. */
  notFiles: Set<string>;
  /** Names that were a symbolic or hard link: dockerd would follow them, a check here does not. */
  links: Set<string>;
  topDirs: Set<string>;
}

export async function compressionOf(file: string): Promise<Compression> {
  const fh = await open(file, 'r');
  const head = Buffer.alloc(8);
  try {
    await fh.read(head, 0, 8, 0);
  } finally {
    await fh.close();
  }
  // moby's compression.Detect, in its order.
  if (head.subarray(0, 3).equals(Buffer.from('BZh'))) throw new ArchiveError('it is bzip2-compressed; dockward reads only uncompressed or gzip-compressed archives');
  if (head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) throw new ArchiveError('it is xz-compressed; dockward reads only uncompressed or gzip-compressed archives');
  const zstdFrame = head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  const zstdSkippable = (head.readUInt32LE(0) & 0xfffffff0) === 0x184d2a50;
  if (zstdFrame || zstdSkippable) throw new ArchiveError('it is zstd-compressed; dockward reads only uncompressed or gzip-compressed archives');
  return 'none';
}

/** One reading of the whole archive, keeping the data of the files `keep` asks for (`kept`: bytes kept so far). */
export async function unpack(file: string, compression: Compression, keep: (e: TarEntry, kept: number) => boolean): Promise<Unpacked> {
  const u: Unpacked = { files: new Map(), notFiles: new Set(), links: new Set(), topDirs: new Set() };
  let kept = 0;
  const raw = createReadStream(file);
  const source = compression === 'gzip' ? raw.pipe(createGunzip()) : raw;
  try {
    for await (const { entry, data } of tarEntries(source, (e) => keep(e, kept))) {
      const { name, type } = entry;
      // dockerd's untar follows a link that is a parent of a later entry (it checks names, not
      // paths on disk): `d -> .` then `d/Dockerfile` replaces the top-level Dockerfile.
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const p = parts.slice(0, i).join('/');
        if (u.links.has(p)) throw new ArchiveError(`the entry ${JSON.stringify(name)} is written through the link ${JSON.stringify(p)}`);
      }
      const slash = name.indexOf('/');
      const base = name.slice(name.lastIndexOf('/') + 1);
      // A whiteout removes what came before it where a layer is applied: a check here does not honour them.
      if (base.startsWith('.wh.')) throw new ArchiveError(`it holds the whiteout ${JSON.stringify(name)}`);
      if (slash !== -1) u.topDirs.add(name.slice(0, slash));
      else if (type === 'dir' && name !== '.') u.topDirs.add(name);
      const before = u.files.get(name);
      if (before) kept -= before.length;
      if (type === 'file') {
        u.files.set(name, data);
        if (data) kept += data.length;
      } else {
        u.files.delete(name);
        u.notFiles.add(name);
        if (type !== 'dir') u.links.add(name);
      }
    }
  } catch (e) {
    if (e instanceof TarFormatError) throw new ArchiveError(e.message);
    if ((e as NodeJS.ErrnoException).code?.startsWith('Z_')) throw new ArchiveError(`its gzip stream is broken (${(e as Error).message})`);
    throw e;
  } finally {
    raw.destroy();
    source.destroy();
  }
  return u;
}

/** A file as a regular file reached by no link (undefined: not in the archive). */
export function fileIn(u: Unpacked, name: string): Buffer | undefined | 'not-kept' {
  const parts = name.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    if (u.links.has(p)) throw new ArchiveError(`${JSON.stringify(p)} is a link; dockward reads ${JSON.stringify(name)} only as a regular file`);
  }
  if (u.notFiles.has(name)) throw new ArchiveError(`${JSON.stringify(name)} is not a regular file`);
  if (!u.files.has(name)) return undefined;
  return u.files.get(name) ?? 'not-kept';
}
