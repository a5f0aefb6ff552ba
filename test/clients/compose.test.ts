/**
 * `docker compose` v2 through the gateway as admin: a two-service project with a build, a named
 * volume and `depends_on`, brought up, inspected, exec'ed into and taken down. The daemon's own
 * socket is the oracle for what exists before and after.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { startGatewayFixture, type GatewayFixture } from '../gateway/fixture.js';

const skip = engineSkipReason();
const PROJECT = 'dwcompose';

// network_mode none everywhere (and for the build's RUN): the private daemon has no bridge.
// SIGKILL stops: a shell as PID 1 ignores SIGTERM, and down would wait 10 s for each.
const COMPOSE_FILE = `services:
  store:
    build: { context: ./store, network: none }
    image: dockward-test/compose-store:latest
    network_mode: none
    stop_signal: SIGKILL
    volumes: [data:/data]
    command: ["sh", "-c", "cp /seed /data/state && echo store-ready && exec sleep 600"]
    # Healthy once its output exists: app (and up --wait) wait for it, so nothing below races the copy.
    healthcheck: { test: ["CMD", "test", "-f", "/data/state"], interval: 1s, retries: 60 }
  app:
    image: ${TEST_IMAGE}
    network_mode: none
    stop_signal: SIGKILL
    depends_on: { store: { condition: service_healthy } }
    volumes: [data:/data]
    command: ["sh", "-c", "echo app-started && exec sleep 600"]
volumes:
  data: {}
`;

describe('docker compose v2 through the gateway', { skip, timeout: 600_000 }, () => {
  let f: GatewayFixture;
  let project: string;
  const compose = async (args: string[]) => {
    const r = await f.docker('admin', ['compose', '-p', PROJECT, '-f', join(project, 'compose.yaml'), ...args], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, `docker compose ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  /** What the daemon itself holds of the project. */
  const daemonState = async () => {
    const label = `label=com.docker.compose.project=${PROJECT}`;
    const ps = await f.engine.docker(['ps', '-a', '--filter', label, '--format', '{{.Label "com.docker.compose.service"}} {{.State}}']);
    const volumes = await f.engine.docker(['volume', 'ls', '--filter', label, '--format', '{{.Name}}']);
    assert.equal(ps.code + volumes.code, 0, ps.stderr + volumes.stderr);
    return { containers: ps.stdout.trim().split('\n').filter(Boolean).sort(), volumes: volumes.stdout.trim().split('\n').filter(Boolean) };
  };

  before(async () => {
    f = await startGatewayFixture();
    project = join(f.dir, 'project');
    await mkdir(join(project, 'store'), { recursive: true });
    await writeFile(join(project, 'compose.yaml'), COMPOSE_FILE);
    await writeFile(join(project, 'store', 'Dockerfile'), `FROM ${TEST_IMAGE}\nRUN echo seeded-by-build > /seed\n`);
  });
  after(async () => f?.stop());

  it('up -d builds and starts both services in order, then ps, logs, exec and down -v', async () => {
    await compose(['up', '-d', '--wait']);
    assert.deepEqual(await daemonState(), { containers: ['app running', 'store running'], volumes: [`${PROJECT}_data`] });

    const ps = (await compose(['ps', '--format', '{{.Service}} {{.State}}'])).trim().split('\n').sort();
    assert.deepEqual(ps, ['app running', 'store running']);
    assert.match(await compose(['logs', '--no-color', 'store']), /store-ready/);
    // The built image's file reached app through the shared named volume.
    assert.equal(await compose(['exec', '-T', 'app', 'cat', '/data/state']), 'seeded-by-build\n');

    await compose(['down', '-v']);
    assert.deepEqual(await daemonState(), { containers: [], volumes: [] });
  });
});
