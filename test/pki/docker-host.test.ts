/**
 * Where client bundles point (src/pki/docker-host.ts): the address `up` recorded wins over the
 * server certificate's name, and re-pointing a docker.env changes its DOCKER_HOST line only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultDockerHost, dockerEnv, pointDockerEnv, recordDockerHost, recordedDockerHost } from '../../src/pki/docker-host.js';
import { pkiLayout } from '../../src/pki/index.js';
import { emptyInventory, type InventoryEntry } from '../../src/pki/inventory.js';

const server = { kind: 'server', dns: ['docker1.example.test'], ips: ['10.0.0.5'], notBefore: '2026-01-01T00:00:00Z', notAfter: '2099-01-01T00:00:00Z' } as unknown as InventoryEntry;

test('a bundle points at the address up recorded, else at the server certificate on 2376', () => {
  const inv = { ...emptyInventory(), certs: [server] };
  assert.equal(defaultDockerHost(inv, 'tcp://127.0.0.1:2400'), 'tcp://127.0.0.1:2400');
  assert.equal(defaultDockerHost(inv, undefined), 'tcp://docker1.example.test:2376');
  assert.equal(defaultDockerHost(emptyInventory(), undefined), undefined);
});

test('re-pointing a docker.env rewrites its DOCKER_HOST line, atomically, and nothing else', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dw-docker-host-'));
  try {
    const env = join(dir, 'docker.env');
    const cases: [string, string | undefined][] = [
      ['an address', 'tcp://127.0.0.1:2376'],
      ['the placeholder of a PKI without server certificate', undefined],
    ];
    for (const [what, host] of cases) {
      const before = dockerEnv('/b/admin', 'admin', new Date('2030-01-01T00:00:00Z'), host);
      await writeFile(env, before);
      assert.equal(await pointDockerEnv(env, "tcp://[::1]:2400"), true, what);
      const after = await readFile(env, 'utf8');
      assert.deepEqual(after.split('\n').filter((l) => !before.split('\n').includes(l)), ["export DOCKER_HOST='tcp://[::1]:2400'"], what);
      assert.equal(after.split('\n').length, before.split('\n').length, what);
      assert.equal(await pointDockerEnv(env, 'tcp://[::1]:2400'), false, `${what}: already there`);
      assert.equal((await stat(env)).mode & 0o777, 0o644);
    }
    const layout = pkiLayout(dir);
    assert.equal(await recordedDockerHost(layout), undefined);
    await recordDockerHost(layout, 'tcp://127.0.0.1:2401');
    assert.equal(await recordedDockerHost(layout), 'tcp://127.0.0.1:2401');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
