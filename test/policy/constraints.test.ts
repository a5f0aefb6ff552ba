import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, symlink, rm, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileContainerRules, normalizeCapability, parseSize, type ContainerRulesDoc } from '../../src/policy/constraints/rules.js';
import { checkContainerCreate, checkContainerUpdate, checkExecCreate, checkVolumeCreate, type BodyRefusal, type CheckedBody } from '../../src/policy/constraints/container.js';
import { cleanPath, isWithin, judgeHostPath, resolveHostPath } from '../../src/policy/constraints/host-paths.js';

type Obj = Record<string, unknown>;

const root = await realpath(await mkdtemp(join(tmpdir(), 'dw-cons-')));
const allowedDir = join(root, 'srv');
const readOnlyDir = join(root, 'ro');
const secretDir = join(root, 'secret');
const sock = join(root, 'run', 'docker.sock');
await mkdir(allowedDir);
await mkdir(readOnlyDir);
await mkdir(secretDir);
await mkdir(join(root, 'run'));
await symlink(secretDir, join(allowedDir, 'escape')); // a link inside the allowlist that leaves it
await symlink(join(allowedDir), join(root, 'alias')); // a link outside that points in
test.after(() => rm(root, { recursive: true, force: true }));

const host = { protectedPaths: [join(root, 'run')] };

function rules(doc: ContainerRulesDoc = {}) {
  return compileContainerRules(doc, [
    { path: allowedDir, readOnly: false, subpaths: true },
    { path: readOnlyDir, readOnly: true, subpaths: true },
  ]);
}

const refused = (r: BodyRefusal | CheckedBody | undefined): BodyRefusal => {
  assert.ok(r && 'code' in r, `expected a refusal, got ${JSON.stringify(r)}`);
  return r;
};
const passed = (r: BodyRefusal | CheckedBody): CheckedBody => {
  assert.ok('body' in r, `expected the body to pass, got ${JSON.stringify(r)}`);
  return r;
};

const create = (hostConfig: Obj, extra: Obj = {}) => ({ Image: 'busybox', ...extra, HostConfig: hostConfig });

