/**
 * Every docker CLI workflow through the gateway's mTLS listener (and the Unix listener), against
 * a real private dockerd: hijacked streams with stdin and half-close, long-lived streams, archives
 * both ways, the classic builder, image transfer and network/volume commands.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { startGatewayFixture, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();

describe('docker CLI workflows through the gateway', { skip, timeout: 600_000 }, () => {
  let f: GatewayFixture;
  const d = (args: string[], opts?: Parameters<GatewayFixture['docker']>[2]) => f.docker('admin', args, opts);
  const ok = async (args: string[], opts?: Parameters<GatewayFixture['docker']>[2]) => {
    const r = await d(args, opts);
    assert.equal(r.code, 0, `docker ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  const NET = ['--network', 'none'];

  before(async () => {
    f = await startGatewayFixture();
    await ok(['run', '-d', '--name', 'busy', ...NET, TEST_IMAGE, 'sleep', '600']);
  });
  after(async () => f?.stop());

  it('runs attached, with piped stdin that ends, and detached', async () => {
    assert.equal(await ok(['run', '--rm', ...NET, TEST_IMAGE, 'echo', 'hello']), 'hello\n');
    assert.equal(await ok(['run', '--rm', '-i', ...NET, TEST_IMAGE, 'cat'], { input: 'piped\n' }), 'piped\n');
    const id = (await ok(['run', '-d', ...NET, TEST_IMAGE, 'true'])).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
  });

  it('execs with and without -i; stdin half-close still delivers the output', async () => {
    assert.equal(await ok(['exec', 'busy', 'echo', 'no-stdin']), 'no-stdin\n');
    assert.equal(await ok(['exec', '-i', 'busy', 'cat'], { input: 'hi\n' }), 'hi\n');
    // More output after stdin ended than fits in one read.
    const big = await ok(['exec', '-i', 'busy', 'sh', '-c', 'cat >/dev/null; seq 1 20000'], { input: 'x\n' });
    assert.equal(big.trim().split('\n').length, 20000);
  });

  it('attaches, follows logs and events, reads stats, waits', async () => {
    await ok(['run', '-d', '--name', 'ticker', ...NET, TEST_IMAGE, 'sh', '-c', 'while true; do echo tick; sleep 0.2; done']);
    assert.match(await f.dockerUntil('admin', ['logs', '-f', 'ticker'], 'tick'), /tick/);
    assert.match(await f.dockerUntil('admin', ['attach', '--no-stdin', '--sig-proxy=false', 'ticker'], 'tick'), /tick/);
    assert.match(await f.dockerUntil('admin', ['events', '--filter', 'container=ticker', '--since', '0'], 'start'), /container start/);
    assert.match(await ok(['stats', '--no-stream', '--format', '{{.Name}}', 'busy']), /busy/);
    await ok(['run', '-d', '--name', 'exit3', ...NET, TEST_IMAGE, 'sh', '-c', 'sleep 0.5; exit 3']);
    assert.equal((await ok(['wait', 'exit3'])).trim(), '3');
    const until = Math.floor(Date.now() / 1000) + 1;
    assert.match(await ok(['events', '--since', '0', '--until', String(until), '--filter', 'container=exit3']), /die/);
  });

  it('copies files both ways, uncompressed between gateway and dockerd', async () => {
    const local = join(f.dir, 'payload.bin');
    const data = Buffer.alloc(2 << 20, 7);
    await writeFile(local, data);
    await ok(['cp', local, 'busy:/tmp/payload.bin']);
    const back = join(f.dir, 'back.bin');
    await ok(['cp', 'busy:/tmp/payload.bin', back]);
    assert.ok((await readFile(back)).equals(data));
    // Accept-Encoding is not forwarded: dockerd sent the 2 MiB of sevens raw, not gzipped.
    const get = (await f.audit()).filter((r) => r.route === 'GET /containers/{id}/archive');
    assert.ok(get.some((r) => r.bytesOut >= 2 << 20), JSON.stringify(get));
  });

  it('builds with the classic builder', async () => {
    const ctx = join(f.dir, 'build');
    await mkdir(ctx);
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY msg.txt /msg.txt\nRUN cat /msg.txt > /built.txt\n`);
    await writeFile(join(ctx, 'msg.txt'), 'built through the gateway\n');
    await ok(['build', '--network', 'none', '-t', 'dw-built:1', ctx], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 });
    assert.equal(await ok(['run', '--rm', ...NET, 'dw-built:1', 'cat', '/built.txt']), 'built through the gateway\n');
  });

  it('saves and loads images; pull and push reach the daemon (which has no network here)', async () => {
    await ok(['tag', TEST_IMAGE, 'dw-saved:1']);
    const tar = join(f.dir, 'saved.tar');
    await ok(['save', '-o', tar, 'dw-saved:1']);
    await ok(['rmi', 'dw-saved:1']);
    assert.match(await ok(['load', '-i', tar]), /Loaded image: dw-saved:1/);
    // Registries are out of reach offline: what proves the path is the daemon's own error.
    const pull = await d(['pull', '127.0.0.1:1/nothing:here']);
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /Error response from daemon: .*127\.0\.0\.1:1/);
    await ok(['tag', TEST_IMAGE, '127.0.0.1:1/pushed:1']);
    const push = await d(['push', '127.0.0.1:1/pushed:1']);
    assert.notEqual(push.code, 0);
    assert.match(push.stdout + push.stderr, /127\.0\.0\.1:1/);
    const routes = new Set((await f.audit()).map((r) => r.route));
    for (const r of ['POST /images/create', 'POST /images/{name}/push', 'GET /images/get', 'POST /images/load']) assert.ok(routes.has(r), r);
  });

  it('creates, lists and removes networks and volumes', async () => {
    await ok(['network', 'create', '--internal', 'dw-net']);
    assert.match(await ok(['network', 'ls', '--format', '{{.Name}}']), /dw-net/);
    await ok(['network', 'rm', 'dw-net']);
    await ok(['volume', 'create', 'dw-vol']);
    assert.match(await ok(['volume', 'ls', '--format', '{{.Name}}']), /dw-vol/);
    await ok(['volume', 'rm', 'dw-vol']);
  });

  it('serves the Unix listener with its fixed identity', async () => {
    const r = await f.dockerUnix(['exec', '-i', 'busy', 'cat'], { input: 'over unix\n' });
    assert.equal(r.stdout, 'over unix\n', r.stderr);
    const recs = await f.audit();
    assert.ok(recs.some((x) => x.identity === 'sidecar' && x.route === 'POST /exec/{id}/start' && x.hijacked));
  });

  it('writes one audit line per request, without query strings', async () => {
    const recs = await f.audit();
    assert.ok(recs.length > 50);
    for (const r of recs) {
      assert.ok(!r.path?.includes('?'), r.path ?? '');
      if (r.listener.startsWith('tcp://')) assert.equal(r.identity, 'admin');
    }
    assert.ok(recs.every((r) => r.decision === 'allow'), JSON.stringify(recs.filter((r) => r.decision !== 'allow')));
  });
});
