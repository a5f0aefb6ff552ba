/**
 * Issue #12's acceptance: two tenants (`scope: own`) on one gateway, driven by the real docker
 * CLI and compose, each seeing and touching only its own objects; the admin sees everything.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, startGatewayFixture, TENANTS_POLICY, removeContainersAndNetworks, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

describe('tenants on one daemon (scope: own) through the docker CLI', { skip }, () => {
  let f: GatewayFixture;
  /** Bob's objects, as alice must never reach them. */
  const bob = { id: '', net: '', exec: '' };
  const ok = async (who: string, args: string[]) => {
    const r = await f.docker(who, args, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${who}: docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const lines = (s: string) => s.split('\n').filter(Boolean).sort();

  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY);
    for (const t of ['alice', 'bob']) {
      await ok(t, ['run', '-d', '--name', 'web', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
      await ok(t, ['create', '--name', `${t[0]}-only`, '--network', 'none', TEST_IMAGE, 'true']);
      await ok(t, ['network', 'create', 'net']);
      await ok(t, ['network', 'create', `${t[0]}-net`]);
      await ok(t, ['volume', 'create', 'vol']);
      await ok(t, ['volume', 'create', `${t[0]}-vol`]);
    }
    bob.id = await ok('bob', ['container', 'inspect', '--format', '{{.Id}}', 'b-only']);
    bob.net = await ok('bob', ['network', 'inspect', '--format', '{{.Id}}', 'b-net']);
    // An exec instance on bob's container, made by bob through the gateway.
    const made = await f.engine.docker(['exec', '-d', 'bob.web', 'sleep', '1']);
    assert.equal(made.code, 0, made.stderr);
    bob.exec = JSON.parse(await ok('bob', ['container', 'inspect', '--format', '{{json .ExecIDs}}', 'web']))[0] as string;
  });
  after(async () => {
    if (!f) return;
    await removeContainersAndNetworks(f);
    await f.stop();
  });

  it('each tenant lists only its own containers, networks and volumes, under the names it gave them', async () => {
    for (const [t, o] of [['alice', 'b'], ['bob', 'a']] as const) {
      assert.deepEqual(lines(await ok(t, ['ps', '-a', '--format', '{{.Names}}'])), [`${t[0]}-only`, 'web']);
      assert.deepEqual(lines(await ok(t, ['network', 'ls', '--format', '{{.Name}}'])), [`${t[0]}-net`, 'net']);
      assert.deepEqual(lines(await ok(t, ['volume', 'ls', '--format', '{{.Name}}'])), [`${t[0]}-vol`, 'vol']);
      const df = await ok(t, ['system', 'df', '-v']);
      assert.match(df, new RegExp(`${t[0]}-vol`));
      assert.doesNotMatch(df, new RegExp(`${o}-vol|${o}-only|alice\\.|bob\\.`));
      // The one image is used by two containers of each tenant: counted over the tenant's own.
      assert.equal(await ok(t, ['system', 'df', '-v', '--format', '{{range .Images}}{{.Containers}} {{end}}']), '2');
      // docker info counts the tenant's own containers only: web runs, x-only never started.
      assert.equal(await ok(t, ['info', '--format', '{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}']), '2 1 0 1');
    }
    assert.equal(await ok('admin', ['info', '--format', '{{.Containers}} {{.ContainersRunning}}']), '4 2');
    // A name filter anchored at the start matches the names the tenant gave.
    assert.deepEqual(lines(await ok('alice', ['ps', '-a', '--filter', 'name=^web$', '--format', '{{.Names}}'])), ['web']);
    assert.deepEqual(lines(await ok('alice', ['ps', '-a', '--filter', 'name=^/a-', '--format', '{{.Names}}'])), ['a-only']);
    // The same name, two objects: each tenant's own.
    assert.notEqual(await ok('alice', ['container', 'inspect', '--format', '{{.Id}}', 'web']), await ok('bob', ['container', 'inspect', '--format', '{{.Id}}', 'web']));
  });

  it('the admin still sees everything, under the daemon names', async () => {
    const all = lines(await ok('admin', ['ps', '-a', '--format', '{{.Names}}']));
    assert.deepEqual(all, ['alice.a-only', 'alice.web', 'bob.b-only', 'bob.web']);
    const vols = lines(await ok('admin', ['volume', 'ls', '--format', '{{.Name}}']));
    for (const v of ['alice.vol', 'bob.vol', 'alice.a-vol', 'bob.b-vol']) assert.ok(vols.includes(v), vols.join(' '));
  });

  it("the other tenant's container is \"No such container\" by full id, prefix and name, for every command", async () => {
    const commands = (ref: string): string[][] => [
      ['container', 'inspect', ref],
      ['logs', ref],
      ['exec', ref, 'true'],
      ['attach', '--no-stdin', ref],
      ['cp', `${ref}:/bin/sh`, join(f.dir, 'out')],
      ['cp', join(f.dir, 'policy.yaml'), `${ref}:/tmp/`],
      ['stats', '--no-stream', ref],
      ['top', ref],
      ['rename', ref, 'mine'],
      ['update', '--cpu-shares', '512', ref],
      ['pause', ref],
      ['kill', ref],
      ['restart', '-t', '0', ref],
      ['rm', '-f', ref],
      ['commit', ref, 'stolen:latest'],
      ['export', '-o', join(f.dir, 'out.tar'), ref],
      ['wait', ref],
      ['port', ref],
      ['diff', ref],
      ['start', ref],
      ['run', '--rm', '--volumes-from', ref, '--network', 'none', TEST_IMAGE, 'true'],
      ['run', '--rm', '--network', `container:${ref}`, TEST_IMAGE, 'true'],
      ['run', '--rm', '--pid', `container:${ref}`, '--network', 'none', TEST_IMAGE, 'true'],
      ['run', '--rm', '--ipc', `container:${ref}`, '--network', 'none', TEST_IMAGE, 'true'],
      ['run', '--rm', '--link', `${ref}:db`, '--network', 'none', TEST_IMAGE, 'true'],
      ['network', 'connect', 'net', ref],
      // Links on an endpoint (EndpointSettings.Links), in a connect and in a create on a network.
      ['network', 'connect', '--link', `${ref}:db`, 'net', 'a-only'],
      ['run', '--rm', '--network', 'net', '--link', `${ref}:db`, TEST_IMAGE, 'true'],
    ];
    // What alice reads about bob's container is exactly what she reads about one that does not exist.
    const shown = async (args: string[], ref: string) => {
      const r = await f.docker('alice', args, { timeoutMs: 60_000 });
      // (The CLI's own log lines, such as cp's tar writer meeting the closed pipe, come and go.)
      const err = r.stderr.split('\n').filter((l) => !l.startsWith('time='));
      return `exit ${r.code}: ${err.join('\n').replaceAll(ref, 'X')}`;
    };
    const nothing = await Promise.all(commands('nothing-here').map((args) => shown(args, 'nothing-here')));
    for (const ref of [bob.id, bob.id.slice(0, 12), 'b-only', 'bob.b-only']) {
      await Promise.all(
        commands(ref).map(async (args, i) => {
          const err = await shown(args, ref);
          assert.equal(err, nothing[i], `alice: docker ${args.join(' ')}`);
          // `cp` into a container stats the path with HEAD first (a 404 without a body); CLI 28's
          // `rm -f` of a container that does not exist is no error.
          if (i !== 5 && args[0] !== 'rm') assert.match(err, /^exit [1-9][^]*No such container/, `alice: docker ${args.join(' ')}: ${err}`);
        }),
      );
    }
    // Nothing happened to it.
    const state = await f.engine.docker(['inspect', '--format', '{{.Name}} {{.State.Status}} {{.HostConfig.CpuShares}}', bob.id]);
    assert.equal(state.stdout.trim(), '/bob.b-only created 0');
  });

  it("the other tenant's exec instance, network and volume do not exist either", async () => {
    const notFound = async (args: string[], wording: RegExp) => {
      const r = await f.docker('alice', args, { timeoutMs: 60_000 });
      assert.notEqual(r.code, 0, `alice: docker ${args.join(' ')} succeeded`);
      assert.match(r.stderr, wording, `alice: docker ${args.join(' ')}: ${r.stderr}`);
    };
    for (const [method, path] of [['GET', 'json'], ['POST', 'start'], ['POST', 'resize?h=10&w=10']]) {
      const body = method === 'POST' ? '{"Detach":true}' : '';
      const answer = await rawExchange(
        await clientTls(f, 'alice'),
        `${method} ${f.api}/exec/${bob.exec}/${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      assert.match(answer, /^HTTP\/1\.1 404[^]*No such exec instance/, answer);
    }
    for (const ref of ['b-net', bob.net, bob.net.slice(0, 12), 'bob.b-net']) {
      await notFound(['network', 'inspect', ref], /not found/);
      await notFound(['network', 'rm', ref], /not found/);
      await notFound(['network', 'connect', ref, 'web'], /not found/);
      await notFound(['network', 'disconnect', ref, 'web'], /not found/);
    }
    for (const ref of ['b-vol', 'bob.b-vol']) {
      await notFound(['volume', 'inspect', ref], /no such volume/);
      await notFound(['volume', 'rm', ref], /no such volume/);
    }
    assert.equal((await f.engine.docker(['network', 'inspect', '--format', '{{.Name}}', bob.net])).stdout.trim(), 'bob.b-net');
    // `-v b-vol:/x` names alice's own b-vol (names are per tenant): a new, empty volume, never bob's.
    await ok('bob', ['run', '--rm', '-v', 'b-vol:/x', '--network', 'none', TEST_IMAGE, 'touch', '/x/bobs-file']);
    assert.equal(await ok('alice', ['run', '--rm', '-v', 'b-vol:/x', '-v', 'bob.b-vol:/y', '--network', 'none', TEST_IMAGE, 'ls', '/x', '/y']), '/x:\n\n/y:');
    assert.equal((await f.engine.docker(['volume', 'inspect', '--format', '{{index .Labels "io.dockward.owner"}}', 'alice.b-vol'])).stdout.trim(), 'alice');
  });

  it("a build cannot run in the other tenant's network or container", async () => {
    const dir = join(f.dir, 'build');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'Dockerfile'), `FROM ${TEST_IMAGE}\nRUN true\n`);
    const build = (network: string) => f.docker('alice', ['build', '-q', '--network', network, dir], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
    for (const [network, wording] of [
      ['container:b-only', /No such container: b-only/],
      [`container:${bob.id}`, /No such container/],
      ['b-net', /network b-net not found/],
      [bob.net, /not found/],
    ] as const) {
      const r = await build(network);
      assert.notEqual(r.code, 0, `alice: docker build --network ${network} succeeded`);
      assert.match(r.stderr, wording, r.stderr);
    }
    const own = await build('a-net');
    assert.equal(own.code, 0, own.stderr);
  });

  it("image names a tenant made are its own: no other tenant re-points or removes them", async () => {
    const owner = async (name: string) => (await f.engine.docker(['image', 'inspect', '--format', '{{index .Config.Labels "io.dockward.owner"}}', name])).stdout.trim();
    await ok('alice', ['commit', 'web', 'a-img:1']);
    const built = await f.docker('alice', ['build', '-q', '-t', 'a-built', join(f.dir, 'build')], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
    assert.equal(built.code, 0, built.stderr);
    assert.equal(await owner('a-img:1'), 'alice');
    assert.equal(await owner('a-built'), 'alice');
    const before = await owner('a-img:1');
    for (const args of [
      ['tag', TEST_IMAGE, 'a-img:1'],
      ['rmi', 'a-img:1'],
      ['commit', 'web', 'a-img:1'],
      ['build', '-q', '-t', 'a-built', join(f.dir, 'build')],
    ]) {
      const r = await f.docker('bob', args, { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 60_000 });
      assert.notEqual(r.code, 0, `bob: docker ${args.join(' ')} succeeded`);
      assert.match(r.stderr, /image name \S+ is another tenant's/, r.stderr);
    }
    assert.equal(await owner('a-img:1'), before);
    // Shared images stay shared: bob runs alice's and names his own.
    await ok('bob', ['tag', 'a-img:1', 'b-img:1']);
    assert.equal(await ok('bob', ['run', '--rm', '--network', 'none', 'a-img:1', 'echo', 'ran']), 'ran');
    const forged = await f.docker('bob', ['commit', '--change', 'LABEL io.dockward.owner=alice', 'web', 'b-img:2']);
    assert.match(forged.stderr, /io\.dockward\./);
    await ok('alice', ['rmi', 'a-img:1', 'a-built']);
  });

  it('labels under io.dockward. cannot be set or filtered on', async () => {
    const set = await f.docker('alice', ['create', '--label', 'io.dockward.owner=bob', '--network', 'none', TEST_IMAGE]);
    assert.notEqual(set.code, 0);
    assert.match(set.stderr, /io\.dockward\./);
    const filter = await f.docker('alice', ['ps', '-a', '--filter', 'label=io.dockward.owner=bob']);
    assert.notEqual(filter.code, 0);
    assert.match(filter.stderr, /io\.dockward\./);
  });

  it('events show only the tenant\'s own objects, also while streaming', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 600);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    for (const t of ['alice', 'bob'] as const) {
      const past = await ok(t, ['events', '--since', since, '--until', until, '--format', '{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}']);
      assert.match(past, new RegExp(`container create \\w+ ${t[0]}-only`));
      assert.match(past, new RegExp(`network create \\w+ ${t[0]}-net`));
      assert.match(past, new RegExp(`volume create ${t[0]}-vol`));
      // (alice made herself volumes called b-vol and bob.b-vol above: hers, not bob's.)
      assert.doesNotMatch(past, t === 'alice' ? /b-only|b-net|bob\.(web|b-only|b-net|net|vol)\b|alice\./ : /a-only|a-net|a-vol|alice\.|bob\./);
    }
    // Streaming: alice watches while bob works, then makes her own mark.
    const watching = f.dockerUntil('alice', ['events', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'], 'a-mark', 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    await ok('bob', ['create', '--name', 'b-mark', '--network', 'none', TEST_IMAGE, 'true']);
    await ok('bob', ['network', 'create', 'b-mark-net']);
    await ok('alice', ['create', '--name', 'a-mark', '--network', 'none', TEST_IMAGE, 'true']);
    const seen = await watching;
    assert.match(seen, /container create a-mark/);
    assert.doesNotMatch(seen, /b-mark/);
  });

  it('prunes remove only the tenant\'s own containers, networks and volumes', async () => {
    const daemon = async (args: string[]) => lines((await f.engine.docker(args)).stdout);
    await ok('alice', ['container', 'prune', '-f']);
    let names = await daemon(['ps', '-a', '--format', '{{.Names}}']);
    assert.ok(!names.includes('alice.a-only') && names.includes('bob.b-only') && names.includes('alice.web'), names.join(' '));
    await ok('alice', ['network', 'prune', '-f']);
    names = await daemon(['network', 'ls', '--format', '{{.Name}}']);
    assert.ok(!names.includes('alice.a-net') && names.includes('bob.b-net') && names.includes('bob.net'), names.join(' '));
    // From API 1.42 on, volume prune takes only anonymous volumes unless told --all.
    const all = f.api >= '/v1.42' ? ['--all'] : [];
    await ok('alice', ['volume', 'prune', '-f', ...all]);
    names = await daemon(['volume', 'ls', '--format', '{{.Name}}']);
    assert.ok(!names.includes('alice.a-vol') && names.includes('bob.b-vol') && names.includes('bob.vol'), names.join(' '));
  });

  it('docker compose: two tenants run the same project name at once, each seeing and removing only its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-tenants-compose-'));
    try {
      const file = join(dir, 'compose.yaml');
      await writeFile(file, `services:\n  app:\n    image: ${TEST_IMAGE}\n    command: ["sh", "-c", "echo started; sleep 600"]\n    volumes: [data:/data]\nvolumes:\n  data: {}\n`);
      const compose = (t: string, args: string[]) => ok(t, ['compose', '-p', 'shared', '-f', file, ...args]);
      await Promise.all(['alice', 'bob'].map((t) => compose(t, ['up', '-d'])));
      for (const t of ['alice', 'bob']) {
        assert.deepEqual(lines(await compose(t, ['ps', '-a', '--format', '{{.Name}}'])), ['shared-app-1']);
        assert.match(await compose(t, ['logs']), /started/);
      }
      await compose('alice', ['down', '-v']);
      const left = lines((await f.engine.docker(['ps', '-a', '--format', '{{.Names}}', '--filter', 'label=com.docker.compose.project=shared'])).stdout);
      assert.deepEqual(left, ['bob.shared-app-1']);
      assert.deepEqual(lines(await compose('bob', ['ps', '--format', '{{.Name}} {{.State}}'])), ['shared-app-1 running']);
      await compose('bob', ['down', '-v']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