// [name, HostConfig, code, field] — refused by a role with the defaults (ordinary containers).
const REFUSED: [string, Obj, string, string][] = [
  ['--privileged', { Privileged: true }, 'DW_BODY_PRIVILEGED', 'HostConfig.Privileged'],
  ['--cap-add SYS_ADMIN', { CapAdd: ['SYS_ADMIN'] }, 'DW_BODY_CAPABILITY', 'HostConfig.CapAdd[0]'],
  ['--cap-add ALL', { CapAdd: ['ALL'] }, 'DW_BODY_CAPABILITY', 'HostConfig.CapAdd[0]'],
  ['--cap-add all (Go upper-cases)', { CapAdd: ['all'] }, 'DW_BODY_CAPABILITY', 'HostConfig.CapAdd[0]'],
  ['--cap-add ſys_admin (long s upper-cases to S)', { CapAdd: ['ſys_admin'] }, 'DW_BODY_CAPABILITY', 'HostConfig.CapAdd[0]'],
  ['Capabilities (1.40-1.42)', { Capabilities: ['CAP_SYS_ADMIN'] }, 'DW_BODY_CAPABILITY', 'HostConfig.Capabilities'],
  ['--pid host', { PidMode: 'host' }, 'DW_BODY_NAMESPACE', 'HostConfig.PidMode'],
  ['--network host', { NetworkMode: 'host' }, 'DW_BODY_NAMESPACE', 'HostConfig.NetworkMode'],
  ['--ipc host', { IpcMode: 'host' }, 'DW_BODY_NAMESPACE', 'HostConfig.IpcMode'],
  ['--uts host', { UTSMode: 'host' }, 'DW_BODY_NAMESPACE', 'HostConfig.UTSMode'],
  ['--userns host', { UsernsMode: 'host' }, 'DW_BODY_NAMESPACE', 'HostConfig.UsernsMode'],
  ['--cgroupns host', { CgroupnsMode: 'host' }, 'DW_BODY_NAMESPACE', 'HostConfig.CgroupnsMode'],
  ['--pid container:x', { PidMode: 'container:abc' }, 'DW_BODY_NAMESPACE', 'HostConfig.PidMode'],
  ['--network container:x', { NetworkMode: 'container:abc' }, 'DW_BODY_NAMESPACE', 'HostConfig.NetworkMode'],
  ['--device /dev/sda', { Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] }, 'DW_BODY_DEVICE', 'HostConfig.Devices'],
  ["--device-cgroup-rule 'a *:* rwm'", { DeviceCgroupRules: ['a *:* rwm'] }, 'DW_BODY_DEVICE', 'HostConfig.DeviceCgroupRules'],
  ['--gpus all', { DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] }, 'DW_BODY_DEVICE', 'HostConfig.DeviceRequests'],
  ['seccomp=unconfined', { SecurityOpt: ['seccomp=unconfined'] }, 'DW_BODY_SECURITY_OPT', 'HostConfig.SecurityOpt[0]'],
  ['apparmor=unconfined', { SecurityOpt: ['apparmor=unconfined'] }, 'DW_BODY_SECURITY_OPT', 'HostConfig.SecurityOpt[0]'],
  ['apparmor:unconfined (legacy colon)', { SecurityOpt: ['apparmor:unconfined'] }, 'DW_BODY_SECURITY_OPT', 'HostConfig.SecurityOpt[0]'],
  ['label=disable', { SecurityOpt: ['label=disable'] }, 'DW_BODY_SECURITY_OPT', 'HostConfig.SecurityOpt[0]'],
  ['no-new-privileges=false', { SecurityOpt: ['no-new-privileges=false'] }, 'DW_BODY_SECURITY_OPT', 'HostConfig.SecurityOpt[0]'],
  ['systempaths=unconfined', { SecurityOpt: ['systempaths=unconfined'] }, 'DW_BODY_SECURITY_OPT', 'HostConfig.SecurityOpt[0]'],
  ['writable-cgroups (28.x)', { SecurityOpt: ['writable-cgroups'] }, 'DW_BODY_SECURITY_OPT', 'HostConfig.SecurityOpt[0]'],
  ['MaskedPaths: [] unmasks /proc', { MaskedPaths: [] }, 'DW_BODY_SYSTEM_PATHS', 'HostConfig.MaskedPaths'],
  ['ReadonlyPaths: []', { ReadonlyPaths: [] }, 'DW_BODY_SYSTEM_PATHS', 'HostConfig.ReadonlyPaths'],
  ['--sysctl kernel.shm_rmid_forced', { Sysctls: { 'kernel.shm_rmid_forced': '1' } }, 'DW_BODY_SYSCTL', 'HostConfig.Sysctls.kernel.shm_rmid_forced'],
  ['-v /:/h', { Binds: ['/:/h'] }, 'DW_BODY_HOST_PATH', 'HostConfig.Binds[0]'],
  ['-v /etc:/e', { Binds: ['/etc:/e:ro'] }, 'DW_BODY_HOST_PATH', 'HostConfig.Binds[0]'],
  ['a bind whose link leaves the allowlist', { Binds: [`${allowedDir}/escape:/x`] }, 'DW_BODY_HOST_PATH', 'HostConfig.Binds[0]'],
  ['a bind of a protected path', { Binds: [`${sock}:/s`] }, 'DW_BODY_HOST_PATH', 'HostConfig.Binds[0]'],
  ['a bind of an ancestor of a protected path', { Binds: [`${root}:/r`] }, 'DW_BODY_HOST_PATH', 'HostConfig.Binds[0]'],
  ['a read-write bind of a read-only grant', { Binds: [`${readOnlyDir}:/r`] }, 'DW_BODY_HOST_PATH', 'HostConfig.Binds[0]'],
  ['a bind with rshared propagation', { Binds: [`${allowedDir}:/r:rshared`] }, 'DW_BODY_MOUNT', 'HostConfig.Binds[0]'],
  ['a bind with .. that cleans outside', { Binds: [`${allowedDir}/../secret:/x`] }, 'DW_BODY_HOST_PATH', 'HostConfig.Binds[0]'],
  ['four parts: dockerd refuses it', { Binds: ['/a:/b:ro:x'] }, 'DW_BODY_INVALID', 'HostConfig.Binds[0]'],
  ['--mount type=bind,src=/etc,dst=/e', { Mounts: [{ Type: 'bind', Source: '/etc', Target: '/e' }] }, 'DW_BODY_HOST_PATH', 'HostConfig.Mounts[0].Source'],
  ['--mount type=bind readonly but non-recursive', { Mounts: [{ Type: 'bind', Source: readOnlyDir, Target: '/e', ReadOnly: true, BindOptions: { ReadOnlyNonRecursive: true } }] }, 'DW_BODY_HOST_PATH', 'HostConfig.Mounts[0].Source'],
  ['--mount type=bind,bind-propagation=shared', { Mounts: [{ Type: 'bind', Source: allowedDir, Target: '/e', BindOptions: { Propagation: 'shared' } }] }, 'DW_BODY_MOUNT', 'HostConfig.Mounts[0].BindOptions.Propagation'],
  ['a mount type dockerd would refuse (Bind)', { Mounts: [{ Type: 'Bind', Source: '/', Target: '/e' }] }, 'DW_BODY_MOUNT', 'HostConfig.Mounts[0].Type'],
  ['an npipe mount', { Mounts: [{ Type: 'npipe', Source: 'x', Target: '/e' }] }, 'DW_BODY_MOUNT', 'HostConfig.Mounts[0].Type'],
  [
    'an inline local volume binding /',
    { Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } } }] },
    'DW_BODY_HOST_PATH',
    'HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device',
  ],
  [
    'an inline local tmpfs volume with o=rbind (the kernel binds device, whatever the type)',
    { Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'tmpfs', o: 'size=1m,rbind', device: '/' } } } }] },
    'DW_BODY_HOST_PATH',
    'HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device',
  ],
  [
    'an inline local volume remounting a host mount',
    { Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Options: { type: 'tmpfs', o: 'remount', device: 'tmpfs' } } } }] },
    'DW_BODY_VOLUME_DRIVER',
    'HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.o',
  ],
  [
    'an inline local volume of a block device',
    { Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Options: { type: 'ext4', device: '/dev/sda1' } } } }] },
    'DW_BODY_VOLUME_DRIVER',
    'HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options.device',
  ],
  ['a volume driver plugin', { Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Name: 'sshfs' } } }] }, 'DW_BODY_VOLUME_DRIVER', 'HostConfig.Mounts[0].VolumeOptions.DriverConfig.Name'],
  ['a volume subpath with ..', { Mounts: [{ Type: 'volume', Source: 'v', Target: '/h', VolumeOptions: { Subpath: '../../x' } }] }, 'DW_BODY_MOUNT', 'HostConfig.Mounts[0].VolumeOptions.Subpath'],
  ['--volumes-from', { VolumesFrom: ['other'] }, 'DW_BODY_VOLUMES_FROM', 'HostConfig.VolumesFrom'],
  ['--volume-driver', { VolumeDriver: 'sshfs' }, 'DW_BODY_VOLUME_DRIVER', 'HostConfig.VolumeDriver'],
  ['--runtime', { Runtime: 'runsc' }, 'DW_BODY_RUNTIME', 'HostConfig.Runtime'],
  ['--annotation', { Annotations: { 'io.katacontainers.config': 'x' } }, 'DW_BODY_ANNOTATIONS', 'HostConfig.Annotations'],
  ['--cgroup-parent', { CgroupParent: '/' }, 'DW_BODY_CGROUP_PARENT', 'HostConfig.CgroupParent'],
  ['--oom-score-adj -1000', { OomScoreAdj: -1000 }, 'DW_BODY_OOM_SCORE', 'HostConfig.OomScoreAdj'],
  ['--ulimit nofile', { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }] }, 'DW_BODY_ULIMIT', 'HostConfig.Ulimits[0]'],
  ['--log-driver syslog', { LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'udp://x:514' } } }, 'DW_BODY_LOG_DRIVER', 'HostConfig.LogConfig.Type'],
];

