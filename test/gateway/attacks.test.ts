// engines: trixie
/**
 * A hostile tenant against the gateway's body checks, with the daemon's own state as the oracle:
 * what a container can read of the host, and what `docker inspect` on dockerd's own socket shows.
 * Each case is a request the fixture's `tenant` (preset:containers, exec, images, volumes, build;
 * the default container rules) may not turn into host access, or an ordinary docker CLI call it
 * must be allowed to make. Run against dockerd 20.10 (bookworm), the newest and 26.1 (trixie).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, startGatewayFixture, TEST_POLICY, withTenantRules, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

/** A file on the host that only a container reaching the host's `/` can read; `value` is its content. */
interface HostSecret {
  dir: string;
  path: string;
  value: string;
}

async function plantHostSecret(): Promise<HostSecret> {
  const dir = await mkdtemp(join(tmpdir(), 'dw-secret-'));
  const value = randomBytes(16).toString('hex');
  await writeFile(join(dir, 'secret'), value);
  return { dir, path: join(dir, 'secret'), value };
}

describe('a hostile tenant against the body checks', { skip }, () => {
  let f: GatewayFixture;
  let secret: HostSecret;
  before(async () => {
    f = await startGatewayFixture();
    secret = await plantHostSecret();
  });
  after(async () => {
    await rm(secret.dir, { recursive: true, force: true });
    await f?.stop();
  });

  /** The tenant runs `cat /h<secretPath>` in a container with these flags; what it printed. */
  async function readHostSecret(flags: string[]): Promise<{ code: number; out: string; err: string }> {
    const res = await f.docker('tenant', ['run', '--rm', '--network', 'none', ...flags, TEST_IMAGE, 'cat', `/h${secret.path}`]);
    return { code: res.code, out: res.stdout, err: res.stderr };
  }

  it("an inline local volume of type tmpfs with o=rbind and device=/ does not mount the host's /", async () => {
    // moby/sys/mount reads `rbind` as MS_BIND|MS_REC; with MS_BIND the kernel ignores the type.
    const r = await readHostSecret([
      '--mount',
      'type=volume,dst=/h,volume-driver=local,volume-opt=type=tmpfs,volume-opt=o=rbind,volume-opt=device=/',
    ]);
    assert.doesNotMatch(r.out, new RegExp(secret.value), 'the tenant read a host file through the volume');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /dockward: identity "tenant" may not POST \/containers\/create with this body/);
  });

  it("a named local volume binding / (POST /volumes/create, then -v name:/h) does not mount the host's /", async () => {
    const name = `hostroot-${randomBytes(4).toString('hex')}`;
    const created = await f.docker('tenant', ['volume', 'create', '--driver', 'local', '--opt', 'type=none', '--opt', 'o=bind', '--opt', 'device=/', name]);
    try {
      const r = await readHostSecret(['-v', `${name}:/h`]);
      assert.doesNotMatch(r.out, new RegExp(secret.value), `the tenant read a host file through volume ${name} (volume create: ${created.code} ${created.stderr})`);
      const held = await f.engine.docker(['volume', 'inspect', '--format', '{{json .Options}}', name]);
      assert.ok(held.code !== 0 || !held.stdout.includes('"device":"/"'), `the daemon holds volume ${name} with ${held.stdout.trim()}`);
    } finally {
      await f.engine.docker(['volume', 'rm', '-f', name]);
    }
  });

  it('docker exec --privileged is refused', async () => {
    const name = `victim-${randomBytes(4).toString('hex')}`;
    const started = await f.docker('tenant', ['run', '-d', '--network', 'none', '--name', name, TEST_IMAGE, 'sleep', '60']);
    assert.equal(started.code, 0, started.stderr);
    try {
      const ordinary = await f.engine.docker(['exec', name, 'grep', 'CapEff', '/proc/self/status']);
      const ex = await f.docker('tenant', ['exec', '--privileged', name, 'grep', 'CapEff', '/proc/self/status']);
      // The oracle is the exec's own capability set: a privileged exec gets every capability.
      if (ex.code === 0) assert.equal(ex.stdout.trim(), ordinary.stdout.trim(), 'the tenant ran a privileged exec with more capabilities than the container has');
      assert.match(ex.stderr, /DW_BODY_PRIVILEGED/);
    } finally {
      await f.engine.docker(['rm', '-f', name]);
    }
  });

  it("an ordinary container does not share the host's cgroup namespace (hostNamespaces: [])", async () => {
    const res = await f.docker('tenant', ['create', '--network', 'none', TEST_IMAGE, 'true']);
    assert.equal(res.code, 0, res.stderr);
    const id = res.stdout.trim();
    try {
      const mode = await f.engine.docker(['inspect', '--format', '{{.HostConfig.CgroupnsMode}}', id]);
      assert.notEqual(mode.stdout.trim(), 'host', 'the daemon holds CgroupnsMode "host" for the tenant');
    } finally {
      await f.engine.docker(['rm', '-f', id]);
    }
  });

  it('docker run without --network (the CLI default) is allowed', async () => {
    const res = await f.docker('tenant', ['create', TEST_IMAGE, 'true']);
    assert.equal(res.code, 0, res.stderr);
    await f.engine.docker(['rm', '-f', res.stdout.trim()]);
  });
});

