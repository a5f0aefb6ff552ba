/**
 * The tar reader reads what Go's archive/tar reads, where tar-stream does not: nothing past the
 * end-of-archive marker, no data for links, global PAX headers applied to nothing.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tarArchive } from '../../src/util/tar.js';
import { tarEntries, TarFormatError } from '../../src/util/go-tar.js';

interface Raw {
  name: string;
  flag?: string;
  size?: number;
  linkname?: string;
  prefix?: string;
  magic?: 'ustar' | 'gnu' | 'v7' | 'star';
}

/** One header block as a tar writer would make it, checksum included. */
function header(r: Raw): Buffer {
  const h = Buffer.alloc(512);
  h.write(r.name, 0, 'latin1');
  h.write('0000644\0', 100);
  h.write((r.size ?? 0).toString(8).padStart(11, '0') + '\0', 124);
  h.write(r.flag ?? '0', 156, 'latin1');
  if (r.linkname) h.write(r.linkname, 157);
  const magic = r.magic ?? 'ustar';
  if (magic === 'ustar' || magic === 'star') h.write('ustar\x0000', 257, 'latin1');
  if (magic === 'gnu') h.write('ustar  \0', 257, 'latin1');
  if (magic === 'star') h.write('tar\0', 508, 'latin1');
  if (r.prefix) h.write(r.prefix, 345);
  h.write('        ', 148);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

const data = (s: string) => {
  const b = Buffer.alloc(Math.ceil(s.length / 512) * 512);
  b.write(s, 'latin1');
  return b;
};
const pax = (records: Record<string, string>) =>
  Object.entries(records)
    .map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      let len = body.length + 1;
      while (String(len).length + body.length !== len) len++;
      return `${len}${body}`;
    })
    .join('');
const END = Buffer.alloc(1024);

async function read(archive: Buffer): Promise<{ name: string; type: string; linkname: string; data?: string }[]> {
  const out = [];
  async function* source() {
    // In small pieces, as a socket or a gunzip stream gives them.
    for (let i = 0; i < archive.length; i += 700) yield archive.subarray(i, i + 700);
  }
  for await (const { entry, data } of tarEntries(source(), () => true)) out.push({ name: entry.name, type: entry.type, linkname: entry.linkname, ...(data ? { data: data.toString('latin1') } : {}) });
  return out;
}

const refused = (archive: Buffer, wording: RegExp) => assert.rejects(read(archive), (e: Error) => e instanceof TarFormatError && wording.test(e.message));