for (const [name, hc, code, field] of REFUSED) {
  test(`refused by default: ${name}`, async () => {
    const r = refused(checkContainerCreate(create(structuredClone(hc)), rules(), host));
    assert.equal(r.code, code, r.message);
    assert.equal(r.field, field);
  });
}

test('refused by default: per-interface sysctls and the host network named in EndpointsConfig', async () => {
  const sysctl = create({}, { NetworkingConfig: { EndpointsConfig: { n1: { DriverOpts: { 'com.docker.network.endpoint.sysctls': 'net.ipv4.conf.IFNAME.forwarding=1' } } } } });
  assert.equal(refused(checkContainerCreate(sysctl, rules(), host)).code, 'DW_BODY_SYSCTL');
  const hostNet = create({}, { NetworkingConfig: { EndpointsConfig: { host: {} } } });
  assert.equal(refused(checkContainerCreate(hostNet, rules(), host)).code, 'DW_BODY_NAMESPACE');
});

// [name, role, HostConfig] — allowed.
const ALLOWED: [string, ContainerRulesDoc, Obj][] = [
  ['an ordinary container', {}, { NetworkMode: 'none', Binds: ['vol:/data', '/anon'] }],
  ['no-new-privileges spelled every way', {}, { SecurityOpt: ['no-new-privileges', 'no-new-privileges=true', 'no-new-privileges:1'] }],
  ['a bind inside the allowlist', {}, { Binds: [`${allowedDir}/sub:/s`] }],
  ['a read-only bind of a read-only grant', {}, { Binds: [`${readOnlyDir}:/r:ro,z`], Mounts: [{ Type: 'bind', Source: readOnlyDir, Target: '/q', ReadOnly: true }] }],
  ['a link that points into the allowlist', {}, { Binds: [`${root}/alias/x:/s`] }],
  ['a tmpfs and an image mount', {}, { Mounts: [{ Type: 'tmpfs', Target: '/t' }, { Type: 'image', Source: 'busybox', Target: '/i' }] }],
  ['capabilities the role allows, any spelling', { capabilities: ['NET_ADMIN', 'CAP_SYS_TIME'] }, { CapAdd: ['net_admin', 'CAP_NET_ADMIN', 'sys_time'] }],
  ['any capability with ALL', { capabilities: ['ALL'] }, { CapAdd: ['ALL', 'SYS_ADMIN'], Capabilities: ['CAP_SYS_ADMIN'] }],
  ['host pid when granted', { hostNamespaces: ['pid'] }, { PidMode: 'host' }],
  ['a security option the role lists', { securityOptions: ['apparmor=docker-*'] }, { SecurityOpt: ['apparmor=docker-default'] }],
  ['sysctls by glob', { sysctls: ['net.ipv4.*'] }, { Sysctls: { 'net.ipv4.ip_forward': '1' } }],
  ['ulimits under the bound', { maxUlimits: { nofile: 4096 } }, { Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 4096 }] }],
];

