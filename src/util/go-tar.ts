/**
 * A tar archive's entries exactly as Go's archive/tar (Reader.Next) reads them, for checking what
 * dockerd will read: tar-stream reads on past the end-of-archive marker, merges global PAX
 * headers into later entries, and takes a link's size field as data, each of which would let an
 * archive show a checker one file and dockerd another. Whatever this reader does not reproduce
 * (sparse files, STAR and V7 headers, devices) is an error: the caller refuses the archive.
 */

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

export interface TarEntry {
  /** Go's path.Clean of the name, relative; names that are absolute or leave the archive are errors. */
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'link';
  linkname: string;
  /** Bytes of data (0 for all but files). */
  size: number;
}

const BLOCK = 512;
/** Go's maxSpecialFileSize: PAX and GNU long-name data beyond it is ErrFieldTooLong. */
const MAX_SPECIAL = 1 << 20;

/** Reads exact byte counts from a stream of chunks. */
class Bytes {
  private chunks: Buffer[] = [];
  private have = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Buffer>) {}

  private async fill(n: number): Promise<void> {
    while (this.have < n && !this.ended) {
      const r = await this.source.next();
      if (r.done) this.ended = true;
      else {
        this.chunks.push(r.value);
        this.have += r.value.length;
      }
    }
  }

  /** Exactly n bytes; undefined when the stream ends before the first; an error when it ends within them. */
  async read(n: number): Promise<Buffer | undefined> {
    await this.fill(n);
    if (this.have === 0) return undefined;
    if (this.have < n) throw new TarFormatError('the archive ends within an entry');
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.have -= n;
    return all.subarray(0, n);
  }

  /** Skips n bytes; false when the stream ends first (an error unless `lenient`). */
  async skip(n: number, lenient = false): Promise<boolean> {
    while (n > 0) {
      if (this.have === 0) await this.fill(1);
      if (this.have === 0) {
        if (lenient) return false;
        throw new TarFormatError('the archive ends within an entry');
      }
      const c = this.chunks[0]!;
      if (c.length <= n) {
        this.chunks.shift();
        this.have -= c.length;
        n -= c.length;
      } else {
        this.chunks[0] = c.subarray(n);
        this.have -= n;
        n = 0;
      }
    }
    return true;
  }
}

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/**
 * An entry's data, exactly; then its padding, which Go reads with tryReadFull: a stream that
 * ends within the padding ends the archive cleanly (io.EOF), as the docker CLI's build contexts
 * with a Dockerfile from outside the context do. Returns false when it ended so.
 */
async function readPadded(bytes: Bytes, size: number, keep: boolean): Promise<{ data?: Buffer; more: boolean }> {
  let data: Buffer | undefined;
  if (keep) {
    data = size === 0 ? Buffer.alloc(0) : await bytes.read(size);
    if (!data) throw new TarFormatError('the archive ends within an entry');
  } else await bytes.skip(size);
  return { data, more: await bytes.skip(padded(size) - size, true) };
}

/** Go's parseString: up to the first NUL. Latin-1 keeps every byte distinct (Go's names are bytes). */
function str(b: Buffer): string {
  const nul = b.indexOf(0);
  return (nul === -1 ? b : b.subarray(0, nul)).toString('latin1');
}

/** Go's parseOctal: padding of spaces and NULs trimmed, then octal digits only. */
function octal(b: Buffer, what: string): number {
  let s = b.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (s.includes('\0')) s = s.slice(0, s.indexOf('\0'));
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`a header's ${what} is not an octal number`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new TarFormatError(`a header's ${what} is out of range`);
  return v;
}

/** Go's parseNumeric: base-256 when the high bit is set (negative values refused), else octal. */
function numeric(b: Buffer, what: string): number {
  if (!(b[0]! & 0x80)) return octal(b, what);
  if (b[0]! & 0x40) throw new TarFormatError(`a header's ${what} is negative`);
  let v = BigInt(b[0]! & 0x7f);
  for (const c of b.subarray(1)) v = (v << 8n) | BigInt(c);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`a header's ${what} is out of range`);
  return Number(v);
}

function checksumOk(h: Buffer): boolean {
  let stored: number;
  try {
    stored = octal(h.subarray(148, 156), 'checksum');
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += c;
    signed += c < 128 ? c : c - 256;
  }
  return stored === unsigned || stored === signed;
}