describe('tarEntries (Go archive/tar semantics)', () => {
  it('reads what tar-stream writes, names cleaned', async () => {
    const archive = await tarArchive([
      { name: 'd', mode: 0o755, dir: true },
      { name: './d/a.json', mode: 0o644, data: '{"a":1}' },
      { name: 'd//b/../c', mode: 0o644, data: '' },
      { name: `${'long/'.repeat(40)}x`, mode: 0o644, data: 'long' },
    ]);
    assert.deepEqual(await read(archive), [
      { name: 'd', type: 'dir', linkname: '' },
      { name: 'd/a.json', type: 'file', linkname: '', data: '{"a":1}' },
      { name: 'd/c', type: 'file', linkname: '', data: '' },
      { name: `${'long/'.repeat(40)}x`, type: 'file', linkname: '', data: 'long' },
    ]);
  });

  it('stops at the end-of-archive marker: what follows is not read (tar-stream reads on)', async () => {
    const archive = Buffer.concat([header({ name: 'manifest.json', size: 2 }), data('[]'), END, header({ name: 'manifest.json', size: 4 }), data('evil'), END]);
    assert.deepEqual(await read(archive), [{ name: 'manifest.json', type: 'file', linkname: '', data: '[]' }]);
    // One zero block then a header is an error in Go, not an end.
    await refused(Buffer.concat([header({ name: 'a', size: 0 }), Buffer.alloc(512), header({ name: 'b', size: 0 }), END]), /zero block is followed/);
    // An archive that simply stops after a whole entry ends there, as in Go.
    assert.equal((await read(Buffer.concat([header({ name: 'a', size: 1 }), data('x')]))).length, 1);
    await refused(Buffer.concat([header({ name: 'a', size: 600 }), data('x')]), /ends within an entry/);
    // Go reads the padding after an entry's data with tryReadFull: a stream that stops within it
    // ends the archive (the docker CLI sends build contexts so, with -f outside the context).
    const unpadded = Buffer.concat([header({ name: 'a', size: 1 }), data('x'), header({ name: 'b', size: 3 }), Buffer.from('abc'), Buffer.alloc(10)]);
    assert.deepEqual(await read(unpadded), [
      { name: 'a', type: 'file', linkname: '', data: 'x' },
      { name: 'b', type: 'file', linkname: '', data: 'abc' },
    ]);
    await refused(Buffer.concat([header({ name: 'b', size: 3 }), Buffer.from('ab')]), /ends within an entry/);
  });

  it('reads no data for a link, whatever its size field says', async () => {
    const hidden = Buffer.concat([header({ name: 'manifest.json', size: 4 }), data('evil')]);
    const archive = Buffer.concat([header({ name: 'l', flag: '2', linkname: 'x', size: hidden.length }), hidden, END]);
    assert.deepEqual(await read(archive), [
      { name: 'l', type: 'symlink', linkname: 'x' },
      { name: 'manifest.json', type: 'file', linkname: '', data: 'evil' },
    ]);
  });

  it('applies a PAX header to the next entry only, and a global one to none', async () => {
    const local = pax({ path: 'manifest.json' });
    const global = pax({ path: 'index.json' });
    const archive = Buffer.concat([
      header({ name: 'PaxHeaders/a', flag: 'x', size: local.length }),
      data(local),
      header({ name: 'a', size: 0 }),
      header({ name: 'PaxHeaders/g', flag: 'g', size: global.length }),
      data(global),
      header({ name: 'b', size: 0 }),
      header({ name: 'gnu', flag: 'L', size: 5, magic: 'gnu' }),
      data('long\0'),
      header({ name: 'short', size: 0, magic: 'gnu', prefix: 'ignored' }),
      header({ name: 'n', size: 0, prefix: 'p' }),
      END,
    ]);
    assert.deepEqual(
      (await read(archive)).map((e) => e.name),
      ['manifest.json', 'b', 'long', 'p/n'],
    );
  });

  it('refuses what it does not reproduce', async () => {
    await refused(Buffer.concat([header({ name: 'a', size: 0, magic: 'v7' }), END]), /V7/);
    await refused(Buffer.concat([header({ name: 'a', size: 0, magic: 'star' }), END]), /STAR/);
    await refused(Buffer.concat([header({ name: 'a', flag: 'S', size: 0, magic: 'gnu' }), END]), /type "S"/);
    await refused(Buffer.concat([header({ name: 'dev', flag: '3', size: 0 }), END]), /type "3"/);
    const sparse = pax({ 'GNU.sparse.name': 'manifest.json' });
    await refused(Buffer.concat([header({ name: 'x', flag: 'x', size: sparse.length }), data(sparse), header({ name: 'a', size: 0 }), END]), /sparse/);
    await refused(Buffer.concat([header({ name: '/etc/a', size: 0 }), END]), /absolute/);
    await refused(Buffer.concat([header({ name: 'a/../../b', size: 0 }), END]), /leaves the archive/);
    const bad = header({ name: 'a', size: 0 });
    bad[0] = 0x62;
    await refused(Buffer.concat([bad, END]), /checksum/);
    await refused(Buffer.concat([header({ name: 'x', flag: 'x', size: 9 }), data('7 path=a\n'), END]), /PAX/);
  });
});
