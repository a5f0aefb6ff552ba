/**
 * A real registry (Debian's docker-registry, htpasswd auth) on a loopback port, used through the
 * gateway as admin: login, tag + push, remove, pull by tag and by digest. dockerd treats a
 * registry on 127.0.0.1 as insecure-allowed, so plain HTTP works there. The credentials travel in
 * `/auth` bodies and `X-Registry-Auth` headers: the audit log must hold no trace of either.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { engineSkipReason, freePort, TEST_IMAGE } from '../harness/engine.js';
import { runProcess } from '../harness/process.js';
import { startGatewayFixture, until, type GatewayFixture } from '../gateway/fixture.js';

const skip = engineSkipReason();
const USER = 'pusher';

interface Registry {
  address: string;
  stop(): Promise<void>;
}

/** The registry's answer to an anonymous `GET /v2/` (401 once it serves with auth), or 0. */
function probe(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v2/', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
}

async function startRegistry(dir: string, password: string): Promise<Registry> {
  await mkdir(join(dir, 'storage'), { recursive: true });
  // -i: the password from stdin, never in argv.
  const hash = await runProcess('htpasswd', ['-Bin', USER], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, input: password });
  assert.equal(hash.code, 0, hash.stderr);
  await writeFile(join(dir, 'htpasswd'), hash.stdout);
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    `version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: ${join(dir, 'storage')} }
  delete: { enabled: true }
http: { addr: "127.0.0.1:${port}" }
auth:
  htpasswd: { realm: dockward-test, path: ${join(dir, 'htpasswd')} }
`,
  );
  let out = '';
  // An empty environment: REGISTRY_* variables would override the config file.
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { env: {}, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  try {
    await until(`the registry on 127.0.0.1:${port} (output: ${out})`, async () => {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${out}`);
      return (await probe(port)) === 401;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { address: `127.0.0.1:${port}`, stop };
}

describe('a registry on loopback, through the gateway', { skip, timeout: 600_000 }, () => {
  let f: GatewayFixture;
  let registry: Registry;
  let configDir: string;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  // One CLI config dir for the whole flow: login stores the credentials there for push and pull.
  const docker = async (args: string[], input?: string) => {
    const r = await f.docker('admin', args, { configDir, input, timeoutMs: 180_000 });
    assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    f = await startGatewayFixture();
    configDir = join(f.dir, 'docker-config');
    await mkdir(configDir);
    registry = await startRegistry(join(f.dir, 'registry'), password);
  });
  after(async () => {
    await registry?.stop();
    await f?.stop();
  });

  it('logs in, pushes, removes, pulls by tag and by digest; the audit log never holds the credentials', async () => {
    const repo = `${registry.address}/dockward/busybox`;
    assert.match(await docker(['login', registry.address, '-u', USER, '--password-stdin'], password), /Login Succeeded/);
    await docker(['tag', TEST_IMAGE, `${repo}:v1`]);
    const push = await docker(['push', `${repo}:v1`]);
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push)?.[1];
    assert.ok(digest, `no digest in the push output: ${push}`);

    await docker(['rmi', `${repo}:v1`]);
    assert.notEqual((await f.engine.docker(['image', 'inspect', `${repo}:v1`])).code, 0, 'the tag survived rmi');
    assert.match(await docker(['pull', `${repo}:v1`]), /Downloaded newer image|Image is up to date/);
    await docker(['pull', `${repo}@${digest}`]);
    const digests = await f.engine.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', `${repo}:v1`]);
    assert.equal(digests.code, 0, digests.stderr);
    assert.deepEqual(JSON.parse(digests.stdout), [`${repo}@${digest}`]);

    // The pulls were authenticated with what login stored: without it the registry refuses.
    await docker(['logout', registry.address]);
    const anonymous = await f.docker('admin', ['pull', `${repo}:v1`], { configDir });
    assert.notEqual(anonymous.code, 0);
    assert.match(anonymous.stderr, /no basic auth credentials|unauthorized/);

    // Neither the password nor any encoding of it: X-Registry-Auth is base64url JSON.
    const audit = await readFile(f.auditPath, 'utf8');
    assert.ok(!audit.includes(password), 'the password is in the audit log');
    const decoded = [...audit.matchAll(/[A-Za-z0-9+/_-]{16,}={0,2}/g)].map((m) => Buffer.from(m[0], 'base64').toString('latin1'));
    assert.ok(!decoded.some((d) => d.includes(password)), 'an encoding of the password is in the audit log');
    const exchanges = (await f.audit()).map((r) => `${r.method} ${r.path} ${r.status}`);
    for (const seen of [/^POST \S*\/auth 200$/, /^POST \S*\/images\/\S+\/push 200$/, /^POST \S*\/images\/create 200$/]) {
      assert.ok(exchanges.some((e) => seen.test(e)), `no ${seen} in the audit log`);
    }
  });
});
