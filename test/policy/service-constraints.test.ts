/**
 * Swarm service specs judged by a role's container rules, without a daemon: a table of named
 * cases through the whole body stage (Go decoding, checks, enforced defaults), for both daemon
 * API versions, plus the rollback query and the routes no constrained role is granted.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, checkQuery, inspectBody, parsePolicy, type Identity, type Verdict } from '../../src/policy/index.js';
import type { HostFacts } from '../../src/policy/constraints/container.js';
import { QUERY_ROUTES, UNCONSTRAINABLE_ROUTES } from '../../src/policy/query-routes.js';
import { BODY_ROUTES } from '../../src/api/bodies/canonical.js';
import { ROUTES } from '../../src/api/routes.js';

const who = (cn: string): Identity => ({ name: cn, cn, ou: [], sans: [], listener: 'tcp://127.0.0.1:2376' });

const POLICY = `version: 1
identities:
  - { name: ops, match: { cn: ops }, roles: [ops] }
  - { name: lax, match: { cn: lax }, roles: [lax] }
roles:
  ops:
    allow: [preset:swarm]
    images: { registries: [registry.example.com, docker.io] }
    containers:
      capabilities: [NET_BIND_SERVICE]
      maxMemory: 1g
      maxPids: 512
      bindMounts: [{ path: /srv/data, readOnly: true }]
      defaults: { capabilities: [CHOWN], user: "65534", log: { max-size: 10m } }
  lax:
    allow: [preset:swarm]
    containers:
      defaults: { noNewPrivileges: false }
`;
const policy = parsePolicy(POLICY, 'p.yaml');

const HOST_NET = { id: 'hosthosthosthosthosthost1', name: 'host', driver: 'host' };
const OVERLAY = { id: 'ovlovlovlovlovlovlovlovl1', name: 'backend', driver: 'overlay' };
const host: HostFacts = {
  protectedPaths: ['/var/run/docker.sock', '/var/lib/docker'],
  network: async (t) => [HOST_NET, OVERLAY].find((n) => n.id === t || n.name === t || n.id.startsWith(t)),
};

function allowed(v: Verdict) {
  assert.equal(v.kind, 'allow', JSON.stringify(v));
  return v as Extract<Verdict, { kind: 'allow' }>;
}

async function judge(body: unknown, opts: { cn?: string; api?: string; daemonApi?: string } = {}) {
  const api = opts.api ?? '1.51';
  const daemonApi = opts.daemonApi ?? '1.51';
  const v = allowed(authorize(policy, who(opts.cn ?? 'ops'), 'POST', `/v${api}/services/create`));
  const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return inspectBody(v.body!, raw, 'application/json', { daemonApi, requestApi: api, host });
}

const spec = (containerSpec: object, rest: object = {}) => ({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox', ...containerSpec } }, ...rest });

describe('service specs: refused', () => {
  const REFUSED: [string, unknown, string, RegExp][] = [
    ['a bind of /', spec({ Mounts: [{ Type: 'bind', Source: '/', Target: '/h' }] }), 'DW_BODY_HOST_PATH', /TaskTemplate\.ContainerSpec\.Mounts\[0\]\.Source/],
    ['a read-write bind of an allowed read-only path', spec({ Mounts: [{ Type: 'bind', Source: '/srv/data', Target: '/d' }] }), 'DW_BODY_HOST_PATH', /read-only/],
    ['the docker socket, read-only', spec({ Mounts: [{ Type: 'bind', Source: '/var/run/docker.sock', Target: '/s', ReadOnly: true }] }), 'DW_BODY_HOST_PATH', /docker\.sock/],
    [
      'an inline local volume binding /',
      spec({ Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } } }] }),
      'DW_BODY_HOST_PATH',
      /DriverConfig\.Options\.device/,
    ],
    ['a cluster (CSI) volume', spec({ Mounts: [{ Type: 'cluster', Source: 'v', Target: '/v' }] }), 'DW_BODY_MOUNT', /mount type "cluster"/],
    ['CapabilityAdd SYS_ADMIN', spec({ CapabilityAdd: ['sys_admin'] }), 'DW_BODY_CAPABILITY', /CAP_SYS_ADMIN/],
    ['CapabilityAdd ALL', spec({ CapabilityAdd: ['ALL'] }), 'DW_BODY_CAPABILITY', /ALL/],
    ['seccomp unconfined', spec({ Privileges: { Seccomp: { Mode: 'unconfined' } } }), 'DW_BODY_SECURITY_OPT', /seccomp/],
    ['a custom seccomp profile', spec({ Privileges: { Seccomp: { Mode: 'custom', Profile: Buffer.from('{}').toString('base64') } } }), 'DW_BODY_SECURITY_OPT', /custom seccomp/],
    ['AppArmor disabled', spec({ Privileges: { AppArmor: { Mode: 'disabled' } } }), 'DW_BODY_SECURITY_OPT', /AppArmor/],
    ['SELinux labels disabled', spec({ Privileges: { SELinuxContext: { Disable: true } } }), 'DW_BODY_SECURITY_OPT', /label=disable/],
    ['a credential spec', spec({ Privileges: { CredentialSpec: { Config: 'x' } } }), 'DW_BODY_SECURITY_OPT', /CredentialSpec/],
    ['a sysctl', spec({ Sysctls: { 'net.ipv4.ip_forward': '1' } }), 'DW_BODY_SYSCTL', /ip_forward/],
    ['a ulimit', spec({ Ulimits: [{ Name: 'nofile', Soft: 1, Hard: 1 }] }), 'DW_BODY_ULIMIT', /nofile/],
    ['a negative OOM score', spec({ OomScoreAdj: -500 }), 'DW_BODY_OOM_SCORE', /-500/],
    ['an image from an unlisted registry', spec({ Image: 'evil.example.net/x:1' }), 'DW_BODY_REGISTRY', /evil\.example\.net/],
    ['the host network by name', spec({}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'host' }] } }), 'DW_BODY_NAMESPACE', /host's network/],
    ['the host network by id, as the CLI sends it', spec({}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: HOST_NET.id }] } }), 'DW_BODY_NAMESPACE', /host's network/],
    ['a network by id prefix', spec({}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'ovlovl' }] } }), 'DW_BODY_NAMESPACE', /full id or its name/],
    ['a network the daemon does not know', spec({}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'nowhere' }] } }), 'DW_BODY_NAMESPACE', /cannot be resolved/],
    ['the deprecated top-level Networks', spec({}, { Networks: [{ Target: 'host' }] }), 'DW_BODY_NAMESPACE', /^Networks\[0\]/],
    ['a plugin runtime', { Name: 'p', TaskTemplate: { Runtime: 'plugin', PluginSpec: { Name: 'x', Remote: 'evil/plugin' } } }, 'DW_BODY_RUNTIME', /plugin/],
    ['a memory limit above the bound', spec({}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Resources: { Limits: { MemoryBytes: 2 * 1024 ** 3 } } } }), 'DW_BODY_LIMIT', /MemoryBytes/],
    ['generic resources (GPUs)', spec({}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Resources: { Reservations: { GenericResources: [{ DiscreteResourceSpec: { Kind: 'gpu', Value: 1 } }] } } } }), 'DW_BODY_DEVICE', /GenericResources/],
    ['a log driver that ships data elsewhere', spec({}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, LogDriver: { Name: 'gelf' } } }), 'DW_BODY_LOG_DRIVER', /gelf/],
  ];
  for (const [name, body, code, field] of REFUSED) {
    it(name, async () => {
      const o = await judge(body);
      assert.equal(o.kind, 'refuse', JSON.stringify(o));
      if (o.kind !== 'refuse') return;
      assert.equal(o.code, code, o.message);
      assert.match(`${o.field} ${o.message}`, field);
    });
  }

  it('keys as dockerd matches them: lower case, Unicode folds, escapes and case-variant duplicates', async () => {
    const variants = [
      '{"taskTemplate":{"containerSpec":{"image":"busybox","mounts":[{"type":"bind","source":"/","target":"/h"}]}}}',
      '{"TaskTemplate":{"ContainerSpec":{"Image":"busybox","Mount\\u0073":[{"Type":"bind","\\u017fource":"/","Target":"/h"}]}}}',
      '{"TaskTemplate":{"ContainerSpec":{"Image":"busybox","Mounts":[{"Type":"bind","Source":"/srv/data","Target":"/h","ReadOnly":true,"source":"/"}]}}}',
    ];
    for (const v of variants) {
      const o = await judge(v);
      assert.equal(o.kind, 'refuse', v);
      if (o.kind === 'refuse') assert.equal(o.code, 'DW_BODY_HOST_PATH', `${v}: ${o.message}`);
    }
  });

  it('unknown fields, trailing data and a body for a daemon the gateway has no model of', async () => {
    for (const [body, daemonApi, re] of [
      ['{"TaskTemplate":{"ContainerSpec":{"Devices":["/dev/sda"]}}}', '1.51', /unknown field/],
      ['{"Name":"x"} {"Name":"y"}', '1.51', /data after/],
      ['{"Name":"x"}', '1.47', /no model/],
    ] as const) {
      const o = await judge(body, { daemonApi, api: daemonApi === '1.47' ? '1.47' : '1.51' });
      assert.equal(o.kind, 'refuse');
      if (o.kind === 'refuse') assert.match(o.message, re);
    }
  });

  it('20.10 has no Privileges.Seccomp: the same spec is an unknown field there', async () => {
    const o = await judge(spec({ Privileges: { Seccomp: { Mode: 'unconfined' } } }), { api: '1.41', daemonApi: '1.41', cn: 'lax' });
    assert.equal(o.kind, 'refuse');
    if (o.kind === 'refuse') assert.match(o.message, /unknown field/);
  });

  it('refuses an enforced default that dockerd would drop for the request version', async () => {
    const old = await judge(spec({}), { api: '1.43' });
    assert.equal(old.kind, 'refuse');
    if (old.kind === 'refuse') {
      assert.equal(old.code, 'DW_BODY_SERVICE_DEFAULTS');
      assert.match(old.message, /noNewPrivileges.*1\.44.*API 1\.43/);
    }
    assert.equal((await judge(spec({}), { api: '1.41', daemonApi: '1.41', cn: 'lax' })).kind, 'forward');
  });
});

describe('service specs: allowed, with the enforced defaults', () => {
  it('forwards the canonical spec with no-new-privileges, the capability set, a user, limits and log rotation', async () => {
    const o = await judge(
      spec(
        { CapabilityAdd: ['net_bind_service'], Mounts: [{ Type: 'bind', Source: '/srv/data/x', Target: '/d', ReadOnly: true }] },
        { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } },
      ),
    );
    assert.equal(o.kind, 'forward', JSON.stringify(o));
    if (o.kind !== 'forward') return;
    const out = JSON.parse(o.body.toString()) as { TaskTemplate: { ContainerSpec: Record<string, unknown>; Resources: unknown; LogDriver: unknown } };
    const cs = out.TaskTemplate.ContainerSpec;
    assert.deepEqual(cs.Privileges, { NoNewPrivileges: true });
    assert.deepEqual(cs.CapabilityDrop, ['ALL']);
    assert.deepEqual(cs.CapabilityAdd, ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']);
    assert.equal(cs.User, '65534');
    assert.deepEqual(out.TaskTemplate.Resources, { Limits: { MemoryBytes: 1024 ** 3, Pids: 512 } });
    assert.deepEqual(out.TaskTemplate.LogDriver, { Name: 'json-file', Options: { 'max-size': '10m' } });
    assert.ok(o.mutations.some((m) => /NoNewPrivileges: true/.test(m)), o.mutations.join('\n'));
  });

  it('an overlay network by name or full id, and a custom log driver left as it is', async () => {
    for (const target of ['backend', OVERLAY.id]) {
      const o = await judge(spec({}, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: target }], LogDriver: { Name: 'local' } } }));
      assert.equal(o.kind, 'forward', JSON.stringify(o));
    }
  });

  it('a base64 seccomp profile round-trips exactly (Go []byte)', async () => {
    const profile = Buffer.from('{"defaultAction":"SCMP_ACT_ERRNO"}').toString('base64');
    const p = parsePolicy(POLICY.replace('defaults: { noNewPrivileges: false }', 'securityOptions: ["seccomp=*"]'), 'p.yaml');
    const v = allowed(authorize(p, who('lax'), 'POST', '/v1.51/services/create'));
    const raw = Buffer.from(JSON.stringify(spec({ Privileges: { Seccomp: { Mode: 'custom', Profile: profile } } })));
    const o = await inspectBody(v.body!, raw, 'application/json', { daemonApi: '1.51', requestApi: '1.51', host });
    assert.equal(o.kind, 'forward', JSON.stringify(o));
    if (o.kind === 'forward') assert.equal((JSON.parse(o.body.toString()) as { TaskTemplate: { ContainerSpec: { Privileges: { Seccomp: { Profile: string } } } } }).TaskTemplate.ContainerSpec.Privileges.Seccomp.Profile, profile);
    const bad = await inspectBody(v.body!, Buffer.from('{"TaskTemplate":{"ContainerSpec":{"Privileges":{"Seccomp":{"Profile":"e30"}}}}}'), 'application/json', { daemonApi: '1.51', requestApi: '1.51', host });
    assert.equal(bad.kind, 'refuse');
  });
});

describe('service routes', () => {
  it('update carries both checks; rollback=previous is refused', () => {
    const v = allowed(authorize(policy, who('ops'), 'POST', '/v1.51/services/abc/update?version=3&rollback=previous'));
    assert.equal(v.body?.kind, 'service-spec');
    assert.equal(v.query?.kind, 'service-update');
    assert.equal(checkQuery(v.query!, v.forwardTarget)?.code, 'DW_BODY_ROLLBACK');
    const plain = allowed(authorize(policy, who('ops'), 'POST', '/v1.51/services/abc/update?version=3'));
    assert.equal(checkQuery(plain.query!, plain.forwardTarget), undefined);
  });

  it('no constrained role may join a swarm: its managers would run any container here', () => {
    const v = authorize(policy, who('ops'), 'POST', '/v1.51/swarm/join');
    assert.equal(v.kind, 'deny');
    if (v.kind === 'deny') assert.match(v.message, /managers run any container/);
    assert.equal(authorize(policy, who('ops'), 'POST', '/v1.51/swarm/init').kind, 'allow');
  });
});

describe('routes the policy treats specially', () => {
  it('name real routes (a misspelt key would silently grant nothing special)', () => {
    const names = new Set(ROUTES.map((r) => r.name));
    for (const key of [...UNCONSTRAINABLE_ROUTES.keys(), ...QUERY_ROUTES.keys(), ...BODY_ROUTES.keys()]) assert.ok(names.has(key), key);
  });

  it('installing, upgrading, creating or configuring a plugin is refused to a constrained role; its registry is checked', () => {
    const p = parsePolicy(POLICY.replace('allow: [preset:swarm]\n    images', 'allow: [preset:swarm, preset:plugins]\n    images'), 'p.yaml');
    for (const [method, target] of [
      ['POST', '/v1.51/plugins/pull?remote=vieux/sshfs'],
      ['POST', '/v1.51/plugins/sshfs/upgrade?remote=vieux/sshfs'],
      ['POST', '/v1.51/plugins/create?name=x'],
      ['POST', '/v1.51/plugins/sshfs/set'],
    ]) {
      const v = authorize(p, who('ops'), method!, target!);
      assert.equal(v.kind, 'deny', target);
      if (v.kind === 'deny') assert.match(v.message, /a plugin runs as root/);
    }
    assert.equal(authorize(p, who('ops'), 'POST', '/v1.51/plugins/sshfs/disable').kind, 'allow');
    const privileges = (remote: string) => {
      const v = allowed(authorize(p, who('ops'), 'GET', `/v1.51/plugins/privileges?remote=${encodeURIComponent(remote)}`));
      return checkQuery(v.query!, v.forwardTarget)?.code;
    };
    assert.equal(privileges('registry.example.com/x:1'), undefined);
    assert.equal(privileges('127.0.0.1:2375/x'), 'DW_BODY_REGISTRY');
    assert.equal(privileges('evil.example.net/x'), 'DW_BODY_REGISTRY');
  });
});
