import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, mkdtemp, writeFile, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEngineDaemon, engineSkipReason, freePort, runDocker, importTestImage, enginePath, testEngineInstall, TEST_IMAGE } from '../harness/engine.js';
import { findDockerd, type Dockerd } from '../../src/daemon/dockerd.js';
import { dockerdKeys, DOCKERD_20_10, DOCKERD_28_5 } from '../../src/daemon/known-keys.js';
import { initCa, issueServer, issueClient, pkiLayout } from '../../src/pki/index.js';
import { startCandidateDaemon, validateCandidate, type CandidateDaemon } from '../../src/daemon/validate.js';
import { releaseMountsUnder } from '../../src/engine/private-daemon.js';
import { DaemonStartError } from '../../src/engine/private-daemon.js';
import { pingSocket } from '../../src/engine/engine-client.js';
import { readDockerUnit, dockerdFlags, DOCKWARD_DROP_IN } from '../../src/daemon/systemd-unit.js';
import { computePlan } from '../../src/daemon/plan.js';
import { makeRoot } from './root.js';
import { guardHostFiles, type HostFiles } from '../harness/host-files.js';
import { parseSubIds } from '../../src/daemon/subids.js';

/**
 * The issue's acceptance, end to end with a real dockerd: apply the hardened profile with TLS
 * and userns-remap to a root made from the stock Debian unit, start dockerd with what was
 * written, talk to it through the TLS port with a dockward client bundle, then roll back.
 */
