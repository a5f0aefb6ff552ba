import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/util/errors.js';
import { NEWEST_API_VERSION } from '../../src/api/versions.js';
import {
  authorize,
  compileGlob,
  defaultPolicy,
  loadPolicyFile,
  maxApiVersionOf,
  parsePolicy,
  withApiVersion,
  type Identity,
  type Policy,
  type Verdict,
} from '../../src/policy/index.js';

function who(fields: Partial<Identity> & { name: string }): Identity {
  return { ou: [], sans: [], listener: 'tls', ...fields };
}

const admin = who({ name: 'admin', cn: 'admin' });
const bob = who({ name: 'bob', cn: 'bob' });

const POLICY = `version: 1
identities:
  - name: ci
    match: { cn: "ci-*" }
    roles: [read-only, exec]
  - name: ops
    match: { ou: platform, san: "*.ops.example" }
    roles: [operator]
  - name: agent
    match: { listener: monitoring }
    roles: [monitor]
  - name: trial
    match: { cn: trial }
    roles: [read-only, shadow]
  - name: nobody
    match: { cn: nobody }
    roles: []
roles:
  read-only:
    allow: [preset:read-only]
  exec:
    allow: [preset:containers-read, "POST /containers/{id}/exec", "POST /exec/{id}/start", "GET /exec/{id}/json", "POST /exec/{id}/resize"]
  operator:
    allow: [preset:containers, preset:images, "* /volumes/{name}"]
    deny: ["DELETE /images/{name}", "GET /containers/{id}/archive"]
  monitor:
    allow: ["GET /containers/json", "GET /events"]
    deny: ["GET /version"]
  shadow:
    audit-only: true
`;

const policy = parsePolicy(POLICY, 'policy.yaml');

function verdict(p: Policy, id: Identity, method: string, target: string): Verdict {
  return authorize(p, id, method, target);
}

function allowedBy(p: Policy, id: Identity, method: string, target: string): string {
  const v = verdict(p, id, method, target);
  assert.equal(v.kind, 'allow', `${method} ${target}: ${JSON.stringify(v)}`);
  return v.kind === 'allow' ? v.rule : '';
}

function deniedWith(p: Policy, id: Identity, method: string, target: string): { rule: string; message: string } {
  const v = verdict(p, id, method, target);
  assert.equal(v.kind, 'deny', `${method} ${target}: ${JSON.stringify(v)}`);
  return v.kind === 'deny' ? { rule: v.rule, message: v.message } : { rule: '', message: '' };
}

function policyError(text: string): string {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (e) {
    assert.ok(e instanceof UsageError, String(e));
    return e.message;
  }
  assert.fail('expected the policy to be refused');
}

describe('default policy', () => {
  const p = defaultPolicy();

  it('lets the identity with CN admin do everything', () => {
    const v = verdict(p, admin, 'POST', '/v1.41/containers/create?name=x');
    assert.deepEqual(v, {
      kind: 'allow',
      route: 'POST /containers/create',
      rule: 'role admin: preset:all',
      forwardTarget: '/v1.41/containers/create?name=x',
      identity: 'admin',
    });
    assert.equal(allowedBy(p, admin, 'GET', '/debug/vars'), 'role admin: preset:all');
  });

  it('refuses everyone else everything, even a ping, saying why', () => {
    assert.deepEqual(verdict(p, bob, 'HEAD', '/_ping'), {
      kind: 'deny',
      status: 403,
      route: 'HEAD /_ping',
      rule: 'default-deny',
      message: 'dockward: identity "bob" may not HEAD /_ping (the built-in default policy only allows the identity with certificate CN "admin"; default deny)',
    });
    assert.equal(verdict(p, who({ name: 'admin', listener: 'unix' }), 'GET', '/_ping').kind, 'deny');
  });
});