describe('a hostile tenant with a writable bind-mount grant', { skip }, () => {
  let f: GatewayFixture;
  let allowed: string;
  let secret: HostSecret;
  before(async () => {
    allowed = await mkdtemp(join(tmpdir(), 'dw-allowed-'));
    secret = await plantHostSecret();
    f = await startGatewayFixture(withTenantRules(`    containers:\n      bindMounts:\n        - { path: ${allowed} }\n`));
  });
  after(async () => {
    await f?.stop();
    await rm(allowed, { recursive: true, force: true });
    await rm(secret.dir, { recursive: true, force: true });
  });

  it("a granted path replaced by a symlink to / between create and start does not mount the host's /", async () => {
    // The tenant writes to the granted directory through a container of its own.
    const writer = await f.docker('tenant', ['run', '-d', '--network', 'none', '-v', `${allowed}:/a`, TEST_IMAGE, 'sleep', '60']);
    assert.equal(writer.code, 0, writer.stderr);
    const w = writer.stdout.trim();
    try {
      assert.equal((await f.docker('tenant', ['exec', w, 'mkdir', '/a/x'])).code, 0);
      const created = await f.docker('tenant', ['create', '--network', 'none', '-v', `${allowed}/x:/h`, TEST_IMAGE, 'cat', `/h${secret.path}`]);
      if (created.code === 0) {
        const id = created.stdout.trim();
        const swapped = await f.docker('tenant', ['exec', w, 'sh', '-c', 'rmdir /a/x && ln -s / /a/x']);
        assert.equal(swapped.code, 0, swapped.stderr);
        const started = await f.docker('tenant', ['start', '-a', id]);
        await f.engine.docker(['rm', '-f', id]);
        assert.doesNotMatch(started.stdout, new RegExp(secret.value), 'the tenant read a host file through a bind the gateway checked before the symlink appeared');
      }
      // The gateway closes the class at create time: below a writable grant nothing is mountable.
      assert.match(created.stderr, /lies below the writable grant/);
    } finally {
      await f.engine.docker(['rm', '-f', w]);
    }
  });
});

describe('a hostile tenant with a read-only bind-mount grant', { skip }, () => {
  let f: GatewayFixture;
  let granted: string;
  /** A filesystem mounted below the granted directory, as /srv/data may be below /srv. */
  let sub: string;
  before(async () => {
    granted = await mkdtemp(join(tmpdir(), 'dw-granted-'));
    sub = join(granted, 'sub');
    await mkdir(sub);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'dw-attack', sub]);
    f = await startGatewayFixture(withTenantRules(`    containers:\n      bindMounts:\n        - { path: ${granted}, readOnly: true }\n`));
  });
  after(async () => {
    await f?.stop();
    execFileSync('umount', [sub]);
    await rm(granted, { recursive: true, force: true });
  });

  it('a read-only grant stays read-only below it: -v GRANT:/h:ro at API 1.41 does not make its submounts writable', async () => {
    // API < 1.44 (every request to dockerd 20.10) binds read-only non-recursively.
    const res = await f.docker('tenant', ['run', '--rm', '--network', 'none', '-v', `${granted}:/h:ro`, TEST_IMAGE, 'sh', '-c', 'echo written > /h/sub/written'], {
      env: { DOCKER_API_VERSION: '1.41' },
    });
    const written = await access(join(sub, 'written')).then(
      () => true,
      () => false,
    );
    assert.equal(written, false, `the tenant wrote below a read-only grant (run: ${res.code} ${res.stderr.trim()})`);
  });
});

