/**
 * Issue #12, `docker load`: a tenant's archive is spooled and checked whole before dockerd sees
 * it, so it cannot re-point another tenant's image name nor forge an owner label; the spool is
 * bounded and left empty however the exchange ends. Archives are made by the real `docker save`
 * and rewritten with tar-stream; the daemon's own inspect is the oracle.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import tls from 'node:tls';
import { extract } from 'tar-stream';
import { packTar, type TarHeader } from '../harness/tar.js';
import { loadPolicyFile } from '../../src/policy/index.js';
import { startGateway, type Gateway } from '../../src/gateway/server.js';
import { tlsFilesFromPki } from '../../src/gateway/tls-context.js';
import { engineSkipReason, runDocker, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, readAuditFile, startGatewayFixture, TENANTS_POLICY, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();
const MAX_LOAD = 32 * 1024 * 1024;

interface Entry {
  header: { name: string; type?: string | null; linkname?: string | null; mode?: number; mtime?: Date };
  data: Buffer;
}

async function readTar(bytes: Buffer): Promise<Entry[]> {
  const entries: Entry[] = [];
  const x = extract();
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        entries.push({ header: { name: header.name, type: header.type, linkname: header.linkname, mode: header.mode, mtime: header.mtime }, data: Buffer.concat(chunks) });
        next();
      });
    });
    x.on('finish', resolve);
    x.on('error', reject);
  });
  x.end(bytes);
  await done;
  return entries;
}

/** Links and directories are written without data, as dockerd's own archives have them. */
const writeTar = (entries: Entry[]): Promise<Buffer> =>
  packTar(entries.map((e) => ({ header: e.header as TarHeader, ...(e.header.type === 'file' ? { data: e.data } : {}) })));

const text = (e: Entry | undefined) => JSON.parse(e!.data.toString('utf8')) as unknown;
const set = (entries: Entry[], name: string, value: unknown) => entries.map((e) => (e.header.name === name ? { ...e, data: Buffer.from(JSON.stringify(value)) } : e));

