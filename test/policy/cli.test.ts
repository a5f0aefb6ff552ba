import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
    assert.equal(res.err, `dockward: ${bad}:11: unknown preset "preset:exce" (presets: system, read-only, containers-read, containers, exec, images, build, networks, volumes, swarm, plugins, all)\n`);
  });

  it('explain shows the verdict for one request', async () => {
    const allow = await dockward(['explain', 'POST', '/v1.41/containers/abc/exec', '--policy', file, '--cn', 'ci-7']);
    assert.equal(allow.out, 'allow POST /containers/{id}/exec for identity "ci" by role ci: preset:exec, forwarded as /v1.41/containers/abc/exec\n');
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

  it('routes lists templates with their presets; default prints the built-in policy', async () => {
    const exec = await dockward(['routes', '--preset', 'exec']);
    assert.deepEqual(
      exec.out.trim().split('\n').map((l) => l.slice(0, 48).trim()),
      ['POST /containers/{id}/exec', 'POST /exec/{id}/start', 'POST /exec/{id}/resize', 'GET /exec/{id}/json'],
    );
    const unknown = await dockward(['routes', '--preset', 'nope']);
    assert.equal(unknown.code, 2);
    const def = await dockward(['default']);
    const p = parsePolicy(def.out, 'default.yaml');
    assert.equal(authorize(p, { name: 'admin', cn: 'admin', ou: [], sans: [], listener: 'x' }, 'GET', '/debug/vars').kind, 'allow');
    assert.equal(authorize(p, { name: 'bob', cn: 'bob', ou: [], sans: [], listener: 'x' }, 'GET', '/_ping').kind, 'deny');
  });
});