for (const [name, doc, hc] of ALLOWED) {
  test(`allowed: ${name}`, async () => {
    passed(checkContainerCreate(create(structuredClone(hc)), rules(doc), host));
  });
}

test('a bind through a symlink is forwarded resolved: what was checked is what gets mounted', async () => {
  const r = passed(checkContainerCreate(create({ Binds: [`${root}/alias/x:/s:ro`], Mounts: [{ Type: 'bind', Source: `${root}/alias`, Target: '/m' }] }), rules(), host));
  const hc = r.body.HostConfig as Obj;
  assert.deepEqual(hc.Binds, [`${allowedDir}/x:/s:ro`]);
  assert.equal((hc.Mounts as Obj[])[0]!.Source, allowedDir);
  assert.equal(r.mutations.filter((m) => m.includes('forwarded as')).length, 2);
});

test('enforced defaults narrow the request and never widen it', async () => {
  const role = rules({
    maxMemory: '512m',
    maxPids: 256,
    defaults: { capabilities: ['CHOWN', 'NET_BIND_SERVICE', 'SETUID'], user: '65534:65534', readOnlyRootfs: true, log: { 'max-size': '10m' } },
  });
  const r = passed(checkContainerCreate(create({ CapDrop: ['setuid'], SecurityOpt: ['no-new-privileges=false'] }), rules({ securityOptions: ['no-new-privileges=false'] }), host));
  // The role allowed an explicit no-new-privileges=false, but the default goes last and wins.
  assert.deepEqual((r.body.HostConfig as Obj).SecurityOpt, ['no-new-privileges=false', 'no-new-privileges']);

  const d = passed(checkContainerCreate(create({ CapDrop: ['setuid'], CapAdd: [] }), role, host));
  const hc = d.body.HostConfig as Obj;
  assert.deepEqual(hc.CapDrop, ['ALL']);
  assert.deepEqual(hc.CapAdd, ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'], 'a capability the request dropped is not added back');
  assert.equal(d.body.User, '65534:65534');
  assert.equal(hc.ReadonlyRootfs, true);
  assert.equal(hc.Memory, 512 * 1024 * 1024);
  assert.equal(hc.PidsLimit, 256);
  assert.deepEqual((hc.LogConfig as Obj).Config, { 'max-size': '10m' });

  const dropAll = passed(checkContainerCreate(create({ CapDrop: ['ALL'] }), role, host));
  assert.deepEqual((dropAll.body.HostConfig as Obj).CapAdd, [], 'CapDrop ALL stays ALL');

  const asked = passed(checkContainerCreate(create({ Memory: 1024, PidsLimit: 10 }, { User: 'app' }), role, host));
  assert.equal((asked.body.HostConfig as Obj).Memory, 1024, 'a lower limit the request set is kept');
  assert.equal((asked.body.HostConfig as Obj).PidsLimit, 10);
  assert.equal(asked.body.User, 'app');

  const over = refused(checkContainerCreate(create({ Memory: 1024 ** 3 }), role, host));
  assert.equal(over.code, 'DW_BODY_LIMIT');
});

test('update: devices and limits are checked; exec: privileged and users', () => {
  const role = rules({ maxPids: 100, execUsers: ['', 'app', '1000*'] });
  assert.equal(refused(checkContainerUpdate({ Devices: [{ PathOnHost: '/dev/sda' }] }, role)).code, 'DW_BODY_DEVICE');
  assert.equal(refused(checkContainerUpdate({ PidsLimit: -1 }, role)).code, 'DW_BODY_LIMIT');
  passed(checkContainerUpdate({ PidsLimit: null, Memory: 0 }, role));
  assert.equal(refused(checkExecCreate({ Privileged: true, Cmd: ['sh'] }, role)).code, 'DW_BODY_PRIVILEGED');
  assert.equal(refused(checkExecCreate({ User: 'root' }, role)).code, 'DW_BODY_EXEC_USER');
  passed(checkExecCreate({ User: '1000:1000' }, role));
  passed(checkExecCreate({ Cmd: ['true'] }, role));
});

test('volume create: the local driver binding a host path or a device', async () => {
  const bindRoot = checkVolumeCreate({ Name: 'v', Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: '/' } }, rules(), host);
  assert.equal(bindRoot?.code, 'DW_BODY_HOST_PATH');
  assert.equal(bindRoot?.field, 'DriverOpts.device');
  assert.equal((checkVolumeCreate({ Driver: '', DriverOpts: { type: 'nfs', o: 'addr=127.0.0.1', device: ':/export' } }, rules(), host))?.code, 'DW_BODY_VOLUME_DRIVER');
  assert.equal(checkVolumeCreate({ Name: 'v', DriverOpts: { type: 'none', o: 'bind,ro', device: readOnlyDir } }, rules(), host), undefined);
  assert.equal(checkVolumeCreate({ Name: 'v', DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=10m' } }, rules(), host), undefined);
  assert.equal(checkVolumeCreate({ Name: 'v', ClusterVolumeSpec: { Group: 'g' } }, rules(), host)?.field, 'ClusterVolumeSpec');
  assert.equal(checkVolumeCreate({ Name: 'v', ClusterVolumeSpec: null }, rules(), host), undefined);
});

test('ports: host addresses and ports below 1024', async () => {
  const role = rules({ privilegedPorts: false, hostIPs: ['127.0.0.1'] });
  const low = create({ PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '80' }] } });
  assert.equal(refused(checkContainerCreate(low, role, host)).code, 'DW_BODY_PORT');
  const anyAddr = create({ PortBindings: { '8080/tcp': [{ HostIp: '', HostPort: '8080' }] } });
  assert.equal(refused(checkContainerCreate(anyAddr, role, host)).field, 'HostConfig.PortBindings.8080/tcp[0].HostIp');
  passed(checkContainerCreate(create({ PortBindings: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }, { HostIp: '127.0.0.1', HostPort: '8000-8010' }] } }), role, host));
});

