/**
 * Learn mode, end to end: a CI-like workload (a bash script driving the real docker CLI) runs as
 * identity "ci" under an audit-only role; `dockward policy suggest` writes a policy from the audit
 * log; the gateway enforces it; the same workload passes, and a privileged create or a bind of /
 * from the same identity is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGatewayFixture, type GatewayFixture } from '../gateway/fixture.js';
import { DOCKER_CLI, engineSkipReason, TEST_IMAGE } from '../harness/engine.js';
import { dockward } from '../harness/cli.js';
import { runProcess } from '../harness/process.js';
import { issueClient } from '../../src/pki/index.js';
import { suggestPolicy } from '../../src/policy/suggest.js';

const skip = engineSkipReason();

const LEARNING = `version: 1
identities:
  - name: ci
    match: { cn: ci }
    roles: [learning]
roles:
  learning:
    audit-only: true
`;

const WORKLOAD = `set -eu
docker version --format '{{.Server.Version}}'
docker ps -a --format '{{.Names}}'
docker volume create "cache-$RUN"
docker run --rm -e TOKEN=hunter2-secret -v "$WORK:/src:ro" -v "cache-$RUN:/cache" "$IMAGE" sh -c 'cat /src/input.txt > /cache/out'
docker run --rm --cap-add NET_ADMIN "$IMAGE" true
docker create --name "job-$RUN" "$IMAGE" sleep 30
docker start "job-$RUN"
docker exec "job-$RUN" cat /src 2>/dev/null || docker exec "job-$RUN" echo exec-ok
docker logs "job-$RUN"
docker rm -f "job-$RUN"
docker volume rm "cache-$RUN"
`;

let fx: GatewayFixture;
let work: string;

before(async () => {
  if (skip) return;
  fx = await startGatewayFixture(LEARNING);
  await issueClient({ dir: fx.pki, name: 'ci', onWarning: () => undefined });
  work = join(fx.dir, 'work');
  await mkdir(work);
  await writeFile(join(work, 'input.txt'), 'input\n');
});
after(async () => fx?.stop());

function workload(run: string) {
  const bin = join(fx.dir, 'bin');
  return runProcess('bash', ['-c', `mkdir -p ${bin} && ln -sf ${DOCKER_CLI} ${bin}/docker && ${WORKLOAD}`], {
    env: {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: fx.dir,
      DOCKER_CONFIG: join(fx.dir, 'ci-docker'),
      DOCKER_HOST: `tcp://127.0.0.1:${fx.port}`,
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: fx.clientDir('ci'),
      RUN: run,
      WORK: work,
      IMAGE: TEST_IMAGE,
    },
    timeoutMs: 180_000,
  });
}

test('audit-only, suggest, enforce: the workload passes, a privileged create and a bind of / do not', { skip }, async () => {
  const learning = await workload('1');
  assert.equal(learning.code, 0, learning.stderr);
  const log = await readFile(fx.auditPath, 'utf8');
  assert.ok(!log.includes('hunter2'), 'a container environment value reached the audit log');

  const out = join(fx.dir, 'suggested.yaml');
  const suggested = await dockward(['policy', 'suggest', '--audit-log', fx.auditPath, '--identity', 'ci', '--output', out]);
  assert.equal(suggested.code, 0, suggested.stderr);
  const yaml = await readFile(out, 'utf8');
  assert.ok(!yaml.includes('hunter2'));
  assert.match(yaml, /match: \{ cn: "ci" \}/);
  assert.match(yaml, /- "POST \/containers\/create" {3}# 3 times/);
  assert.match(yaml, /- "POST \/containers\/\{id\}\/exec"/);
  assert.match(yaml, /capabilities:\n {8}- "CAP_NET_ADMIN" {3}# 1 time\n/);
  assert.match(yaml, new RegExp(`- \\{ path: "${work}", readOnly: true \\} {3}# 1 time`));
  assert.doesNotMatch(yaml, /privileged|hostNamespaces|GET \/info/);
  const check = await dockward(['policy', 'check', out]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const again = await dockward(['policy', 'suggest', '--audit-log', fx.auditPath, '--identity', 'ci', '--output', out]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists \(pass --force to overwrite\)/);

  // Enforce: the suggested policy replaces the audit-only one.
  await writeFile(join(fx.dir, 'policy.yaml'), yaml);
  await fx.gateway.reload();
  assert.ok(fx.logs.some((l) => l.startsWith('policy reloaded')), fx.logs.join('\n'));
  const enforced = await workload('2');
  assert.equal(enforced.code, 0, enforced.stderr);

  const privileged = await fx.docker('ci', ['create', '--privileged', TEST_IMAGE]);
  assert.notEqual(privileged.code, 0);
  assert.match(privileged.stderr, /DW_BODY_PRIVILEGED/);
  const root = await fx.docker('ci', ['create', '-v', '/:/host', TEST_IMAGE]);
  assert.notEqual(root.code, 0);
  assert.match(root.stderr, /DW_BODY_HOST_PATH/);
  const writable = await fx.docker('ci', ['create', '-v', `${work}:/src`, TEST_IMAGE]);
  assert.notEqual(writable.code, 0, 'the bind was learnt read-only');
  const info = await fx.docker('ci', ['info']);
  assert.notEqual(info.code, 0);
  assert.match(info.stderr, /may not GET \/info/);
});

test('suggest reads only allowed lines of the identity, and says what it could not learn', () => {
  const line = (o: object) => JSON.stringify({ time: '2026-11-25T00:00:00Z', identity: 'ci', cn: 'ci', decision: 'allow', route: 'GET /containers/json', ...o });
  const log = [
    line({}),
    line({ identity: 'other', route: 'GET /info' }),
    line({ decision: 'deny', route: 'GET /images/json' }),
    '{"torn',
    line({ route: 'POST /containers/create', features: { privileged: true, hostNamespaces: ['pid'] }, wouldDeny: 'HostConfig.Privileged: privileged containers are not allowed (DW_BODY_PRIVILEGED, role learning)' }),
    line({ route: 'POST /containers/create', wouldDeny: 'HostConfig.Runtime: runtime "kata" is not allowed for this role (DW_BODY_RUNTIME, role learning)' }),
  ].join('\n');
  const s = suggestPolicy(log, 'ci', 'audit.log');
  assert.equal(s.requests, 3);
  assert.match(s.yaml, /privileged: true {3}# 1 time/);
  assert.match(s.yaml, /hostNamespaces:\n {8}- "pid"/);
  assert.doesNotMatch(s.yaml, /GET \/info|GET \/images\/json/);
  assert.match(s.yaml, /# Also seen, and refused by the policy above.*\n# {3}POST \/containers\/create: HostConfig.Runtime: runtime "kata"/);
  assert.throws(() => suggestPolicy(log, 'nobody', 'audit.log'), /audit.log has no allowed request of identity "nobody"/);
});
