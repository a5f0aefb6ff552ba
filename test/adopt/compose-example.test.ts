/**
 * deploy/compose.yaml as the real `docker compose` reads it: Traefik has no docker.sock mount, only
 * the volume with the dockward socket; the gateway owns the socket mount, confined; the policy it
 * ships is one dockward accepts and gives Traefik's identity read-only access.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { engineSkipReason, runDocker } from '../harness/engine.js';
import { parsePolicy, withApiVersion, authorize } from '../../src/policy/index.js';

const skip = engineSkipReason();
const file = join(import.meta.dirname, '..', '..', 'deploy', 'compose.yaml');

interface Service {
  command: string[];
  volumes?: { type: string; source: string; target: string }[];
  network_mode?: string;
  read_only?: boolean;
  cap_drop?: string[];
  configs?: { source: string; target: string }[];
}

test('the compose example replaces a docker.sock mount', { skip }, async () => {
  const r = await runDocker(['compose', '-f', file, 'config', '--format', 'json'], { env: { DOCKER_GID: '998' } });
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(r.stdout) as { services: Record<string, Service>; configs: Record<string, { content: string }> };
  const { dockward, traefik } = cfg.services as { dockward: Service; traefik: Service };
  const sockets = (s: Service) => (s.volumes ?? []).filter((v) => v.source.endsWith('docker.sock') || v.target.endsWith('docker.sock'));
  assert.deepEqual(sockets(traefik), []);
  assert.equal(sockets(dockward).length, 1);
  const shared = (traefik.volumes ?? []).map((v) => v.source);
  assert.ok((dockward.volumes ?? []).some((v) => shared.includes(v.source) && v.target === '/run/dockward'));
  assert.ok(traefik.command.includes('--providers.docker.endpoint=unix:///run/dockward/traefik.sock'));
  assert.equal(dockward.network_mode, 'none');
  assert.equal(dockward.read_only, true);
  assert.deepEqual(dockward.cap_drop, ['ALL']);

  const policy = withApiVersion(parsePolicy(cfg.configs.policy!.content, 'compose.yaml'), '1.41', '1.51');
  const id = { name: 'traefik', ou: [], sans: [], listener: 'unix:///run/dockward/traefik.sock' };
  assert.equal(authorize(policy, id, 'GET', '/v1.41/containers/json').kind, 'allow');
  assert.equal(authorize(policy, id, 'GET', '/v1.41/events').kind, 'allow');
  assert.equal(authorize(policy, id, 'POST', '/v1.41/containers/create').kind, 'deny');
});
