/**
 * `dockward pki bundle`: the archive is unpacked elsewhere with the real tar and used three ways
 * against a real gateway — `dockward connect --bundle`, the sourced docker.env, and
 * `docker context import` of the context archive inside.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startGatewayFixture, type GatewayFixture } from '../gateway/fixture.js';
import { engineSkipReason, runDocker, DOCKER_CLI } from '../harness/engine.js';
import { dockward } from '../harness/cli.js';
import { runProcess } from '../harness/process.js';

const skip = engineSkipReason();
let fx: GatewayFixture;
let host: string;

before(async () => {
  if (skip) return;
  fx = await startGatewayFixture();
  host = `tcp://127.0.0.1:${fx.port}`;
});
after(async () => fx?.stop());

const sh = (script: string, cwd: string, env: Record<string, string> = {}) =>
  runProcess('bash', ['-c', script], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, ...env } });

test('a bundle unpacked elsewhere connects to the gateway as its identity, and is never world-readable', { skip }, async () => {
  const out = join(fx.dir, 'reader.tar.gz');
  const made = await dockward(['pki', 'bundle', 'reader', '--pki', fx.pki, '--docker-host', host, '--output', out]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await stat(out)).mode & 0o777, 0o600);
  const listing = await runProcess('tar', ['tvzf', out], { env: { PATH: process.env.PATH ?? '' } });
  assert.equal(listing.code, 0, listing.stderr);
  const modes = Object.fromEntries(listing.stdout.trim().split('\n').map((l) => [l.split(/\s+/).at(-1), l.split(/\s+/)[0]]));
  assert.deepEqual(modes, {
    reader: 'drwx------',
    'reader/ca.pem': '-r--r--r--',
    'reader/cert.pem': '-r--r--r--',
    'reader/key.pem': '-r--------',
    'reader/docker.env': '-rw-r--r--',
    'reader/docker-context.tar': '-rw-------',
  });

  const before = await readFile(out);
  const again = await dockward(['pki', 'bundle', 'reader', '--pki', fx.pki, '--docker-host', host, '--output', out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists \(pass --force to overwrite\)/);
  assert.deepEqual(await readFile(out), before);

  const elsewhere = await mkdtemp(join(fx.dir, 'laptop-'));
  const unpack = await runProcess('tar', ['xzf', out, '-C', elsewhere], { env: { PATH: process.env.PATH ?? '' } });
  assert.equal(unpack.code, 0, unpack.stderr);
  const bundleDir = join(elsewhere, 'reader');
  assert.equal((await stat(join(bundleDir, 'key.pem'))).mode & 0o777, 0o400);

  const configDir = join(elsewhere, '.docker');
  const connected = await dockward(['connect', host, '--bundle', bundleDir, '--context', 'gw'], { env: { DOCKER_CONFIG: configDir } });
  assert.equal(connected.code, 0, connected.stdout + connected.stderr);
  const ps = await runDocker(['--context', 'gw', 'ps', '--format', '{{.ID}}'], { configDir });
  assert.equal(ps.code, 0, ps.stderr);
  // The identity is the bundle's: reader may list, not create.
  const create = await runDocker(['--context', 'gw', 'create', 'busybox'], { configDir });
  assert.notEqual(create.code, 0);
  assert.match(create.stderr, /identity "reader" may not POST \/containers\/create/);

  const sourced = await sh(`cd reader && . ./docker.env && "${DOCKER_CLI}" version --format '{{.Server.APIVersion}}'`, elsewhere, { DOCKER_CONFIG: configDir });
  assert.equal(sourced.code, 0, sourced.stderr);
  assert.match(sourced.stdout, /^1\.\d+$/m);

  const imported = await runDocker(['context', 'import', 'imported', join(bundleDir, 'docker-context.tar')], { configDir });
  assert.equal(imported.code, 0, imported.stderr);
  const viaImport = await runDocker(['--context', 'imported', 'ps', '--format', '{{.ID}}'], { configDir });
  assert.equal(viaImport.code, 0, viaImport.stderr);
  assert.equal((await fx.audit()).filter((r) => r.identity === 'reader' && r.route === 'GET /containers/json' && r.decision === 'allow').length >= 2, true);
});

test('a bundle for a name with no valid certificate is refused and writes nothing', { skip }, async () => {
  const out = join(fx.dir, 'nobody.tar.gz');
  const r = await dockward(['pki', 'bundle', 'nobody', '--pki', fx.pki, '--docker-host', host, '--output', out]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no valid client certificate for "nobody": no client certificate has that name/);
  await assert.rejects(stat(out), { code: 'ENOENT' });
});
