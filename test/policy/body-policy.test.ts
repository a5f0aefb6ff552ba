import { test } from 'node:test';
import assert from 'node:assert/strict';
import { authorize, defaultPolicy, parsePolicy, type Identity, type Verdict } from '../../src/policy/index.js';
import { UsageError } from '../../src/util/errors.js';

const who = (cn: string): Identity => ({ name: cn, cn, ou: [], sans: [], listener: 'tcp://127.0.0.1:2376' });
const allowed = (v: Verdict) => {
  assert.equal(v.kind, 'allow', JSON.stringify(v));
  return v as Extract<Verdict, { kind: 'allow' }>;
};

const POLICY = `version: 1
identities:
  - { name: ci, match: { cn: ci }, roles: [ci] }
  - { name: root, match: { cn: root }, roles: [admin] }
  - { name: trial, match: { cn: trial }, roles: [watch] }
  - { name: both, match: { cn: both }, roles: [admin, ci] }
roles:
  ci:
    allow: [preset:containers, preset:exec, preset:volumes, preset:networks]
    networks: { drivers: [bridge, overlay] }
    containers:
      capabilities: [NET_ADMIN]
      maxMemory: 1g
      bindMounts: [{ path: /srv/ci, readOnly: true }]
  admin:
    allow: [preset:all]
    unrestricted: true
  watch:
    allow: [preset:read-only]
    audit-only: true
`;

test('the role that allows a body route brings its container rules; unrestricted roles none', () => {
  const p = parsePolicy(POLICY, 'p.yaml');
  const create = allowed(authorize(p, who('ci'), 'POST', '/v1.41/containers/create'));
  assert.equal(create.body?.kind, 'container-create');
  assert.equal(create.body?.role, 'ci');
  assert.equal(create.body?.auditOnly, false);
  assert.ok(create.body?.rules.containers.capabilities.has('CAP_NET_ADMIN'));
  assert.equal(create.body?.rules.containers.maxMemory, 1024 ** 3);
  assert.deepEqual(create.body?.rules.containers.bindMounts, [{ path: '/srv/ci', readOnly: true, subpaths: true }]);
  assert.equal(allowed(authorize(p, who('ci'), 'POST', '/v1.41/containers/abc/exec')).body?.kind, 'exec-create');
  assert.equal(allowed(authorize(p, who('ci'), 'POST', '/v1.41/containers/abc/update')).body?.kind, 'container-update');
  assert.equal(allowed(authorize(p, who('ci'), 'POST', '/v1.41/volumes/create')).body?.kind, 'volume-create');
  assert.equal(allowed(authorize(p, who('ci'), 'POST', '/v1.51/volumes/create')).body?.rules.containers.maxMemory, 1024 ** 3);
  const network = allowed(authorize(p, who('ci'), 'POST', '/v1.51/networks/create')).body;
  assert.equal(network?.kind, 'network-create');
  assert.deepEqual([...network!.rules.networkDrivers], ['bridge', 'overlay']);
  assert.equal(allowed(authorize(p, who('root'), 'POST', '/v1.41/containers/abc/exec')).body, undefined);
  assert.equal(allowed(authorize(p, who('ci'), 'POST', '/v1.41/containers/abc/start')).body, undefined, 'no body check where the body does not matter');
  assert.equal(allowed(authorize(p, who('root'), 'POST', '/v1.41/containers/create')).body, undefined);
  assert.equal(allowed(authorize(p, who('both'), 'POST', '/v1.41/containers/create')).body, undefined, 'the first role that allows decides');
});

test('an audit-only role checks bodies against its own (default) rules and records instead of refusing', () => {
  const p = parsePolicy(POLICY, 'p.yaml');
  const v = allowed(authorize(p, who('trial'), 'POST', '/v1.41/containers/create'));
  assert.equal(v.auditOnly, true);
  assert.equal(v.body?.auditOnly, true);
  assert.equal(v.body?.rules.containers.privileged, false);
});

test('checkpoints (a host directory named by the client) only for unrestricted roles', () => {
  const p = parsePolicy(POLICY, 'p.yaml');
  const ci = authorize(p, who('ci'), 'DELETE', '/v1.41/containers/abc/checkpoints/cp');
  assert.equal(ci.kind, 'deny');
  assert.match(ci.kind === 'deny' ? ci.message : '', /checkpoints name host directories/);
  assert.equal(authorize(p, who('root'), 'DELETE', '/v1.41/containers/abc/checkpoints/cp').kind, 'allow');
});

test('the built-in default policy: the admin is unrestricted', () => {
  assert.equal(allowed(authorize(defaultPolicy(), who('admin'), 'POST', '/v1.41/containers/create')).body, undefined);
});

test('policy errors in container rules name the line', () => {
  const bad = (text: string, re: RegExp) => assert.throws(() => parsePolicy(text, 'p.yaml'), (e: unknown) => e instanceof UsageError && re.test(e.message));
  const base = 'version: 1\nidentities: [{ name: a, match: { cn: a }, roles: [r] }]\nroles:\n  r:\n    allow: [preset:containers]\n';
  bad(`${base}    unrestricted: true\n    containers: { privileged: true }\n`, /p\.yaml:7: .*unrestricted/);
  bad(`${base}    containers: { hostNamespaces: [net] }\n`, /p\.yaml:6/);
  bad(`${base}    containers: { priviliged: true }\n`, /p\.yaml:6: .*priviliged/);
  bad(`${base}    containers: { bindMounts: [{ path: relative }] }\n`, /p\.yaml:6/);
  bad(`${base}    containers: { maxMemory: lots }\n`, /p\.yaml:6/);
  bad(`${base}    networks: { driver: [bridge] }\n`, /p\.yaml:6: .*driver/);
  bad(`${base}    unrestricted: true\n    networks: { addresses: true }\n`, /p\.yaml:7: .*unrestricted/);
});
