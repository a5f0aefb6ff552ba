/**
 * `dockward up --context NAME`: the admin bundle as a docker CLI context, rewritten on every
 * start to follow the bound address; someone else's context of that name is kept unless --force.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, runDocker, startTestEngine, type TestEngine } from '../harness/engine.js';
import { DOCKWARD_BIN, dockward } from '../harness/cli.js';
import { until } from '../gateway/fixture.js';

const skip = engineSkipReason();
let engine: TestEngine;
let dir: string;

before(async () => {
  if (skip) return;
  engine = await startTestEngine({ image: false });
  dir = await mkdtemp(join(tmpdir(), 'dw-up-ctx-'));
});
after(async () => {
  await engine?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs up until its client lines are out, then checks `docker --context dw version` and stops it. */
async function upOnce(configDir: string): Promise<string> {
  const child = spawn(process.execPath, [DOCKWARD_BIN, 'up', '--pki', join(dir, 'pki'), '--listen', '127.0.0.1:0', '--docker-socket', engine.socketPath, '--audit-log', join(dir, 'audit.log'), '--context', 'dw'], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, DOCKER_CONFIG: configDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  try {
    await until(`up's client lines (${err})`, () => out.includes('DOCKER_CERT_PATH') || child.exitCode !== null);
    assert.match(err, /wrote the docker context "dw"/);
    const v = await runDocker(['--context', 'dw', 'version', '--format', '{{.Server.APIVersion}}'], { configDir });
    assert.equal(v.code, 0, v.stderr);
    const host = await runDocker(['context', 'inspect', 'dw', '--format', '{{.Endpoints.docker.Host}}'], { configDir });
    return host.stdout.trim();
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

test('up --context writes the admin context, follows the address on the next start, and keeps a foreign one', { skip }, async () => {
  const configDir = join(dir, 'docker-config');
  const first = await upOnce(configDir);
  const second = await upOnce(configDir);
  assert.match(first, /^tcp:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(second, first, 'the context did not follow the new port');

  const mine = await runDocker(['context', 'create', 'mine', '--docker', 'host=tcp://127.0.0.1:1'], { configDir });
  assert.equal(mine.code, 0, mine.stderr);
  const refused = await dockward(['up', '--pki', join(dir, 'pki'), '--listen', '127.0.0.1:0', '--docker-socket', engine.socketPath, '--audit-log', join(dir, 'audit.log'), '--context', 'mine'], {
    env: { DOCKER_CONFIG: configDir },
  });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /a Docker context named "mine" already exists \(pass --force to replace it/);
  const kept = await runDocker(['context', 'inspect', 'mine', '--format', '{{.Endpoints.docker.Host}}'], { configDir });
  assert.equal(kept.stdout.trim(), 'tcp://127.0.0.1:1');
});
