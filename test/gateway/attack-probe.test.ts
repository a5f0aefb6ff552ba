/**
 * Probes of a hostile tenant for holes the other gateway tests do not cover, with dockerd's own
 * state (inspected through its socket) or a server on the host's loopback as the oracle.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { engineJson } from '../../src/engine/engine-client.js';
import { engineSkipReason, freePort, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, rawPost, removeContainersAndNetworks, startGatewayFixture, TENANTS_POLICY, TEST_POLICY, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

const status = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);

async function rawGet(f: GatewayFixture, client: string, target: string): Promise<string> {
  return rawExchange(await clientTls(f, client), `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 20_000);
}

describe('a hostile tenant against ownership (scope: own)', { skip }, () => {
  let f: GatewayFixture;
  const bob = { net: '' };
  const ok = async (who: string, args: string[]) => {
    const r = await f.docker(who, args, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${who}: docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** The networks dockerd attached a container to, by network id. */
  const networkIds = async (id: string) =>
    Object.values(JSON.parse((await f.engine.docker(['inspect', '--format', '{{json .NetworkSettings.Networks}}', id])).stdout) as Record<string, { NetworkID: string }>).map((n) => n.NetworkID);

  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY);
    await ok('bob', ['network', 'create', 'secret-net']);
    await ok('bob', ['run', '-d', '--name', 'db', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
    bob.net = (await f.engine.docker(['network', 'inspect', '--format', '{{.Id}}', 'bob.secret-net'])).stdout.trim();
    await ok('alice', ['network', 'create', 'mine']);
  });
  after(async () => {
    if (!f) return;
    await removeContainersAndNetworks(f);
    await f.stop();
  });

  it("a create naming the tenant's own network, with EndpointSettings.NetworkID set to another tenant's network, does not join that network", async () => {
    const body = JSON.stringify({
      Image: TEST_IMAGE,
      Cmd: ['sleep', '600'],
      HostConfig: { NetworkMode: 'mine' },
      NetworkingConfig: { EndpointsConfig: { mine: { NetworkID: 'bob.secret-net' } } },
    });
    const res = await rawPost(f, 'alice', `${f.api}/containers/create?name=nid`, body);
    assert.equal(status(res), 201, res);
    await ok('alice', ['start', 'nid']);
    const id = (await f.engine.docker(['inspect', '--format', '{{.Id}}', 'alice.nid'])).stdout.trim();
    const mine = (await f.engine.docker(['network', 'inspect', '--format', '{{.Id}}', 'alice.mine'])).stdout.trim();
    assert.deepEqual(await networkIds(id), [mine], `dockerd attached alice's container to ${(await networkIds(id)).join(', ')}, not her own network ${mine} (bob's: ${bob.net})`);
  });

  it("a network connect to the tenant's own network with EndpointConfig.NetworkID set to another tenant's network does not join that network", async () => {
    await ok('alice', ['run', '-d', '--name', 'conn', TEST_IMAGE, 'sleep', '600']);
    const id = (await f.engine.docker(['inspect', '--format', '{{.Id}}', 'alice.conn'])).stdout.trim();
    const mine = (await f.engine.docker(['network', 'inspect', '--format', '{{.Id}}', 'alice.mine'])).stdout.trim();
    // dockerd decodes this endpoint itself: every key its decoder takes for NetworkID (the Kelvin sign folds onto k).
    for (const key of ['NetworkID', 'networkid', 'Networ\u212aID']) {
      const res = await rawPost(f, 'alice', `${f.api}/networks/mine/connect`, JSON.stringify({ Container: 'conn', EndpointConfig: { [key]: 'bob.secret-net' } }));
      assert.equal(status(res), 200, res);
      const joined = await networkIds(id);
      assert.ok(!joined.includes(bob.net) && joined.includes(mine), `${key}: dockerd attached alice's container to ${joined.join(', ')} (bob's: ${bob.net}, hers: ${mine})`);
      await f.engine.docker(['network', 'disconnect', 'alice.mine', 'alice.conn']);
    }
  });

  it("a list filtered by since/before does not tell whether another tenant's container exists", async () => {
    const q = (ref: string, key: string) => `${f.api}/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ [key]: [ref] }))}`;
    for (const key of ['since', 'before']) {
      const theirs = await rawGet(f, 'alice', q('bob.db', key));
      const none = await rawGet(f, 'alice', q('bob.nothing', key));
      assert.equal(status(theirs), status(none), `${key}=bob.db answers ${theirs.split('\r\n')[0]}, ${key}=bob.nothing answers ${none.split('\r\n')[0]}`);
    }
    // The tenant's own names still anchor its list, as docker ps --filter since=NAME expects.
    await ok('alice', ['run', '-d', '--name', 'first', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
    await ok('alice', ['create', '--name', 'second', '--network', 'none', TEST_IMAGE, 'true']);
    assert.equal(await ok('alice', ['ps', '-a', '--filter', 'since=first', '--format', '{{.Names}}']), 'second');
    assert.match(await ok('alice', ['ps', '-a', '--filter', 'before=second', '--format', '{{.Names}}']), /^first$/m);
  });
});

