import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, startEngineDaemon, freePort, dockerdTlsArgs } from '../harness/engine.js';
import type { PrivateDaemon } from '../../src/engine/private-daemon.js';
import { dockward } from '../harness/cli.js';
import { initCa, issueServer, issueClient, pkiLayout } from '../../src/pki/index.js';
import type { Report } from '../../src/report/finding.js';
import { writeDockerContext } from '../../src/client/docker-context.js';
import { assertReportSchema } from './validators.js';

/**
 * A remote audit of several daemons in one run, through TLS bundles issued by `dockward pki`:
 * two with --tlsverify, and one that serves TLS without verifying clients (proven on the wire by
 * asking without a certificate).
 */
const skip = engineSkipReason();

describe('dockward audit of a fleet through TLS', { skip }, () => {
  let pki: string;
  const daemons: PrivateDaemon[] = [];
  const ports: number[] = [];

  before(async () => {
    pki = await mkdtemp(join(tmpdir(), 'dw-fpki-'));
    await initCa({ dir: pki, onWarning: () => undefined });
    await issueServer({ dir: pki, hosts: ['localhost'], ips: ['127.0.0.1'], onWarning: () => undefined });
    await issueClient({ dir: pki, name: 'auditor', onWarning: () => undefined });
    const server = pkiLayout(pki).serverDir;
    for (let i = 0; i < 3; i++) ports.push(await freePort());
    const args = [
      dockerdTlsArgs(server, ports[0]!),
      dockerdTlsArgs(server, ports[1]!),
      // dockerd verifies clients whenever it has a CA (--tls --tlscacert alone included), unless told --tlsverify=false.
      ['-H', `tcp://127.0.0.1:${ports[2]}`, '--tls', '--tlsverify=false', '--tlscacert', join(server, 'ca.pem'), '--tlscert', join(server, 'server-cert.pem'), '--tlskey', join(server, 'server-key.pem')],
    ];
    // One after the other, each kept as it starts: a failed start must not leave the others running.
    for (const a of args) daemons.push(await startEngineDaemon({ args: a }));
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    if (pki) await rm(pki, { recursive: true, force: true });
  });

  test('one run, one combined report; host-only checks skipped per daemon; tlsverify off is found', async () => {
    const hosts = ports.map((p) => `tcp://127.0.0.1:${p}`);
    const res = await dockward(['audit', ...hosts.flatMap((h) => ['--host', h]), '--bundle', pkiLayout(pki).clientDir('auditor'), '--format', 'json', '--fail-on', 'critical'], { timeoutMs: 120_000 });
    const report = JSON.parse(res.stdout) as Report;
    assertReportSchema(report);
    assert.deepEqual(report.targets.map((t) => [t.target, t.transport, !!t.engine, t.error]), hosts.map((h) => [h, 'tls', true, undefined]));
    assert.deepEqual(report.skipped.map((s) => s.target), hosts);
    const tls = report.findings.filter((f) => f.check.startsWith('DW-DAEMON-TLS-'));
    assert.deepEqual(tls.map((f) => [f.check, f.target, f.severity]), [['DW-DAEMON-TLS-002', hosts[2], 'high']]);
    assert.match(tls[0]!.evidence[0]!, /without a client certificate answered 200/);
    // Loopback only: high, not critical, so --fail-on critical passes.
    assert.equal(res.code, 0, res.stderr);
  });

  test('a daemon that cannot be reached fails the run, and the others are still reported', async () => {
    const down = `tcp://127.0.0.1:${await freePort()}`;
    const res = await dockward(['audit', '--host', `tcp://127.0.0.1:${ports[0]}`, '--host', down, '--bundle', pkiLayout(pki).clientDir('auditor'), '--format', 'json'], { timeoutMs: 120_000 });
    assert.equal(res.code, 1);
    assert.match(res.stderr, new RegExp(`^dockward: cannot audit ${down}: .*ECONNREFUSED`, 'm'));
    const report = JSON.parse(res.stdout) as Report;
    assert.ok(report.targets[0]!.engine);
    assert.match(report.targets[1]!.error!, /ECONNREFUSED/);
  });

  test('the daemon the docker CLI would use: a context (--context, or the current one), or DOCKER_HOST with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async () => {
    const config = await mkdtemp(join(tmpdir(), 'dw-actx-'));
    try {
      const bundle = pkiLayout(pki).clientDir('auditor');
      const [caPem, certPem, keyPem] = await Promise.all(['ca.pem', 'cert.pem', 'key.pem'].map((f) => readFile(join(bundle, f), 'utf8')));
      await writeDockerContext({ name: 'prod', host: `tcp://127.0.0.1:${ports[0]}`, caPem: caPem!, certPem: certPem!, keyPem: keyPem!, configDir: config });
      const targets = async (args: string[], env: Record<string, string | undefined>) => {
        const res = await dockward(['audit', ...args, '--format', 'json'], { env: { DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined, DOCKER_CONFIG: config, ...env }, timeoutMs: 120_000 });
        assert.equal(res.code, 0, res.stderr);
        return (JSON.parse(res.stdout) as Report).targets.map((t) => [t.target, t.transport, !!t.engine]);
      };
      assert.deepEqual(await targets(['--context', 'prod'], {}), [['context prod', 'tls', true]]);
      assert.deepEqual(await targets([], { DOCKER_CONTEXT: 'prod' }), [['context prod', 'tls', true]]);
      const host = `tcp://127.0.0.1:${ports[1]}`;
      assert.deepEqual(await targets([], { DOCKER_HOST: host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle }), [[host, 'tls', true]]);
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });
});
