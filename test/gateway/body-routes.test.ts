// engines: trixie
/**
 * The other body routes through the gateway, with the real docker CLI and raw requests against
 * the engine under test: exec create, container update, volume and network create. The `tenant`
 * has the default container rules and no network routes; the `worker` also bounds exec users
 * (not root) and pids, and may create networks with the default network rules. The daemon's
 * own state, read on its socket, shows that nothing refused took effect.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { runProcess } from '../harness/process.js';
import { rawPost, startGatewayFixture, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

describe('exec, update, volume and network bodies through the gateway', { skip }, () => {
  let f: GatewayFixture;
  let v: string;
  before(async () => {
    f = await startGatewayFixture();
    v = f.gateway.apiVersion;
    const run = await f.docker('worker', ['run', '-d', '--network', 'none', '--name', 'target', TEST_IMAGE, 'sleep', '600']);
    assert.equal(run.code, 0, run.stderr);
  });
  after(() => f?.stop());

  /** A field of the target container, asked on the daemon's own socket. */
  const state = async (format: string) => (await f.engine.docker(['inspect', '--format', format, 'target'])).stdout.trim();
  const execCount = async () => Number(await state('{{len .ExecIDs}}'));
  const volumes = async () => (await f.engine.docker(['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  const refusedBy = (stderr: string, who: string, route: string, code: RegExp) => {
    assert.match(stderr, new RegExp(`Error response from daemon: dockward: identity "${who}" may not ${route.replace(/[{}/]/g, '\\$&')} with this body`));
    assert.match(stderr, code);
  };

  it('docker exec --privileged is refused, naming the rule, and no exec is created', async () => {
    const before = await execCount();
    const res = await f.docker('tenant', ['exec', '--privileged', 'target', 'true']);
    assert.notEqual(res.code, 0);
    refusedBy(res.stderr, 'tenant', 'POST /containers/{id}/exec', /Privileged: privileged exec is not allowed for this role \(DW_BODY_PRIVILEGED, role tenant\)/);
    assert.equal(await execCount(), before);
  });

  it('docker exec as root is refused where execUsers does not allow it; the tenant (any user) may', async () => {
    const before = await execCount();
    for (const user of ['root', '0', '0:0']) {
      const res = await f.docker('worker', ['exec', '-u', user, 'target', 'id', '-u']);
      assert.notEqual(res.code, 0, user);
      refusedBy(res.stderr, 'worker', 'POST /containers/{id}/exec', /User: exec as user .* is not allowed for this role \(DW_BODY_EXEC_USER, role worker\)/);
    }
    assert.equal(await execCount(), before);
    const own = await f.docker('worker', ['exec', 'target', 'id', '-u']);
    assert.equal(own.code, 0, own.stderr);
    assert.equal(own.stdout.trim(), '0', "the container's own user is allowed by the empty entry");
    // The test image's / is 0700, so only its exec's configuration can show the user.
    const nobody = await rawPost(f, 'worker', `/v${v}/containers/target/exec`, '{"Cmd":["true"],"User":"65534:65534"}');
    const execId = /"Id":"([0-9a-f]+)"/.exec(nobody)?.[1];
    assert.ok(execId, nobody);
    const seen = await runProcess('curl', ['-sS', '--unix-socket', f.engine.socketPath, `http://d/v${v}/exec/${execId}/json`], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    assert.equal((JSON.parse(seen.stdout) as { ProcessConfig: { user: string } }).ProcessConfig.user, '65534:65534');
    const root = await f.docker('tenant', ['exec', '-u', '0', 'target', 'id', '-u']); // the image has no passwd file
    assert.equal(root.code, 0, root.stderr);
    assert.equal(root.stdout.trim(), '0');
    const piped = await f.docker('tenant', ['exec', '-i', 'target', 'cat'], { input: 'through stdin\n' });
    assert.equal(piped.stdout, 'through stdin\n', piped.stderr);
  });

  it('raw exec creates: lower-case, case-variant duplicate, escaped and chunked privileged keys are refused', async () => {
    const before = await execCount();
    const bodies = [
      '{"Cmd":["true"],"privileged":true}',
      '{"Cmd":["true"],"Privileged":false,"PRIVILEGED":true}',
      '{"Cmd":["true"],"\\u0050rivileged":true}',
      '{"Cmd":["true"],"Privileged":true}',
    ];
    for (const [i, body] of bodies.entries()) {
      const res = await rawPost(f, 'tenant', `/v${v}/containers/target/exec`, body, { chunked: i === bodies.length - 1 });
      assert.match(res, /^HTTP\/1\.1 403[\s\S]*DW_BODY_PRIVILEGED/, body);
    }
    const user = await rawPost(f, 'worker', `/v${v}/containers/target/exec`, '{"Cmd":["true"],"User":"nobody","user":"root"}');
    assert.match(user, /^HTTP\/1\.1 403[\s\S]*exec as user \\?"root\\?"[\s\S]*DW_BODY_EXEC_USER/);
    assert.match(await rawPost(f, 'tenant', `/v${v}/containers/target/exec`, '{"Cmd":["true"]}{"Privileged":true}'), /^HTTP\/1\.1 400[\s\S]*data after the JSON body/);
    assert.match(await rawPost(f, 'tenant', `/v${v}/containers/target/exec`, '{"Cmd":["true"],"Privilegd":true}'), /^HTTP\/1\.1 400[\s\S]*unknown field Privilegd/);
    assert.equal(await execCount(), before, 'dockerd registered none of them');
    const ok = await rawPost(f, 'tenant', `/v${v}/containers/target/exec`, '{"cmd":["true"],"PRIVILEGED":false}', { chunked: true });
    assert.match(ok, /^HTTP\/1\.1 201[\s\S]*"Id"/);
  });

  it('docker update: an unlimited or larger pids limit is refused where the role bounds it; a smaller one applies', async () => {
    assert.equal(await state('{{.HostConfig.PidsLimit}}'), '256', "the worker's bound is the enforced default");
    for (const limit of ['-1', '1000']) {
      const res = await f.docker('worker', ['update', '--pids-limit', limit, 'target']);
      assert.notEqual(res.code, 0, limit);
      refusedBy(res.stderr, 'worker', 'POST /containers/{id}/update', /PidsLimit: .*(unlimited|above the role's bound of 256) .*\(DW_BODY_LIMIT, role worker\)/);
    }
    // The CLI sends no limit for 0 ("unchanged"); on the wire 0 means unlimited.
    await f.docker('worker', ['update', '--pids-limit', '0', 'target']);
    assert.match(await rawPost(f, 'worker', `/v${v}/containers/target/update`, '{"PidsLimit":0}'), /^HTTP\/1\.1 403[\s\S]*DW_BODY_LIMIT/);
    assert.equal(await state('{{.HostConfig.PidsLimit}}'), '256');
    const ok = await f.docker('worker', ['update', '--pids-limit', '100', 'target']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await state('{{.HostConfig.PidsLimit}}'), '100');
    const raw = await rawPost(f, 'worker', `/v${v}/containers/target/update`, '{"pidslimit":128,"PIDSLIMIT":-1}', { chunked: true });
    assert.match(raw, /^HTTP\/1\.1 403[\s\S]*DW_BODY_LIMIT/);
    assert.equal(await state('{{.HostConfig.PidsLimit}}'), '100');
    const mixed = await rawPost(f, 'worker', `/v${v}/containers/target/update`, '{"PIDSLIMIT":-1,"pidslimit":128}', { chunked: true });
    assert.match(mixed, /^HTTP\/1\.1 200/, 'the last of the case variants counts, as in Go');
    assert.equal(await state('{{.HostConfig.PidsLimit}}'), '128');
  });

  it('an update adding devices is refused, however the key is spelled', async () => {
    const devices = '[{"PathOnHost":"/dev/null","PathInContainer":"/dev/n","CgroupPermissions":"rwm"}]';
    const bodies = [`{"Devices":${devices}}`, `{"devices":${devices}}`, `{"Devices":[],"DEVICES":${devices}}`, `{"\\u0044evices":${devices}}`, `{"DeviceCgroupRules":["a *:* rwm"]}`];
    for (const body of bodies) {
      for (const chunked of [false, true]) {
        assert.match(await rawPost(f, 'tenant', `/v${v}/containers/target/update`, body, { chunked }), /^HTTP\/1\.1 403[\s\S]*DW_BODY_DEVICE/, body);
      }
    }
    assert.match(await state('{{json .HostConfig.Devices}} {{json .HostConfig.DeviceCgroupRules}}'), /^(null|\[\]) (null|\[\])$/);
  });

  it('docker volume create binding a host path or a device is refused; plain, tmpfs and compose-style volumes are created', async () => {
    const before = await volumes();
    const refused: [string[], RegExp][] = [
      [['-o', 'type=none', '-o', 'o=bind', '-o', 'device=/', 'v-root'], /DriverOpts\.device: .*\(DW_BODY_HOST_PATH, role tenant\)/],
      [['-o', 'type=none', '-o', 'o=bind', '-o', `device=${f.engine.socketPath}`, 'v-sock'], /never mountable \(DW_BODY_HOST_PATH/],
      [['-o', 'type=ext4', '-o', 'device=/dev/sda1', 'v-dev'], /DW_BODY_VOLUME_DRIVER/],
      [['-d', 'sshfs', 'v-plugin'], /volume driver "sshfs" is not allowed for this role/],
    ];
    for (const [args, code] of refused) {
      const res = await f.docker('tenant', ['volume', 'create', ...args]);
      assert.notEqual(res.code, 0, args.join(' '));
      refusedBy(res.stderr, 'tenant', 'POST /volumes/create', code);
    }
    const device = '{"type":"none","o":"bind","device":"/"}';
    for (const body of [`{"Name":"v-raw","driveropts":${device}}`, `{"Name":"v-raw","DriverOpts":{},"DRIVEROPTS":${device}}`, `{"\\u004eame":"v-raw","Driver\\u004fpts":${device}}`]) {
      for (const chunked of [false, true]) {
        assert.match(await rawPost(f, 'tenant', `/v${v}/volumes/create`, body, { chunked }), /^HTTP\/1\.1 403[\s\S]*DW_BODY_HOST_PATH/, body);
      }
    }
    assert.deepEqual(await volumes(), before, 'the daemon created no volume');
    assert.equal((await f.docker('tenant', ['volume', 'create', 'v-plain'])).code, 0);
    const tmpfs = await f.docker('tenant', ['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=1m', 'v-tmpfs']);
    assert.equal(tmpfs.code, 0, tmpfs.stderr);
    const compose = await rawPost(
      f,
      'tenant',
      `/v${v}/volumes/create`,
      '{"Name":"proj_data","Driver":"local","DriverOpts":null,"Labels":{"com.docker.compose.project":"proj","com.docker.compose.volume":"data"}}',
    );
    assert.match(compose, /^HTTP\/1\.1 201/);
    const made = await f.engine.docker(['volume', 'inspect', '--format', '{{.Name}} {{.Options}} {{index .Labels "com.docker.compose.project"}}', 'v-plain', 'v-tmpfs', 'proj_data']);
    assert.deepEqual(made.stdout.trim().split('\n'), ['v-plain map[] ', 'v-tmpfs map[device:tmpfs o:size=1m type:tmpfs] ', 'proj_data map[] proj']);
    const used = await f.docker('tenant', ['run', '--rm', '--network', 'none', '-v', 'v-plain:/data', TEST_IMAGE, 'sh', '-c', 'echo kept > /data/f && cat /data/f']);
    assert.equal(used.stdout.trim(), 'kept', used.stderr);
  });

  it('docker network create: a host bridge, a macvlan, an address plan of its choice are refused; a plain bridge network is created', async () => {
    const networks = async () => (await f.engine.docker(['network', 'ls', '-q'])).stdout.split('\n').filter(Boolean).sort();
    const before = await networks();
    const refused: [string[], RegExp][] = [
      [['-o', 'com.docker.network.bridge.name=docker0', 'n-host'], /Options\.com\.docker\.network\.bridge\.name: network driver option .* \(DW_BODY_NETWORK, role worker\)/],
      [['-d', 'macvlan', '-o', 'parent=lo', 'n-mac'], /Driver: network driver "macvlan" is not allowed for this role/],
      [['--subnet', '10.250.0.0/24', 'n-subnet'], /IPAM\.Config: subnets, gateways and address ranges/],
    ];
    for (const [args, message] of refused) {
      const res = await f.docker('worker', ['network', 'create', ...args]);
      assert.notEqual(res.code, 0, args.join(' '));
      refusedBy(res.stderr, 'worker', 'POST /networks/create', message);
    }
    const bodies = [
      '{"Name":"n-raw","options":{"com.docker.network.bridge.name":"docker0"}}',
      '{"Name":"n-raw","Options":{},"OPTIONS":{"com.docker.network.bridge.name":"docker0"}}',
      '{"Name":"n-raw","Driv\\u0065r":"macvlan"}',
      '{"Name":"n-raw","ipam":{"config":[{"subnet":"10.251.0.0/24"}]}}',
    ];
    for (const body of bodies) {
      for (const chunked of [false, true]) {
        assert.match(await rawPost(f, 'worker', `/v${v}/networks/create`, body, { chunked }), /^HTTP\/1\.1 403[\s\S]*DW_BODY_NETWORK/, body);
      }
    }
    assert.deepEqual(await networks(), before, 'the daemon created no network');
    const tenant = await f.docker('tenant', ['network', 'create', 'n-tenant']);
    assert.match(tenant.stderr, /may not POST \/networks\/create \(no rule in role "tenant" allows it/, 'the tenant has no network routes');
    const ok = await f.docker('worker', ['network', 'create', '--internal', '--label', 'team=w', 'n-worker']);
    assert.equal(ok.code, 0, ok.stderr);
    const made = await f.engine.docker(['network', 'inspect', '--format', '{{.Driver}} {{.Internal}} {{index .Labels "team"}}', 'n-worker']);
    assert.equal(made.stdout.trim(), 'bridge true w', made.stderr);
    assert.equal((await f.docker('worker', ['network', 'rm', 'n-worker'])).code, 0);
  });

  it('docker compose: a project with a named volume comes up and goes down as the tenant', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-compose-'));
    try {
      const file = join(dir, 'compose.yaml');
      await writeFile(file, `services:\n  app:\n    image: ${TEST_IMAGE}\n    command: ["sleep", "600"]\n    network_mode: none\n    volumes: [data:/data]\nvolumes:\n  data: {}\n`);
      const up = await f.docker('tenant', ['compose', '-p', 'dwc', '-f', file, 'up', '-d'], { timeoutMs: 60_000 });
      assert.equal(up.code, 0, up.stderr);
      const vol = await f.engine.docker(['volume', 'inspect', '--format', '{{index .Labels "com.docker.compose.project"}}', 'dwc_data']);
      assert.equal(vol.stdout.trim(), 'dwc', vol.stderr);
      const mounts = await f.engine.docker(['inspect', '--format', '{{range .Mounts}}{{.Name}}{{end}} {{json .HostConfig.SecurityOpt}}', 'dwc-app-1']);
      assert.equal(mounts.stdout.trim(), 'dwc_data ["no-new-privileges"]');
      const down = await f.docker('tenant', ['compose', '-p', 'dwc', '-f', file, 'down', '-v'], { timeoutMs: 60_000 });
      assert.equal(down.code, 0, down.stderr);
      assert.ok(!(await volumes()).includes('dwc_data'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
