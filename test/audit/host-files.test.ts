import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { engineSkipReason, startTestEngine, type TestEngine } from '../harness/engine.js';
import { dockward } from '../harness/cli.js';
import { makeRoot } from '../daemon/root.js';
import { initCa, issueServer, pkiLayout, OID_CLIENT_AUTH } from '../../src/pki/index.js';
import type { Report } from '../../src/report/finding.js';

/**
 * What only the host's files show, read under --root from a target system built for the test
 * (the stock Debian unit and a daemon.json as users hand-edit it), with a real daemon answering
 * the API. Each case names the file, the mode bits or the setting it is about.
 */
const skip = engineSkipReason();

describe('dockward audit of the host files under --root', { skip }, () => {
  let engine: TestEngine;
  let root: string;
  let pki: string;
  let report: Report;

  before(async () => {
    engine = await startTestEngine({ image: false });
    pki = await mkdtemp(join(tmpdir(), 'dw-hpki-'));
    await initCa({ dir: pki, onWarning: () => undefined });
    // Ten days left, and issued for clientAuth: Docker clients refuse it for a server.
    await issueServer({ dir: pki, hosts: ['localhost'], ips: ['127.0.0.1'], days: 10, ekuOverride: [OID_CLIENT_AUTH], onWarning: () => undefined });
    const daemonJson = [
      '{',
      '  // as the seeds write it',
      '  "hosts": ["tcp://0.0.0.0:2376"],',
      '  "tlsverify": false,',
      '  "tlscert": "/etc/docker/pki/server-cert.pem",',
      '  "tlskey": "/etc/docker/pki/server-key.pem",',
      '  "tlscacert": "/etc/docker/pki/ca.pem",',
      '  "no-new-privileges": true,',
      '  "userland-proxy": false,',
      // Configured, but the running daemon was not started with them: the API says so.
      '  "userns-remap": "default",',
      '  "live-restore": true,',
      '  "no-such-key": 1',
      '}',
    ].join('\n');
    root = await makeRoot({ '/etc/docker/daemon.json': daemonJson, '/etc/group': 'root:x:0:\ndocker:x:999:alice,bob\n', '/etc/passwd': 'root:x:0:0::/root:/bin/sh\ncarol:x:1001:999::/home/carol:/bin/sh\n' });
    await chmod(join(root, 'etc/docker/daemon.json'), 0o666);
    const server = pkiLayout(pki).serverDir;
    await mkdir(join(root, 'etc/docker/pki'), { recursive: true });
    for (const f of ['server-cert.pem', 'server-key.pem', 'ca.pem']) await copyFile(join(server, f), join(root, 'etc/docker/pki', f));
    await chmod(join(root, 'etc/docker/pki/server-key.pem'), 0o440);
    // The socket as the target has it: world-accessible, group docker.
    const sock = join(root, engine.socketPath);
    await mkdir(dirname(sock), { recursive: true });
    await writeFile(sock, '');
    await chmod(sock, 0o666);
    await chown(sock, 0, 999);
    const res = await dockward(['audit', '--root', root, '--host', `unix://${engine.socketPath}`, '--format', 'json', '--fail-on', 'critical'], { timeoutMs: 120_000 });
    assert.equal(res.code, 1, res.stderr);
    report = JSON.parse(res.stdout) as Report;
  });
  after(async () => {
    await engine?.stop();
    await Promise.all([root, pki].map((d) => d && rm(d, { recursive: true, force: true })));
  });

  const expectations: [string, string, string, RegExp][] = [
    ['DW-DAEMON-TLS-002', 'tcp://0.0.0.0:2376', 'critical', /serves TLS without verifying clients/],
    ['DW-DAEMON-CONFIG-001', '/etc/docker/daemon.json', 'high', /comment \(JSON has none\) on line 2/],
    ['DW-DAEMON-CONFIG-001', '/etc/docker/daemon.json', 'high', /unknown key "no-such-key"/],
    ['DW-DAEMON-HOSTS-001', '/etc/docker/daemon.json', 'high', /"hosts" in daemon\.json and -H/],
    ['DW-FILE-CONFIG-001', '/etc/docker/daemon.json', 'high', /writable by every local user/],
    ['DW-FILE-KEY-001', '/etc/docker/pki/server-key.pem', 'high', /readable by its group/],
    ['DW-FILE-SOCKET-001', '', 'critical', /every local user can use the Docker socket/],
    ['DW-FILE-GROUP-001', 'group docker', 'low', /3 users in the docker group: alice, bob, carol/],
    ['DW-TLS-EXPIRY-001', '/etc/docker/pki/server-cert.pem', 'medium', /expires in (9|10) days/],
    ['DW-TLS-PROFILE-001', '/etc/docker/pki/server-cert.pem', 'medium', /not for serverAuth/],
    ['DW-DAEMON-DRIFT-001', 'userns-remap', 'medium', /configured \(\/etc\/docker\/daemon\.json\) but the running daemon does not have it/],
    ['DW-DAEMON-DRIFT-001', 'live-restore', 'medium', /configured \(\/etc\/docker\/daemon\.json\) but the running daemon does not have it/],
  ];
  for (const [check, subject, severity, message] of expectations) {
    test(`${check} ${subject || '(socket)'}: ${message.source}`, () => {
      const f = report.findings.find((x) => x.check === check && x.subject.startsWith(subject || '/tmp/') && message.test(x.message));
      assert.ok(f, `missing; got:\n${report.findings.map((x) => `${x.check} ${x.subject}: ${x.message}`).join('\n')}`);
      assert.equal(f.severity, severity);
    });
  }

  test('what the files set is not reported: no-new-privileges and userland-proxy', () => {
    assert.ok(!report.findings.some((f) => ['DW-DAEMON-NNP-001', 'DW-DAEMON-PROXY-001', 'DW-CTR-NNP-001'].includes(f.check)));
  });

  test('modes are compared bit by bit: 0640 on the key is still readable by its group, 0600 is not', async () => {
    const key = join(root, 'etc/docker/pki/server-key.pem');
    const keyFindings = async () => {
      const res = await dockward(['audit', '--root', root, '--host', `unix://${engine.socketPath}`, '--format', 'json'], { timeoutMs: 120_000 });
      return (JSON.parse(res.stdout) as Report).findings.filter((f) => f.check === 'DW-FILE-KEY-001');
    };
    await chmod(key, 0o640);
    assert.equal((await keyFindings()).length, 1);
    await chmod(key, 0o600);
    assert.deepEqual(await keyFindings(), []);
  });

  test('a daemon.json that cannot be read fails the audit instead of being taken as absent', async () => {
    const broken = await makeRoot({});
    try {
      await mkdir(join(broken, 'etc/docker/daemon.json'), { recursive: true });
      const res = await dockward(['audit', '--root', broken, '--host', `unix://${engine.socketPath}`, '--format', 'json']);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^dockward: cannot read \/etc\/docker\/daemon\.json: EISDIR \(run dockward audit as a user who can read the Docker configuration \(root\)\)\n$/);
      assert.equal(res.stdout, '');
    } finally {
      await rm(broken, { recursive: true, force: true });
    }
  });
});
