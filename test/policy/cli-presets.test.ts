/**
 * The presets judged against what the real docker CLI sends: every request of `docker ps`,
 * `inspect`, `images`, ... is recorded on its way to a private dockerd and run through authorize().
 * This grounds the preset contents (and the canonicalization's acceptance of real CLI targets,
 * e.g. its encoded filters) in the client's actual wire behaviour instead of our reading of it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authorize, parsePolicy, withApiVersion, type Policy, type Verdict } from '../../src/policy/index.js';
import { engineSkipReason, runDocker, startTestEngine, TEST_IMAGE, type TestEngine } from '../harness/engine.js';

const skip = engineSkipReason();

const basePolicy = parsePolicy(
  `version: 1
identities:
  - { name: ro, match: { cn: ro }, roles: [ro] }
  - { name: logs, match: { cn: logs }, roles: [logs] }
  - { name: exec, match: { cn: exec }, roles: [exec] }
  - { name: builder, match: { cn: builder }, roles: [builder] }
  - { name: containers, match: { cn: containers }, roles: [containers] }
  - { name: images, match: { cn: images }, roles: [images] }
  - { name: volumes, match: { cn: volumes }, roles: [volumes] }
roles:
  ro: { allow: [preset:read-only] }
  logs: { allow: [preset:containers-read] }
  exec: { allow: [preset:containers-read, preset:exec] }
  builder: { allow: [preset:build] }
  containers: { allow: [preset:containers] }
  images: { allow: [preset:images] }
  volumes: { allow: [preset:volumes] }
`,
  'cli-presets.yaml',
);

/** A unix-socket pass-through to dockerd that records each request line the client sends. */
async function startTap(upstream: string, path: string): Promise<{ requests: [string, string][]; close(): Promise<void> }> {
  const requests: [string, string][] = [];
  const line = /(?:^|\r\n)(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP\/1\.[01]\r\n/g;
  const server = net.createServer((client) => {
    const up = net.connect(upstream);
    client.on('data', (chunk: Buffer) => {
      for (const m of chunk.toString('latin1').matchAll(line)) requests.push([m[1]!, m[2]!]);
    });
    client.pipe(up).pipe(client);
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('presets against the docker CLI on the wire', { skip }, () => {
  let engine: TestEngine;
  let dir: string;
  let tap: Awaited<ReturnType<typeof startTap>>;
  let policy: Policy;

  before(async () => {
    engine = await startTestEngine();
    // As the gateway does: the daemon's API version is the newest one the policy accepts.
    const version = await engine.docker(['version', '--format', '{{.Server.APIVersion}}']);
    assert.equal(version.code, 0, version.stderr);
    policy = withApiVersion(basePolicy, version.stdout.trim());
    dir = await mkdtemp(join(tmpdir(), 'dw-tap-'));
    tap = await startTap(engine.socketPath, join(dir, 'tap.sock'));
    const run = await engine.docker(['run', '-d', '--network', 'none', '--name', 'c1', '--label', 'team=a', TEST_IMAGE, 'sleep', '600']);
    assert.equal(run.code, 0, run.stderr);
  });
  after(async () => {
    await tap?.close();
    await engine?.docker(['rm', '-f', 'c1']);
    await engine?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs the CLI through the tap and returns what each of its requests gets from `identity`. */
  async function judge(args: string[], identity: string, input?: string, env?: Record<string, string>): Promise<{ request: string; verdict: Verdict }[]> {
    tap.requests.length = 0;
    const res = await runDocker(['-H', `unix://${join(dir, 'tap.sock')}`, ...args], { input, env });
    assert.equal(res.code, 0, `docker ${args.join(' ')}: ${res.stderr}`);
    assert.ok(tap.requests.length > 0);
    const id = { name: identity, cn: identity, ou: [], sans: [], listener: 'test' };
    return tap.requests.map(([method, target]) => ({ request: `${method} ${target}`, verdict: authorize(policy, id, method, target) }));
  }

  function refusedOnes(judged: { request: string; verdict: Verdict }[]): string[] {
    return judged.filter((j) => j.verdict.kind !== 'allow').map((j) => `${j.request} -> ${j.verdict.kind}`);
  }

  const readOnlyCommands = [
    ['version'],
    ['info'],
    ['ps', '-a'],
    ['ps', '--filter', 'label=team=a', '--filter', 'status=running'],
    ['images'],
    ['inspect', 'c1'],
    ['image', 'inspect', TEST_IMAGE],
    ['image', 'history', TEST_IMAGE],
    ['network', 'ls'],
    ['network', 'inspect', 'none'],
    ['volume', 'ls'],
    ['top', 'c1'],
    ['diff', 'c1'],
    ['stats', '--no-stream', 'c1'],
    ['events', '--since', '1s', '--until', '0s'],
    ['system', 'df'],
  ];
  for (const args of readOnlyCommands) {
    it(`read-only allows every request of docker ${args.join(' ')}`, async () => {
      assert.deepEqual(refusedOnes(await judge(args, 'ro')), []);
    });
  }

  it('logs need containers-read, not read-only', async () => {
    assert.deepEqual(refusedOnes(await judge(['logs', 'c1'], 'logs')), []);
    const refused = refusedOnes(await judge(['logs', 'c1'], 'ro'));
    assert.equal(refused.length, 1, refused.join('\n'));
    assert.match(refused[0]!, /^GET \/v1\.\d+\/containers\/[0-9a-f]{64}\/logs\?\S* -> deny$/);
  });

  it('read-only and containers-read refuse docker cp out of a container', async () => {
    for (const identity of ['ro', 'logs']) {
      const refused = refusedOnes(await judge(['cp', 'c1:/etc/hostname', join(dir, 'copied')], identity));
      assert.ok(refused.some((r) => /^(HEAD|GET) \/v1\.\d+\/containers\/c1\/archive\?path=.* -> deny$/.test(r)), refused.join('\n'));
    }
  });

  it('exec is allowed by the exec preset and refused to read-only', async () => {
    const judged = await judge(['exec', 'c1', 'echo', 'hi'], 'exec');
    assert.deepEqual(refusedOnes(judged), []);
    assert.ok(judged.some((j) => /^POST \/v1\.\d+\/exec\//.test(j.request)));
    assert.ok(refusedOnes(await judge(['exec', 'c1', 'echo', 'hi'], 'ro')).some((r) => /^POST \/v1\.\d+\/containers\/c1\/exec/.test(r)));
  });

  it('a classic build needs only the build preset', async () => {
    const dockerfile = `FROM ${TEST_IMAGE}\nLABEL built-by=dockward-test\n`;
    // DOCKER_BUILDKIT=0: with the buildx plugin present, docker build would use BuildKit.
    const judged = await judge(['build', '-q', '-t', 'dockward-test/built:1', '-'], 'builder', dockerfile, { DOCKER_BUILDKIT: '0' });
    assert.deepEqual(refusedOnes(judged), []);
    assert.ok(judged.some((j) => j.verdict.kind === 'allow' && j.verdict.route === 'POST /build'));
  });

  const workflows: [identity: string, args: string[]][] = [
    ['containers', ['run', '--rm', '--network', 'none', TEST_IMAGE, 'true']],
    ['containers', ['create', '--name', 'c2', '--network', 'none', TEST_IMAGE]],
    ['containers', ['start', 'c2']],
    ['containers', ['rename', 'c2', 'c3']],
    ['containers', ['rm', '-f', 'c3']],
    ['containers', ['cp', 'c1:/etc/hostname', '-']],
    ['containers', ['export', '-o', '{dir}/export.tar', 'c1']],
    ['containers', ['commit', 'c1', 'dockward-test/committed:1']],
    ['images', ['tag', TEST_IMAGE, 'dockward-test/tagged:1']],
    ['images', ['save', '-o', '{dir}/save.tar', 'dockward-test/tagged:1']],
    ['images', ['rmi', 'dockward-test/tagged:1']],
    ['volumes', ['volume', 'create', 'v1']],
    ['volumes', ['volume', 'inspect', 'v1']],
    ['volumes', ['volume', 'rm', 'v1']],
  ];
  for (const [identity, args] of workflows) {
    it(`preset ${identity} allows every request of docker ${args.join(' ')}`, async () => {
      assert.deepEqual(refusedOnes(await judge(args.map((a) => a.replace('{dir}', dir)), identity)), []);
    });
  }
});