describe('a hostile tenant and the registries dockerd contacts for it', { skip }, () => {
  let f: GatewayFixture;
  let server: Server;
  let hits: string[];
  let port: number;
  before(async () => {
    hits = [];
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    f = await startGatewayFixture();
  });
  after(async () => {
    await f?.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  const probes: [string, (f: GatewayFixture) => Promise<string>][] = [
    ['GET /distribution/127.0.0.1:PORT/x/json', async (f) => rawGet(f, 'tenant', `${f.api}/distribution/127.0.0.1:${port}/x/json`)],
    ['GET /images/search?term=127.0.0.1:PORT/x', async (f) => rawGet(f, 'tenant', `${f.api}/images/search?term=${encodeURIComponent(`127.0.0.1:${port}/x`)}`)],
    [
      'POST /images/127.0.0.1:PORT/x/push after a tag',
      async (f) => {
        await f.docker('tenant', ['tag', TEST_IMAGE, `127.0.0.1:${port}/x:latest`]);
        return rawPost(f, 'tenant', `${f.api}/images/127.0.0.1:${port}/x/push?tag=latest`, '', { headers: { 'X-Registry-Auth': 'e30=' } });
      },
    ],
  ];
  for (const [what, probe] of probes) {
    it(`${what} does not make dockerd contact the host's loopback`, async () => {
      hits.length = 0;
      const res = await probe(f);
      assert.deepEqual(hits, [], `dockerd contacted 127.0.0.1:${port} for the tenant (answer: ${res.split('\r\n')[0]})`);
    });
  }
});

describe('a hostile tenant and the URLs a classic build makes dockerd fetch', { skip }, () => {
  let f: GatewayFixture;
  let server: Server;
  let hits: string[];
  let port: number;
  let dir: string;
  before(async () => {
    hits = [];
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('host-only\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    dir = await mkdtemp(join(tmpdir(), 'dw-ctx-'));
    f = await startGatewayFixture();
  });
  after(async () => {
    await f?.stop();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  for (const [what, dockerfile] of [
    ['ADD http://127.0.0.1:PORT/…', (p: number) => `FROM ${TEST_IMAGE}\nADD http://127.0.0.1:${p}/internal /got\n`],
    ['FROM 127.0.0.1:PORT/…', (p: number) => `FROM 127.0.0.1:${p}/x\n`],
  ] as const) {
    it(`a Dockerfile ${what} does not make dockerd contact the host's loopback`, async () => {
      hits.length = 0;
      await writeFile(join(dir, 'Dockerfile'), dockerfile(port));
      const res = await f.docker('tenant', ['build', '-q', dir], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
      assert.deepEqual(hits, [], `dockerd contacted 127.0.0.1:${port} for the tenant's build (exit ${res.code}: ${res.stderr.trim()})`);
      assert.match(res.stderr, /DW_BODY_(FETCH|REGISTRY)/);
    });
  }
});

describe('a constrained role and the network an endpoint names', { skip }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
    const made = await f.docker('worker', ['network', 'create', 'plain'], { timeoutMs: 60_000 });
    assert.equal(made.code, 0, made.stderr);
  });
  after(async () => {
    if (!f) return;
    await removeContainersAndNetworks(f);
    await f.stop();
  });

  it("EndpointSettings.NetworkID \"host\" under a user-defined network does not put the container in the host's network namespace", async () => {
    const body = JSON.stringify({
      Image: TEST_IMAGE,
      Cmd: ['sleep', '600'],
      HostConfig: { NetworkMode: 'plain' },
      NetworkingConfig: { EndpointsConfig: { plain: { NetworkID: 'host' } } },
    });
    const res = await rawPost(f, 'worker', `${f.api}/containers/create?name=hostnet`, body);
    if (status(res) !== 201) return;
    const start = await f.docker('worker', ['start', 'hostnet'], { timeoutMs: 60_000 });
    const inspect = (await f.engine.docker(['inspect', '--format', '{{.State.Pid}} {{json .NetworkSettings.Networks}}', 'hostnet'])).stdout.trim();
    const pid = inspect.split(' ')[0]!;
    const ns = pid !== '0' ? await readlink(`/proc/${pid}/ns/net`) : 'not running';
    assert.notEqual(ns, await readlink('/proc/self/ns/net'), `the container runs in the host's network namespace (start: ${start.stderr.trim()}; ${inspect})`);
  });

  it('a network connect does not set a per-endpoint sysctl the role does not allow', async () => {
    const made = await f.docker('worker', ['run', '-d', '--name', 'sysc', '--network', 'plain', TEST_IMAGE, 'sleep', '600'], { timeoutMs: 60_000 });
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await f.docker('worker', ['network', 'create', 'other'])).code, 0);
    const opt = 'com.docker.network.endpoint.sysctls=net.ipv4.conf.IFNAME.route_localnet=1';
    // The same option on a create is refused (DW_BODY_SYSCTL).
    const create = await f.docker('worker', ['create', '--network', `name=other,driver-opt=${opt}`, TEST_IMAGE, 'true']);
    assert.match(create.stderr, /DW_BODY_SYSCTL/);
    const connect = await f.docker('worker', ['network', 'connect', '--driver-opt', opt, 'other', 'sysc'], { timeoutMs: 60_000 });
    assert.match(connect.stderr, /DW_BODY_SYSCTL/);
    const set = (await f.engine.docker(['exec', 'sysc', 'sh', '-c', 'cat /proc/sys/net/ipv4/conf/*/route_localnet'])).stdout.split('\n').filter(Boolean);
    assert.ok(!set.includes('1'), `the connect set route_localnet on the container's interface: ${set.join(' ')}`);
    const plain = await f.docker('worker', ['network', 'connect', '--alias', 'db', 'other', 'sysc'], { timeoutMs: 60_000 });
    assert.equal(plain.code, 0, plain.stderr);
  });
});

describe('ordinary tenant usage that must not be refused', { skip }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY);
  });
  after(async () => {
    if (!f) return;
    await removeContainersAndNetworks(f);
    await f.stop();
  });

  it('docker pull IMAGE@DIGEST reaches dockerd (which has no network here) instead of a gateway error', async () => {
    const r = await f.docker('alice', ['pull', `busybox@sha256:${'a'.repeat(64)}`], { timeoutMs: 60_000 });
    assert.doesNotMatch(r.stderr, /dockward|the daemon answered/, r.stderr);
  });

  it("docker network connect bridge / disconnect bridge on the tenant's own container", async () => {
    const run = await f.docker('alice', ['create', '--name', 'dd', TEST_IMAGE, 'true'], { timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stderr);
    const r = await f.docker('alice', ['network', 'disconnect', 'bridge', 'dd'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const c = await f.docker('alice', ['network', 'connect', 'bridge', 'dd'], { timeoutMs: 60_000 });
    assert.equal(c.code, 0, c.stderr);
  });

  it('docker ps --filter network=NET / volume=VOL name the tenant\'s own objects', async () => {
    const ok = async (args: string[]) => {
      const r = await f.docker('alice', args, { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    await ok(['network', 'create', 'nn']);
    await ok(['volume', 'create', 'vv']);
    await ok(['create', '--name', 'onnet', '--network', 'nn', '-v', 'vv:/v', TEST_IMAGE, 'true']);
    assert.equal(await ok(['ps', '-a', '--filter', 'network=nn', '--format', '{{.Names}}']), 'onnet');
    assert.equal(await ok(['ps', '-a', '--filter', 'volume=vv', '--format', '{{.Names}}']), 'onnet');
  });

  it("docker events --filter container=NAME / network=NAME / volume=NAME show the tenant's own objects' events", async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const made = async (args: string[]) => assert.equal((await f.docker('alice', args, { timeoutMs: 60_000 })).code, 0, args.join(' '));
    await made(['create', '--name', 'evweb', '--network', 'none', TEST_IMAGE, 'true']);
    await made(['network', 'create', 'evnet']);
    await made(['volume', 'create', 'evvol']);
    const until = Math.floor(Date.now() / 1000) + 1;
    for (const [key, name, type] of [['container', 'evweb', 'container'], ['network', 'evnet', 'network'], ['volume', 'evvol', 'volume']]) {
      const r = await f.docker('alice', ['events', '--since', String(since), '--until', String(until), '--filter', `${key}=${name}`, '--format', '{{.Type}} {{.Action}}'], { timeoutMs: 60_000 });
      assert.match(r.stdout, new RegExp(`^${type} create$`, 'm'), `docker events --filter ${key}=${name}: ${r.stdout} ${r.stderr}`);
    }
  });
});

describe("a hostile tenant and the owner label of what it commits", { skip }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY);
    const made = await f.docker('alice', ['create', '--name', 'src', '--network', 'none', TEST_IMAGE, 'true'], { timeoutMs: 60_000 });
    assert.equal(made.code, 0, made.stderr);
  });
  after(async () => {
    if (!f) return;
    await removeContainersAndNetworks(f);
    await f.stop();
  });

  const label = async (image: string) => (await f.engine.docker(['image', 'inspect', '--format', '{{index .Config.Labels "io.dockward.owner"}}', image])).stdout.trim();

  for (const [what, changes] of [
    ['a last change ending in a backslash (it swallows the gateway\'s LABEL line)', ['ENV P=io.dockward', 'LABEL ${P}.owner=bob', 'ENV Z=\\']],
    ['an escape directive, then a last change ending in a backtick', ['# escape=`', 'ENV P=io.dockward', 'LABEL ${P}.owner=bob', 'ENV Z=`']],
    ['a change with a line break', ['ENV P=io.dockward\nLABEL ${P}.owner=bob\nENV Z=\\']],
  ] as const) {
    it(`docker commit with ${what} still carries the tenant's owner label`, async () => {
      const repo = `forged${changes.length}${what.length}`;
      const q = new URLSearchParams({ container: 'src', repo, tag: 'latest' });
      for (const c of changes) q.append('changes', c);
      const res = await rawPost(f, 'alice', `${f.api}/commit?${q.toString().replace(/\+/g, '%20')}`, '');
      if (status(res) !== 201) return;
      assert.equal(await label(`${repo}:latest`), 'alice', `alice committed an image labelled ${JSON.stringify(await label(`${repo}:latest`))}`);
    });
  }

  it('an ordinary docker commit --change still works and carries the owner label', async () => {
    const r = await f.docker('alice', ['commit', '--change', 'ENV A=b', '--change', 'CMD ["sh", "-c", "echo a\\\\"]', 'src', 'plain-commit:1'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await label('plain-commit:1'), 'alice');
  });
});