describe('docker load by a tenant (scope: own)', { skip }, () => {
  let f: GatewayFixture;
  let gw: Gateway;
  let spoolParent: string;
  let saved: Entry[];
  let port: number;
  const docker = (who: string, args: string[]) =>
    runDocker(args, { timeoutMs: 120_000, env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f.clientDir(who) } });
  const ok = async (who: string, args: string[]) => {
    const r = await docker(who, args);
    assert.equal(r.code, 0, `${who}: docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const daemonId = async (name: string) => (await f.engine.docker(['image', 'inspect', '--format', '{{.Id}}', name])).stdout.trim();
  const spooled = async () => {
    const dirs = await readdir(spoolParent);
    return (await Promise.all(dirs.map((d) => readdir(join(spoolParent, d))))).flat();
  };
  /** Writes an archive to a file and loads it as `who`. */
  const load = async (who: string, name: string, bytes: Buffer) => {
    const file = join(f.dir, name);
    await writeFile(file, bytes);
    return docker(who, ['load', '-i', file]);
  };
  const manifest = () => text(saved.find((e) => e.header.name === 'manifest.json')) as { Config: string; RepoTags: string[] }[];
  const renamed = (tag: string) => set(saved, 'manifest.json', manifest().map((m) => ({ ...m, RepoTags: [tag] })));

  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY);
    spoolParent = await mkdtemp(join(f.dir, 'spool-'));
    gw = await startGateway({
      upstreamSocket: f.engine.socketPath,
      listeners: [{ kind: 'tcp', host: '127.0.0.1', port: 0, tls: tlsFilesFromPki(f.pki) }],
      policy: await loadPolicyFile(join(f.dir, 'policy.yaml')),
      auditLog: join(f.dir, 'load-audit.log'),
      maxLoadBytes: MAX_LOAD,
      spoolDir: spoolParent,
      log: () => undefined,
    });
    port = gw.listeners[0]!.port!;
    const ctx = join(f.dir, 'app');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nLABEL made=alice\n`);
    const built = await runDocker(['build', '-q', '-t', 'app:1', ctx], {
      timeoutMs: 120_000,
      env: { DOCKER_BUILDKIT: '0', DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: f.clientDir('alice') },
    });
    assert.equal(built.code, 0, built.stderr);
    assert.equal((await f.engine.docker(['image', 'inspect', '--format', '{{index .Config.Labels "io.dockward.owner"}}', 'app:1'])).stdout.trim(), 'alice');
    const out = join(f.dir, 'saved.tar');
    await ok('bob', ['save', '-o', out, TEST_IMAGE]);
    saved = await readTar(await readFile(out));
  });
  after(async () => {
    await gw?.close(1000);
    await f?.stop();
  });

  it("refuses an archive naming another tenant's image, plain or gzip'd, and leaves the name alone", async () => {
    const before = await daemonId('app:1');
    const evil = await writeTar(renamed('app:1'));
    for (const [name, bytes] of [
      ['evil.tar', evil],
      ['evil.tar.gz', gzipSync(evil)],
    ] as const) {
      const r = await load('bob', name, bytes);
      assert.notEqual(r.code, 0, `bob: docker load ${name} succeeded`);
      assert.match(r.stderr, /image name app:1 is another tenant's/, r.stderr);
    }
    // The same name in another spelling is the same name.
    const spelled = await load('bob', 'spelled.tar', await writeTar(renamed('docker.io/library/app:1')));
    assert.match(spelled.stderr, /is another tenant's/, spelled.stderr);
    assert.equal(await daemonId('app:1'), before);
    const audit = (await readAuditFile(join(f.dir, 'load-audit.log'))).filter((a) => a.route === 'POST /images/load' && a.identity === 'bob');
    assert.ok(audit.length >= 3 && audit.every((a) => a.status === 403 && (a.bytesIn ?? 0) > 0), JSON.stringify(audit));
    assert.deepEqual(await spooled(), []);
  });

  it('loads an archive under a name of its own, plain or gzip\'d, and runs it', async () => {
    const own = await load('bob', 'own.tar', await writeTar(renamed('b-app:1')));
    assert.equal(own.code, 0, own.stderr);
    assert.equal(await ok('bob', ['run', '--rm', '--network', 'none', 'b-app:1', 'echo', 'ran']), 'ran');
    const gz = await load('bob', 'own.tar.gz', gzipSync(await writeTar(renamed('b-app:2'))));
    assert.equal(gz.code, 0, gz.stderr);
    assert.equal(await daemonId('b-app:2'), await daemonId(TEST_IMAGE));
    const audit = (await readAuditFile(join(f.dir, 'load-audit.log'))).filter((a) => a.route === 'POST /images/load' && a.status === 200);
    assert.ok(audit.length >= 2 && audit.every((a) => (a.bytesIn ?? 0) > 1024 * 1024), JSON.stringify(audit));
    assert.deepEqual(await spooled(), []);
  });

  it("refuses a legacy archive (repositories, no manifest.json) naming another tenant's image", async () => {
    const id = Object.values(Object.values(text(saved.find((e) => e.header.name === 'repositories')) as Record<string, Record<string, string>>)[0]!)[0]!;
    const legacy = set(
      saved.filter((e) => !['manifest.json', 'index.json', 'oci-layout'].includes(e.header.name)),
      'repositories',
      { app: { '1': id } },
    );
    const r = await load('bob', 'legacy.tar', await writeTar(legacy));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /image name app:1 is another tenant's/, r.stderr);
  });

  it("refuses a manifest.json written through a symlinked directory (d -> .), which dockerd's untar follows", async () => {
    const before = await daemonId('app:1');
    // The top-level manifest.json names the tenant's own image; the one written through `d`
    // replaces it on the daemon's disk, where the loader reads it.
    const through = [
      ...renamed('b-through:1'),
      { header: { name: 'd', type: 'symlink', linkname: '.' }, data: Buffer.alloc(0) },
      { header: { name: 'd/manifest.json', type: 'file' }, data: Buffer.from(JSON.stringify(manifest().map((m) => ({ ...m, RepoTags: ['app:1'] })))) },
    ];
    const r = await load('bob', 'through.tar', await writeTar(through));
    assert.notEqual(r.code, 0, `bob: docker load through a symlink succeeded: ${r.stdout}`);
    assert.match(r.stderr, /through the link/, r.stderr);
    assert.equal(await daemonId('app:1'), before);
  });

  it('refuses an image config that carries an io.dockward. label, however it is spelled', async () => {
    const path = manifest()[0]!.Config;
    const config = text(saved.find((e) => e.header.name === path)) as { config: { Labels?: Record<string, string> | null } };
    for (const forged of [
      { ...config, config: { ...config.config, Labels: { 'io.dockward.owner': 'alice' } } },
      // Go's decoder folds the case of field names: `CONFIG.labels` is `config.Labels`.
      { ...config, CONFIG: { labels: { 'io\u002edockward.owner': 'alice' } } },
    ]) {
      const bytes = Buffer.from(JSON.stringify(forged).replace('io.dockward.owner', 'io\\u002edockward.owner'));
      const r = await load('bob', 'forged.tar', await writeTar(saved.map((e) => (e.header.name === path ? { ...e, data: bytes } : e))));
      assert.notEqual(r.code, 0, 'bob loaded a forged owner label');
      assert.match(r.stderr, /io\.dockward\.owner/, r.stderr);
    }
  });

  it('refuses what it cannot read: not a tar, or another compression', async () => {
    const garbage = await load('bob', 'garbage.tar', Buffer.alloc(4096, 'x'));
    assert.match(garbage.stderr, /cannot be loaded by a tenant: a header checksum is wrong/, garbage.stderr);
    const xz = await load('bob', 'x.tar.xz', Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), Buffer.alloc(1024)]));
    assert.match(xz.stderr, /xz-compressed/, xz.stderr);
  });

  it('an archive over maxLoadBytes is 413, and nothing stays in the spool', async () => {
    const opts = { ...(await clientTls(f, 'bob')), port };
    const size = MAX_LOAD + 1024 * 1024;
    const head = `POST ${f.api}/images/load?quiet=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: ${size}\r\n\r\n`;
    const answer = await rawExchange(opts, Buffer.concat([Buffer.from(head), Buffer.alloc(size)]), 3000);
    assert.match(answer, /^HTTP\/1\.1 413 [^]*limited to 33554432 bytes/, answer.slice(0, 300));
    await until('the spool is empty', async () => (await spooled()).length === 0, 10_000);
  });

  it('a client gone mid-upload leaves nothing in the spool', async () => {
    const opts = { ...(await clientTls(f, 'bob')), port };
    const s = tls.connect(opts);
    await new Promise((r) => s.once('secureConnect', r));
    s.write(`POST ${f.api}/images/load HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\nContent-Length: ${16 * 1024 * 1024}\r\n\r\n`);
    s.write(Buffer.alloc(1024 * 1024));
    await until('the upload is spooled', async () => (await spooled()).length === 1, 10_000);
    s.destroy();
    await until('the spool is empty', async () => (await spooled()).length === 0, 10_000);
  });

  it('the admin loads unchanged (nothing spooled): even a name another tenant made', async () => {
    const before = await daemonId('app:1');
    const r = await load('admin', 'admin.tar', await writeTar(renamed('app:1')));
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(await daemonId('app:1'), before);
    await rm(join(f.dir, 'admin.tar'));
  });
});
