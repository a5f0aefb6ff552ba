import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, mkdtemp, mkdir, writeFile, readdir, stat, symlink, readlink, chmod } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { computePlan, type PlanOptions } from '../../src/daemon/plan.js';
import { renderPlan } from '../../src/daemon/render.js';
import { applyPlan, rollback } from '../../src/daemon/apply.js';
import { readDockerUnit, dockerdFlags, DOCKWARD_DROP_IN } from '../../src/daemon/systemd-unit.js';
import { initCa, issueServer } from '../../src/pki/index.js';
import { UsageError } from '../../src/util/errors.js';
import { makeRoot, FIXTURES } from './root.js';

const execFileP = promisify(execFile);
const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, DOCKWARD_PKI: '/nonexistent' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const roots: string[] = [];
async function root(files: Record<string, string> = {}, opts?: { stockUnit?: boolean }): Promise<string> {
  const r = await makeRoot(files, opts);
  roots.push(r);
  return r;
}
after(async () => {
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});

const opts = (r: string, more: Partial<PlanOptions> = {}): PlanOptions => ({
  root: r,
  profile: 'hardened',
  tls: false,
  listen: [],
  configPath: '/etc/docker/daemon.json',
  insecureTcp: false,
  ...more,
});

describe('daemon plan: problems with their fix', () => {
  test("the seeds' commented daemon.json: comments reported, the plan writes strict JSON", async () => {
    const seed = await readFile(join(FIXTURES, 'seed-commented-daemon.json'), 'utf8');
    const r = await root({ '/etc/docker/daemon.json': seed });
    const res = await cli(['daemon', 'plan', '--root', r, '--profile', 'hardened']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /\/etc\/docker\/daemon\.json: comments on lines 2, 3, 4, 8, 10, 11 \(JSON has none\): dockerd reads strict JSON and refuses to start\n\s+fix: dockward removes them/);
    const plan = await computePlan(opts(r));
    const written = plan.files.find((f) => f.path === '/etc/docker/daemon.json')!.after.toString();
    const parsed = JSON.parse(written) as Record<string, unknown>;
    // The user's log driver and its options are kept; nothing of theirs is lost.
    assert.equal(parsed['log-driver'], 'local');
    assert.equal(parsed.tlskey, '/etc/docker/pki/server-key.pem');
    assert.ok(!written.includes('//'));
    // Only the comments go: the user's one-line log-opts stays as written.
    assert.match(written, /^ {2}"log-opts": \{ "max-size": "10m", "max-file": "3" \},$/m);
  });

  test('a flag\'s name used as a key ("host", as the seeds write it) is reported: dockerd ignores it without a word', async () => {
    // dockerd 20.10 starts with {"host": [...], "label": [...]} and neither listens there nor sets the labels.
    const r = await root({ '/etc/docker/daemon.json': '{"host": ["tcp://192.168.1.10:2375"], "label": ["team=ci"]}\n' });
    const plan = await computePlan(opts(r, { profile: 'baseline' }));
    for (const [key, name] of [['host', 'hosts'], ['label', 'labels']]) {
      const p = plan.problems.find((x) => x.message.startsWith(`"${key}" `));
      assert.ok(p && /dockerd reads "[a-z]+" and ignores/.test(p.message) && p.fix.includes(`rename it to "${name}"`), renderPlan(plan));
    }
  });

  test('a duplicate key is called ambiguous, not fatal: dockerd starts with it and the last value wins', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{\n  "labels": ["a=1"],\n  "debug": true,\n  "labels": ["b=2"]\n}\n' });
    const plan = await computePlan(opts(r, { profile: 'baseline' }));
    const p = plan.problems.find((x) => /duplicate key/.test(x.message));
    assert.equal(p?.severity, 'fixed', renderPlan(plan));
    assert.equal(p?.message, 'duplicate key "labels" on line 4: ambiguous; dockerd starts with it, uses the last value and ignores the earlier one without a word');
    assert.match(p?.fix ?? '', /with the value dockerd uses \(the last\): check that it is the one you meant/);
    assert.deepEqual(JSON.parse(plan.files.find((f) => f.path === '/etc/docker/daemon.json')!.after.toString()).labels, ['b=2']);
  });

  test('a byte order mark (Windows editors add one) is reported and removed; the rest is kept as written', async () => {
    const r = await root({ '/etc/docker/daemon.json': '\ufeff{\n  "debug": true\n}\n' });
    const plan = await computePlan(opts(r, { profile: 'baseline' }));
    // dockerd 20.10: "invalid character 'ï' looking for beginning of value".
    assert.ok(plan.problems.some((p) => p.severity === 'fixed' && /byte order mark on line 1: dockerd reads strict JSON and refuses to start/.test(p.message)), renderPlan(plan));
    const written = plan.files.find((f) => f.path === '/etc/docker/daemon.json')!.after.toString();
    assert.match(written, /^\{\n {2}"debug": true,\n/);
  });

  test('an empty daemon.json (0 bytes, or only blanks) is reported, and the plan rewrites it', async () => {
    for (const empty of ['', ' \n\t\n']) {
      const r = await root({ '/etc/docker/daemon.json': empty });
      const plan = await computePlan(opts(r, { profile: 'baseline' }));
      const p = plan.problems.find((x) => /the file is empty/.test(x.message));
      assert.ok(p && p.severity === 'fixed' && /EOF/.test(p.message) && /writes a complete daemon\.json/.test(p.fix), renderPlan(plan));
      const written = plan.files.find((f) => f.path === '/etc/docker/daemon.json');
      assert.equal(written?.before?.toString(), empty);
      assert.equal(typeof JSON.parse(written.after.toString()), 'object');
    }
    const missing = await computePlan(opts(await root(), { profile: 'baseline' }));
    assert.ok(!missing.problems.some((x) => /empty/.test(x.message)), 'a missing file is not an empty one');
  });

  test("keys are checked against the dockerd found: a key only the other version knows blocks there, and is a warning when no dockerd says which", async () => {
    const r = await root({ '/etc/docker/daemon.json': '{"log-format": "json", "graph": "/srv/docker", "bogus-key": 1}\n' });
    const of = (plan: Awaited<ReturnType<typeof computePlan>>, key: string) => plan.problems.find((p) => p.message.includes(`"${key}"`));
    const old = await computePlan(opts(r, { dockerd: { major: 20, version: '20.10.24', path: '/usr/sbin/dockerd' } }));
    assert.equal(of(old, 'log-format')?.severity, 'blocking');
    assert.match(of(old, 'log-format')?.fix ?? '', /exists from dockerd 25\.0 on; dockerd 20\.10 refuses it/);
    assert.equal(of(old, 'graph'), undefined);
    assert.match(renderPlan(old), /daemon\.json keys checked against dockerd 20\.10\.24 \(\/usr\/sbin\/dockerd\)\.\n$/);
    const newest = await computePlan(opts(r, { dockerd: { major: 28, version: '28.5.2', path: '/x/dockerd' } }));
    assert.equal(of(newest, 'log-format'), undefined);
    assert.equal(of(newest, 'graph')?.severity, 'blocking');
    assert.match(of(newest, 'graph')?.fix ?? '', /use "data-root"/);
    const none = await computePlan(opts(r));
    assert.equal(of(none, 'log-format')?.severity, 'warning');
    assert.match(of(none, 'log-format')?.message ?? '', /is a key of dockerd 28\.5, but dockerd 20\.10 refuses it, and there is no dockerd here/);
    assert.equal(of(none, 'graph')?.severity, 'warning');
    for (const plan of [old, newest, none]) assert.equal(of(plan, 'bogus-key')?.severity, 'blocking');
  });

  test('unknown keys block apply, with a did-you-mean', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{"live-restor": true, "icc": false, "bogus-key": 1}\n' });
    const res = await cli(['daemon', 'plan', '--root', r]);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /\[BLOCKS APPLY\] \/etc\/docker\/daemon\.json: unknown key "live-restor": dockerd refuses to start \("the following directives don't match any configuration option"\)\n\s+fix: did you mean "live-restore"\?/);
    assert.match(res.stdout, /unknown key "bogus-key"/);
    const json = JSON.parse((await cli(['daemon', 'plan', '--root', r, '--json'])).stdout) as { blocking: boolean; problems: { message: string }[] };
    assert.equal(json.blocking, true);
    const apply = await cli(['daemon', 'apply', '--root', r, '--yes', '--no-validate']);
    assert.equal(apply.code, 1);
    assert.match(apply.stderr, /^dockward: 2 problems must be fixed first: unknown key/);
  });

  test('hosts in daemon.json with -H fd:// on the stock unit: found, and the drop-in that resolves it is planned', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{\n  "hosts": ["unix:///var/run/docker.sock"]\n}\n' });
    const res = await cli(['daemon', 'plan', '--root', r, '--profile', 'baseline']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /\[fixed by this plan\] \/lib\/systemd\/system\/docker\.service: ExecStart passes -H fd:\/\/ while daemon\.json has "hosts": dockerd refuses to start/);
    assert.match(res.stdout, /fix: dockward writes \/etc\/systemd\/system\/docker\.service\.d\/zz-dockward\.conf/);
    // The drop-in freezes the packaged command line: the plan says so, and how to undo it.
    assert.match(res.stdout, /while the drop-in exists, a package update that changes ExecStart in \/lib\/systemd\/system\/docker\.service has no effect/);
    assert.match(res.stdout, /run `dockward daemon rollback`, or delete \/etc\/systemd\/system\/docker\.service\.d\/zz-dockward\.conf and run `systemctl daemon-reload`/);
    const plan = await computePlan(opts(r, { profile: 'baseline' }));
    assert.deepEqual(plan.config.hosts, ['unix:///var/run/docker.sock', 'fd://']);
    const dropIn = plan.files.find((f) => f.path === DOCKWARD_DROP_IN)!;
    assert.match(dropIn.after.toString(), /\[Service\]\nExecStart=\nExecStart=\/usr\/sbin\/dockerd --containerd=\/run\/containerd\/containerd\.sock \$DOCKER_OPTS\n/);
    // Validation gets the flags of the ExecStart the drop-in will put in effect: no -H any more.
    assert.deepEqual(plan.flags.map((f) => `${f.name}=${f.value}`), ['containerd=/run/containerd/containerd.sock']);
    // Applied, the unit as systemd resolves it passes no -H any more.
    await applyPlan(plan);
    const unit = await readDockerUnit(r);
    assert.equal(unit.execStart?.source, DOCKWARD_DROP_IN);
    assert.deepEqual(dockerdFlags(unit.execStart!, unit.env).filter((f) => f.name === 'host'), []);
    const again = await computePlan(opts(r, { profile: 'baseline' }));
    assert.deepEqual(again.files, [], 'a second plan has nothing left to do');
  });

  test('-H in DOCKER_OPTS cannot be fixed by a drop-in: blocking, with the file to edit', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{"hosts": ["fd://"]}', '/etc/default/docker': 'DOCKER_OPTS="-H tcp://127.0.0.1:2375"\n' });
    const plan = await computePlan(opts(r, { profile: 'baseline', insecureTcp: true }));
    const p = plan.problems.find((x) => x.severity === 'blocking' && /DOCKER_OPTS/.test(x.fix));
    assert.ok(p, renderPlan(plan));
  });

  test('without --tls a plain TCP listener is refused, with the reason (exit 2)', async () => {
    const r = await root();
    const res = await cli(['daemon', 'plan', '--root', r, '--listen', 'tcp://0.0.0.0:2375']);
    assert.equal(res.code, 2);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^dockward: refusing to listen on tcp:\/\/0\.0\.0\.0:2375 without TLS: anyone who reaches a plain TCP Docker port is root on this host \(add --tls/);
    await assert.rejects(computePlan(opts(r, { listen: ['tcp://0.0.0.0:2375'] })), UsageError);
    // An existing plain listener in the file is a blocking problem too.
    const r2 = await root({ '/etc/docker/daemon.json': '{"hosts": ["tcp://0.0.0.0:2375"]}' }, { stockUnit: false });
    const plan = await computePlan(opts(r2));
    assert.ok(plan.problems.some((p) => p.severity === 'blocking' && /without tlsverify/.test(p.message)));
    assert.ok((await computePlan(opts(r2, { insecureTcp: true }))).problems.every((p) => p.severity !== 'blocking'));
    // Where tlsverify is already on with the user's own certificates, another listener is TLS too: no --tls needed.
    const own = '{"tlsverify": true, "tlscacert": "/srv/ca.pem", "tlscert": "/srv/cert.pem", "tlskey": "/srv/key.pem"}\n';
    const withTls = await computePlan(opts(await root({ '/etc/docker/daemon.json': own }), { profile: 'baseline', listen: ['tcp://127.0.0.1:2377'] }));
    assert.deepEqual(withTls.config.hosts, ['fd://', 'tcp://127.0.0.1:2377']);
    assert.equal(withTls.config.tlscert, '/srv/cert.pem');
    assert.ok(withTls.problems.every((p) => p.severity !== 'blocking'), renderPlan(withTls));
  });

  test('combinations dockerd refuses: icc with iptables off, a key also given as a flag', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{"iptables": false, "log-level": "info"}', '/etc/default/docker': 'DOCKER_OPTS="--log-level=debug"\n' });
    const plan = await computePlan(opts(r));
    const text = renderPlan(plan);
    assert.match(text, /icc: false with iptables disabled: dockerd refuses to start \("ICC=false uses iptables to function"\)/);
    assert.match(text, /"log-level" is set both in \/etc\/docker\/daemon\.json and as --log-level on dockerd's command line/);
    assert.match(text, /fix: remove --log-level from DOCKER_OPTS in \/etc\/default\/docker/);
  });

  test('a flag on the unit that already says what the profile wants is left there; one that contradicts it blocks', async () => {
    const ok = await root({ '/etc/systemd/system/docker.service.d/override.conf': '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --live-restore\n' });
    const plan = await computePlan(opts(ok, { profile: 'baseline' }));
    assert.equal(plan.config['live-restore'], undefined);
    assert.ok(plan.changes.some((c) => /live-restore: left to --live-restore/.test(c.what)));
    const bad = await root({ '/etc/systemd/system/docker.service.d/override.conf': '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// --icc=true\n' });
    const p2 = await computePlan(opts(bad));
    assert.ok(p2.problems.some((p) => p.severity === 'blocking' && /--icc=true on dockerd's command line contradicts icc: false/.test(p.message)), renderPlan(p2));
  });

  test("the unit's --config-file is the file planned; another --config is refused; a plain -H tcp:// on the unit blocks", async () => {
    const r = await root({
      '/etc/systemd/system/docker.service.d/override.conf': '[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2375 --config-file=/srv/dockerd.json\n',
      '/srv/dockerd.json': '{}\n',
    });
    const { configPath: _default, ...noConfig } = opts(r);
    const plan = await computePlan(noConfig);
    assert.equal(plan.files[0]?.path, '/srv/dockerd.json');
    assert.ok(plan.problems.some((p) => p.severity === 'blocking' && /tcp:\/\/0\.0\.0\.0:2375 is a TCP listener without tlsverify/.test(p.message)), renderPlan(plan));
    const other = await computePlan(opts(r));
    assert.ok(other.problems.some((p) => p.severity === 'blocking' && /dockerd reads \/srv\/dockerd\.json \(--config-file on its command line\), not \/etc\/docker\/daemon\.json/.test(p.message)));
  });

  test('a TCP address without tcp:// (-H=0.0.0.0:2376 as seed 004 writes it) is a TCP listener too', async () => {
    // dockerd takes an address without a scheme as tcp://.
    const r = await root({ '/etc/systemd/system/docker.service.d/override.conf': '[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H=0.0.0.0:2376 --containerd=/run/containerd/containerd.sock\n' });
    const plan = await computePlan(opts(r, { profile: 'baseline' }));
    assert.ok(plan.problems.some((p) => p.severity === 'blocking' && /0\.0\.0\.0:2376 is a TCP listener without tlsverify/.test(p.message)), renderPlan(plan));
    const inFile = await computePlan(opts(await root({ '/etc/docker/daemon.json': '{"hosts": ["fd://", "0.0.0.0:2375"]}\n' }), { profile: 'baseline' }));
    assert.ok(inFile.problems.some((p) => p.severity === 'blocking' && /0\.0\.0\.0:2375 is a TCP listener without tlsverify/.test(p.message)), renderPlan(inFile));
  });

  test('fd:// without docker.socket blocks: dockerd would find no socket to take over', async () => {
    const r = await root({ '/etc/systemd/system/docker.service': '[Service]\nExecStart=/usr/bin/dockerd -H fd://\n' }, { stockUnit: false });
    const plan = await computePlan(opts(r, { tls: false, listen: [], profile: 'baseline', insecureTcp: true, usernsRemap: undefined }));
    assert.deepEqual(plan.problems, []);
    const withHosts = await root({ '/etc/systemd/system/docker.service': '[Service]\nExecStart=/usr/bin/dockerd -H fd://\n', '/etc/docker/daemon.json': '{"hosts": ["fd://"]}' }, { stockUnit: false });
    const p2 = await computePlan(opts(withHosts, { profile: 'baseline' }));
    assert.ok(p2.problems.some((p) => p.severity === 'blocking' && /no sockets found via socket activation/.test(p.message)), renderPlan(p2));
  });

  test('swarm manager: live-restore left out, and a user-set live-restore blocks', async () => {
    const r = await root({ '/var/lib/docker/swarm/raft/wal-v3-encrypted/0.wal': '' });
    const plan = await computePlan(opts(r));
    assert.equal(plan.config['live-restore'], undefined);
    assert.ok(plan.changes.some((c) => c.what === 'live-restore left out' && /swarm manager/.test(c.why)));
    const custom = await root({ '/etc/docker/daemon.json': '{"data-root": "/srv/docker", "live-restore": true}', '/srv/docker/swarm/raft/x': '' });
    const p2 = await computePlan(opts(custom));
    assert.ok(p2.problems.some((p) => p.severity === 'blocking' && /live-restore.*swarm manager/.test(p.message)));
  });

  test('user keys are kept, profile-required ones are changed and the plan says so', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{"icc": true, "log-driver": "journald", "registry-mirrors": ["https://m.example"]}' });
    const plan = await computePlan(opts(r));
    assert.equal(plan.config.icc, false);
    assert.equal(plan.config['log-driver'], 'journald');
    assert.deepEqual(plan.config['registry-mirrors'], ['https://m.example']);
    assert.equal(plan.config['log-opts'], undefined);
    assert.ok(plan.changes.some((c) => /change "icc" from true to false \(your value is replaced: the profile requires it\)/.test(c.what)));
  });

  test('no rotation options for a log driver set on the command line that has none', async () => {
    // dockerd 20.10 with --log-driver=journald and log-opts max-size: "failed to set log opts:
    // unknown log opt 'max-size' for journald log driver", and it does not start.
    const r = await root({ '/etc/default/docker': 'DOCKER_OPTS="--log-driver=journald"\n' });
    const plan = await computePlan(opts(r, { profile: 'baseline' }));
    assert.equal(plan.config['log-opts'], undefined, renderPlan(plan));
    assert.ok(plan.changes.some((c) => c.what === 'log rotation left to your log driver' && /"journald"/.test(c.why)), renderPlan(plan));
  });

  test('log rotation kept at the user\'s size is explained with that size, not the profile\'s', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{"log-opts": {"max-size": "50m"}}\n' });
    const plan = await computePlan(opts(r, { profile: 'baseline' }));
    const change = plan.changes.find((c) => c.what.startsWith('log-opts: add max-file=3'));
    assert.match(change?.why ?? '', /rotated at 50m and 3 files are kept/, renderPlan(plan));
    assert.doesNotMatch(change?.why ?? '', /10 MB/);
  });

  test('live-restore is not promised for the restart that turns it on', async () => {
    const plan = await computePlan(opts(await root(), { profile: 'baseline' }));
    const change = plan.changes.find((c) => c.what === 'add "live-restore": true');
    // The running dockerd does not have it yet, so stopping it for this restart stops the containers.
    assert.match(change?.why ?? '', /the restart that turns it on still stops them/, renderPlan(plan));
  });

  test('a --root that does not exist is refused, not created', async () => {
    const missing = join(tmpdir(), 'dw-no-such-root');
    await assert.rejects(computePlan(opts(missing)), (e: Error) => e instanceof UsageError && /--root .*dw-no-such-root is not a directory/.test(e.message));
    const res = await cli(['daemon', 'apply', '--root', missing, '--yes', '--no-validate']);
    assert.equal(res.code, 2, res.stderr);
    await assert.rejects(stat(missing), /ENOENT/);
  });

  test('subordinate ids: an existing dockremap range is reused, never added again; a repeated one is cut back to one', async () => {
    // What a host has after dockerd's own first start with "default" (useradd, then usermod -v/-w).
    const passwd = 'root:x:0:0::/root:/bin/sh\ndockremap:x:998:998::/home/dockremap:/bin/false\n';
    const group = 'root:x:0:\ndockremap:x:998:\n';
    const ids = 'alice:100000:65536\ndockremap:165536:65536\n';
    const r = await root({ '/etc/passwd': passwd, '/etc/group': group, '/etc/subuid': ids, '/etc/subgid': ids });
    const plan = await computePlan(opts(r, { usernsRemap: 'default' }));
    assert.deepEqual(plan.files.filter((f) => /subuid|subgid/.test(f.path)), [], renderPlan(plan));
    assert.ok(!plan.problems.some((p) => /subuid|subgid/.test(p.file ?? '')), renderPlan(plan));
    // The entry may be there before the user is (the user was deleted, or the files were copied).
    const noUser = await computePlan(opts(await root({ '/etc/passwd': 'root:x:0:0::/root:/bin/sh\n', '/etc/subuid': ids, '/etc/subgid': ids }), { usernsRemap: 'default' }));
    assert.deepEqual(noUser.files.filter((f) => /subuid|subgid/.test(f.path)), [], renderPlan(noUser));
    // A range listed twice (a second apply's, a test's) breaks every container start: the repeat goes.
    const twice = 'dockremap:100000:65536\nalice:165536:65536\ndockremap:100000:65536\n';
    const broken = await computePlan(opts(await root({ '/etc/passwd': passwd, '/etc/group': group, '/etc/subuid': twice, '/etc/subgid': 'dockremap:100000:65536\n' }), { usernsRemap: 'default' }));
    assert.equal(broken.files.find((f) => f.path === '/etc/subuid')?.after.toString(), 'dockremap:100000:65536\nalice:165536:65536\n');
    assert.equal(broken.files.find((f) => f.path === '/etc/subgid'), undefined);
    const fixed = broken.problems.find((p) => p.file === '/etc/subuid');
    assert.equal(fixed?.severity, 'fixed', renderPlan(broken));
    assert.equal(fixed?.line, 3);
    assert.match(fixed?.message ?? '', /dockremap:100000:65536 is listed more than once \(line 3\): every container fails to start/);
  });

  test('subordinate ids: matching ranges after the existing ones; a named user must exist', async () => {
    const r = await root({ '/etc/subuid': 'alice:100000:65536\n', '/etc/subgid': 'alice:100000:65536\nbob:165536:65536\n', '/etc/passwd': 'root:x:0:0::/root:/bin/sh\n' });
    const plan = await computePlan(opts(r));
    const sub = (p: string) => plan.files.find((f) => f.path === p)!.after.toString();
    assert.equal(sub('/etc/subuid'), 'alice:100000:65536\ndockremap:231072:65536\n');
    assert.equal(sub('/etc/subgid'), 'alice:100000:65536\nbob:165536:65536\ndockremap:231072:65536\n');
    const named = await computePlan(opts(r, { usernsRemap: 'svc' }));
    assert.ok(named.problems.some((p) => p.severity === 'blocking' && /user "svc" does not exist/.test(p.message)));
    await assert.rejects(computePlan(opts(r, { usernsRemap: 'a b' })), /--userns-remap "a b" is not a user/);
    // USER:GROUP: dockerd 20.10 looks subordinate gids up by the user's name too ('Can't create ID
    // mappings: no subgid ranges found for user "svc"'); GROUP only has to exist in /etc/group.
    const passwd = 'svc:x:990:990::/:/bin/false\n';
    const grouped = await computePlan(opts(await root({ '/etc/passwd': passwd, '/etc/group': 'grp:x:991:\n' }), { usernsRemap: 'svc:grp' }));
    assert.equal(grouped.files.find((f) => f.path === '/etc/subgid')?.after.toString(), 'svc:100000:65536\n');
    assert.equal(grouped.files.find((f) => f.path === '/etc/subuid')?.after.toString(), 'svc:100000:65536\n');
    assert.ok(!grouped.problems.some((p) => p.severity === 'blocking'), renderPlan(grouped));
    // A range held only by the group does not count: dockerd would refuse to start.
    const groupRange = await computePlan(opts(await root({ '/etc/passwd': passwd, '/etc/group': 'grp:x:991:\n', '/etc/subuid': 'svc:200000:65536\n', '/etc/subgid': 'grp:300000:65536\n' }), { usernsRemap: 'svc:grp' }));
    assert.equal(groupRange.files.find((f) => f.path === '/etc/subgid')?.after.toString(), 'grp:300000:65536\nsvc:100000:65536\n');
    // The group dockerd looks up must exist: GROUP, else a group named like the user.
    const noGroup = await computePlan(opts(await root({ '/etc/passwd': passwd, '/etc/group': 'other:x:990:\n' }), { usernsRemap: 'svc:grp' }));
    assert.ok(noGroup.problems.some((p) => p.severity === 'blocking' && /group "grp" does not exist in \/etc\/group/.test(p.message)), renderPlan(noGroup));
    const userOnly = await computePlan(opts(await root({ '/etc/passwd': passwd, '/etc/group': 'other:x:990:\n' }), { usernsRemap: 'svc' }));
    assert.ok(userOnly.problems.some((p) => p.severity === 'blocking' && /group "svc" does not exist in \/etc\/group/.test(p.message)), renderPlan(userOnly));
  });
});

