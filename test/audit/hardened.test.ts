import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSkipReason, freePort, enginePath, testEngineInstall, runDocker, importTestImage, TEST_IMAGE } from '../harness/engine.js';
import { dockward } from '../harness/cli.js';
import { guardHostFiles, type HostFiles } from '../harness/host-files.js';
import { makeRoot } from '../daemon/root.js';
import { findDockerd } from '../../src/daemon/dockerd.js';
import { startCandidateDaemon, type CandidateDaemon } from '../../src/daemon/validate.js';
import { initCa, issueServer, issueClient, pkiLayout } from '../../src/pki/index.js';
import type { Report } from '../../src/report/finding.js';
import { assertReportSchema } from './validators.js';

/**
 * The issue's acceptance: a daemon configured by `dockward daemon apply --profile hardened --tls`
 * (under a temp root made from the stock Debian unit and this host's ids, as
 * test/daemon/acceptance.test.ts does) and running with what was written reports none of the
 * daemon findings, read both through its socket with the root's files and through its TLS port.
 */
const skip = engineSkipReason();
const HOST_ID_FILES = ['passwd', 'group', 'shadow', 'gshadow', 'subuid', 'subgid'].flatMap((f) => [`/etc/${f}`, `/etc/${f}-`]);
const ID_FILES = ['/etc/passwd', '/etc/group', '/etc/subuid', '/etc/subgid'];
/** What "the daemon findings" are: everything about the daemon, its files and its TLS material, above info. */
const daemonFindings = (r: Report) => r.findings.filter((f) => /^DW-(DAEMON|FILE|TLS)-/.test(f.check) && f.severity !== 'info').map((f) => `${f.check} ${f.subject}: ${f.message}`);

describe('dockward audit of a daemon configured by dockward daemon apply --profile hardened --tls', { skip }, () => {
  let root: string;
  let pki: string;
  let port: number;
  let daemon: CandidateDaemon | undefined;
  let host: HostFiles | undefined;

  before(async () => {
    // dockerd with userns-remap "default" adds its user and ranges to this host's files: put back after.
    host = await guardHostFiles(HOST_ID_FILES);
    pki = await mkdtemp(join(tmpdir(), 'dw-apki-'));
    await initCa({ dir: pki, onWarning: () => undefined });
    await issueServer({ dir: pki, hosts: ['localhost'], ips: ['127.0.0.1'], onWarning: () => undefined });
    await issueClient({ dir: pki, name: 'auditor', onWarning: () => undefined });
    const ids = Object.fromEntries(await Promise.all(ID_FILES.map(async (f) => [f, await readFile(f, 'utf8').catch(() => '')] as const)));
    root = await makeRoot({ '/etc/docker/daemon.json': '{}\n', ...ids });
    port = await freePort();
    const apply = await dockward(['daemon', 'apply', '--root', root, '--profile', 'hardened', '--tls', '--listen', `tcp://127.0.0.1:${port}`, '--pki', pki, '--yes'], { env: { PATH: enginePath() }, timeoutMs: 300_000 });
    assert.equal(apply.code, 0, apply.stderr + apply.stdout);
    for (const f of ['/etc/subuid', '/etc/subgid']) await writeFile(f, await readFile(join(root, f)));
    const config = JSON.parse(await readFile(join(root, 'etc/docker/daemon.json'), 'utf8')) as Record<string, unknown>;
    const dockerd = await findDockerd(enginePath());
    assert.ok(dockerd);
    // iptables stays off (this host's firewall is not the test's): the private daemon has no default bridge, so icc has nothing to allow.
    daemon = await startCandidateDaemon(config, { root, keepTcp: true, keepUserns: true, iptables: false, dockerd, binDirs: testEngineInstall().binDirs });
    await importTestImage(daemon.socketPath);
    // A container, so log rotation is read from what containers really get.
    const created = await runDocker(['-H', `unix://${daemon.socketPath}`, 'create', '--network', 'none', '--name', 'app', TEST_IMAGE, 'true']);
    assert.equal(created.code, 0, created.stderr);
  });

  after(async () => {
    await daemon?.stop();
    await host?.restore();
    await Promise.all([root, pki].map((d) => d && rm(d, { recursive: true, force: true })));
  });

  test('through its socket, with the files under --root: no daemon, file or TLS finding', async () => {
    const res = await dockward(['audit', '--root', root, '--host', `unix://${daemon!.socketPath}`, '--format', 'json', '--fail-on', 'high'], { timeoutMs: 120_000 });
    const report = JSON.parse(res.stdout) as Report;
    assertReportSchema(report);
    assert.deepEqual(daemonFindings(report), []);
    assert.equal(res.code, 0, res.stderr);
    // The container is still reported: the hardened daemon does not make it non-root.
    assert.ok(report.findings.some((f) => f.check === 'DW-CTR-ROOT-001' && f.subject === 'container app'));
    // The daemon-wide no-new-privileges covers every container: not reported per container.
    assert.ok(!report.findings.some((f) => f.check === 'DW-CTR-NNP-001'));

    // The same daemon with a root that holds none of those files: what only the files can show is reported.
    const empty = await mkdtemp(join(tmpdir(), 'dw-eroot-'));
    try {
      const bare = JSON.parse((await dockward(['audit', '--root', empty, '--host', `unix://${daemon!.socketPath}`, '--format', 'json'], { timeoutMs: 120_000 })).stdout) as Report;
      assert.deepEqual(bare.findings.filter((f) => f.check.startsWith('DW-DAEMON-') && f.severity !== 'info').map((f) => f.check).sort(), ['DW-DAEMON-NNP-001', 'DW-DAEMON-PROXY-001']);
      assert.ok(bare.findings.some((f) => f.check === 'DW-CTR-NNP-001'));
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  test('through its TLS port with a dockward bundle: no daemon finding; a client without a certificate was refused', async () => {
    const res = await dockward(['audit', '--host', `tcp://127.0.0.1:${port}`, '--bundle', pkiLayout(pki).clientDir('auditor'), '--format', 'json'], { timeoutMs: 120_000 });
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as Report;
    assert.equal(report.targets[0]?.transport, 'tls');
    assert.deepEqual(daemonFindings(report), []);
  });
});
