// engines: trixie
/**
 * Deep authorization through the gateway, with the real docker CLI and raw requests, against the
 * engine under test. A `tenant` may create and run ordinary containers: everything that would
 * hand it the host is refused with the rule named, and the daemon's own state (listed through its
 * socket, not through the gateway) shows that nothing was created.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import tls from 'node:tls';
import { clientTls, rawExchange, rawPost, startGatewayFixture, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

describe('body checks through the gateway', { skip }, () => {
  let f: GatewayFixture;
  let v: string;
  before(async () => {
    f = await startGatewayFixture();
    v = f.gateway.apiVersion;
  });
  after(() => f?.stop());

  /** Containers the daemon really has, asked on its own socket. */
  const containerCount = async () => (await f.engine.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean).length;

  const REFUSED: [string, string[], RegExp][] = [
    ['--privileged', ['--privileged'], /DW_BODY_PRIVILEGED/],
    ['-v docker.sock', ['-v', '/var/run/docker.sock:/s'], /never mountable \(DW_BODY_HOST_PATH/],
    ["-v the daemon's own socket", ['-v', 'SOCKET:/s'], /never mountable \(DW_BODY_HOST_PATH/],
    ['-v /:/h', ['-v', '/:/h'], /DW_BODY_HOST_PATH/],
    ['--mount type=bind,src=/etc', ['--mount', 'type=bind,src=/etc,dst=/e'], /DW_BODY_HOST_PATH/],
    ['an inline local volume binding /', ['--mount', 'type=volume,dst=/h,volume-driver=local,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/'], /DW_BODY_HOST_PATH/],
    ['--cap-add SYS_ADMIN', ['--cap-add', 'SYS_ADMIN'], /DW_BODY_CAPABILITY/],
    ['--cap-add ALL', ['--cap-add', 'ALL'], /DW_BODY_CAPABILITY/],
    ['--pid host', ['--pid', 'host'], /DW_BODY_NAMESPACE/],
    ['--network host', ['--network', 'host'], /DW_BODY_NAMESPACE/],
    ['--ipc host', ['--ipc', 'host'], /DW_BODY_NAMESPACE/],
    ['--userns host', ['--userns', 'host'], /DW_BODY_NAMESPACE/],
    ['--uts host', ['--uts', 'host'], /DW_BODY_NAMESPACE/],
    ['--security-opt seccomp=unconfined', ['--security-opt', 'seccomp=unconfined'], /DW_BODY_SECURITY_OPT/],
    ['--security-opt apparmor=unconfined', ['--security-opt', 'apparmor=unconfined'], /DW_BODY_SECURITY_OPT/],
    ['--device /dev/null', ['--device', '/dev/null'], /DW_BODY_DEVICE/],
    ["--device-cgroup-rule 'a *:* rwm'", ['--device-cgroup-rule', 'a *:* rwm'], /DW_BODY_DEVICE/],
    ['--sysctl', ['--sysctl', 'kernel.shm_rmid_forced=1'], /DW_BODY_SYSCTL/],
  ];

  for (const [name, flags, code] of REFUSED) {
    it(`refuses docker create ${name}, naming the rule`, async () => {
      const before = await containerCount();
      const args = flags.map((a) => a.replace('SOCKET', f.engine.socketPath));
      const network = args.includes('--network') ? [] : ['--network', 'none'];
      const res = await f.docker('tenant', ['create', ...network, ...args, TEST_IMAGE, 'true']);
      assert.notEqual(res.code, 0, res.stdout);
      assert.match(res.stderr, /Error response from daemon: dockward: identity "tenant" may not POST \/containers\/create with this body/);
      assert.match(res.stderr, code);
      assert.match(res.stderr, /role tenant/);
      assert.equal(await containerCount(), before, 'the daemon created nothing');
    });
  }

  it('runs what is allowed, with the enforced defaults visible in inspect', async () => {
    const run = await f.docker('tenant', ['run', '--rm', '--network', 'none', TEST_IMAGE, 'echo', 'allowed']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'allowed');
    const created = await f.docker('tenant', ['create', '--network', 'none', '--name', 'tenant-c', TEST_IMAGE, 'sleep', '60']);
    assert.equal(created.code, 0, created.stderr);
    const opts = await f.engine.docker(['inspect', '--format', '{{json .HostConfig.SecurityOpt}}', 'tenant-c']);
    assert.match(opts.stdout, /no-new-privileges/);
    const audit = (await f.audit()).filter((r) => r.identity === 'tenant' && r.route === 'POST /containers/create' && r.decision === 'allow');
    assert.ok(audit.some((r) => r.mutations?.includes('HostConfig.SecurityOpt: no-new-privileges')), JSON.stringify(audit));
    await f.engine.docker(['rm', '-f', 'tenant-c']);
  });

  it('the admin is unrestricted', async () => {
    const res = await f.docker('admin', ['create', '--network', 'none', '--cap-add', 'SYS_ADMIN', '--name', 'admin-c', TEST_IMAGE, 'true']);
    assert.equal(res.code, 0, res.stderr);
    await f.engine.docker(['rm', '-f', 'admin-c']);
  });

  /** A raw create as the tenant; returns the status line and body. */
  const rawCreate = (body: string | Buffer, headers: Record<string, string> = {}, chunked = false) => rawPost(f, 'tenant', `/v${v}/containers/create`, body, { headers, chunked });

  const image = JSON.stringify(TEST_IMAGE);
  const RAW: [string, string, RegExp][] = [
    ['lower-case keys', `{"image":${image},"hostconfig":{"privileged":true}}`, /403[\s\S]*DW_BODY_PRIVILEGED/],
    ['case-variant duplicates, the last true', `{"Image":${image},"HostConfig":{"Privileged":false,"privileged":true}}`, /403[\s\S]*DW_BODY_PRIVILEGED/],
    ['a repeated HostConfig merges', `{"Image":${image},"HostConfig":{"Privileged":true},"HostConfig":{"NetworkMode":"none"}}`, /403[\s\S]*DW_BODY_PRIVILEGED/],
    ['\\u-escaped keys', `{"Image":${image},"HostConfig":{"\\u0050rivileged":true}}`, /403[\s\S]*DW_BODY_PRIVILEGED/],
    ['a Unicode-folded key (Kelvin sign)', `{"Image":${image},"HostConfig":{"Networ\u212aMode":"host"}}`, /403[\s\S]*DW_BODY_NAMESPACE/],
    ['a Unicode-folded key (long s)', `{"Image":${image},"HostConfig":{"\u017FecurityOpt":["seccomp=unconfined"]}}`, /403[\s\S]*DW_BODY_SECURITY_OPT/],
    ['trailing data', `{"Image":${image}}{"HostConfig":{"Privileged":true}}`, /400[\s\S]*data after the JSON body/],
    ['an unknown field', `{"Image":${image},"HostConfig":{"Privileged2":true}}`, /400[\s\S]*unknown field HostConfig.Privileged2/],
    ['a wrong type', `{"Image":${image},"HostConfig":{"Privileged":"yes"}}`, /400[\s\S]*DW_BODY_INVALID|400[\s\S]*Privileged/],
  ];
  for (const [name, body, expected] of RAW) {
    it(`refuses a raw create with ${name}`, async () => {
      const before = await containerCount();
      assert.match(await rawCreate(body), expected);
      assert.equal(await containerCount(), before);
    });
  }

  it('a client that leaves halfway through a checked body still gets its audit line, and nothing is created', async () => {
    const before = await containerCount();
    const lines = (await f.audit()).length;
    const s = tls.connect(await clientTls(f, 'tenant'), () =>
      s.write(`POST /v${v}/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Image":`, () => setTimeout(() => s.destroy(), 200)),
    );
    s.on('error', () => undefined);
    await until('the audit line of the abandoned create', async () => (await f.audit()).slice(lines).some((r) => r.route === 'POST /containers/create' && r.code === 'DW_BODY_INVALID'));
    assert.equal(await containerCount(), before);
  });

  it('refuses a privileged create sent chunked', async () => {
    assert.match(await rawCreate(`{"Image":${image},"HostConfig":{"Privileged":true}}`, {}, true), /403[\s\S]*DW_BODY_PRIVILEGED/);
  });

  it('refuses a body over 1 MiB with 413, and a form-encoded body with 400', async () => {
    const big = `{"Image":${image},"Env":["X=${'a'.repeat(1 << 20)}"]}`;
    assert.match(await rawCreate(big), /^HTTP\/1\.1 413/);
    assert.match(await rawCreate('HostConfig=x', { 'Content-Type': 'application/x-www-form-urlencoded' }), /^HTTP\/1\.1 400[\s\S]*override the request's query/);
    // Go reads the header as UTF-8 and lower-cases and trims it by Unicode rules: İ is i, a
    // no-break space is a space. dockerd took these for forms (a pull's fromImage from the body).
    for (const type of ['appl\u0130cation/x-www-form-urlencoded', 'application/x-www-form-urlencoded\u00a0']) {
      assert.match(await rawCreate('HostConfig=x', { 'Content-Type': type }), /^HTTP\/1\.1 400[\s\S]*beyond ASCII/);
    }
    assert.match(await rawCreate('{}', { 'Content-Type': 'text/plain' }), /^HTTP\/1\.1 400[\s\S]*must be JSON/);
  });

  it('builds: the classic builder runs, its host network and remote contexts are refused; BuildKit is not for the tenant', async () => {
    const ctx = await mkdtemp(join(tmpdir(), 'dw-build-'));
    try {
      await writeFile(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nRUN echo built > /built\n`);
      const classic = { env: { DOCKER_BUILDKIT: '0' } };
      const ok = await f.docker('tenant', ['build', '--network', 'none', '-t', 'tenant-built', ctx], classic);
      assert.equal(ok.code, 0, ok.stderr);
      const host = await f.docker('tenant', ['build', '--network', 'host', ctx], classic);
      assert.notEqual(host.code, 0);
      assert.match(host.stderr, /networkmode: building with the host's network is not allowed for this role \(DW_BODY_NAMESPACE, role tenant\)/);
      // The CLI downloads http contexts itself; a remote it names is fetched by the daemon.
      const remote = await rawExchange(
        await clientTls(f, 'tenant'),
        `POST /v${v}/build?remote=${encodeURIComponent('http://127.0.0.1:1/context.tar')} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      );
      assert.match(remote, /^HTTP\/1\.1 403[\s\S]*remote: a build context fetched by the daemon[\s\S]*DW_BODY_FETCH/);
      // BuildKit: its session and control API, and builds that would use them.
      const tenant = await clientTls(f, 'tenant');
      for (const target of ['/session', '/grpc']) {
        const kit = await rawExchange(tenant, `POST /v${v}${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`);
        assert.match(kit, /^HTTP\/1\.1 403[\s\S]*does not grant build\.buildkit; set DOCKER_BUILDKIT=0/);
      }
      const v2 = await rawExchange(tenant, `POST /v${v}/build?version=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.match(v2, /^HTTP\/1\.1 403[\s\S]*DW_BODY_BUILDKIT/);
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
  });

  it("/_ping tells an identity without BuildKit to use the classic builder, and the admin what dockerd says", async () => {
    const ping = async (who: string) => (await rawExchange(await clientTls(f, who), 'HEAD /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toLowerCase();
    const admin = await ping('admin');
    // dockerd 20.10 (BuildKit not its default) sends no Builder-Version at all.
    if (admin.includes('builder-version')) {
      assert.match(admin, /builder-version: 2\r\n/);
      assert.match(await ping('tenant'), /builder-version: 1\r\n/);
    } else assert.doesNotMatch(await ping('tenant'), /builder-version/);
  });

  it('docker import of a URL is refused: the daemon would fetch it for the tenant', async () => {
    const res = await f.docker('tenant', ['import', 'http://127.0.0.1:1/rootfs.tar', 'tenant-imported']);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /fromSrc: an image imported by the daemon from "http:\/\/127\.0\.0\.1:1\/rootfs\.tar" is not allowed for this role \(DW_BODY_FETCH/);
  });

  it('forwards the canonical body: a chunked, mixed-case create that is allowed runs as checked', async () => {
    const res = await rawCreate(`{"image":${image},"cmd":["true"],"HOSTCONFIG":{"networkmode":"none"}}`, {}, true);
    assert.match(res, /^HTTP\/1\.1 201/);
    const id = /"Id":"([0-9a-f]+)"/.exec(res)![1]!;
    const mode = await f.engine.docker(['inspect', '--format', '{{.HostConfig.NetworkMode}} {{json .HostConfig.SecurityOpt}}', id]);
    assert.equal(mode.stdout.trim(), 'none ["no-new-privileges"]');
    await f.engine.docker(['rm', '-f', id]);
  });
});