describe('authorize', () => {
  it('allows by the first role entry that names the route and forwards the canonical target', () => {
    const ci = who({ name: 'ci-runner-7', cn: 'ci-runner-7' });
    assert.equal(allowedBy(policy, ci, 'GET', '/v1.41/containers/json?all=1'), 'role read-only: preset:read-only');
    assert.equal(allowedBy(policy, ci, 'GET', '/v1.41/containers/c1/logs'), 'role exec: preset:containers-read');
    assert.equal(allowedBy(policy, ci, 'POST', '/v1.41/containers/c1/exec'), 'role exec: POST /containers/{id}/exec');
    const v = verdict(policy, ci, 'POST', '/v1.41/exec/e%31/start');
    assert.ok(v.kind === 'allow');
    assert.deepEqual([v.route, v.forwardTarget, v.param, v.identity], ['POST /exec/{id}/start', '/v1.41/exec/e1/start', 'e1', 'ci']);
  });

  it('names the identity, the route and the roles when nothing allows it', () => {
    const ci = who({ name: 'ci-runner-7', cn: 'ci-runner-7' });
    assert.deepEqual(deniedWith(policy, ci, 'POST', '/v1.41/containers/create'), {
      rule: 'default-deny',
      message: 'dockward: identity "ci" may not POST /containers/create (no rule in roles "read-only", "exec" allows it; default deny)',
    });
    const trial = who({ name: 'trial', cn: 'trial' });
    assert.equal(verdict(policy, trial, 'GET', '/info').kind, 'allow');
    const nobody = who({ name: 'nobody', cn: 'nobody' });
    assert.equal(
      deniedWith(policy, nobody, 'GET', '/v1.41/info').message,
      'dockward: identity "nobody" may not GET /info (it has no roles; default deny)',
    );
  });

  it('refuses "docker cp" to read-only', () => {
    const ci = who({ name: 'ci-1', cn: 'ci-1' });
    assert.match(deniedWith(policy, ci, 'HEAD', '/v1.41/containers/c1/archive?path=%2Fetc%2Fshadow').message, /may not HEAD \/containers\/\{id\}\/archive/);
    assert.match(deniedWith(policy, ci, 'GET', '/v1.41/containers/c1/archive?path=%2Fetc%2Fshadow').message, /may not GET \/containers\/\{id\}\/archive/);
    assert.match(deniedWith(policy, ci, 'GET', '/v1.41/containers/c1/export').message, /may not GET \/containers\/\{id\}\/export/);
  });

  it('lets deny win over allow, across roles', () => {
    const ops = who({ name: 'alice', cn: 'alice', ou: ['staff', 'platform'], sans: ['alice.ops.example'] });
    assert.equal(allowedBy(policy, ops, 'POST', '/v1.41/images/create?fromImage=busybox'), 'role operator: preset:images');
    assert.equal(allowedBy(policy, ops, 'DELETE', '/v1.41/volumes/v1'), 'role operator: * /volumes/{name}');
    assert.deepEqual(deniedWith(policy, ops, 'DELETE', '/v1.41/images/library/busybox:latest'), {
      rule: 'role operator: deny DELETE /images/{name}',
      message: 'dockward: identity "ops" may not DELETE /images/{name} (denied by role "operator": deny "DELETE /images/{name}")',
    });
  });

  it('lets any identity with a role ping and read the version, unless a role denies it', () => {
    const ops = who({ name: 'alice', cn: 'alice', ou: ['platform'], sans: ['a.ops.example'] });
    const rule = 'implicit: any identity with a role may ping and read the version';
    assert.equal(allowedBy(policy, ops, 'HEAD', '/_ping'), rule);
    assert.equal(allowedBy(policy, ops, 'GET', '/v1.41/version'), rule);
    const agent = who({ name: 'mon', listener: 'monitoring' });
    assert.equal(allowedBy(policy, agent, 'GET', '/_ping'), rule);
    assert.equal(deniedWith(policy, agent, 'GET', '/version').rule, 'role monitor: deny GET /version');
    assert.equal(allowedBy(policy, agent, 'GET', '/v1.41/events?since=1'), 'role monitor: GET /events');
    assert.equal(deniedWith(policy, agent, 'GET', '/v1.41/info').rule, 'default-deny');
  });

  it('matches identities on cn, ou, san and listener, all given fields, first match wins', () => {
    // ou matches but no SAN does: not "ops".
    const half = who({ name: 'carol', cn: 'carol', ou: ['platform'], sans: ['carol.example'] });
    assert.equal(deniedWith(policy, half, 'GET', '/_ping').message,
      'dockward: identity "carol" may not GET /_ping (no identity in policy policy.yaml matches it; default deny)');
    // cn glob: "ci-*" does not match "xci-1" nor "ci" (no dash).
    assert.equal(verdict(policy, who({ name: 'x', cn: 'xci-1' }), 'GET', '/_ping').kind, 'deny');
    assert.equal(verdict(policy, who({ name: 'x', cn: 'ci' }), 'GET', '/_ping').kind, 'deny');
    assert.equal(verdict(policy, who({ name: 'x', cn: 'ci-' }), 'GET', '/_ping').kind, 'allow');
    // san with or without Node's type prefix.
    const bySan = parsePolicy(
      'version: 1\nidentities:\n  - { name: h, match: { san: h.example }, roles: [r] }\n  - { name: i, match: { san: "IP Address:10.0.0.*" }, roles: [r] }\nroles:\n  r: { allow: [preset:system] }\n',
      'san.yaml',
    );
    const identityOf = (sans: string[]) => {
      const v = verdict(bySan, who({ name: 'x', cn: 'x', sans }), 'GET', '/info');
      return v.kind === 'allow' ? v.identity : v.kind;
    };
    assert.equal(identityOf(['DNS:h.example']), 'h');
    assert.equal(identityOf(['DNS:xh.example', 'IP Address:10.0.0.7']), 'i');
    assert.equal(identityOf(['DNS:h.example.evil']), 'deny');
    assert.equal(identityOf(['email:h.example@x']), 'deny');
    // listener: the listener's address, or a unix listener's fixed identity name, never a CN.
    assert.equal(verdict(policy, who({ name: 'x', listener: 'other' }), 'GET', '/_ping').kind, 'deny');
    assert.equal(verdict(policy, who({ name: 'monitoring', listener: 'unix:///run/m.sock' }), 'GET', '/_ping').kind, 'allow');
    assert.equal(verdict(policy, who({ name: 'monitoring', cn: 'monitoring', listener: 'tcp://127.0.0.1:2376' }), 'GET', '/_ping').kind, 'deny');
    // first match wins: a ci-* cert on the monitoring listener is "ci".
    const both = who({ name: 'ci-9', cn: 'ci-9', listener: 'monitoring' });
    const v = verdict(policy, both, 'GET', '/v1.41/containers/json');
    assert.ok(v.kind === 'allow' && v.identity === 'ci');
  });

  it('in audit-only mode allows what would be denied and records why', () => {
    const trial = who({ name: 'trial', cn: 'trial' });
    const { body, ...create } = verdict(policy, trial, 'POST', '/v1.41/containers/create') as Extract<Verdict, { kind: 'allow' }>;
    // The body is checked against the audit-only role's rules, and recorded rather than refused.
    assert.deepEqual([body?.kind, body?.role, body?.auditOnly], ['container-create', 'shadow', true]);
    assert.deepEqual(create, {
      kind: 'allow',
      route: 'POST /containers/create',
      rule: 'audit-only:shadow',
      forwardTarget: '/v1.41/containers/create',
      identity: 'trial',
      auditOnly: true,
      wouldDeny: 'dockward: identity "trial" may not POST /containers/create (no rule in roles "read-only", "shadow" allows it; default deny)',
    });
    // What the policy allows anyway is an ordinary allow.
    const v = verdict(policy, trial, 'GET', '/v1.41/containers/json');
    assert.ok(v.kind === 'allow' && v.auditOnly === undefined && v.rule === 'role read-only: preset:read-only');
    // Malformed targets are refused even in audit-only mode.
    assert.equal(verdict(policy, trial, 'GET', '/v1.41/../info').kind, 'bad');
  });

  it('answers 400, 404 and 405 to a known identity before looking at its rules', () => {
    const nobody = who({ name: 'nobody', cn: 'nobody' });
    assert.deepEqual(verdict(policy, nobody, 'GET', '/v1.41/./info'), {
      kind: 'bad',
      status: 400,
      message: 'dockward: bad request target: request path has a "." or ".." segment, which dockerd would redirect',
    });
    assert.deepEqual(verdict(policy, nobody, 'GET', '/v1.41/nope'), {
      kind: 'bad',
      status: 404,
      message: 'dockward: page not found: the Engine API has no route GET /v1.41/nope',
    });
    assert.deepEqual(verdict(policy, nobody, 'PUT', '/v1.41/info'), {
      kind: 'bad',
      status: 405,
      message: 'dockward: method PUT is not allowed on /v1.41/info (allowed: GET)',
    });
  });

  it('refuses an identity the policy does not know before reading its request', () => {
    // The docker CLI 28 falls back to API 1.50 when /_ping is refused: what it must learn is who
    // it is not, not that 1.50 is too new for dockerd 20.10.
    const behind2010 = withApiVersion(policy, '1.41');
    const why = '(no identity in policy policy.yaml matches it; default deny)';
    assert.deepEqual(verdict(behind2010, bob, 'GET', '/v1.50/containers/json'), {
      kind: 'deny',
      status: 403,
      route: 'GET /containers/json',
      rule: 'default-deny',
      message: `dockward: identity "bob" may not GET /containers/json ${why}`,
    });
    assert.equal(deniedWith(behind2010, bob, 'GET', '/v1.41/./info').message, `dockward: identity "bob" may not use the Docker API (GET /v1.41/./info) ${why}`);
    const unknownRoute = verdict(behind2010, bob, 'GET', '/v1.41/nope');
    assert.ok(unknownRoute.kind === 'deny' && unknownRoute.route === null);
  });

  it("accepts API versions up to the daemon's, and never beyond the gateway's newest", () => {
    const ci = who({ name: 'ci-1', cn: 'ci-1' });
    assert.equal(maxApiVersionOf(policy), NEWEST_API_VERSION);
    const v141 = withApiVersion(policy, '1.41');
    assert.equal(maxApiVersionOf(v141), '1.41');
    assert.equal((verdict(v141, ci, 'GET', '/v1.43/info') as { message: string }).message,
      'dockward: bad request target: client API version 1.43 is too new; the daemon supports up to 1.41');
    assert.equal(allowedBy(withApiVersion(policy, '1.43'), ci, 'GET', '/v1.43/info'), 'role read-only: preset:read-only');
    assert.throws(() => withApiVersion(policy, 'v1.43'), /invalid API version/);
  });

  it('in front of a daemon newer than itself, refuses the newer versions and pins unversioned requests to its own', () => {
    const ci = who({ name: 'ci-1', cn: 'ci-1' });
    const newer = withApiVersion(policy, '1.55', '1.51');
    assert.equal(maxApiVersionOf(newer), '1.51');
    assert.equal((verdict(newer, ci, 'GET', '/v1.52/info') as { message: string }).message,
      'dockward: bad request target: client API version 1.52 is newer than the gateway knows: it accepts up to 1.51 (dockerd speaks 1.55); use API 1.51 (e.g. DOCKER_API_VERSION=1.51)');
    const v = verdict(newer, ci, 'GET', '/containers/json?all=1');
    assert.ok(v.kind === 'allow' && v.forwardTarget === '/v1.51/containers/json?all=1', JSON.stringify(v));
    const same = verdict(withApiVersion(policy, '1.51', '1.51'), ci, 'GET', '/containers/json');
    assert.ok(same.kind === 'allow' && same.forwardTarget === '/containers/json', JSON.stringify(same));
  });
});