describe("a hostile tenant and the containers its classic build makes", { skip }, () => {
  let f: GatewayFixture;
  let dir: string;
  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY);
    dir = await mkdtemp(join(tmpdir(), 'dw-ctx-'));
  });
  after(async () => {
    if (!f) return;
    await removeContainersAndNetworks(f);
    await f.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a RUN step's container is not another tenant's (Dockerfile LABEL io.dockward.owner=bob)", async () => {
    await writeFile(join(dir, 'Dockerfile'), `FROM ${TEST_IMAGE}\nLABEL io.dockward.owner=bob com.docker.compose.project=app\nRUN sleep 20\n`);
    const build = f.docker('alice', ['build', '-q', dir], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 90_000 });
    let seen = '';
    const end = Date.now() + 15_000;
    while (!seen && Date.now() < end) {
      seen = (await f.docker('bob', ['ps', '--filter', 'label=com.docker.compose.project=app', '--format', '{{.ID}} {{.Command}}'])).stdout.trim();
      if (!seen) await new Promise((r) => setTimeout(r, 500));
    }
    const r = await build;
    assert.equal(seen, '', `bob's docker ps lists alice's build container: ${seen}`);
    assert.match(r.stderr, /DW_BODY_BUILD_LABEL/);
  });
});

describe("images another tenant committed", { skip }, () => {
  let f: GatewayFixture;
  let bobId: string;
  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY);
    const made = await f.docker('bob', ['run', '-d', '--name', 'secretive', '--network', 'none', '-e', 'TOKEN=s3cret', TEST_IMAGE, 'sleep', '600'], { timeoutMs: 60_000 });
    assert.equal(made.code, 0, made.stderr);
    bobId = made.stdout.trim();
    const c = await f.docker('bob', ['commit', 'secretive', 'bob-snap:1'], { timeoutMs: 60_000 });
    assert.equal(c.code, 0, c.stderr);
  });
  after(async () => {
    if (!f) return;
    await removeContainersAndNetworks(f);
    await f.stop();
  });

  for (const version of ['1.41', '']) {
    it(`GET ${version ? `/v${version}` : ''}/images/bob-snap:1/json does not show alice bob's container id`, async () => {
      const res = await rawGet(f, 'alice', `${version ? `/v${version}` : f.api}/images/bob-snap:1/json`);
      assert.equal(status(res), 200, res.split('\r\n')[0]);
      assert.ok(!res.includes(bobId.slice(0, 12)), `alice reads bob's container id ${bobId.slice(0, 12)} in the image: ${res.slice(res.indexOf('\r\n\r\n') + 4, res.indexOf('\r\n\r\n') + 400)}`);
    });
  }
});