test('below a writable grant only with subpaths: a symlink could replace a checked directory before start', () => {
  const exact = [{ path: allowedDir, readOnly: false, subpaths: false }];
  const below = judgeHostPath(`${allowedDir}/job1`, false, exact, []);
  assert.ok(!below.ok && /below the writable grant/.test(below.reason), JSON.stringify(below));
  assert.ok(judgeHostPath(allowedDir, false, exact, []).ok);
  assert.ok(judgeHostPath(`${allowedDir}/`, false, exact, []).ok, 'a trailing slash is the grant itself');
});

test('host paths: cleaning, segment boundaries, resolution of what does not exist yet', async () => {
  assert.equal(cleanPath('/a//b/../c/'), '/a/c');
  assert.ok(isWithin('/srv/a', '/srv'));
  assert.ok(!isWithin('/srvx', '/srv'));
  assert.ok(isWithin('/anything', '/'));
  assert.equal(resolveHostPath(`${root}/alias/not/yet`), `${allowedDir}/not/yet`);
  const v = judgeHostPath('relative/path', false, [], []);
  assert.ok(!v.ok && /not absolute/.test(v.reason));
});

test('sizes and capability names as docker writes them', () => {
  assert.equal(parseSize('512m'), 512 * 1024 ** 2);
  assert.equal(parseSize('1.5GB'), 1.5 * 1024 ** 3);
  assert.equal(parseSize(42), 42);
  assert.throws(() => parseSize('lots'), /invalid size/);
  assert.equal(normalizeCapability('sys_admin'), 'CAP_SYS_ADMIN');
  assert.equal(normalizeCapability('cap_chown'), 'CAP_CHOWN');
  assert.equal(normalizeCapability('All'), 'ALL');
});

