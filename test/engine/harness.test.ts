import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { startEngineDaemon, startTestEngine, engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { DaemonStartError } from '../../src/engine/private-daemon.js';

const skip = engineSkipReason();

test('a private dockerd runs a container from the busybox test image', { skip }, async () => {
  const engine = await startTestEngine();
  try {
    const res = await engine.docker(['run', '--rm', '--network', 'none', TEST_IMAGE, 'echo', 'hello']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), 'hello');
  } finally {
    await engine.stop();
  }
});

const privateMounts = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes('/dw-d-')).length;

test('a daemon that refuses its flags reports why and leaves no mount behind', { skip }, async () => {
  const before = await privateMounts();
  await assert.rejects(
    startEngineDaemon({ args: ['--icc=false'] }),
    (e: unknown) => e instanceof DaemonStartError && /iptables/i.test(e.message),
  );
  assert.equal(await privateMounts(), before);
});