describe('compileGlob', () => {
  it('supports * and ? and nothing else', () => {
    const cases: [string, string, boolean][] = [
      ['ci-*', 'ci-runner', true],
      ['ci-*', 'ci-', true],
      ['ci-*', 'xci-a', false],
      ['ci-?', 'ci-a', true],
      ['ci-?', 'ci-ab', false],
      ['*.ops.example', 'a.ops.example', true],
      ['*.ops.example', 'a.opsXexample', false],
      ['a+b', 'aab', false],
      ['a+b', 'a+b', true],
      ['[ab]', 'a', false],
      ['*', '', true],
      ['admin', 'Admin', false],
      ['unix://*', 'unix:///run/a.sock', true],
    ];
    for (const [glob, s, want] of cases) assert.equal(compileGlob(glob)(s), want, `${glob} ~ ${s}`);
  });
});

describe('policy file errors name the line', () => {
  const base = (roles: string, identities = '  - name: a\n    match: { cn: a }\n    roles: [r]\n') =>
    `version: 1\nidentities:\n${identities}roles:\n${roles}`;

  const cases: [string, string, string][] = [
    ['unknown key in an identity', 'version: 1\nidentities:\n  - name: a\n    match: { cn: a }\n    rolez: [r]\n', 'policy.yaml:5: unknown key "rolez" under "identities[0]" (allowed: name, description, match, roles)'],
    ['unknown key in a role', base('  r:\n    alow: [preset:all]\n'), 'policy.yaml:8: unknown key "alow" under "roles.r" (allowed: allow, deny, audit-only, scope, unrestricted, containers, build, images, networks, description)'],
    ['unknown match field', base('  r: {}\n', '  - name: a\n    match: { email: a }\n    roles: [r]\n'), 'policy.yaml:4: unknown key "email" under "identities[0].match" (allowed: cn, ou, san, listener)'],
    ['empty match', base('  r: {}\n', '  - name: a\n    match: {}\n    roles: [r]\n'), 'policy.yaml:4: "identities[0].match" must not be empty'],
    ['unsupported version', 'version: 2\nidentities: []\n', 'policy.yaml:1: "version" must be one of 1'],
    ['wrong type', base('  r:\n    audit-only: yes please\n'), 'policy.yaml:8: "roles.r.audit-only" must be a boolean'],
    ['unknown preset', base('  r:\n    allow:\n      - preset:system\n      - preset:read-onyl\n'), 'policy.yaml:10: unknown preset "preset:read-onyl" (presets: system, read-only, containers-read, containers, exec, images, build, networks, volumes, ci-runner, swarm, plugins, all)'],
    ['unknown route', base('  r:\n    deny: ["GET /containers/{name}/json"]\n'), 'policy.yaml:8: rule "GET /containers/{name}/json" names no Engine API route (templates look like "/containers/{id}/json", "/images/{name}/json")'],
    ['route without that method', base('  r:\n    allow: ["PUT /containers/{id}/json"]\n'), 'policy.yaml:8: rule "PUT /containers/{id}/json": /containers/{id}/json has no PUT route (it has GET)'],
    ['unknown method', base('  r:\n    allow: ["get /info"]\n'), 'policy.yaml:8: rule "get /info" has unknown method "get" (use GET, HEAD, POST, PUT, DELETE or *)'],
    ['malformed rule', base('  r:\n    allow: ["/info"]\n'), 'policy.yaml:8: rule "/info" is neither "preset:NAME" nor "METHOD /template" (e.g. "GET /containers/{id}/json")'],
    ['unknown role', base('  r: {}\n', '  - name: a\n    match: { cn: a }\n    roles:\n      - r\n      - admin\n'), 'policy.yaml:7: unknown role "admin" (roles: r)'],
    ['duplicate identity', base('  r: {}\n', '  - name: a\n    match: { cn: a }\n    roles: [r]\n  - name: a\n    match: { cn: b }\n    roles: [r]\n'), 'policy.yaml:6: identity "a" is defined twice'],
    ['duplicate key', 'version: 1\nidentities: []\nversion: 1\n', 'policy.yaml:3: duplicate key "version"'],
  ];
  for (const [what, text, message] of cases) {
    it(what, () => assert.equal(policyError(text), message));
  }

  it('loadPolicyFile reads a file and names a missing one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-policy-'));
    try {
      const file = join(dir, 'policy.yaml');
      await writeFile(file, POLICY);
      const p = await loadPolicyFile(file);
      assert.equal(p.source, file);
      assert.equal(p.identities.length, 5);
      await assert.rejects(loadPolicyFile(join(dir, 'nope.yaml')), (e: unknown) =>
        e instanceof UsageError && e.message === `policy file ${join(dir, 'nope.yaml')} does not exist`);
      await writeFile(file, 'version: 1\nidentities:\n  - name: a\n    match: { cn: a }\n    roles: [x]\n');
      await assert.rejects(loadPolicyFile(file), { message: `${file}:5: unknown role "x" (the policy defines no roles)` });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