test('build and image-create queries, read as r.FormValue reads them', async () => {
  const { compileRoleRules } = await import('../../src/policy/constraints/rules.js');
  const { checkBuildQuery, checkImageCreateQuery, registryOf } = await import('../../src/policy/constraints/query.js');
  const role = compileRoleRules(rules({ maxMemory: '1g', maxUlimits: { nofile: 1024 } }), { remote: ['https://git.example/'] }, { registries: ['docker.io', 'localhost:5000'] });
  const q = (s: string) => new URLSearchParams(s);
  const code = (r: { code: string } | undefined) => r?.code;
  assert.equal(code(checkBuildQuery(q('networkmode=host'), role)), 'DW_BODY_NAMESPACE');
  assert.equal(code(checkBuildQuery(q('networkmode=none&networkmode=host'), role)), undefined, 'the first value is the one dockerd reads');
  assert.equal(code(checkBuildQuery(q('networkmode=host&networkmode=none'), role)), 'DW_BODY_NAMESPACE');
  assert.equal(code(checkBuildQuery(q('remote=https://evil.example/x.git'), role)), 'DW_BODY_FETCH');
  assert.equal(code(checkBuildQuery(q('remote=https://git.example/repo.git'), role)), undefined);
  assert.equal(code(checkBuildQuery(q('version=2'), role)), 'DW_BODY_BUILDKIT');
  assert.equal(code(checkBuildQuery(q('cgroupparent=/'), role)), 'DW_BODY_CGROUP_PARENT');
  assert.equal(code(checkBuildQuery(q('memory=2147483648'), role)), 'DW_BODY_LIMIT');
  assert.equal(code(checkBuildQuery(q('memory=2e9'), role)), undefined, 'not an integer: dockerd reads 0');
  assert.equal(code(checkBuildQuery(q(`ulimits=${encodeURIComponent('[{"name":"nofile","hard":4096,"soft":1024}]')}`), role)), 'DW_BODY_ULIMIT', 'keys match case-insensitively, as Go decodes them');
  assert.equal(code(checkBuildQuery(q(`ulimits=${encodeURIComponent('[{"Name":"nofile","Hard":1024,"Soft":1024}]')}`), role)), undefined);
  assert.equal(code(checkBuildQuery(q(`ulimits=${encodeURIComponent('[{"Name":"rtprio","Hard":1,"Soft":1}]')}`), role)), 'DW_BODY_ULIMIT');
  assert.equal(code(checkImageCreateQuery(q('fromImage=ghcr.io/x/y&tag=1'), role)), 'DW_BODY_REGISTRY');
  assert.equal(code(checkImageCreateQuery(q('fromImage=busybox'), role)), undefined);
  assert.equal(code(checkImageCreateQuery(q('fromImage=localhost:5000/x'), role)), undefined);
  assert.equal(code(checkImageCreateQuery(q('fromSrc=http://169.254.169.254/latest'), role)), 'DW_BODY_FETCH');
  assert.equal(code(checkImageCreateQuery(q('fromSrc=-&repo=x'), role)), undefined, 'an upload is not a fetch');
  assert.deepEqual(
    ['busybox', 'library/busybox', 'ghcr.io/a/b', 'LOCALHOST:5000/x', 'localhost/x', 'my-registry:443/x', 'Localhost/x', 'Evil/x'].map(registryOf),
    ['docker.io', 'docker.io', 'ghcr.io', 'localhost:5000', 'localhost', 'my-registry:443', 'localhost', 'evil'],
    'an upper-case first component is a domain to distribution/reference',
  );
});

