/**
 * `docker buildx build` with BuildKit through the gateway as admin: the CLI opens `/session` and
 * `/grpc` with `Upgrade: h2c` and speaks HTTP/2 inside them, which the gateway relays opaquely.
 * The daemon's own socket is the oracle: the image exists and holds the multi-MB context intact.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { startGatewayFixture, type GatewayFixture } from '../gateway/fixture.js';

const skip = engineSkipReason();

describe('docker buildx build (BuildKit) through the gateway', { skip, timeout: 600_000 }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
  });
  after(async () => f?.stop());

  it('builds FROM the local test image with a COPY of a multi-MB context and a RUN without network', async () => {
    const ctx = join(f.dir, 'build-ctx');
    await mkdir(ctx);
    const blob = randomBytes(6 << 20);
    await writeFile(join(ctx, 'blob.bin'), blob);
    // BuildKit RUN needs --network none: the private daemon has no bridge (--bridge=none).
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY blob.bin /blob.bin\nRUN sha256sum /blob.bin > /blob.sha256\n`);
    const tag = 'dockward-test/buildx:ok';
    const build = await f.docker('admin', ['buildx', 'build', '--progress', 'plain', '--network', 'none', '-t', tag, ctx], { timeoutMs: 300_000 });
    assert.equal(build.code, 0, `buildx build failed: ${build.stderr}`);

    const inspect = await f.engine.docker(['image', 'inspect', '--format', '{{.Id}}', tag]);
    assert.equal(inspect.code, 0, `the image is not in the daemon: ${inspect.stderr}`);
    const run = await f.engine.docker(['run', '--rm', '--network', 'none', tag, 'cat', '/blob.sha256']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.split(' ')[0], createHash('sha256').update(blob).digest('hex'));

    // BuildKit really ran: its session and gRPC streams were switched (101) and relayed.
    const streams = (await f.audit()).filter((r) => r.hijacked && r.status === 101 && r.identity === 'admin');
    assert.deepEqual([...new Set(streams.map((r) => r.path))].sort(), ['/grpc', '/session']);
  });
});
