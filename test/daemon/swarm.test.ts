import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { engineSkipReason, startTestEngine, freePort, type TestEngine } from '../harness/engine.js';
import { detectSwarmManager } from '../../src/daemon/swarm.js';
import { computePlan } from '../../src/daemon/plan.js';
import { makeRoot } from './root.js';

/** A real swarm manager: what plan sees of it on disk and through the API, and dockerd's own refusal. */
const skip = engineSkipReason();

describe('swarm managers and live-restore, with a real dockerd', { skip }, () => {
  let engine: TestEngine;
  let root: string;
  before(async () => {
    engine = await startTestEngine({ image: false });
    const port = await freePort();
    const init = await engine.docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${port}`]);
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await engine?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('a manager is recognised from its swarm state on disk and from the Engine API', async () => {
    const disk = await detectSwarmManager('/', join(engine.dir, 'data'));
    assert.equal(disk.manager, true);
    assert.match(disk.evidence!, /swarm\/raft exists/);
    const api = await detectSwarmManager('/', '/nonexistent', engine.socketPath);
    assert.deepEqual(api, { manager: true, evidence: `${engine.socketPath}: /info Swarm.ControlAvailable is true` });
    assert.deepEqual(await detectSwarmManager('/', '/nonexistent'), { manager: false });
  });

  test('the manager certificate alone is evidence too, and the hardened plan leaves live-restore out', async () => {
    root = await makeRoot({ '/etc/docker/daemon.json': '{"data-root": "/srv/docker"}\n' });
    await cp(join(engine.dir, 'data', 'swarm', 'certificates'), join(root, 'srv/docker/swarm/certificates'), { recursive: true });
    const role = await detectSwarmManager(root, '/srv/docker');
    assert.equal(role.manager, true);
    assert.match(role.evidence!, /swarm-node\.crt has OU=swarm-manager/);
    const plan = await computePlan({ root, profile: 'hardened', tls: false, listen: [], insecureTcp: false });
    assert.equal(plan.config['live-restore'], undefined);
    assert.ok(plan.changes.some((c) => c.what === 'live-restore left out'));
  });

  test('dockerd itself refuses swarm mode with live-restore', async () => {
    const lr = await startTestEngine({ image: false, args: ['--live-restore'] });
    try {
      const init = await lr.docker(['swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', `127.0.0.1:${await freePort()}`]);
      assert.notEqual(init.code, 0);
      assert.match(init.stderr, /live-restore daemon configuration is incompatible with swarm mode/);
    } finally {
      await lr.stop();
    }
  });
});
