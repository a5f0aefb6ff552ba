/**
 * `dockward connect` against a private dockerd with TLS: the context it writes must be one the
 * real docker CLI lists, inspects, selects and uses; the env lines must work when eval'ed.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, stat, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startEngineDaemon, engineSkipReason, runDocker } from '../harness/engine.js';
import { type PrivateDaemon } from '../../src/engine/private-daemon.js';
import { connect } from '../../src/client/connect.js';
import { contextDirs, writeDockerContext } from '../../src/client/docker-context.js';
import { parseTarget } from '../../src/client/tls-probe.js';
import { runDoctor } from '../../src/client/doctor.js';
import { makeFixtures, freePort, type Fixtures } from './fixtures.js';

const skip = engineSkipReason();
const repo = join(import.meta.dirname, '..', '..');
let fx: Fixtures;
let daemon: PrivateDaemon | undefined;
let url: string;

before(async () => {
  if (skip) return;
  fx = await makeFixtures();
  const port = await freePort();
  url = `tcp://127.0.0.1:${port}`;
  daemon = await startEngineDaemon({
    args: ['-H', url, '--tlsverify', '--tlscacert', join(fx.pkiA, 'ca.pem'), '--tlscert', fx.server.cert, '--tlskey', fx.server.key],
  });
});

after(async () => {
  await daemon?.stop();
  await fx?.cleanup();
});

function sh(script: string, env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: repo, env: { PATH: process.env.PATH ?? '', HOME: fx.root, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

const dockward = `${process.execPath} --import tsx src/cli/main.ts`;

test('connect writes a context the real docker CLI lists, inspects, uses and selects', { skip }, async () => {
  const configDir = await mkdtemp(join(fx.root, 'docker-config-'));
  const r = await connect({ target: parseTarget(url), bundleDir: fx.bundles.ok, context: 'dw-test', configDir });
  assert.equal(r.ok, true, JSON.stringify(r.report.findings, null, 1));
  assert.ok(r.ok);
  assert.match(r.server.apiVersion, /^1\.\d+$/);
  assert.equal(r.server.os, 'linux');
  assert.equal(r.context?.name, 'dw-test');

  // `{{json .}}`, not `json`: CLI 20.10 knows only the template.
  const ls = await runDocker(['context', 'ls', '--format', '{{json .}}'], { configDir });
  assert.equal(ls.code, 0, ls.stderr);
  const entries = ls.stdout.trim().split('\n').map((l) => JSON.parse(l) as { Name: string; DockerEndpoint: string; Error?: string; Description: string });
  const mine = entries.find((e) => e.Name === 'dw-test');
  // CLI 20.10 has no Error field; CLI 28 has it empty when the context is sound.
  assert.deepEqual(mine && { endpoint: mine.DockerEndpoint, error: mine.Error ?? '', description: mine.Description }, { endpoint: url, error: '', description: `dockward: ${url}` });

  const inspect = await runDocker(['context', 'inspect', 'dw-test'], { configDir });
  assert.equal(inspect.code, 0, inspect.stderr);
  const [ctx] = JSON.parse(inspect.stdout) as [{ Endpoints: { docker: { Host: string; SkipTLSVerify: boolean } }; TLSMaterial: { docker: string[] } }];
  assert.deepEqual(ctx.Endpoints.docker, { Host: url, SkipTLSVerify: false });
  assert.deepEqual([...ctx.TLSMaterial.docker].sort(), ['ca.pem', 'cert.pem', 'key.pem']);
  const key = join(contextDirs('dw-test', configDir).tls, 'docker', 'key.pem');
  assert.equal((await stat(key)).mode & 0o777, 0o600);

  const ps = await runDocker(['--context', 'dw-test', 'ps', '--format', '{{.ID}}'], { configDir });
  assert.equal(ps.code, 0, ps.stderr);
  const use = await runDocker(['context', 'use', 'dw-test'], { configDir });
  assert.equal(use.code, 0, use.stderr);
  const version = await runDocker(['version', '--format', '{{.Server.APIVersion}}'], { configDir });
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), r.server.apiVersion);

  // doctor diagnoses a context by name, with the context's own TLS material.
  const diag = await runDoctor({ context: 'dw-test', configDir });
  assert.equal(diag.ok, true, JSON.stringify(diag.findings, null, 1));
  assert.equal(diag.context, 'dw-test');
  assert.equal(diag.bundle, join(contextDirs('dw-test', configDir).tls, 'docker'));
  await assert.rejects(runDoctor({ context: 'nope', configDir }), { message: 'no Docker context named "nope"', hint: 'see docker context ls' });

  // An existing context is never replaced silently.
  await assert.rejects(connect({ target: parseTarget(url), bundleDir: fx.bundles.ok, context: 'dw-test', configDir }), /a Docker context named "dw-test" already exists/);
  const again = await connect({ target: parseTarget(url), bundleDir: fx.bundles.ok, context: 'dw-test', configDir, force: true });
  assert.equal(again.ok, true);
});

test('doctor on a context with skip-tls-verify: says verification is off, and does not fail what the CLI accepts', { skip }, async () => {
  const configDir = await mkdtemp(join(fx.root, 'docker-config-'));
  // The context trusts the wrong CA, which only works because it skips verification.
  const caB = join(fx.root, 'ca-b.pem');
  await writeFile(caB, fx.caB);
  const ok = fx.bundles.ok;
  const endpoint = `host=${url},ca=${caB},cert=${join(ok, 'cert.pem')},key=${join(ok, 'key.pem')},skip-tls-verify=true`;
  assert.equal((await runDocker(['context', 'create', 'dw-skip', '--docker', endpoint], { configDir })).code, 0);
  assert.equal((await runDocker(['--context', 'dw-skip', 'version'], { configDir })).code, 0);
  const diag = await runDoctor({ context: 'dw-skip', configDir });
  assert.equal(diag.ok, true, JSON.stringify(diag.findings, null, 1));
  const skipped = diag.findings.find((f) => f.id === 'skip-tls-verify');
  assert.equal(skipped?.severity, 'warning');
  assert.match(skipped.message, /does not verify the server/);
  assert.ok(diag.findings.some((f) => f.id === 'server-cert-chain' && f.severity === 'warning'));
});

test('a failing connection writes nothing and returns the diagnosis', { skip }, async () => {
  const configDir = await mkdtemp(join(fx.root, 'docker-config-'));
  const r = await connect({ target: parseTarget(url), bundleDir: fx.bundles.otherCa, context: 'dw-bad', configDir });
  assert.equal(r.ok, false);
  assert.ok(r.report.findings.some((f) => f.id === 'server-cert-chain'));
  await assert.rejects(stat(contextDirs('dw-bad', configDir).meta), { code: 'ENOENT' });
});

test('writeDockerContext refuses names the docker CLI refuses', { skip }, async () => {
  const base = { host: url, caPem: fx.caA, certPem: fx.caA, keyPem: 'k', configDir: fx.root };
  await assert.rejects(writeDockerContext({ ...base, name: 'default' }), /invalid context name "default"/);
  await assert.rejects(writeDockerContext({ ...base, name: '-x' }), /invalid context name/);
  await assert.rejects(writeDockerContext({ ...base, name: 'ok', host: 'unix:///run/docker.sock' }), /invalid Docker host/);
});

test('the CLI: env lines that work when eval\'ed, a context, and exit 1 with the diagnosis', { skip }, async () => {
  const configDir = await mkdtemp(join(fx.root, 'docker-config-'));
  const env = { DOCKER_CONFIG: configDir };
  const evald = await sh(`eval "$(${dockward} connect ${url} --bundle ${fx.bundles.ok})" && docker version --format '{{.Server.Os}}' && echo "$DOCKER_HOST $DOCKER_TLS_VERIFY $DOCKER_CERT_PATH"`, env);
  assert.equal(evald.code, 0, evald.out + evald.err);
  assert.equal(evald.out, `linux\n${url} 1 ${fx.bundles.ok}\n`);

  const withContext = await sh(`${dockward} connect ${url} --bundle ${fx.bundles.ok} --context cli-ctx`, env);
  assert.equal(withContext.code, 0, withContext.err);
  assert.match(withContext.out, /^connected to tcp:\/\/127\.0\.0\.1:\d+: Docker \S+ \(API 1\.\d+, linux\/\w+\)\n.*\n {2}docker context use cli-ctx\n$/);
  const meta = JSON.parse(await readFile(join(contextDirs('cli-ctx', configDir).meta, 'meta.json'), 'utf8')) as unknown;
  assert.deepEqual(meta, { Name: 'cli-ctx', Metadata: { Description: `dockward: ${url}` }, Endpoints: { docker: { Host: url, SkipTLSVerify: false } } });

  // With no address and no DOCKER_HOST, doctor follows the CLI to its current context.
  assert.equal((await runDocker(['context', 'use', 'cli-ctx'], { configDir })).code, 0);
  const doc = await sh(`${dockward} doctor`, env);
  assert.equal(doc.code, 0, doc.out + doc.err);
  assert.match(doc.out, /^dockward doctor: tcp:\/\/127\.0\.0\.1:\d+ \(context cli-ctx\) \(TLS, bundle .*\)\n[^]*connection OK\n$/);

  const failing = await sh(`${dockward} connect ${url} --bundle ${fx.bundles.serverAuthOnly} --json`, env);
  assert.equal(failing.code, 1, failing.err);
  const res = JSON.parse(failing.out) as { ok: boolean; report: { findings: { id: string }[] } };
  assert.equal(res.ok, false);
  assert.deepEqual(res.report.findings.map((f) => f.id), ['client-cert-eku']);

  const empty = await sh(`${dockward} connect ${url} --bundle ${configDir}`, env);
  assert.equal(empty.code, 2);
  assert.match(empty.err, /holds no ca\.pem, cert\.pem or key\.pem/);
});
