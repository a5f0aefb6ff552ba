/**
 * Who gets in: the verified client certificate is the identity (policy roles apply to it), and
 * every other client is refused at the TLS layer: no certificate, another CA's certificate, a
 * revoked one (after the CRL reload the gateway does by itself), a serverAuth-only one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initCa, issueClient, loadIssuer, pkiLayout, revoke } from '../../src/pki/index.js';
import { buildCrlPem } from '../../src/pki/crl.js';
import { OID_SERVER_AUTH } from '../../src/pki/index.js';
import { normalSerial } from '../../src/gateway/tls-context.js';
import { runDoctor } from '../../src/client/doctor.js';
import { engineSkipReason, runDocker, TEST_IMAGE } from '../harness/engine.js';
import { clientTls, rawExchange, startGatewayFixture, until, type GatewayFixture } from './fixture.js';

const skip = engineSkipReason();
const run = promisify(execFile);
const quiet = { onWarning: () => undefined };

async function curl(f: GatewayFixture, args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run('curl', ['-sSf', '--max-time', '10', '--cacert', pkiLayout(f.pki).caCert, ...args, `https://127.0.0.1:${f.port}/_ping`]);
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, out: err.stderr };
  }
}

describe('gateway identities', { skip, timeout: 300_000 }, () => {
  let f: GatewayFixture;
  before(async () => {
    f = await startGatewayFixture();
    const r = await f.docker('admin', ['run', '-d', '--name', 'busy', '--network', 'none', TEST_IMAGE, 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => f?.stop());

  it('lets a read-only identity look but not touch, naming the rule', async () => {
    for (const args of [['ps'], ['inspect', 'busy'], ['version'], ['info']]) {
      const r = await f.docker('reader', args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const refused: [string[], string][] = [
      [['run', '--rm', '--network', 'none', TEST_IMAGE, 'true'], 'POST /containers/create'],
      [['exec', 'busy', 'true'], 'POST /containers/{id}/exec'],
      [['rm', '-f', 'busy'], 'DELETE /containers/{id}'],
      [['cp', 'busy:/etc', join(f.dir, 'nope')], 'GET /containers/{id}/archive'],
    ];
    for (const [args, route] of refused) {
      const r = await f.docker('reader', args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.ok(r.stderr.includes(`Error response from daemon: dockward: identity "reader" may not ${route}`), r.stderr);
    }
    const denied = (await f.audit()).filter((x) => x.decision === 'deny' && x.identity === 'reader');
    assert.ok(denied.length >= 4 && denied.every((x) => x.cn === 'reader' && x.serial && x.status === 403 && x.rule));
  });

  it('refuses a client without a certificate', async () => {
    const r = await curl(f, []);
    assert.notEqual(r.code, 0, r.out);
    const d = await runDocker(['-H', `tcp://127.0.0.1:${f.port}`, '--tlsverify', '--tlscacert', pkiLayout(f.pki).caCert, 'version'], {});
    assert.notEqual(d.code, 0);
    const ok = await curl(f, ['--cert', join(f.clientDir('admin'), 'cert.pem'), '--key', join(f.clientDir('admin'), 'key.pem')]);
    assert.deepEqual(ok, { code: 0, out: 'OK' });
  });

  it('refuses a certificate of another CA', async () => {
    const other = join(f.dir, 'other-pki');
    await initCa({ dir: other, ...quiet });
    await issueClient({ dir: other, name: 'admin', ...quiet });
    // Trusts our server, presents the other CA's "admin" certificate.
    const bundle = join(f.dir, 'other-bundle');
    await mkdir(bundle);
    await copyFile(pkiLayout(f.pki).caCert, join(bundle, 'ca.pem'));
    for (const file of ['cert.pem', 'key.pem']) await copyFile(join(pkiLayout(other).clientDir('admin'), file), join(bundle, file));
    const r = await runDocker(['version'], { env: { DOCKER_HOST: `tcp://127.0.0.1:${f.port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle } });
    assert.notEqual(r.code, 0);
    const c = await curl(f, ['--cert', join(bundle, 'cert.pem'), '--key', join(bundle, 'key.pem')]);
    assert.notEqual(c.code, 0, c.out);
  });

  it('refuses certificates without EKU clientAuth (serverAuth only, or no EKU at all)', async () => {
    await issueClient({ dir: f.pki, name: 'srvonly', ekuOverride: [OID_SERVER_AUTH], ...quiet });
    await issueClient({ dir: f.pki, name: 'noeku', ekuOverride: [], ...quiet });
    for (const name of ['srvonly', 'noeku']) {
      const c = await curl(f, ['--cert', join(f.clientDir(name), 'cert.pem'), '--key', join(f.clientDir(name), 'key.pem')]);
      assert.notEqual(c.code, 0, `${name}: ${c.out}`);
      assert.notEqual((await f.docker(name, ['version'])).code, 0, name);
    }
    // OpenSSL itself refuses serverAuth-only; Go (and OpenSSL) would accept no EKU, the gateway does not.
    const refusals = (await f.audit()).filter((x) => x.decision === 'refused');
    for (const cn of ['srvonly', 'noeku']) assert.ok(refusals.some((x) => x.cn === cn && x.error?.includes('clientAuth')), JSON.stringify(refusals));
    assert.ok(!(await f.audit()).some((x) => x.decision === 'allow' && (x.cn === 'srvonly' || x.cn === 'noeku')));
  });

  it('refuses a revoked certificate once the CRL changes, also on connections opened before', async () => {
    await issueClient({ dir: f.pki, name: 'victim', ...quiet });
    assert.equal((await f.docker('victim', ['ps'])).code, 0);
    const opts = await clientTls(f, 'victim');
    const ping = 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n';
    // A connection opened before the revocation.
    const tls = await import('node:tls');
    const live = tls.connect(opts);
    await new Promise<void>((r) => live.once('secureConnect', () => r()));
    const answers: string[] = [];
    live.on('data', (c: Buffer) => answers.push(c.toString()));
    live.write(ping);
    await until('first answer', async () => answers.join('').includes('OK'));

    await revoke({ dir: f.pki, target: 'victim', ...quiet });
    await until('the gateway to refuse the revoked certificate', async () => (await f.docker('victim', ['ps'])).code !== 0);
    assert.ok(f.logs.some((l) => l.includes('reloaded')), f.logs.join('\n'));
    assert.equal((await f.docker('admin', ['ps'])).code, 0);
    // OpenSSL only checks new handshakes; the gateway ends what the certificate opened before.
    await until('the connection opened before to be closed', async () => live.destroyed, 5000);
  });

  it('tells a revoked client that it is revoked, when and why, serves it nothing, and audits it by name', async () => {
    const { serial } = await issueClient({ dir: f.pki, name: 'revokee', ...quiet });
    await revoke({ dir: f.pki, target: 'revokee', reason: 'keyCompromise', ...quiet });
    await until('the CRL reload', async () => (await f.docker('revokee', ['ps'])).stderr.includes('revoked'), 10_000);
    const cli = await f.docker('revokee', ['ps']);
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /Error response from daemon: dockward: your client certificate .*revoked on \d{4}-\d\d-\d\dT.* \(keyCompromise\)/, cli.stderr);

    // dockward doctor says what the client was told, not "unexpected answer".
    const doctor = await runDoctor({ target: `tcp://127.0.0.1:${f.port}`, bundle: f.clientDir('revokee') });
    assert.equal(doctor.ok, false);
    const found = doctor.findings.find((x) => x.id === 'refused-by-gateway');
    assert.ok(found, JSON.stringify(doctor.findings));
    assert.match(found.message, /revoked on .*keyCompromise/);

    const before = (await f.audit()).length;
    // From an address of its own: refusals repeated from one source are counted after a few
    // lines in full (RefusalLog), and the CLI and doctor above were refused from 127.0.0.1.
    const opts: import('node:tls').ConnectionOptions & { localAddress: string } = { ...(await clientTls(f, 'revokee')), localAddress: '127.0.0.3' };
    const requests = [
      'GET /v1.41/containers/json HTTP/1.1\r\nHost: x\r\n\r\n',
      // The hijack path too: no 101, no stream.
      'POST /v1.41/containers/busy/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
    ];
    for (const req of requests) {
      const res = await rawExchange(opts, req, 3000);
      assert.match(res, /^HTTP\/1.1 403 /, res);
      assert.match(res, /revoked on .*keyCompromise/, res);
      assert.doesNotMatch(res, /HTTP\/1.1 (101|200)/, res);
    }
    await until('the audit lines', async () => (await f.audit()).length >= before + requests.length, 3000);
    const lines = (await f.audit()).slice(before);
    // One line per refused connection, with the client's own address, its cn and serial.
    assert.equal(lines.length, requests.length, JSON.stringify(lines));
    for (const x of lines) {
      assert.equal(x.decision, 'refused');
      assert.equal(x.cn, 'revokee');
      assert.equal(normalSerial(x.serial ?? ''), normalSerial(serial));
      assert.match(x.remote, /^127\.0\.0\.3:\d+$/);
      assert.notEqual(x.remote, `127.0.0.1:${f.port}`);
      assert.match(x.error ?? '', /revoked on .*keyCompromise/);
    }
  });

  it('audits every refused TLS client once, with its address, the reason, and the certificate it presented', async () => {
    const other = join(f.dir, 'stranger-pki');
    await initCa({ dir: other, ...quiet });
    await issueClient({ dir: other, name: 'stranger', ...quiet });
    await issueClient({ dir: f.pki, name: 'srvonly2', ekuOverride: [OID_SERVER_AUTH], ...quiet });
    await issueClient({ dir: f.pki, name: 'noeku2', ekuOverride: [], ...quiet });
    const base = await clientTls(f, 'admin');
    const withCert = async (dir: string) => ({ ...base, cert: await readFile(join(dir, 'cert.pem')), key: await readFile(join(dir, 'key.pem')) });
    const cases: [string, import('node:tls').ConnectionOptions, string | null, RegExp][] = [
      ['no certificate', { ...base, cert: undefined, key: undefined }, null, /no client certificate/],
      ['another CA', await withCert(pkiLayout(other).clientDir('stranger')), 'stranger', /not issued by a CA this gateway trusts/],
      ['serverAuth only', await withCert(f.clientDir('srvonly2')), 'srvonly2', /EKU.*clientAuth/],
      ['no EKU', await withCert(f.clientDir('noeku2')), 'noeku2', /no EKU/],
    ];
    for (const [what, opts, cn, reason] of cases) {
      const before = (await f.audit()).length;
      const res = await rawExchange(opts, 'GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n', 3000);
      assert.match(res, /^HTTP\/1.1 403 /, `${what}: ${res}`);
      assert.match(res, reason, what);
      await until(`the audit line of ${what}`, async () => (await f.audit()).length > before, 3000);
      await new Promise((r) => setTimeout(r, 300));
      const lines = (await f.audit()).slice(before);
      assert.equal(lines.length, 1, `${what}: ${JSON.stringify(lines)}`);
      const [x] = lines;
      assert.equal(x!.decision, 'refused', what);
      assert.match(x!.error ?? '', reason, what);
      assert.equal(x!.cn, cn, what);
      assert.equal(x!.serial === null, cn === null, `${what}: serial ${x!.serial}`);
      assert.match(x!.remote, /^127\.0\.0\.1:\d+$/, what);
      assert.notEqual(x!.remote, `127.0.0.1:${f.port}`, what);
    }
  });

  it('keeps the last good TLS state when a reload fails, and says why', async () => {
    const crl = pkiLayout(f.pki).crl;
    const good = await readFile(crl);
    const tmp = `${crl}.tmp`;
    await writeFile(tmp, '-----BEGIN X509 CRL-----\nbm90IGEgY3Js\n-----END X509 CRL-----\n');
    await rename(tmp, crl);
    await until('the failed reload to be logged', async () => f.logs.some((l) => l.includes('reload failed, keeping the previous TLS state')));
    assert.equal((await f.docker('admin', ['ps'])).code, 0);
    assert.notEqual((await f.docker('victim', ['ps'])).code, 0);
    await writeFile(tmp, good);
    await rename(tmp, crl);
    await f.gateway.reload();
  });

  it('refuses a reloaded CRL of another CA, or one not valid now, keeping the last good one', async () => {
    const crl = pkiLayout(f.pki).crl;
    const good = await readFile(crl);
    const other = join(f.dir, 'crl-other-ca');
    await initCa({ dir: other, ...quiet });
    const issuer = await loadIssuer(pkiLayout(f.pki), { dir: f.pki, ...quiet });
    const noneRevoked = { certs: [] } as unknown as Parameters<typeof buildCrlPem>[1];
    const cases: [string, string | Buffer, RegExp][] = [
      ['another CA', await readFile(pkiLayout(other).crl), /the CRL .* is refused: (it is issued by|its signature does not verify)/],
      ['expired', await buildCrlPem(issuer, noneRevoked, 990, new Date(Date.now() - 40 * 86_400_000)), /the CRL .* is refused: it expired on /],
      ['not yet valid', await buildCrlPem(issuer, noneRevoked, 991, new Date(Date.now() + 2 * 86_400_000)), /the CRL .* is refused: it is not valid before /],
    ];
    try {
      for (const [what, pem, why] of cases) {
        const failures = f.logs.filter((l) => l.includes('reload failed')).length;
        await writeFile(`${crl}.tmp`, pem);
        await rename(`${crl}.tmp`, crl);
        await f.gateway.reload();
        const failed = f.logs.filter((l) => l.includes('reload failed')).slice(failures);
        assert.ok(failed.some((l) => why.test(l)), `${what}: ${f.logs.join('\n')}`);
        // The last good CRL is in use: the admin gets in, the revoked victim does not.
        assert.equal((await f.docker('admin', ['ps'])).code, 0, what);
        assert.notEqual((await f.docker('victim', ['ps'])).code, 0, what);
      }
    } finally {
      await writeFile(`${crl}.tmp`, good);
      await rename(`${crl}.tmp`, crl);
      await f.gateway.reload();
    }
  });

  it('takes the identity from the certificate only, never from headers', async () => {
    const res = await rawExchange(
      await clientTls(f, 'reader'),
      `DELETE ${f.api}/containers/busy?force=1 HTTP/1.1\r\nHost: x\r\nX-Dockward-Identity: admin\r\nX-Forwarded-Client-Cert: CN=admin\r\nX-SSL-Client-S-DN: CN=admin\r\nContent-Length: 0\r\n\r\n`,
    );
    assert.match(res, /^HTTP\/1.1 403 /);
    assert.match(res, /identity \\"reader\\" may not DELETE/);
  });
  it('resumes no TLS session, before or after a reload: every connection has its certificate verified', async () => {
    const base = await clientTls(f, 'admin');
    const connect = (o: tls.ConnectionOptions) =>
      new Promise<{ session?: Buffer; reused: boolean }>((resolve, reject) => {
        let session: Buffer | undefined;
        const s = tls.connect(o, () => s.end('GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        s.on('session', (b: Buffer) => (session = b));
        s.on('data', () => undefined);
        s.on('end', () => resolve({ session, reused: s.isSessionReused() }));
        s.on('error', reject);
      });
    const check = async (what: string) => {
      for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
        const first = await connect({ ...base, maxVersion });
        assert.ok(first.session, `${what} ${maxVersion}: the client kept no session to offer`);
        const second = await connect({ ...base, maxVersion, session: first.session });
        assert.equal(second.reused, false, `${what} ${maxVersion}: the session was resumed`);
      }
    };
    await check('at start');
    await f.gateway.reload();
    await check('after a reload');
  });
});