describe('a hostile tenant on an experimental dockerd (start from a checkpoint)', { skip }, () => {
  const MARKER = `host-only-${process.pid}-checkpoint`;
  let f: GatewayFixture;
  let hostDir: string;
  before(async () => {
    hostDir = await mkdtemp(join(tmpdir(), 'dw-cpdir-'));
    await mkdir(join(hostDir, 'cp1'));
    await writeFile(join(hostDir, 'cp1', 'inventory.img'), MARKER);
    f = await startGatewayFixture(undefined, ['--experimental']);
  });
  after(async () => {
    await f?.stop();
    await rm(hostDir, { recursive: true, force: true });
  });

  it('POST /containers/{id}/start?checkpoint=../../HOSTDIR does not make dockerd restore from a host directory', async () => {
    const created = await f.docker('tenant', ['create', TEST_IMAGE, 'sleep', '60']);
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    // dockerd refuses a custom checkpoint-dir on start, but joins the checkpoint name, unchecked,
    // to the container's own; 20.10 then copies that directory into containerd's content store
    // and has runc restore from it ("OCI runtime restore failed: …descriptors.json").
    const res = await rawPost(f, 'tenant', `${f.api}/containers/${id}/start?checkpoint=${encodeURIComponent(`${'../'.repeat(24)}${hostDir.slice(1)}/cp1`)}`, '');
    const copied = execFileSync('sh', ['-c', `grep -rl '${MARKER}' ${f.engine.dir} || true`]).toString().trim();
    assert.equal(copied, '', `dockerd copied ${hostDir}/cp1 for the tenant (${res.split('\r\n')[0]}: ${res.slice(res.indexOf('\r\n\r\n') + 4)})`);
    assert.match(res, /^HTTP\/1\.1 403 [^]*DW_BODY_CHECKPOINT/);
  });
});

