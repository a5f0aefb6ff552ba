import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parsePolicy, authorize } from '../../src/policy/index.js';

const ROOT = join(import.meta.dirname, '..', '..');

function dockward(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'policy', ...args], { cwd: ROOT }, (e, out, err) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? -1) : 0, out, err }),
    );
  });
}

const POLICY = `version: 1
identities:
  - name: ci
    match: { cn: "ci-*" }
    roles: [ci]
  - name: traefik
    match: { listener: traefik }
    roles: [watch]
roles:
  ci:
    allow: [preset:read-only, preset:exec]
  watch:
    allow: ["GET /containers/json", "GET /events"]
`;

describe('dockward policy', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-policy-cli-'));
    file = join(dir, 'policy.yaml');
    await writeFile(file, POLICY);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('check summarizes a valid policy and names the line of an invalid one', async () => {
    const ok = await dockward(['check', file]);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^.*policy\.yaml: valid\n {2}identity "ci" \(cn=ci-\*\): roles ci; may use \d+ of \d+ routes\n {2}identity "traefik" \(listener=traefik\): roles watch; may use 5 of \d+ routes\n$/);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, POLICY.replace('preset:exec', 'preset:exce'));
    const res = await dockward(['check', bad]);
    assert.equal(res.code, 2);
    assert.equal(res.err, `dockward: ${bad}:11: unknown preset "preset:exce" (presets: system, read-only, containers-read, containers, exec, images, build, networks, volumes, ci-runner, swarm, plugins, all)\n`);
  });

  it('explain shows the verdict for one request', async () => {
    const allow = await dockward(['explain', 'POST', '/v1.41/containers/abc/exec', '--policy', file, '--cn', 'ci-7']);
    assert.equal(allow.out, 'allow POST /containers/{id}/exec for identity "ci" by role ci: preset:exec, forwarded as /v1.41/containers/abc/exec (its body is checked: pass --body FILE to see the decision on one)\n');
    const deny = await dockward(['explain', 'GET', '/v1.41/containers/abc/logs', '--policy', file, '--identity', 'traefik', '--listener', 'unix:///run/t.sock']);
    assert.equal(
      deny.out,
      'deny (403) by default-deny: dockward: identity "traefik" may not GET /containers/{id}/logs (no rule in role "watch" allows it; default deny)\n',
    );
    const bad = await dockward(['explain', 'GET', '/v1.41/../info', '--cn', 'admin', '--json']);
    assert.equal(JSON.parse(bad.out).status, 400);
    const neither = await dockward(['explain', 'GET', '/info']);
    assert.equal(neither.code, 2);
    assert.match(neither.err, /give exactly one of --cn .* and --identity/);
  });

  it('explain exits 0 for allow, 1 for a refusal, 2 for bad usage', async () => {
    assert.equal((await dockward(['explain', 'POST', '/v1.41/containers/abc/exec', '--policy', file, '--cn', 'ci-7'])).code, 0);
    const deny = await dockward(['explain', 'POST', '/v1.41/containers/create', '--policy', file, '--cn', 'ci-7']);
    assert.match(deny.out, /^deny \(403\)/);
    assert.equal(deny.code, 1);
    const denyJson = await dockward(['explain', 'POST', '/v1.41/containers/create', '--policy', file, '--cn', 'ci-7', '--json']);
    assert.equal(JSON.parse(denyJson.out).kind, 'deny');
    assert.equal(denyJson.code, 1);
    const bad = await dockward(['explain', 'GET', '/v1.41/../info', '--cn', 'admin']);
    assert.match(bad.out, /^refused \(400\)/);
    assert.equal(bad.code, 1);
    const usage = await dockward(['explain', 'GET', '/info', '--cn', 'admin', '--api-version', 'v1.41']);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--api-version.*expected MAJOR\.MINOR/);
  });

  it('explain --body: the body as dockerd would read it, refused or forwarded with the enforced defaults', async () => {
    const tenant = join(dir, 'tenant.yaml');
    await writeFile(tenant, 'version: 1\nidentities: [{ name: t, match: { cn: t }, roles: [t] }]\nroles:\n  t:\n    allow: [preset:containers]\n    containers: { defaults: { user: "65534" } }\n');
    const privileged = join(dir, 'privileged.json');
    await writeFile(privileged, '{"Image":"busybox","HostConfig":{"Privileged":false,"privileged":true}}');
    const refused = await dockward(['explain', 'POST', '/v1.51/containers/create', '--policy', tenant, '--cn', 't', '--body', privileged]);
    assert.equal(refused.code, 1);
    assert.match(refused.out, /^deny \(403\) .*its body is refused: HostConfig\.Privileged: privileged containers are not allowed for this role \(DW_BODY_PRIVILEGED, role t\)/);
    const plain = join(dir, 'plain.json');
    await writeFile(plain, '{"image":"busybox","cmd":"true"}');
    const allowed = await dockward(['explain', 'POST', '/v1.41/containers/create', '--policy', tenant, '--cn', 't', '--body', plain, '--api-version', '1.41', '--json']);
    assert.equal(allowed.code, 0, allowed.err);
    const j = JSON.parse(allowed.out);
    assert.equal(j.check, 'container-create');
    assert.equal(j.forwardedBody.User, '65534');
    assert.deepEqual(j.forwardedBody.Cmd, ['true'], 'a string Cmd is read as a one-element list, as StrSlice does');
    assert.deepEqual(j.forwardedBody.HostConfig.SecurityOpt, ['no-new-privileges']);
    const missing = await dockward(['explain', 'POST', '/containers/create', '--policy', tenant, '--cn', 't', '--body', join(dir, 'nope.json')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /cannot read the body file/);
  });

  it('schema prints the JSON Schema that schema/policy.schema.json publishes, and it checks a policy', async () => {
    const printed = await dockward(['schema']);
    assert.equal(printed.code, 0);
    const published = await readFile(join(ROOT, 'schema', 'policy.schema.json'), 'utf8');
    assert.equal(printed.out, published, 'schema/policy.schema.json is current (regenerate: dockward policy schema > schema/policy.schema.json)');
    const { Ajv } = await import('ajv');
    const validate = new Ajv({ strict: false }).compile(JSON.parse(published));
    assert.ok(validate(parse(POLICY)), JSON.stringify(validate.errors));
    assert.ok(!validate(parse(POLICY.replace('allow:', 'alow:'))));
  });

  it("explain reads requests for the route table's newest API version, or the one given", async () => {
    const newest = await dockward(['explain', 'PUT', '/v1.51/volumes/v1', '--cn', 'admin']);
    assert.equal(newest.out, 'allow PUT /volumes/{name} for identity "admin" by role admin: preset:all, forwarded as /v1.51/volumes/v1\n');
    const tooNew = await dockward(['explain', 'GET', '/v1.52/info', '--cn', 'admin']);
    assert.equal(tooNew.out, 'refused (400): dockward: bad request target: client API version 1.52 is too new; the daemon supports up to 1.51\n');
    assert.equal(tooNew.code, 1);
    const old = await dockward(['explain', 'PUT', '/v1.41/volumes/v1', '--cn', 'admin', '--api-version', '1.41']);
    assert.equal(old.out, 'refused (405): dockward: method PUT is not allowed on /v1.41/volumes/v1 (allowed: GET, DELETE)\n');
    assert.equal(old.code, 1);
  });

  it('routes lists templates with their presets; default prints the built-in policy', async () => {
    const exec = await dockward(['routes', '--preset', 'exec']);
    assert.deepEqual(
      exec.out.trim().split('\n').map((l) => l.slice(0, 48).trim()),
      ['POST /containers/{id}/exec', 'POST /exec/{id}/start', 'POST /exec/{id}/resize', 'GET /exec/{id}/json'],
    );
    const all = (await dockward(['routes'])).out.split('\n').map((l) => l.replace(/ +/g, ' '));
    assert.ok(all.includes('PUT /volumes/{name} 1.42+ volumes, ci-runner'), all.join('\n'));
    assert.ok(all.includes('POST /containers/{id}/copy 1.24-1.44 containers, ci-runner'));
    assert.ok(all.includes('GET /images/{name}/attestations 1.55+ images, ci-runner'));
    const unknown = await dockward(['routes', '--preset', 'nope']);
    assert.equal(unknown.code, 2);
    const def = await dockward(['default']);
    const p = parsePolicy(def.out, 'default.yaml');
    assert.equal(authorize(p, { name: 'admin', cn: 'admin', ou: [], sans: [], listener: 'x' }, 'GET', '/debug/vars').kind, 'allow');
    assert.equal(authorize(p, { name: 'bob', cn: 'bob', ou: [], sans: [], listener: 'x' }, 'GET', '/_ping').kind, 'deny');
  });
});
