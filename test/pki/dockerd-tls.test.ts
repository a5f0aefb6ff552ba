import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { engineSkipReason, startTestEngine, freePort, dockerdTlsArgs, runDocker, TEST_IMAGE, type TestEngine } from '../harness/engine.js';
import { assertCertificateRefused } from '../harness/tls-refusal.js';
import { initCa, issueServer, issueClient, pkiLayout, KEY_TYPES, OID_SERVER_AUTH, type KeyType } from '../../src/pki/index.js';

const skip = engineSkipReason();
const execFileP = promisify(execFile);

/** The docker CLI as a user runs it with a bundle: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH. */
function dockerTls(port: number, certPath: string, args: string[]) {
  return runDocker(args, { env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certPath } });
}

async function curl(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await execFileP('curl', ['-sS', '--max-time', '10', ...args]);
    return { code: 0, out: stdout };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, out: err.stderr };
  }
}

async function makePki(keyType: KeyType) {
  const dir = await mkdtemp(join(tmpdir(), 'dw-tls-'));
  await initCa({ dir, keyType, onWarning: () => undefined });
  await issueServer({ dir, hosts: ['localhost'], ips: ['127.0.0.1'], keyType, onWarning: () => undefined });
  await issueClient({ dir, name: 'admin', keyType, onWarning: () => undefined });
  return dir;
}

describe('a real dockerd with --tlsverify and dockward material', { skip }, () => {
  let pki: string;
  let other: string;
  let engine: TestEngine;
  let port: number;

  before(async () => {
    pki = await makePki('ecdsa-p256');
    other = await makePki('ecdsa-p256');
    await issueClient({ dir: pki, name: 'server-only', ekuOverride: [OID_SERVER_AUTH], onWarning: () => undefined });
    port = await freePort();
    engine = await startTestEngine({ args: dockerdTlsArgs(pkiLayout(pki).serverDir, port) });
  });
  after(async () => {
    await engine?.stop();
    await Promise.all([pki, other].map((d) => d && rm(d, { recursive: true, force: true })));
  });

  test('the docker CLI with the client bundle: version, ps, run --rm', async () => {
    const bundle = pkiLayout(pki).clientDir('admin');
    const version = await dockerTls(port, bundle, ['version', '--format', '{{.Server.Version}}']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^\d+\.\d+/);
    const ps = await dockerTls(port, bundle, ['ps', '-a']);
    assert.equal(ps.code, 0, ps.stderr);
    const run = await dockerTls(port, bundle, ['run', '--rm', '--network', 'none', TEST_IMAGE, 'echo', 'over-tls']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'over-tls');
  });

  test('curl with --cert/--key/--cacert reads /version', async () => {
    const b = pkiLayout(pki).clientDir('admin');
    const r = await curl(['--cacert', join(b, 'ca.pem'), '--cert', join(b, 'cert.pem'), '--key', join(b, 'key.pem'), `https://127.0.0.1:${port}/version`]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /"ApiVersion"/);
  });

  test('refused: no client certificate', async () => {
    const onlyCa = await mkdtemp(join(tmpdir(), 'dw-noc-'));
    try {
      await copyFile(join(pkiLayout(pki).dir, 'ca.pem'), join(onlyCa, 'ca.pem'));
      const r = await curl(['--cacert', join(onlyCa, 'ca.pem'), `https://127.0.0.1:${port}/version`]);
      assert.notEqual(r.code, 0);
      const d = await dockerTls(port, onlyCa, ['version', '--format', '{{.Server.Version}}']);
      await assertCertificateRefused(d, { port, bundle: onlyCa });
    } finally {
      await rm(onlyCa, { recursive: true, force: true });
    }
  });

  test('refused: a client certificate from another dockward CA', async () => {
    // The foreign bundle trusts our server's CA (so only the client side can fail).
    const mixed = await mkdtemp(join(tmpdir(), 'dw-mix-'));
    try {
      const foreign = pkiLayout(other).clientDir('admin');
      await copyFile(join(pkiLayout(pki).dir, 'ca.pem'), join(mixed, 'ca.pem'));
      await copyFile(join(foreign, 'cert.pem'), join(mixed, 'cert.pem'));
      await copyFile(join(foreign, 'key.pem'), join(mixed, 'key.pem'));
      const d = await dockerTls(port, mixed, ['version', '--format', '{{.Server.Version}}']);
      await assertCertificateRefused(d, { port, bundle: mixed });
    } finally {
      await rm(mixed, { recursive: true, force: true });
    }
  });

  test('refused: a client certificate whose EKU is serverAuth only', async () => {
    const bundle = pkiLayout(pki).clientDir('server-only');
    const d = await dockerTls(port, bundle, ['version', '--format', '{{.Server.Version}}']);
    await assertCertificateRefused(d, { port, bundle });
  });

  test('the refusal check: a reset is proven a refusal again under TLS 1.2, and an accepted certificate still fails it', async () => {
    // What the docker CLI prints when its request loses the TLS 1.3 race with dockerd's alert.
    const reset = { code: 1, stdout: '', stderr: 'error during connect: Get "https://127.0.0.1/v1.51/version": read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer\n' };
    await assertCertificateRefused(reset, { port, bundle: pkiLayout(pki).clientDir('server-only') });
    await assert.rejects(assertCertificateRefused(reset, { port, bundle: pkiLayout(pki).clientDir('admin') }), /under TLS 1\.2 the server did not refuse the handshake/);
    await assert.rejects(assertCertificateRefused({ code: 0, stdout: '28.5.2', stderr: '' }, { port, bundle: pkiLayout(pki).clientDir('server-only') }), /the server accepted the connection/);
    await assert.rejects(assertCertificateRefused({ code: 1, stdout: '', stderr: 'Cannot connect to the Docker daemon' }, { port, bundle: pkiLayout(pki).clientDir('server-only') }), /neither a certificate alert nor the TLS 1\.3 reset/);
  });
});

describe('every key type is accepted by dockerd and the docker CLI', { skip }, () => {
  for (const keyType of KEY_TYPES) {
    test(keyType, async () => {
      const pki = await makePki(keyType);
      const port = await freePort();
      const engine = await startTestEngine({ image: false, args: dockerdTlsArgs(pkiLayout(pki).serverDir, port) });
      try {
        const bundle = pkiLayout(pki).clientDir('admin');
        const r = await dockerTls(port, bundle, ['version', '--format', '{{.Server.Version}}']);
        assert.equal(r.code, 0, r.stderr);
        const ps = await dockerTls(port, bundle, ['ps']);
        assert.equal(ps.code, 0, ps.stderr);
      } finally {
        await engine.stop();
        await rm(pki, { recursive: true, force: true });
      }
    });
  }
});

