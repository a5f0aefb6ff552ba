import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('a daemon that refuses its flags reports why and leaves no mount behind', { skip }, async () => {
  // Its own parent dir: other tests (and other runs on the host) mount their daemons' dirs meanwhile.
  const base = await mkdtemp(join(tmpdir(), 'dw-refuse-'));
  const mountsUnderBase = async () => (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.split(' ')[4]?.startsWith(`${base}/`)).length;
  try {
    await assert.rejects(
      startEngineDaemon({ args: ['--icc=false'], baseDir: base }),
      (e: unknown) => e instanceof DaemonStartError && /iptables/i.test(e.message),
    );
    assert.equal(await mountsUnderBase(), 0);
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});