describe('a constrained role with preset:swarm and the swarm-wide task defaults', { skip }, () => {
  let f: GatewayFixture;
  let hits: number;
  let server: NetServer;
  before(async () => {
    hits = 0;
    server = createNetServer((s) => {
      hits++;
      s.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const allow = '    allow: [preset:containers, preset:exec, preset:images, preset:volumes, preset:build]\n';
    f = await startGatewayFixture(TEST_POLICY.replace(allow, '    allow: [preset:containers, preset:images, preset:networks, preset:swarm]\n'));
    const init = await f.engine.docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await f?.engine.docker(['swarm', 'leave', '--force']);
    await f?.stop();
    await new Promise((resolve) => server.close(resolve));
  });

  // dockerd 28.5 drops TaskDefaults from the Engine API's swarm spec (moby#53396); once it carries
  // it, a swarm-wide default log driver reaches every service that names none.
  it("POST /swarm/update with TaskDefaults.LogDriver does not give the role's tasks a log driver it may not use", async () => {
    const swarm = await engineJson<{ Version: { Index: number }; Spec: Record<string, unknown> }>({ socketPath: f.engine.socketPath }, 'GET', '/swarm');
    const { port } = server.address() as AddressInfo;
    const spec = { ...swarm.Spec, TaskDefaults: { LogDriver: { Name: 'syslog', Options: { 'syslog-address': `tcp://127.0.0.1:${port}` } } } };
    const res = await rawPost(f, 'tenant', `${f.api}/swarm/update?version=${swarm.Version.Index}`, JSON.stringify(spec));
    if (status(res) !== 200) return;
    const made = await f.docker('tenant', ['service', 'create', '--detach', '--no-resolve-image', '--restart-condition', 'none', '--name', 'logs', TEST_IMAGE, 'sleep', '60']);
    // dockerd 20.10 (API 1.41) would drop the role's enforced defaults: no service runs for it at all.
    if (/DW_BODY_SERVICE_DEFAULTS/.test(made.stderr)) return;
    assert.equal(made.code, 0, made.stderr);
    await until('the task to run', async () => (await f.engine.docker(['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=logs'])).stdout.trim() !== '', 60_000).catch(() => undefined);
    const id = (await f.engine.docker(['ps', '-aq', '--filter', 'label=com.docker.swarm.service.name=logs'])).stdout.trim().split('\n')[0] ?? '';
    const driver = id ? (await f.engine.docker(['inspect', '--format', '{{.HostConfig.LogConfig.Type}}', id])).stdout.trim() : '(no task container)';
    assert.ok(driver !== 'syslog' && hits === 0, `the task logs with ${driver} (connections to 127.0.0.1:${port}: ${hits})`);
  });
});