describe('daemon apply and rollback on a --root', () => {
  let pki: string;
  before(async () => {
    pki = await mkdtemp(join(tmpdir(), 'dw-dpki-'));
    await initCa({ dir: pki, onWarning: () => undefined });
    await issueServer({ dir: pki, hosts: ['localhost'], ips: ['127.0.0.1'], onWarning: () => undefined });
  });
  after(async () => {
    await rm(pki, { recursive: true, force: true });
  });

  test('TLS from the PKI: installed with modes, backed up, rolled back to the original bytes', async () => {
    const original = '{\n  "debug": false,\n  "labels": ["team=ci"]\n}\n';
    const r = await root({ '/etc/docker/daemon.json': original, '/etc/subuid': '', '/etc/subgid': '' });
    const res = await cli(['daemon', 'apply', '--root', r, '--profile', 'hardened', '--tls', '--listen', 'tcp://127.0.0.1:2376', '--pki', pki, '--yes', '--no-validate']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /install server private key \(content not shown\) \(mode 0400\)/);
    assert.ok(!res.stdout.includes('PRIVATE KEY'));
    assert.match(res.stdout, /To take effect, run on the target system: systemctl daemon-reload && systemctl restart docker/);
    const cfg = JSON.parse(await readFile(join(r, 'etc/docker/daemon.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(cfg.hosts, ['fd://', 'tcp://127.0.0.1:2376']);
    assert.equal(cfg.tlsverify, true);
    assert.deepEqual(cfg.labels, ['team=ci']);
    assert.equal((await stat(join(r, 'etc/docker/pki/server-key.pem'))).mode & 0o777, 0o400);
    assert.equal((await stat(join(r, 'etc/docker/pki'))).mode & 0o777, 0o700);
    assert.equal((await stat(join(r, 'etc/docker/daemon.json'))).mode & 0o777, 0o644);

    const rb = await cli(['daemon', 'rollback', '--root', r, '--json']);
    assert.equal(rb.code, 0, rb.stderr);
    const rolled = JSON.parse(rb.stdout) as { backupDir: string; restored: string[]; removed: string[]; restart: string };
    // The set it restored from, where it is now (kept, marked as rolled back).
    assert.ok((await stat(join(rolled.backupDir, 'manifest.json'))).isFile(), rolled.backupDir);
    assert.deepEqual(rolled.restored.sort(), ['/etc/docker/daemon.json', '/etc/subgid', '/etc/subuid']);
    assert.equal(rolled.restart, 'systemctl daemon-reload && systemctl restart docker');
    assert.equal(await readFile(join(r, 'etc/docker/daemon.json'), 'utf8'), original);
    assert.equal(await readFile(join(r, 'etc/subuid'), 'utf8'), '');
    await assert.rejects(stat(join(r, 'etc/docker/pki')), /ENOENT/);
    await assert.rejects(stat(join(r, DOCKWARD_DROP_IN)), /ENOENT/);
    const again = await cli(['daemon', 'rollback', '--root', r]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no backup set to roll back to/);
  });

  test('directories apply creates on the target stay traversable; only the backups and the key directory are private', async () => {
    const r = await root();
    const res = await cli(['daemon', 'apply', '--root', r, '--tls', '--listen', 'tcp://127.0.0.1:2376', '--pki', pki, '--yes', '--no-validate']);
    assert.equal(res.code, 0, res.stderr);
    const mode = async (p: string) => ((await stat(join(r, p))).mode & 0o777).toString(8);
    assert.deepEqual(
      { var: await mode('var'), varLib: await mode('var/lib'), etcDocker: await mode('etc/docker'), pki: await mode('etc/docker/pki'), backups: await mode('var/lib/dockward/daemon-backups') },
      { var: '755', varLib: '755', etcDocker: '755', pki: '700', backups: '700' },
    );
  });

  test('--tlscacert/--tlscert/--tlskey instead of the PKI; material that would fail is refused before anything is planned', async () => {
    const server = join(pki, 'server');
    const r = await root();
    const tls = { tls: true, tlscacert: join(server, 'ca.pem'), tlscert: join(server, 'server-cert.pem'), tlskey: join(server, 'server-key.pem') };
    const plan = await computePlan(opts(r, { ...tls, listen: ['tcp://127.0.0.1:2376'] }));
    assert.equal(plan.config.tlscert, '/etc/docker/pki/server-cert.pem');
    assert.ok(plan.changes.some((c) => c.why.startsWith(`copied from ${tls.tlscert}:`)));
    await assert.rejects(computePlan(opts(r, { ...tls, tlskey: undefined, listen: ['tcp://127.0.0.1:2376'] })), /--tlscacert, --tlscert and --tlskey go together/);
    await assert.rejects(computePlan(opts(r, { ...tls, listen: ['tcp://10.1.2.3:2376'] })), /does not name 10\.1\.2\.3 \(clients dialing 10\.1\.2\.3 will refuse it\)/);
    await assert.rejects(computePlan(opts(r, { ...tls, tlskey: join(pki, 'private', 'ca-key.pem'), listen: ['tcp://127.0.0.1:2376'] })), /does not belong to the certificate/);
    await assert.rejects(computePlan(opts(r, { ...tls, tlscert: join(server, 'ca.pem'), tlskey: join(pki, 'private', 'ca-key.pem'), listen: ['tcp://127.0.0.1:2376'] })), /is not a server certificate|does not name/);
  });

  test('rollback refuses to drop changes made since apply, unless --force', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{}\n' });
    assert.equal((await cli(['daemon', 'apply', '--root', r, '--yes', '--no-validate'])).code, 0);
    await writeFile(join(r, 'etc/docker/daemon.json'), '{"debug": true}\n');
    const rb = await cli(['daemon', 'rollback', '--root', r]);
    assert.equal(rb.code, 1);
    assert.match(rb.stderr, /\/etc\/docker\/daemon\.json changed since dockward applied it \(pass --force/);
    assert.equal((await cli(['daemon', 'rollback', '--root', r, '--force'])).code, 0);
    assert.equal(await readFile(join(r, 'etc/docker/daemon.json'), 'utf8'), '{}\n');
  });

  test('a symlinked daemon.json is read and written where it points, inside --root; the link stays', async () => {
    const mine = '{\n  "debug": true\n}\n';
    const r = await root({ '/srv/config/daemon.json': mine });
    // An absolute link names a path on the target system: under --root, never this host's /srv.
    await mkdir(join(r, 'etc/docker'), { recursive: true });
    await symlink('/srv/config/daemon.json', join(r, 'etc/docker/daemon.json'));
    const plan = await computePlan(opts(r, { profile: 'baseline' }));
    const cfg = plan.files.find((f) => f.path === '/srv/config/daemon.json');
    assert.equal(cfg?.before?.toString(), mine, renderPlan(plan));
    assert.equal(plan.config.debug, true);
    assert.ok(plan.changes.some((c) => /written through its symlink to \/srv\/config\/daemon\.json/.test(c.what)), renderPlan(plan));
    assert.equal((await cli(['daemon', 'apply', '--root', r, '--profile', 'baseline', '--yes', '--no-validate'])).code, 0);
    assert.equal(await readlink(join(r, 'etc/docker/daemon.json')), '/srv/config/daemon.json');
    assert.equal((JSON.parse(await readFile(join(r, 'srv/config/daemon.json'), 'utf8')) as Record<string, unknown>)['live-restore'], true);
    assert.equal((await cli(['daemon', 'rollback', '--root', r])).code, 0);
    assert.equal(await readFile(join(r, 'srv/config/daemon.json'), 'utf8'), mine);
    assert.equal(await readlink(join(r, 'etc/docker/daemon.json')), '/srv/config/daemon.json');
  });

  test('an existing file keeps its mode: a daemon.json kept private is not made world-readable', async () => {
    const r = await root({ '/etc/docker/daemon.json': '{}\n', '/etc/subuid': '', '/etc/subgid': '' });
    await chmod(join(r, 'etc/docker/daemon.json'), 0o600);
    await chmod(join(r, 'etc/subuid'), 0o666);
    assert.equal((await cli(['daemon', 'apply', '--root', r, '--profile', 'hardened', '--yes', '--no-validate'])).code, 0);
    assert.equal((await stat(join(r, 'etc/docker/daemon.json'))).mode & 0o777, 0o600);
    // Writable by anyone would let anyone pick the ids containers run as: that much is taken away.
    assert.equal((await stat(join(r, 'etc/subuid'))).mode & 0o777, 0o644);
    assert.equal((await stat(join(r, 'etc/subgid'))).mode & 0o777, 0o644);
  });

  test('apply without --yes and without a terminal refuses (never prompts in CI)', async () => {
    const r = await root();
    const res = await cli(['daemon', 'apply', '--root', r]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /pass --yes/);
    await assert.rejects(stat(join(r, 'etc/docker/daemon.json')), /ENOENT/);
  });

  test('a failure between two renames puts the files already renamed back', { skip: process.getuid?.() !== 0 && 'chattr +i needs root' }, async (t) => {
    const r = await root({ '/etc/docker/daemon.json': '{"debug": true}\n', '/etc/subuid': 'a:100000:65536\n', '/etc/subgid': 'a:100000:65536\n' });
    const plan = await computePlan(opts(r));
    assert.deepEqual(plan.files.map((f) => f.path), ['/etc/docker/daemon.json', '/etc/subuid', '/etc/subgid']);
    // An immutable /etc/subgid can be read and backed up, but not replaced: its rename fails after
    // daemon.json and /etc/subuid were already renamed into place.
    try {
      await execFileP('chattr', ['+i', join(r, 'etc/subgid')]);
    } catch (e) {
      t.skip(`the temp filesystem has no immutable attribute: ${(e as { stderr?: string }).stderr?.trim() ?? String(e)}`);
      return;
    }
    try {
      // One line naming the file and saying where things stand, not Node's rename(tmp -> target) message.
      await assert.rejects(applyPlan(plan), (e: Error & { hint?: string }) => {
        assert.equal(e.message, `cannot write ${join(r, 'etc/subgid')}: EPERM`);
        assert.match(e.hint ?? '', /^nothing was changed/);
        return true;
      });
    } finally {
      await execFileP('chattr', ['-i', join(r, 'etc/subgid')]);
    }
    assert.equal(await readFile(join(r, 'etc/docker/daemon.json'), 'utf8'), '{"debug": true}\n');
    assert.equal(await readFile(join(r, 'etc/subuid'), 'utf8'), 'a:100000:65536\n');
    assert.deepEqual((await readdir(join(r, 'etc'))).filter((n) => n.endsWith('.tmp')), []);
    await assert.rejects(rollback(r), /no backup set/);
  });
});