test("a build without a memory limit is forwarded with the role's, however its memory pairs are spelled", async () => {
  const { compileRoleRules } = await import('../../src/policy/constraints/rules.js');
  const { buildTargetWithDefaults } = await import('../../src/policy/constraints/query.js');
  const bounded = compileRoleRules(rules({ maxMemory: '1g' }));
  const withDefault = compileRoleRules(rules({ maxMemory: '1g', defaults: { memory: '256m' } }));
  assert.equal(buildTargetWithDefaults('/v1.41/build', bounded), '/v1.41/build?memory=1073741824');
  assert.equal(buildTargetWithDefaults('/v1.41/build?t=a&memory=0&q=1', bounded), '/v1.41/build?t=a&q=1&memory=1073741824');
  assert.equal(buildTargetWithDefaults('/v1.41/build?memor%79=0&memory=-1&t=a', withDefault), '/v1.41/build?t=a&memory=268435456', 'every spelling of the key goes');
  assert.equal(buildTargetWithDefaults('/v1.41/build?memory=2e9', bounded), '/v1.41/build?memory=1073741824', 'not an integer: dockerd reads 0');
  assert.equal(buildTargetWithDefaults('/v1.41/build?memory=67108864', bounded), '/v1.41/build?memory=67108864', 'a limit of its own (checked against the bound) stays');
  assert.equal(buildTargetWithDefaults('/v1.41/build?memory=0', compileRoleRules(rules())), '/v1.41/build?memory=0', 'no bound, no default: as sent');
});

test('URLs dockerd fetches and registries it contacts: grants by scheme, host and path, never the host loopback through "*"', async () => {
  const { compileRoleRules } = await import('../../src/policy/constraints/rules.js');
  const { urlWithin, registryAllowed, checkAuth } = await import('../../src/policy/constraints/query.js');
  assert.ok(urlWithin('https://git.example/org/repo.git', 'https://git.example/org'));
  assert.ok(!urlWithin('https://git.example/organisation/x', 'https://git.example/org'), 'a segment boundary');
  assert.ok(!urlWithin('http://contexts.example@127.0.0.1:8080/c.tar', 'http://contexts.example'), 'userinfo hides the real host');
  assert.ok(!urlWithin('http://contexts.example\\@127.0.0.1/c.tar', 'http://contexts.example'));
  assert.ok(!urlWithin('http://contexts.example.evil/c.tar', 'http://contexts.example'));
  assert.ok(!urlWithin('git@github.com:org/repo.git', 'https://github.com/org'));
  const any = compileRoleRules(rules());
  assert.ok(registryAllowed('ghcr.io', any));
  for (const local of ['localhost:5000', '127.0.0.1:5000', '[::1]:5000', '169.254.169.254', 'registry.localhost']) assert.ok(!registryAllowed(local, any), local);
  const named = compileRoleRules(rules(), {}, { registries: ['*', 'localhost:5000'] });
  assert.ok(registryAllowed('localhost:5000', named));
  assert.ok(!registryAllowed('127.0.0.1:5000', named));
  assert.equal(checkAuth({ serveraddress: '127.0.0.1:5000', username: 'u' }, any)?.code, 'DW_BODY_REGISTRY');
  assert.equal(checkAuth({ serveraddress: 'https://index.docker.io/v1/' }, any), undefined);
  assert.equal(checkAuth({}, any), undefined, 'Docker Hub when empty');
});
