/**
 * A constrained role's classic build has its Dockerfile read before dockerd sees the context:
 * ordinary builds still work through the real CLI, and what would make dockerd fetch a URL, pull
 * from elsewhere or label a build step's container as someone else's is refused. A server on the
 * host's loopback is the oracle that nothing was fetched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { packTar } from '../harness/tar.js';
import { rawPost, removeContainersAndNetworks, startGatewayFixture, TENANTS_POLICY, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();
const classic = { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 120_000 };

describe("a tenant's classic build, its Dockerfile read first", { skip }, () => {
  let f: GatewayFixture;
  let server: Server;
  let hits: string[];
  let url: string;
  const dirs: string[] = [];
  const context = async (files: Record<string, string>) => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-build-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return dir;
  };
  const build = async (files: Record<string, string>, args: string[] = []) => f.docker('alice', ['build', ...args, await context(files)], classic);

  before(async () => {
    hits = [];
    server = createServer((req, res) => {
      hits.push(`${req.method} ${req.url}`);
      res.writeHead(200).end('host-only\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    f = await startGatewayFixture(TENANTS_POLICY);
  });
  after(async () => {
    assert.deepEqual(hits, [], 'dockerd fetched from the host for a tenant');
    if (f) {
      await removeContainersAndNetworks(f);
      await f.engine.docker(['rmi', '-f', 'alice.multi:1', 'dw-onbuild:1', 'dw-onbuild-escape:1', 'dw-labelled:1']);
      await f.stop();
    }
    await new Promise((resolve) => server.close(resolve));
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('an ordinary multi-stage build (ARG in FROM, COPY --from a stage by name and by index) works', async () => {
    const r = await build(
      {
        Dockerfile: [
          `ARG BASE=${TEST_IMAGE}`,
          'ARG TAG',
          'FROM $BASE AS First',
          'RUN echo one > /one',
          'FROM ${BASE}${TAG:+:$TAG}',
          'ARG NOTE="a note"',
          'ENV DIR=/opt/app \\',
          '    MODE=test',
          '# a comment inside nothing',
          'COPY --from=first /one $DIR/one',
          'COPY --from=0 /one /two',
          'LABEL org.example.note="$NOTE" version=1',
          'RUN cat $DIR/one /two',
        ].join('\n'),
      },
      ['-t', 'multi:1'],
    );
    assert.equal(r.code, 0, r.stderr);
  });

  for (const [what, dockerfile] of [
    ['LABEL io.dockward.owner=bob', `FROM ${TEST_IMAGE}\nLABEL io.dockward.owner=bob\n`],
    ['LABEL "com.docker.compose.project"=app', `FROM ${TEST_IMAGE}\nLABEL a=b "com.docker.compose.project"=app\n`],
    ['a label name from an ARG', `FROM ${TEST_IMAGE}\nARG K=io.dockward.owner\nLABEL $K=bob\n`],
    ['a label name from escapes', `FROM ${TEST_IMAGE}\nLABEL io\\.dockward\\.owner=bob\n`],
    ['the legacy LABEL form', `FROM ${TEST_IMAGE}\nLABEL com.docker.compose.service web\n`],
    ['ONBUILD LABEL', `FROM ${TEST_IMAGE}\nONBUILD LABEL io.dockward.owner=bob\n`],
  ] as const) {
    it(`${what} is refused`, async () => {
      const r = await build({ Dockerfile: dockerfile });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /DW_BODY_BUILD_LABEL/);
    });
  }

  for (const [what, dockerfile] of [
    ['ADD of a URL from a build arg', (u: string) => `FROM ${TEST_IMAGE}\nARG U=${u}/arg\nADD $U /got\n`],
    ['ADD of a URL from ENV, JSON form', (u: string) => `FROM ${TEST_IMAGE}\nENV U=${u}/env\nADD ["\${U}", "/got"]\n`],
    ['ADD of a URL split by a continuation and a comment', (u: string) => `FROM ${TEST_IMAGE}\nADD h\\\n# x\nttp${u.slice(4)}/cont /got\n`],
    ['ONBUILD ADD of a URL', (u: string) => `FROM ${TEST_IMAGE}\nONBUILD ADD ${u}/onbuild /got\n`],
    // FROM of an earlier stage runs that stage's ONBUILD triggers, as FROM of an image does.
    ['a URL set by an ONBUILD ENV of a stage, run by FROM of that stage', (u: string) => `FROM ${TEST_IMAGE} AS y\nENV U=/etc/hostname\nONBUILD ENV U=${u}/stage-trigger\nFROM y\nADD $U /got\n`],
    ['ADD of a source that cannot be known', () => `FROM ${TEST_IMAGE}\nADD $NOWHERE /got\n`],
  ] as const) {
    it(`${what} is refused`, async () => {
      const r = await build({ Dockerfile: dockerfile(url) });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /DW_BODY_(FETCH|BUILD_UNKNOWN)/);
    });
  }

  it('a Dockerfile with # escape=` is read with that escape token', async () => {
    const bad = await build({ Dockerfile: `# escape=\`\nFROM ${TEST_IMAGE}\nADD \`\n  ${url}/escape /got\n` });
    assert.match(bad.stderr, /DW_BODY_FETCH/);
    const good = await build({ Dockerfile: `# escape=\`\nFROM ${TEST_IMAGE}\nRUN echo a \`\n  b > C:\\x\n` });
    assert.equal(good.code, 0, good.stderr);
  });

  it('-f outside the context (sent as .dockerfile.<hex>) is read', async () => {
    const outside = await context({ Dockerfile: `FROM ${TEST_IMAGE}\nADD ${url}/outside /got\n` });
    const r = await f.docker('alice', ['build', '-f', join(outside, 'Dockerfile'), await context({ x: 'x' })], classic);
    assert.match(r.stderr, /DW_BODY_FETCH/);
    const fine = await context({ Dockerfile: `FROM ${TEST_IMAGE}\nCOPY x /x\n` });
    const ok = await f.docker('alice', ['build', '-f', join(fine, 'Dockerfile'), await context({ x: 'x' })], classic);
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('a gzip-compressed context is read; other compressions are refused', async () => {
    const dir = await context({ Dockerfile: `FROM ${TEST_IMAGE}\nADD ${url}/gzip /got\n` });
    const target = `/v${f.gateway.apiVersion}/build`;
    const headers = { 'Content-Type': 'application/x-tar' };
    const bad = await rawPost(f, 'alice', target, execFileSync('tar', ['-czf', '-', '-C', dir, '.']), { headers });
    assert.match(bad, /^HTTP\/1\.1 403[\s\S]*DW_BODY_FETCH/);
    await writeFile(join(dir, 'Dockerfile'), `FROM ${TEST_IMAGE}\nRUN true\n`);
    const good = await rawPost(f, 'alice', target, execFileSync('tar', ['-czf', '-', '-C', dir, '.']), { headers });
    assert.match(good, /^HTTP\/1\.1 200/);
    const bzip = await rawPost(f, 'alice', target, Buffer.from('BZh91AY&SY'), { headers });
    assert.match(bzip, /^HTTP\/1\.1 400[\s\S]*bzip2/);
  });

  it('a Dockerfile replaced through a symlinked directory (d -> .), which dockerd\'s untar follows, is refused', async () => {
    const tar = await packTar([
      { header: { name: 'Dockerfile' }, data: `FROM ${TEST_IMAGE}\nRUN true\n` },
      { header: { name: 'd', type: 'symlink', linkname: '.' } },
      { header: { name: 'd/Dockerfile' }, data: `FROM ${TEST_IMAGE}\nADD ${url}/through /got\n` },
    ]);
    const r = await rawPost(f, 'alice', `/v${f.gateway.apiVersion}/build`, tar, { headers: { 'Content-Type': 'application/x-tar' } });
    assert.match(r, /^HTTP\/1\.1 400[\s\S]*through the link/, r.slice(0, 600));
  });

  it('a base image from a registry the role may not pull from, or not on the daemon, is refused; so is --pull', async () => {
    const registry = await build({ Dockerfile: `FROM ${url.slice(7)}/x\n` });
    assert.match(registry.stderr, /DW_BODY_REGISTRY/);
    const copy = await build({ Dockerfile: `FROM ${TEST_IMAGE}\nCOPY --from=${url.slice(7)}/x / /\n` });
    assert.match(copy.stderr, /DW_BODY_REGISTRY/);
    const absent = await build({ Dockerfile: 'FROM dockward-test/absent:1\n' });
    assert.match(absent.stderr, /pull it first/);
    const pull = await build({ Dockerfile: `FROM ${TEST_IMAGE}\n` }, ['--pull']);
    assert.match(pull.stderr, /DW_BODY_BUILD_BASE/);
  });

  it('a dockerfile parameter beyond ASCII names the file whose name is its UTF-8 bytes, as dockerd opens it', async () => {
    // dockerd opens the Go string's bytes (`é` is C3 A9); an entry named by the single byte E9
    // reads as the same JavaScript string when tar names are read byte for byte (latin1).
    const tar = await packTar([
      { header: { name: 'X' }, data: `FROM ${TEST_IMAGE}\nRUN true\n` },
      { header: { name: '\u00e9' }, data: `FROM ${TEST_IMAGE}\nADD ${url}/utf8-name /got\n` },
    ]);
    // The first entry's name becomes the one byte E9; its header checksum recomputed.
    tar[0] = 0xe9;
    tar.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const r = await rawPost(f, 'alice', `/v${f.gateway.apiVersion}/build?dockerfile=%C3%A9`, tar, { headers: { 'Content-Type': 'application/x-tar' } });
    assert.match(r, /^HTTP\/1\.1 403[\s\S]*DW_BODY_FETCH/, r.slice(0, 800));
    const lost = await rawPost(f, 'alice', `/v${f.gateway.apiVersion}/build?dockerfile=%E9`, tar, { headers: { 'Content-Type': 'application/x-tar' } });
    assert.match(lost, /^HTTP\/1\.1 400/, lost.slice(0, 800));
  });

  it('pull set to a value Go does not trim (a BOM) is refused: dockerd takes it for true', async () => {
    const dir = await context({ Dockerfile: `FROM ${TEST_IMAGE}\nRUN true\n` });
    const r = await rawPost(f, 'alice', `/v${f.gateway.apiVersion}/build?pull=%EF%BB%BF`, execFileSync('tar', ['-cf', '-', '-C', dir, '.']), { headers: { 'Content-Type': 'application/x-tar' } });
    assert.match(r, /^HTTP\/1\.1 403[\s\S]*DW_BODY_BUILD_BASE/, r.slice(0, 800));
  });

  it("a base image's ONBUILD ADD of a URL and its reserved labels are refused", async () => {
    const engineBuild = async (tag: string, text: string) => {
      const dir = await context({ Dockerfile: text });
      const r = await f.engine.docker(['build', '-q', '-t', tag, dir], classic);
      assert.equal(r.code, 0, r.stderr);
    };
    await engineBuild('dw-onbuild:1', `FROM ${TEST_IMAGE}\nONBUILD ADD ${url}/trigger /got\n`);
    await engineBuild('dw-labelled:1', `FROM ${TEST_IMAGE}\nLABEL com.docker.compose.project=app\n`);
    const trigger = await build({ Dockerfile: 'FROM dw-onbuild:1\n' });
    assert.match(trigger.stderr, /DW_BODY_FETCH/);
    const labelled = await build({ Dockerfile: 'FROM dw-labelled:1\nRUN true\n' });
    assert.match(labelled.stderr, /DW_BODY_BUILD_LABEL/);
    // The triggers are run with the escape token of the Dockerfile that names the image.
    await engineBuild('dw-onbuild-escape:1', `FROM ${TEST_IMAGE}\nONBUILD ADD ${url.replace('://', ':/`/')}/escaped /got\n`);
    const escaped = await build({ Dockerfile: '# escape=`\nFROM dw-onbuild-escape:1\n' });
    assert.notEqual(escaped.code, 0);
    assert.match(escaped.stderr, /DW_BODY_BUILD_UNKNOWN/);
    // The tenant's own images carry its owner label: building on them is ordinary.
    const own = await build({ Dockerfile: 'FROM multi:1\nRUN true\n' });
    assert.equal(own.code, 0, own.stderr);
  });
});

describe("a classic build's step containers under the role's memory bound", { skip }, () => {
  let f: GatewayFixture;
  let dir: string;
  before(async () => {
    f = await startGatewayFixture(TENANTS_POLICY.replace('volumesFrom: true }', 'volumesFrom: true, maxMemory: 64m }'));
    dir = await mkdtemp(join(tmpdir(), 'dw-build-'));
    await writeFile(join(dir, 'Dockerfile'), `FROM ${TEST_IMAGE}\nRUN cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; true\n`);
  });
  after(async () => {
    if (f) await f.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a build without --memory runs its steps within maxMemory, as a container created without one does', async () => {
    const r = await f.docker('alice', ['build', '--no-cache', dir], classic);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\n ?67108864\n/, r.stdout);
  });
});