const skip = engineSkipReason();
const execFileP = promisify(execFile);
const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, ['--import', 'tsx', MAIN, ...args], { maxBuffer: 16 << 20, env: { ...process.env, PATH: enginePath() } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The dockerd under test, as `dockward daemon` finds it on the harness's PATH. */
async function engineDockerd(): Promise<Dockerd> {
  const d = await findDockerd(enginePath());
  assert.ok(d, `no dockerd on ${enginePath()}`);
  return d;
}

/** What a test passes to run the candidate daemon on the engine under test (with its own containerd). */
async function candidateEngine() {
  return { dockerd: await engineDockerd(), binDirs: testEngineInstall().binDirs };
}

/**
 * The host files dockerd changes for userns-remap "default" (useradd dockremap, usermod -v/-w),
 * with the backups useradd keeps: saved, and restored byte for byte however the tests end.
 */
const HOST_ID_FILES = ['passwd', 'group', 'shadow', 'gshadow', 'subuid', 'subgid'].flatMap((f) => [`/etc/${f}`, `/etc/${f}-`]);
/** What the plan reads of the host's users and subordinate ids: a root is made from the host's own. */
const ID_FILES = ['/etc/passwd', '/etc/group', '/etc/subuid', '/etc/subgid'];

const hostIdFiles = async () => Object.fromEntries(await Promise.all(ID_FILES.map(async (f) => [f, await readFile(f, 'utf8').catch(() => '')] as const)));

/** The remap user's one range in a subuid/subgid text; fails on none or on more than one. */
function onlyRange(text: string, user = 'dockremap'): { start: number; count: number } {
  const own = parseSubIds(text).ranges.filter((r) => r.name === user);
  assert.equal(own.length, 1, `exactly one ${user} range expected:\n${text}`);
  return own[0]!;
}

describe('daemon apply --profile hardened --tls on the stock Debian unit, with a real dockerd', { skip }, () => {
  const ORIGINAL = '{\n  "max-concurrent-uploads": 3,\n  "labels": ["team=ci"],\n  "debug": false\n}\n';
  let root: string;
  let pki: string;
  let port: number;
  let daemon: CandidateDaemon | undefined;
  let host: HostFiles | undefined;
  let hostIds: Record<string, string>;

  before(async () => {
    host = await guardHostFiles(HOST_ID_FILES);
    pki = await mkdtemp(join(tmpdir(), 'dw-dpki-'));
    await initCa({ dir: pki, onWarning: () => undefined });
    await issueServer({ dir: pki, hosts: ['localhost'], ips: ['127.0.0.1'], onWarning: () => undefined });
    await issueClient({ dir: pki, name: 'ci', onWarning: () => undefined });
    // The target is this host's users and subordinate ids as they are (a dockremap entry from an
    // earlier userns-remap dockerd included), since the real dockerd below runs with this host's.
    hostIds = await hostIdFiles();
    root = await makeRoot({ '/etc/docker/daemon.json': ORIGINAL, ...hostIds });
    port = await freePort();
  });

  after(async () => {
    await daemon?.stop();
    await host?.restore();
    await Promise.all([root, pki].map((d) => d && rm(d, { recursive: true, force: true })));
  });

  test('apply validates with dockerd, writes the files; dockerd starts with them; TLS, userns and the settings are in effect; rollback restores the bytes', async (t) => {
    const apply = await cli([
      'daemon', 'apply', '--root', root, '--profile', 'hardened', '--tls', '--listen', `tcp://127.0.0.1:${port}`,
      '--userns-remap', 'default', '--pki', pki, '--yes',
    ]);
    assert.equal(apply.code, 0, apply.stderr + apply.stdout);
    assert.match(apply.stdout, /Validated: a throw-away dockerd \S+ started with this daemon\.json and the unit's dockerd flags, without --containerd from the unit: the host's containerd/);
    // Where the dockerd has --validate (23.0+), the whole configuration went through it too.
    if ((await engineDockerd()).canValidate) assert.match(apply.stdout, /Validated: `dockerd --validate` \(\S+, \S+\) accepts this daemon\.json and the unit's dockerd flags, without userns-remap\./);
    assert.match(apply.stdout, /To take effect, run on the target system: systemctl daemon-reload && systemctl restart docker/);

    const written = await readFile(join(root, 'etc/docker/daemon.json'), 'utf8');
    const config = JSON.parse(written) as Record<string, unknown>;
    // Unrelated keys survive with their values.
    assert.equal(config['max-concurrent-uploads'], 3);
    assert.deepEqual(config.labels, ['team=ci']);
    assert.equal(config.debug, false);
    assert.deepEqual(config.hosts, ['fd://', `tcp://127.0.0.1:${port}`]);
    // The unit as systemd resolves it no longer passes -H: the drop-in wins.
    const unit = await readDockerUnit(root);
    assert.equal(unit.execStart?.source, DOCKWARD_DROP_IN);
    assert.deepEqual(dockerdFlags(unit.execStart!, unit.env).map((f) => f.name), ['containerd']);
    // One dockremap range per file: the host's own when it had one, else a new one after every other.
    const subuid = await readFile(join(root, 'etc/subuid'), 'utf8');
    const subgid = await readFile(join(root, 'etc/subgid'), 'utf8');
    const uids = onlyRange(subuid);
    const gids = onlyRange(subgid);
    for (const [f, text] of [['/etc/subuid', subuid], ['/etc/subgid', subgid]] as const) {
      const had = parseSubIds(hostIds[f]!).ranges.some((r) => r.name === 'dockremap');
      if (had) assert.equal(text, hostIds[f], `${f}: the host's dockremap range is reused`);
      else assert.ok(text.startsWith(hostIds[f]!), `${f}: only a dockremap line may be added:\n${text}`);
    }
    assert.equal((await stat(join(root, 'etc/docker/pki/server-key.pem'))).mode & 0o777, 0o400);

    // The real dockerd, on this host, with the produced daemon.json and subordinate ids (dockerd
    // itself adds the dockremap user when it is missing), TCP as written, iptables on for
    // icc: false, and the local socket private (fd:// exists only under systemd).
    await writeFile('/etc/subuid', subuid);
    await writeFile('/etc/subgid', subgid);
    // iptables on (needed for icc: false) rewrites the host's DOCKER chains: only where no system
    // dockerd owns them (CI's throw-away machine), never under a developer's running Docker.
    const systemDocker = await pingSocket('/var/run/docker.sock');
    if (systemDocker) t.diagnostic('a system dockerd is running: icc and userland-proxy were not started with iptables here');
    daemon = await startCandidateDaemon(config, { root, keepTcp: true, keepUserns: true, iptables: !systemDocker, ...(await candidateEngine()) });
    assert.deepEqual(daemon.notValidated.filter((n) => /userns|TCP/.test(n) || (!systemDocker && /icc/.test(n))), []);

    const bundle = pkiLayout(pki).clientDir('ci');
    const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle };
    const info = await runDocker(['info', '--format', '{{json .}}'], { env });
    assert.equal(info.code, 0, info.stderr);
    const i = JSON.parse(info.stdout) as { SecurityOptions: string[]; LiveRestoreEnabled: boolean; LoggingDriver: string; Labels: string[]; DockerRootDir: string };
    assert.ok(i.SecurityOptions.includes('name=userns'), i.SecurityOptions.join(','));
    assert.equal(i.LiveRestoreEnabled, true);
    assert.equal(i.LoggingDriver, 'json-file');
    assert.deepEqual(i.Labels, ['team=ci']);
    assert.ok(i.DockerRootDir.endsWith(`/${uids.start}.${gids.start}`), i.DockerRootDir);
    // Without a client certificate the TLS port refuses.
    const anon = await runDocker(['version'], { env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
    assert.notEqual(anon.code, 0);

    // Root in a container is the first host id of the range: the remap is in effect, not only configured.
    await importTestImage(daemon.socketPath);
    const run = await runDocker(['run', '--rm', '--network', 'none', TEST_IMAGE, 'cat', '/proc/self/uid_map', '/proc/self/status'], { env });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^\\s*0\\s+${uids.start}\\s+65536\\n`));
    // no-new-privileges is not listed by `docker info` in 20.10: the kernel flag shows it took effect.
    assert.match(run.stdout, /^NoNewPrivs:\s+1$/m);
    const logOpts = await runDocker(['run', '--network', 'none', '--name', 'logs', TEST_IMAGE, 'true'], { env });
    assert.equal(logOpts.code, 0, logOpts.stderr);
    const cfg = await runDocker(['inspect', '--format', '{{json .HostConfig.LogConfig}}', 'logs'], { env });
    assert.deepEqual(JSON.parse(cfg.stdout), { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '10m' } });
    await daemon.stop();
    daemon = undefined;

    const rb = await cli(['daemon', 'rollback', '--root', root]);
    assert.equal(rb.code, 0, rb.stderr);
    assert.equal(await readFile(join(root, 'etc/docker/daemon.json'), 'utf8'), ORIGINAL);
    assert.equal(await readFile(join(root, 'etc/subuid'), 'utf8'), hostIds['/etc/subuid']);
    await assert.rejects(stat(join(root, DOCKWARD_DROP_IN)), /ENOENT/);
    await assert.rejects(stat(join(root, 'etc/docker/pki')), /ENOENT/);
  });

  test("on a host where dockerd's userns-remap already made the dockremap entries, apply reuses them and containers start", async () => {
    // dockerd itself, on this host: it adds the user and usermod's ranges when they are missing.
    const first = await startEngineDaemon({ args: ['--userns-remap', 'default'] });
    await first.stop();
    const ids = await hostIdFiles();
    const uids = onlyRange(ids['/etc/subuid']!);
    onlyRange(ids['/etc/subgid']!);
    const r = await makeRoot({ '/etc/docker/daemon.json': '{}\n', ...ids });
    try {
      const apply = await cli(['daemon', 'apply', '--root', r, '--userns-remap', 'default', '--yes']);
      assert.equal(apply.code, 0, apply.stderr + apply.stdout);
      assert.doesNotMatch(apply.stdout, /^--- a\/etc\/sub[ug]id|add dockremap:/m);
      for (const f of ['/etc/subuid', '/etc/subgid']) assert.equal(await readFile(join(r, f), 'utf8'), ids[f]);
      // The produced configuration runs a container with this host's files: a second range would
      // make this fail ("can't get final child's PID from pipe").
      const config = JSON.parse(await readFile(join(r, 'etc/docker/daemon.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(config['userns-remap'], 'default');
      daemon = await startCandidateDaemon(config, { root: r, keepUserns: true, ...(await candidateEngine()) });
      await importTestImage(daemon.socketPath);
      const run = await runDocker(['-H', `unix://${daemon.socketPath}`, 'run', '--rm', '--network', 'none', TEST_IMAGE, 'cat', '/proc/self/uid_map']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^\\s*0\\s+${uids.start}\\s+65536\\n`));
    } finally {
      await daemon?.stop();
      daemon = undefined;
      await rm(r, { recursive: true, force: true });
    }
  });

  test('a configuration dockerd refuses is caught by validation and nothing is written', async () => {
    // "default-shm-size" is a known key, so only dockerd itself can tell this value is wrong.
    const bad = '{\n  "default-shm-size": "lots"\n}\n';
    const r = await makeRoot({ '/etc/docker/daemon.json': bad });
    try {
      const res = await cli(['daemon', 'apply', '--root', r, '--yes']);
      assert.equal(res.code, 1);
      // dockerd 20.10 refuses it when it starts; 23.0+ already in `dockerd --validate`.
      assert.match(res.stderr, /^dockward: dockerd refuses this configuration: (dockerd exited during start \(code 1\)|dockerd --validate refuses it): unable to configure the Docker daemon with file the candidate daemon\.json: (invalid JSON: )?invalid size: 'lots'/);
      assert.equal(await readFile(join(r, 'etc/docker/daemon.json'), 'utf8'), bad);
      await assert.rejects(stat(join(r, 'var/lib/dockward')), /ENOENT/);
    } finally {
      await rm(r, { recursive: true, force: true });
    }
  });

  test('log options dockerd checks only when a container starts are caught by validation too', async () => {
    // dockerd 20.10 starts with this file; then every container fails with "failed to initialize logging driver".
    const bad = '{\n  "log-opts": {\n    "max-size": "lots"\n  }\n}\n';
    const r = await makeRoot({ '/etc/docker/daemon.json': bad });
    try {
      const res = await cli(['daemon', 'apply', '--root', r, '--yes']);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.match(res.stderr, /^dockward: dockerd refuses this configuration: a container cannot start with it: (failed to create task for container: )?failed to initialize logging driver: invalid size: 'lots'/);
      assert.equal(await readFile(join(r, 'etc/docker/daemon.json'), 'utf8'), bad);
      await assert.rejects(stat(join(r, 'var/lib/dockward')), /ENOENT/);
    } finally {
      await rm(r, { recursive: true, force: true });
    }
  });
});

describe("the refusals plan reports are dockerd's own", { skip }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-refuse-'));
    await initCa({ dir, onWarning: () => undefined });
    await issueServer({ dir, hosts: ['localhost'], ips: ['127.0.0.1'], onWarning: () => undefined });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** dockerd's reason for refusing this daemon.json (with the private daemon's own -H and --iptables=false flags). */
  async function refusal(config: Record<string, unknown> | string): Promise<string> {
    const name = typeof config === 'string' ? 'raw' : Object.keys(config).join('-');
    const file = join(dir, `${name}.json`);
    await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config));
    // Our own data-root: dockerd leaves its bind mount of it behind when it refuses to start.
    const dataRoot = join(dir, `data-${name}`);
    try {
      const d = await startEngineDaemon({ args: ['--config-file', file, '--data-root', dataRoot] });
      await d.stop();
      return 'started';
    } catch (e) {
      assert.ok(e instanceof DaemonStartError, String(e));
      return e.message;
    } finally {
      await releaseMountsUnder(dataRoot);
    }
  }

  // The last column is what dockerd 28.5 does where it differs from 20.10.
  for (const [name, config, planned, refused, newer] of [
    ['an unknown key', { 'bogus-key': 1 }, /unknown key "bogus-key"/, /the following directives don't match any configuration option: bogus-key/, undefined],
    ['hosts with -H on the command line', { hosts: ['unix:///run/dw-unused.sock'] }, /ExecStart passes -H fd:\/\/ while daemon\.json has "hosts"/, /the following directives are specified both as a flag and in the configuration file: hosts/, undefined],
    ['icc: false without iptables', { icc: false }, /icc: false with iptables disabled/, /You specified --iptables=false with --icc=false\. ICC=false uses iptables to function/, undefined],
    ['an empty daemon.json', ' \n', /the file is empty: dockerd 20\.10 refuses to start .*EOF.*; dockerd 28\.5 reads it as no settings/, /unable to configure the Docker daemon with file .*: EOF/, /^started$/],
  ] as const) {
    test(name, async () => {
      // The plan side: the same setting on a stock Debian root (where -H fd:// and, for icc, --iptables=false come from the unit).
      const r = await makeRoot({
        '/etc/docker/daemon.json': typeof config === 'string' ? config : JSON.stringify(config),
        '/etc/default/docker': name.startsWith('icc') ? 'DOCKER_OPTS="--iptables=false"\n' : '',
      });
      try {
        const res = await cli(['daemon', 'plan', '--root', r, '--json']);
        const plan = JSON.parse(res.stdout) as { problems: { message: string }[] };
        assert.ok(plan.problems.some((p) => planned.test(p.message)), res.stdout);
      } finally {
        await rm(r, { recursive: true, force: true });
      }
      assert.match(await refusal(config), newer && (await engineDockerd()).major >= 28 ? newer : refused);
    });
  }

  test("the key table plan uses for this dockerd is the dockerd's own: all known, the other version's extra keys refused", async () => {
    const keys = dockerdKeys((await engineDockerd()).major);
    const other = keys === DOCKERD_20_10 ? DOCKERD_28_5 : DOCKERD_20_10;
    const extra = [...other.known].filter((k) => !keys.known.has(k)).sort();
    assert.ok(extra.length);
    const said = await refusal(JSON.stringify(Object.fromEntries([...keys.known, ...extra].map((k) => [k, 'x']))));
    const unknown = /don't match any configuration option: (.*)$/.exec(said)?.[1];
    assert.deepEqual(unknown?.split(', ').sort(), extra, said);
  });

  test('a duplicate key: dockerd starts, and the last value is the one in effect', async () => {
    const file = join(dir, 'duplicate.json');
    await writeFile(file, '{"labels": ["first=1"], "labels": ["last=1"]}');
    const dataRoot = join(dir, 'data-duplicate');
    const d = await startEngineDaemon({ args: ['--config-file', file, '--data-root', dataRoot] });
    try {
      const info = await runDocker(['-H', `unix://${d.socketPath}`, 'info', '--format', '{{json .Labels}}']);
      assert.deepEqual(JSON.parse(info.stdout), ['last=1']);
    } finally {
      await d.stop();
      await releaseMountsUnder(dataRoot);
    }
  });

  test('validation loads the TLS files: a key that is not the certificate\'s is refused by dockerd, named by its target path', async () => {
    const server = pkiLayout(dir).serverDir;
    // An address without a scheme is TCP to dockerd (and to the plan): it is tried with TLS, not called a local socket.
    const cfg = { tlsverify: true, tlscacert: '/etc/docker/pki/ca.pem', tlscert: '/etc/docker/pki/server-cert.pem', tlskey: '/etc/docker/pki/server-key.pem', hosts: ['fd://', '127.0.0.1:2376'] };
    const staged = async (key: Buffer) => [
      { path: '/etc/docker/pki/ca.pem', after: await readFile(join(server, 'ca.pem')), mode: 0o444 },
      { path: '/etc/docker/pki/server-cert.pem', after: await readFile(join(server, 'server-cert.pem')), mode: 0o444 },
      { path: '/etc/docker/pki/server-key.pem', after: key, mode: 0o400 },
    ];
    const good = await validateCandidate(cfg, { root: dir, staged: await staged(await readFile(join(server, 'server-key.pem'))), ...(await candidateEngine()) });
    assert.ok(good.ok);
    assert.deepEqual(good.notValidated, ['the local sockets in "hosts" (fd:// works only under systemd)', 'the TCP addresses 127.0.0.1:2376 (TLS was tried on 127.0.0.1)']);
    const otherKey = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const bad = await validateCandidate(cfg, { root: dir, staged: await staged(otherKey), ...(await candidateEngine()) });
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? '' : bad.reason, /cert: "\/etc\/docker\/pki\/server-cert\.pem", key: "\/etc\/docker\/pki\/server-key\.pem"\): tls: private key does not match public key/);
  });
});

