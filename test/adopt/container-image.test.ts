/**
 * The shipped image, end to end on a private dockerd: scripts/build-image.sh builds deploy/Dockerfile
 * from this machine's Node and the built app (nothing pulled); the gateway runs in it as uid 10001
 * with the Docker socket mounted and a Unix listener in a shared volume; a client container whose
 * only Docker access is that socket runs `docker ps`, and is refused `docker run --privileged`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DOCKER_CLI, engineSkipReason, freePort, runDocker, startTestEngine, TEST_IMAGE, type TestEngine } from '../harness/engine.js';
import { runProcess } from '../harness/process.js';

const skip = engineSkipReason();
const repo = join(import.meta.dirname, '..', '..');
const IMAGE = 'dockward-test/dockward:latest';
const CLIENT = 'dockward-test/docker-cli:latest';

let engine: TestEngine;
let dir: string;

/** An image holding only the docker CLI and the libraries it links. */
async function importClientImage(): Promise<void> {
  const root = join(dir, 'client-root');
  await mkdir(join(root, 'usr/local/bin'), { recursive: true });
  await mkdir(join(root, 'tmp'), { mode: 0o1777 });
  await copyFile(DOCKER_CLI, join(root, 'usr/local/bin/docker'));
  for (const lib of execFileSync('ldd', [DOCKER_CLI]).toString().match(/\/\S+/g) ?? []) {
    await mkdir(join(root, dirname(lib)), { recursive: true });
    await copyFile(lib, join(root, lib));
  }
  execFileSync('tar', ['-C', root, '-cf', `${root}.tar`, '.']);
  const r = await engine.docker(['import', '--change', 'ENTRYPOINT ["/usr/local/bin/docker"]', '--change', 'ENV DOCKER_CONFIG=/tmp', `${root}.tar`, CLIENT]);
  assert.equal(r.code, 0, r.stderr);
}

type Logs = { stdout: string; stderr: string };

/**
 * Runs the dockward image detached as NAME with the engine's socket mounted (and its group), and
 * waits until its logs satisfy `ready`; fails with the logs if the container stops first.
 */
async function startDockward(name: string, args: string[], ready: (logs: Logs) => boolean): Promise<Logs> {
  const gid = (await stat(engine.socketPath)).gid;
  const started = await engine.docker(['run', '-d', '--name', name, '--group-add', String(gid), '-v', `${engine.socketPath}:/var/run/docker.sock`, ...args]);
  assert.equal(started.code, 0, started.stderr);
  const end = Date.now() + 60_000;
  for (;;) {
    const logs = await engine.docker(['logs', name]);
    if (ready(logs)) return logs;
    const running = await engine.docker(['inspect', '-f', '{{.State.Running}}', name]);
    assert.equal(running.stdout.trim(), 'true', `${name} stopped: ${logs.stderr}`);
    assert.ok(Date.now() < end, `${name} not ready after 60 s: ${logs.stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

before(async () => {
  if (skip) return;
  engine = await startTestEngine();
  dir = await mkdtemp(join(tmpdir(), 'dw-image-'));
});
after(async () => {
  await engine?.docker(['rm', '-f', 'dw-gateway']);
  await engine?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a container whose only Docker access is a dockward socket runs docker ps and is refused --privileged', { skip, timeout: 600_000 }, async () => {
  const build = await runProcess('bash', [join(repo, 'scripts/build-image.sh'), IMAGE], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      DOCKER: DOCKER_CLI,
      DOCKER_HOST: `unix://${engine.socketPath}`,
      DOCKER_CONFIG: join(dir, 'cfg'),
      // The classic builder: no BuildKit container to start on a daemon without a bridge.
      DOCKER_BUILDKIT: '0',
    },
    timeoutMs: 300_000,
  });
  assert.equal(build.code, 0, build.stdout + build.stderr);
  await importClientImage();

  const policy = join(dir, 'policy.yaml');
  await writeFile(policy, 'version: 1\nidentities:\n  - name: app\n    match: { listener: app }\n    roles: [app]\nroles:\n  app:\n    allow: [preset:containers]\n');
  await startDockward(
    'dw-gateway',
    ['--network', 'none', '-v', 'dw-sockets:/run/dockward', '-v', `${policy}:/policy.yaml:ro`, IMAGE, 'gateway', '--unix', '/run/dockward/app.sock', '--identity', 'app', '--policy', '/policy.yaml', '--audit-log', '-'],
    (l) => l.stderr.includes('listening on unix:///run/dockward/app.sock'),
  );
  assert.equal((await engine.docker(['inspect', '-f', '{{.Config.User}}', 'dw-gateway'])).stdout.trim(), '10001:10001');
  const volume = (await engine.docker(['volume', 'inspect', '-f', '{{.Mountpoint}}', 'dw-sockets'])).stdout.trim();
  assert.equal((await stat(join(volume, 'app.sock'))).uid, 10001, 'the socket was not created by the non-root gateway');

  const client = (args: string[]) => engine.docker(['run', '--rm', '--network', 'none', '-v', 'dw-sockets:/run/dockward', CLIENT, '-H', 'unix:///run/dockward/app.sock', ...args]);
  const ps = await client(['ps', '--format', '{{.Names}}']);
  assert.equal(ps.code, 0, ps.stderr);
  assert.match(ps.stdout, /dw-gateway/);
  const privileged = await client(['run', '--rm', '--privileged', TEST_IMAGE, 'true']);
  assert.notEqual(privileged.code, 0);
  assert.match(privileged.stderr, /identity "app" may not POST \/containers\/create with this body: HostConfig\.Privileged: .*DW_BODY_PRIVILEGED/);

  const audit = (await engine.docker(['logs', 'dw-gateway'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { identity: string; route: string; decision: string });
  assert.ok(audit.some((a) => a.identity === 'app' && a.route === 'GET /containers/json' && a.decision === 'allow'));
  assert.ok(audit.some((a) => a.identity === 'app' && a.route === 'POST /containers/create' && a.decision === 'deny'));
});

