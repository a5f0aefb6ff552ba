/**
 * The `docker load` check on archives dockerd's loader would read differently from a naive
 * reader: repeated files (the last wins, as in the directory it unpacks into), links, whiteouts,
 * labels hidden in the JSON, configs too large for the first reading, the containerd store's OCI path.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { checkLoadArchive } from '../../src/ownership/load.js';
import { OwnershipRefusal } from '../../src/ownership/label.js';
import type { OwnershipCache } from '../../src/ownership/cache.js';

type Entry = { name: string; data?: string; type?: 'directory' | 'symlink'; linkname?: string };

async function tar(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    if (e.type) p.entry({ name: e.name, type: e.type, linkname: e.linkname });
    else p.entry({ name: e.name }, e.data ?? '');
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

const manifest = (tag: string, config = 'c.json') => ({ name: 'manifest.json', data: JSON.stringify([{ Config: config, RepoTags: [tag], Layers: [] }]) });
const config = (labels: Record<string, string> = {}) => ({ name: 'c.json', data: JSON.stringify({ config: { Labels: labels } }) });

describe('checkLoadArchive', () => {
  let dir: string;
  let server: http.Server;
  let store = 'overlay2';
  const cache = (socketPath: string) =>
    ({
      socketPath,
      imageOwner: async (ref: string) => (ref === 'app:1' || ref === 'docker.io/library/app:1' ? 'alice' : undefined),
    }) as unknown as OwnershipCache;
  let n = 0;
  const check = async (archive: Buffer) => {
    const file = join(dir, `a${n++}.tar`);
    await writeFile(file, archive);
    return checkLoadArchive(cache(join(dir, 'docker.sock')), 'bob', file);
  };
  const refused = (archive: Promise<Buffer>, status: number, wording: RegExp) =>
    assert.rejects(
      archive.then(check),
      (e: Error) => e instanceof OwnershipRefusal && e.status === status && wording.test(e.message),
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-load-'));
    server = http.createServer((_, res) => res.end(JSON.stringify({ DriverStatus: store === 'containerd' ? [['driver-type', 'io.containerd.snapshotter.v1']] : [['Backing Filesystem', 'extfs']] })));
    await new Promise<void>((r) => server.listen(join(dir, 'docker.sock'), r));
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses another tenant's name, in any spelling; its own goes through", async () => {
    await refused(tar([config(), manifest('app:1')]), 403, /image name app:1 is another tenant's/);
    await refused(tar([config(), manifest('docker.io/library/app:1')]), 403, /another tenant's/);
    await check(await tar([config(), manifest('b-app:1')]));
    await refused(tar([config(), manifest('Upper:1')]), 400, /not a reference/);
    await refused(tar([config(), manifest('app')]), 400, /without a tag/);
  });

  it('reads a repeated file as the loader does: the last one', async () => {
    await refused(tar([config(), manifest('b-app:1'), manifest('app:1')]), 403, /another tenant's/);
    await check(await tar([config(), manifest('app:1'), manifest('b-app:1')]));
    // A directory over it: the containerd store would still read the file; refused.
    await refused(tar([config(), manifest('app:1'), { name: 'manifest.json', type: 'directory' }]), 400, /not a regular file/);
  });

  it('refuses links and whiteouts on the way to what it reads', async () => {
    await refused(tar([config(), { name: 'm.json', data: manifest('app:1').data }, { name: 'manifest.json', type: 'symlink', linkname: 'm.json' }]), 400, /is a link/);
    await refused(tar([{ name: 'real/c.json', data: config().data }, { name: 'blobs', type: 'symlink', linkname: 'real' }, manifest('b-app:1', 'blobs/c.json')]), 400, /"blobs" is a link/);
    await refused(tar([config(), manifest('app:1'), { name: '.wh.manifest.json' }]), 400, /whiteout/);
  });

  it("refuses an io.dockward. label anywhere in a config but the tenant's own owner label", async () => {
    await refused(tar([config({ 'io.dockward.owner': 'alice' }), manifest('b-app:1')]), 403, /io\.dockward\.owner/);
    await check(await tar([config({ 'io.dockward.owner': 'bob' }), manifest('b-app:1')]));
    // A key a naive scan would lose track of behind a string that looks like a key.
    const hidden = '{"config":{"Env":["a",":"],"io.dockward.owner":"alice"}}';
    await refused(tar([{ name: 'c.json', data: hidden }, manifest('b-app:1')]), 403, /io\.dockward\.owner/);
    await refused(tar([{ name: 'c.json', data: '{"CONFIG":{"labels":{"io\\u002edockward.x":"1"}}}' }, manifest('b-app:1')]), 403, /io\.dockward\.x/);
    // Too large for the first reading (over 1 MiB): read again, the label still found.
    const big = JSON.stringify({ pad: 'x'.repeat(1_500_000), config: { Labels: { 'io.dockward.owner': 'alice' } } });
    await refused(tar([{ name: 'c.json', data: big }, manifest('b-app:1')]), 403, /io\.dockward\.owner/);
    // gzip'd the same.
    await refused(tar([config({ 'io.dockward.owner': 'alice' }), manifest('b-app:1')]).then(gzipSync), 403, /io\.dockward\.owner/);
  });

  it('without manifest.json: names from repositories, every top-level directory an image', async () => {
    await refused(tar([{ name: 'x/json', data: '{}' }, { name: 'repositories', data: '{"app":{"1":"x"}}' }]), 403, /another tenant's/);
    await refused(tar([{ name: 'y/json', data: JSON.stringify({ config: { Labels: { 'io.dockward.owner': 'alice' } } }) }, { name: 'repositories', data: '{}' }]), 403, /io\.dockward/);
    await check(await tar([{ name: 'x/json', data: '{}' }, { name: 'repositories', data: '{"b-app":{"1":"x"}}' }]));
  });

  it('an OCI layout is refused where the containerd image store would read it, checked by manifest.json elsewhere', async () => {
    const oci = () => tar([config(), manifest('b-app:1'), { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' }, { name: 'index.json', data: '{}' }]);
    await check(await oci());
    store = 'containerd';
    try {
      await refused(oci(), 400, /OCI layout/);
    } finally {
      store = 'overlay2';
    }
  });
});