describe('a hostile tenant on an experimental dockerd (checkpoints)', { skip }, () => {
  let f: GatewayFixture;
  let victim: string;
  before(async () => {
    victim = await mkdtemp(join(tmpdir(), 'dw-victim-'));
    await mkdir(join(victim, 'important'));
    await writeFile(join(victim, 'important', 'data'), 'keep me');
    f = await startGatewayFixture(TEST_POLICY, ['--experimental']);
  });
  after(async () => {
    await f?.stop();
    await rm(victim, { recursive: true, force: true });
  });

  it('docker checkpoint rm --checkpoint-dir HOSTDIR does not delete a host directory', async () => {
    const created = await f.docker('tenant', ['create', '--network', 'none', TEST_IMAGE, 'true']);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    try {
      // dockerd's CheckpointDelete: os.RemoveAll(filepath.Join(dir, name)), the name unchecked.
      const res = await f.docker('tenant', ['checkpoint', 'rm', '--checkpoint-dir', victim, id, 'important']);
      const gone = await access(join(victim, 'important', 'data')).then(
        () => false,
        () => true,
      );
      assert.equal(gone, false, `the tenant deleted ${victim}/important on the host (checkpoint rm: ${res.code} ${res.stderr.trim()})`);
    } finally {
      await f.engine.docker(['rm', '-f', id]);
    }
  });
});

describe('a hostile tenant limited to Docker Hub', { skip }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture(withTenantRules(`    images:\n      registries: [docker.io]\n`));
  });
  after(() => f?.stop());

  it('a pull of Localhost/x (an upper-case first component is a registry host to dockerd 28) does not reach another registry', async () => {
    // distribution/reference splitDockerDomain: a first component with upper case is a domain.
    const res = await rawExchange(
      await clientTls(f, 'tenant'),
      `POST /v${f.gateway.apiVersion}/images/create?fromImage=Localhost%2Fx&tag=latest HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    assert.doesNotMatch(res, /https?:\/\/Localhost\/v[12]\/|127\.0\.0\.1:(443|80)/, 'dockerd contacted the registry Localhost (loopback) for the tenant');
    // dockerd 20.10 refuses the reference itself ("repository name must be lowercase").
    assert.doesNotMatch(res, /^HTTP\/1\.1 200/);
  });
});

describe('a hostile tenant and the URLs dockerd fetches for it (build remotes granted from one site)', { skip }, () => {
  const SITE = 'http://contexts.example';
  let f: GatewayFixture;
  let server: Server;
  let hits: string[];
  before(async () => {
    hits = [];
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    f = await startGatewayFixture(withTenantRules(`    build:\n      remote: ["${SITE}"]\n`));
  });
  after(async () => {
    await f?.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  it(`remote=${SITE}@127.0.0.1:PORT/… (userinfo, then the host's loopback) is not fetched`, async () => {
    const { port } = server.address() as AddressInfo;
    const remote = `${SITE}@127.0.0.1:${port}/context.tar`;
    const res = await rawExchange(
      await clientTls(f, 'tenant'),
      `POST /v${f.gateway.apiVersion}/build?remote=${encodeURIComponent(remote)} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    assert.deepEqual(hits, [], `dockerd fetched ${remote} for the tenant (answer: ${res.split('\r\n')[0]})`);
  });

  it("POST /auth does not make dockerd contact a server on the host's loopback", async () => {
    hits.length = 0;
    const { port } = server.address() as AddressInfo;
    const body = JSON.stringify({ serveraddress: `127.0.0.1:${port}`, username: 'u', password: 'p' });
    const res = await rawExchange(
      await clientTls(f, 'tenant'),
      `POST /v${f.gateway.apiVersion}/auth HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    assert.deepEqual(hits, [], `dockerd contacted 127.0.0.1:${port} for the tenant (answer: ${res.split('\r\n')[0]})`);
  });
});