test("the README's docker run line: up in the container, the admin bundle copied out reaches it over mTLS", { skip, timeout: 300_000 }, async () => {
  const port = await freePort();
  try {
    const logs = await startDockward('dw-up', ['--network', 'host', '-v', 'dw-etc:/etc/dockward', IMAGE, 'up', '--listen', `127.0.0.1:${port}`, '--audit-log', '-'], (l) =>
      l.stdout.includes('DOCKER_CERT_PATH'),
    );
    assert.match(logs.stdout, new RegExp(`export DOCKER_HOST=tcp://127\\.0\\.0\\.1:${port}\\n`), logs.stderr);
    assert.match(logs.stdout, /export DOCKER_CERT_PATH=\/etc\/dockward\/pki\/clients\/admin/);
    const bundle = join(dir, 'admin');
    const cp = await engine.docker(['cp', 'dw-up:/etc/dockward/pki/clients/admin', bundle]);
    assert.equal(cp.code, 0, cp.stderr);
    const v = await runDocker(['version', '--format', '{{.Server.APIVersion}}'], {
      env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle },
    });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^1\.\d+$/m);
  } finally {
    await engine.docker(['rm', '-f', 'dw-up']);
  }
});

test("with docker-socket-proxy's variables the image is a socket proxy on :2375, bodies checked", { skip, timeout: 300_000 }, async () => {
  try {
    const logs = await startDockward('dw-sp', ['--network', 'none', '-e', 'CONTAINERS=1', '-e', 'POST=1', IMAGE], (l) => l.stderr.includes('listening on'));
    assert.match(logs.stderr, /listening on http:\/\/\[::\]:2375/);
    // A client in the proxy's network namespace, as a compose service would reach it by name.
    const client = (args: string[]) => engine.docker(['run', '--rm', '--network', 'container:dw-sp', CLIENT, '-H', 'tcp://127.0.0.1:2375', ...args]);
    const ps = await client(['ps', '--format', '{{.Names}}']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /dw-sp/);
    const privileged = await client(['create', '--privileged', TEST_IMAGE]);
    assert.notEqual(privileged.code, 0);
    assert.match(privileged.stderr, /identity "socket-proxy" may not POST \/containers\/create with this body: .*DW_BODY_PRIVILEGED/);
    const images = await client(['images']);
    assert.notEqual(images.code, 0, 'IMAGES is off');
  } finally {
    await engine.docker(['rm', '-f', 'dw-sp']);
  }
});
