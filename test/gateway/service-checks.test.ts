// engines: trixie
/**
 * Swarm services through the gateway, on a real single-node swarm: a tenant granted services is
 * held to its container rules in `docker service create` (binds, the host network as the CLI
 * names it — by id —, capabilities), also when the body is sent raw with Go's key matching, and
 * may not roll a service back to a spec the gateway never saw. What it may create carries the
 * enforced defaults, as the daemon's own `service inspect` shows.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { engineSkipReason, freePort, TEST_IMAGE } from '../harness/engine.js';
import { rawPost, startGatewayFixture, TEST_POLICY, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

const TENANT_ALLOW = '    allow: [preset:containers, preset:exec, preset:images, preset:volumes, preset:build]\n';
const POLICY = TEST_POLICY.replace(TENANT_ALLOW, '    allow: [preset:containers, preset:images, preset:networks, preset:swarm]\n');

describe('service specs through the gateway', { skip }, () => {
  let f: GatewayFixture;
  before(async () => {
    assert.ok(POLICY !== TEST_POLICY, 'the fixture policy no longer has the tenant role this test rewrites');
    f = await startGatewayFixture(POLICY);
    const port = await freePort();
    const init = await f.engine.docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
    assert.equal(init.code, 0, init.stderr);
  });
  after(() => f?.stop());

  /** Services the daemon really has, asked on its own socket. */
  const services = async () => (await f.engine.docker(['service', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  const create = (flags: string[], name: string) =>
    f.docker('tenant', ['service', 'create', '--detach', '--no-resolve-image', '--restart-condition', 'none', '--name', name, ...flags, TEST_IMAGE, 'sleep', '60']);

  const REFUSED: [string, string[], RegExp][] = [
    ['a bind of /', ['--mount', 'type=bind,src=/,dst=/h'], /TaskTemplate\.ContainerSpec\.Mounts\[0\]\.Source.*DW_BODY_HOST_PATH/],
    ['a bind of the daemon socket', ['--mount', 'type=bind,src=SOCKET,dst=/s,readonly'], /never mountable \(DW_BODY_HOST_PATH/],
    ['an inline local volume binding /', ['--mount', 'type=volume,dst=/h,volume-driver=local,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/'], /DW_BODY_HOST_PATH/],
    ['--network host (sent as the network id)', ['--network', 'host'], /host's network namespace.*DW_BODY_NAMESPACE/],
    ['--cap-add SYS_ADMIN', ['--cap-add', 'SYS_ADMIN'], /CAP_SYS_ADMIN.*DW_BODY_CAPABILITY/],
    ['--sysctl', ['--sysctl', 'net.ipv4.ip_forward=1'], /DW_BODY_SYSCTL/],
  ];
  for (const [name, flags, code] of REFUSED) {
    it(`refuses docker service create with ${name}, naming the rule`, async () => {
      const res = await create(
        flags.map((a) => a.replace('SOCKET', f.engine.socketPath)),
        'refused',
      );
      assert.notEqual(res.code, 0, res.stdout);
      assert.match(res.stderr, /Error response from daemon: dockward: identity "tenant" may not POST \/services\/create with this body/);
      assert.match(res.stderr, code);
      assert.deepEqual(await services(), []);
    });
  }

  it('refuses the same spec sent raw with lower-case, folded and duplicate keys, and chunked', async () => {
    const bodies = [
      '{"name":"raw","taskTemplate":{"containerSpec":{"image":"IMG","mounts":[{"type":"bind","source":"/","target":"/h"}]}}}',
      '{"Name":"raw","TaskTemplate":{"ContainerSpec":{"Image":"IMG","Mounts":[{"Type":"bind","\\u017fource":"/","Target":"/h"}]}}}',
      '{"Name":"raw","TaskTemplate":{"ContainerSpec":{"Image":"IMG","Mounts":[{"Type":"bind","Source":"/tmp","SOURCE":"/","Target":"/h"}]}}}',
    ].map((b) => b.replace('IMG', TEST_IMAGE));
    for (const [i, body] of bodies.entries()) {
      const answer = await rawPost(f, 'tenant', `${f.api}/services/create`, body, { chunked: i === 2 });
      assert.match(answer, /^HTTP\/1\.1 403 /, body);
      assert.match(answer, /DW_BODY_HOST_PATH/, body);
    }
    assert.deepEqual(await services(), []);
  });

  it('creates an ordinary service with the enforced defaults (API 1.44+), or refuses where dockerd would drop them', async () => {
    const res = await create([], 'ok');
    if (f.gateway.apiVersion === '1.41') {
      // dockerd 20.10's services have no Privileges.NoNewPrivileges: the default cannot be kept.
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /noNewPrivileges.*DW_BODY_SERVICE_DEFAULTS/);
      assert.deepEqual(await services(), []);
      return;
    }
    assert.equal(res.code, 0, res.stderr);
    const spec = JSON.parse((await f.engine.docker(['service', 'inspect', '-f', '{{json .Spec.TaskTemplate.ContainerSpec}}', 'ok'])).stdout) as { Privileges?: { NoNewPrivileges?: boolean } };
    assert.equal(spec.Privileges?.NoNewPrivileges, true);
    const audit = (await f.audit()).filter((r) => r.path?.endsWith('/services/create') && r.status === 201);
    assert.ok(audit.some((r) => (r.mutations ?? []).some((m) => /NoNewPrivileges: true/.test(m))), JSON.stringify(audit));

    // Rolling back would run the previous spec, which the gateway does not see.
    const version = (await f.engine.docker(['service', 'inspect', '-f', '{{.Version.Index}}', 'ok'])).stdout.trim();
    const answer = await rawPost(f, 'tenant', `${f.api}/services/ok/update?version=${version}&rollback=previous`, '{}');
    assert.match(answer, /^HTTP\/1\.1 403 /);
    assert.match(answer, /DW_BODY_ROLLBACK/);
  });

  it('refuses joining another swarm to a constrained role', async () => {
    const answer = await rawPost(f, 'tenant', `${f.api}/swarm/join`, '{"RemoteAddrs":["127.0.0.1:1"],"JoinToken":"x","ListenAddr":"127.0.0.1:0"}');
    assert.match(answer, /^HTTP\/1\.1 403 /);
    assert.match(answer, /managers run any container on this node/);
  });
});