describe("validation starts dockerd with the unit's own flags", { skip }, () => {
  const roots: string[] = [];
  const root = async (files: Record<string, string>) => {
    const r = await makeRoot(files);
    roots.push(r);
    return r;
  };
  after(async () => {
    await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
  });

  test('a flag that cannot go with a daemon.json key the plan keeps: apply refuses with dockerd\'s reason, nothing written', async () => {
    // --icc=false from DOCKER_OPTS with the user's "iptables": false: dockerd refuses only when it starts.
    const cfg = '{\n  "iptables": false\n}\n';
    const r = await root({ '/etc/docker/daemon.json': cfg, '/etc/default/docker': 'DOCKER_OPTS="--icc=false"\n' });
    const res = await cli(['daemon', 'apply', '--root', r, '--profile', 'baseline', '--yes']);
    assert.equal(res.code, 1, res.stdout + res.stderr);
    assert.match(res.stderr, /^dockward: dockerd refuses this configuration: dockerd exited during start \(code 1\): .*You specified --iptables=false with --icc=false\. ICC=false uses iptables to function/);
    assert.equal(await readFile(join(r, 'etc/docker/daemon.json'), 'utf8'), cfg);
    await assert.rejects(stat(join(r, 'var/lib/dockward')), /ENOENT/);
  });

  test('a key given both as a flag on the unit and in daemon.json: the plan blocks, and the throw-away dockerd refuses it too', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{"log-level": "info"}\n', '/etc/default/docker': 'DOCKER_OPTS="--log-level=debug"\n' });
    const plan = await computePlan({ root: r, profile: 'baseline', tls: false, listen: [], insecureTcp: false });
    assert.ok(plan.problems.some((p) => p.severity === 'blocking' && /"log-level" is set both/.test(p.message)));
    const res = await validateCandidate(plan.config, { root: r, staged: plan.files, flags: plan.flags, ...(await candidateEngine()) });
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.reason, /the following directives are specified both as a flag and in the configuration file: log-level: \(from flag: debug, from file: info\)/);
  });

  test('harmless flags validate; the ones that must stay private are named as not validated', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{}\n', '/etc/default/docker': 'DOCKER_OPTS="--log-level=info --pidfile /run/other.pid"\n' });
    const res = await cli(['daemon', 'apply', '--root', r, '--profile', 'baseline', '--yes']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /Validated: a throw-away dockerd \S+ started with this daemon\.json and the unit's dockerd flags, without --containerd from the unit: the host's containerd \(the throw-away daemon runs its own\); --pidfile from the unit: the host's pidfile; the local sockets in the unit's -H \(fd:\/\/ works only under systemd\)\./);
  });
});