/** Go's parsePAX: `LEN KEY=VALUE\n` records, each exactly as long as it says. */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let s = data.toString('latin1');
  while (s.length > 0) {
    const sp = s.indexOf(' ');
    const len = sp > 0 && /^[+-]?[0-9]+$/.test(s.slice(0, sp)) ? Number(s.slice(0, sp)) : NaN;
    if (!(len >= 5 && len <= s.length) || len - (sp + 1) <= 0 || s[len - 1] !== '\n') throw new TarFormatError('a PAX header record is malformed');
    const rec = s.slice(sp + 1, len - 1);
    const eq = rec.indexOf('=');
    if (eq <= 0) throw new TarFormatError('a PAX header record is malformed');
    const key = rec.slice(0, eq);
    const value = rec.slice(eq + 1);
    if (key.includes('\0') || (['path', 'linkpath', 'uname', 'gname'].includes(key) && value.includes('\0'))) throw new TarFormatError('a PAX header record is malformed');
    if (key.startsWith('GNU.sparse.')) throw new TarFormatError('the archive holds a sparse file, which dockward does not read');
    out.set(key, value);
    s = s.slice(len);
  }
  return out;
}

/** Go's path.Clean, refusing what would not stay inside the directory it is unpacked into. */
function cleanName(raw: string): string {
  if (raw.startsWith('/')) throw new TarFormatError(`the entry ${JSON.stringify(raw)} has an absolute name`);
  const parts: string[] = [];
  for (const p of raw.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (!parts.length) throw new TarFormatError(`the entry ${JSON.stringify(raw)} leaves the archive`);
      parts.pop();
    } else parts.push(p);
  }
  return parts.length ? parts.join('/') : '.';
}

const TYPES: Record<string, TarEntry['type']> = { '0': 'file', '\0': 'file', '1': 'link', '2': 'symlink', '5': 'dir' };

/**
 * The archive's entries in order. For each, `want` says whether its data is read (returned as
 * `data`); unread data is skipped. Reading stops at the end-of-archive marker, as Go's does.
 */
export async function* tarEntries(source: AsyncIterable<Buffer>, want: (e: TarEntry) => boolean): AsyncGenerator<{ entry: TarEntry; data?: Buffer }> {
  const it = source[Symbol.asyncIterator]();
  const bytes = new Bytes(it);
  try {
    let pax: Map<string, string> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const h = await bytes.read(BLOCK);
      if (!h) return;
      if (h.every((b) => b === 0)) {
        const next = await bytes.read(BLOCK);
        if (next && !next.every((b) => b === 0)) throw new TarFormatError('a zero block is followed by data');
        return;
      }
      if (!checksumOk(h)) throw new TarFormatError('a header checksum is wrong (is it a tar archive?)');
      const magic = h.subarray(257, 263).toString('latin1');
      const ustar = magic === 'ustar\0';
      const gnu = magic === 'ustar ' && h.subarray(263, 265).toString('latin1') === ' \0';
      if (ustar && h.subarray(508, 512).toString('latin1') === 'tar\0') throw new TarFormatError('the archive is in the STAR format, which dockward does not read');
      if (!ustar && !gnu) throw new TarFormatError('a header is in the old V7 format, which dockward does not read');
      const flag = String.fromCharCode(h[156]!);
      const size = numeric(h.subarray(124, 136), 'size');
      if (flag === 'x' || flag === 'L' || flag === 'K') {
        if (size > MAX_SPECIAL) throw new TarFormatError('an extended header is over 1 MiB');
        const { data, more } = await readPadded(bytes, size, true);
        if (!more) return;
        if (flag === 'x') pax = paxRecords(data!);
        else if (flag === 'L') longName = str(data!);
        else longLink = str(data!);
        continue;
      }
      if (flag === 'g') {
        // Go returns a global header as an entry of its own, applied to nothing, and forgets
        // what extended headers came before it.
        if (!(await readPadded(bytes, size, false)).more) return;
        pax = longName = longLink = undefined;
        continue;
      }
      let type = TYPES[flag];
      if (!type) throw new TarFormatError(`an entry has the type ${JSON.stringify(flag)}, which dockward does not read`);
      let name = str(h.subarray(0, 100));
      if (ustar) {
        const prefix = str(h.subarray(345, 500));
        if (prefix) name = `${prefix}/${name}`;
      }
      let linkname = str(h.subarray(157, 257));
      let dataSize = size;
      if (pax) {
        if (pax.has('path')) name = pax.get('path')!;
        if (pax.has('linkpath')) linkname = pax.get('linkpath')!;
        const s = pax.get('size');
        if (s !== undefined) {
          if (!/^[+]?[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s))) throw new TarFormatError('a PAX size is not a number in range');
          dataSize = Number(s);
        }
      }
      if (longName !== undefined && longName !== '') name = longName;
      if (longLink !== undefined && longLink !== '') linkname = longLink;
      pax = longName = longLink = undefined;
      if (flag === '\0' && name.endsWith('/')) type = 'dir';
      // Go reads no data for header-only types, whatever their size field says.
      if (type !== 'file') dataSize = 0;
      const entry: TarEntry = { name: cleanName(name), type, linkname, size: dataSize };
      const { data, more } = await readPadded(bytes, dataSize, type === 'file' && want(entry));
      yield data ? { entry, data } : { entry };
      if (!more) return;
    }
  } finally {
    // What follows the end marker is never read, as Go never reads it.
    await it.return?.();
  }
}
