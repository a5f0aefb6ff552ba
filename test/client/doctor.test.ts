/**
 * `dockward doctor` against real servers: a private dockerd with TLS (on 127.0.0.1 and
 * 127.0.0.2, so one certificate can be dialed by a name it lacks), a private dockerd on plain
 * TCP, and small Node TLS servers where dockerd cannot serve the case (a CRL it would enforce,
 * an expired server certificate). Each case also runs the real docker CLI with the same bundle,
 * so the diagnosis is checked against what Docker actually does.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { startEngineDaemon, engineSkipReason, runDocker } from '../harness/engine.js';
import { type PrivateDaemon } from '../../src/engine/private-daemon.js';
import { loadIssuer, pkiLayout, revoke } from '../../src/pki/index.js';
import { buildCrlPem } from '../../src/pki/crl.js';
import { readInventory } from '../../src/pki/inventory.js';
import { runDoctor, type DoctorReport } from '../../src/client/doctor.js';
import { assertCertificateRefused } from '../harness/tls-refusal.js';
import { makeFixtures, freePort, writeBundle, type Fixtures } from './fixtures.js';

const skip = engineSkipReason();
let fx: Fixtures;
let tlsDaemon: PrivateDaemon | undefined;
let plainDaemon: PrivateDaemon | undefined;
let tlsPort: number;
let plainPort: number;
const servers: https.Server[] = [];
let crlServerPort: number;
let expiredServerPort: number;

async function listen(server: https.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function pingHandler(_req: unknown, res: import('node:http').ServerResponse): void {
  res.writeHead(200, { 'Api-Version': '1.41', 'Content-Type': 'text/plain' });
  res.end('OK');
}

before(async () => {
  if (skip) return;
  fx = await makeFixtures();
  await revoke({ dir: fx.pkiA, target: 'bob', onWarning: () => undefined });
  tlsPort = await freePort();
  plainPort = await freePort();
  const tlsArgs = ['-H', `tcp://127.0.0.1:${tlsPort}`, '-H', `tcp://127.0.0.2:${tlsPort}`, '--tlsverify', '--tlscacert', join(fx.pkiA, 'ca.pem'), '--tlscert', fx.server.cert, '--tlskey', fx.server.key];
  const started = await Promise.allSettled([startEngineDaemon({ args: tlsArgs }), startEngineDaemon({ args: ['-H', `tcp://127.0.0.1:${plainPort}`] })]);
  tlsDaemon = started[0].status === 'fulfilled' ? started[0].value : undefined;
  plainDaemon = started[1].status === 'fulfilled' ? started[1].value : undefined;
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  const tlsMaterial = { ca: fx.caA, cert: await readFile(fx.server.cert), key: await readFile(fx.server.key), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' as const };
  crlServerPort = await listen(https.createServer({ ...tlsMaterial, crl: await fx.crlA() }, pingHandler));
  expiredServerPort = await listen(https.createServer({ ...tlsMaterial, cert: fx.expiredServer.certPem, key: fx.expiredServer.keyPem }, pingHandler));
});

after(async () => {
  for (const s of servers) s.close();
  await Promise.all([tlsDaemon?.stop(), plainDaemon?.stop()]);
  await fx?.cleanup();
});

function ids(r: DoctorReport): string[] {
  return r.findings.filter((f) => f.severity === 'error').map((f) => f.id);
}

function finding(r: DoctorReport, id: string): string {
  const f = r.findings.find((x) => x.id === id);
  assert.ok(f, `no finding ${id} in ${JSON.stringify(r.findings, null, 1)}`);
  return `${f.message} | ${f.fix ?? ''}`;
}

/** The real docker CLI, configured the way users do it: DOCKER_HOST + DOCKER_TLS_VERIFY + DOCKER_CERT_PATH. */
function dockerWith(host: string, bundle?: string) {
  const env: Record<string, string> = { DOCKER_HOST: host };
  if (bundle) Object.assign(env, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle });
  return runDocker(['version', '--format', '{{.Server.APIVersion}}'], { env, timeoutMs: 30_000 });
}

const tcp = (port: number, host = '127.0.0.1') => `tcp://${host}:${port}`;

test('OK: a good bundle connects, for doctor and for the docker CLI', { skip }, async () => {
  const r = await runDoctor({ target: tcp(tlsPort), bundle: fx.bundles.ok });
  assert.equal(r.ok, true, JSON.stringify(r.findings, null, 1));
  assert.match(finding(r, 'ok'), /answered \/_ping over TLSv1\.[23] \(API 1\.\d+\)/);
  const d = await dockerWith(tcp(tlsPort), fx.bundles.ok);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout.trim(), r.apiVersion);
});

test('unknown authority: the server certificate is not signed by the bundle\'s ca.pem', { skip }, async () => {
  const r = await runDoctor({ target: tcp(tlsPort), bundle: fx.bundles.otherCa });
  assert.equal(r.ok, false);
  assert.match(finding(r, 'server-cert-chain'), /signed by unknown authority.*issued by "CN=CA A".*trusts only "CN=CA B"/);
  // This bundle's client certificate is from CA B too: dockerd refuses it, and doctor says why.
  assert.match(finding(r, 'client-cert-rejected'), /alert "(bad certificate|unknown ca)".*server's own certificate comes from "CN=CA A" and yours from "CN=CA B"/);
  const d = await dockerWith(tcp(tlsPort), fx.bundles.otherCa);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /certificate signed by unknown authority/);
});

test('another CA behind a Node TLS server that drops refused clients: each finding says what is true, none blames revocation', { skip }, async () => {
  const r = await runDoctor({ target: tcp(crlServerPort), bundle: fx.bundles.otherCa });
  assert.deepEqual(ids(r), ['server-cert-chain', 'client-cert-refused']);
  assert.match(finding(r, 'server-cert-chain'), /signed by unknown authority.*issued by "CN=CA A".*trusts only "CN=CA B"/);
  const refused = finding(r, 'client-cert-refused');
  assert.match(refused, /without a TLS alert.*the server's own certificate comes from "CN=CA A" and yours from "CN=CA B": it most likely trusts only its own CA/);
  assert.doesNotMatch(refused, /revoked|CRL/);
});

test('SAN mismatch: the certificate does not name the address that was dialed', { skip }, async () => {
  const r = await runDoctor({ target: tcp(tlsPort, '127.0.0.2'), bundle: fx.bundles.ok });
  assert.equal(r.ok, false);
  assert.deepEqual(ids(r), ['server-cert-san']);
  assert.match(finding(r, 'server-cert-san'), /valid for localhost, 127\.0\.0\.1, not 127\.0\.0\.2.*--ip 127\.0\.0\.2/);
  const d = await dockerWith(tcp(tlsPort, '127.0.0.2'), fx.bundles.ok);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /certificate is valid for .*not 127\.0\.0\.2/);
});

test('expired server certificate', { skip }, async () => {
  const r = await runDoctor({ target: tcp(expiredServerPort), bundle: fx.bundles.ok });
  assert.equal(r.ok, false);
  assert.deepEqual(ids(r), ['server-cert-validity']);
  assert.match(finding(r, 'server-cert-validity'), /expired on .*ago.*restart dockerd/);
  const d = await dockerWith(tcp(expiredServerPort), fx.bundles.ok);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /certificate has expired or is not yet valid/);
});

/** What the docker CLI prints when its request loses the TLS 1.3 race with dockerd's alert. */
const LOST_ALERT = { code: 1, stdout: '', stderr: 'error during connect: read: connection reset by peer\n' };

test('client certificate rejected by dockerd: expired, serverAuth only, from another CA', { skip }, async () => {
  const cases = [
    { bundle: fx.bundles.expiredClient, id: 'client-cert-validity', why: /refused the connection with the TLS alert "[a-z ]+", because of your client certificate .*expired on/ },
    { bundle: fx.bundles.serverAuthOnly, id: 'client-cert-eku', why: /incompatible key usage — it allows only serverAuth/ },
    { bundle: fx.bundles.strangerClient, id: 'client-cert-chain', why: /issued by "CN=CA B", but the CA file trusts only "CN=CA A"/ },
  ];
  for (const c of cases) {
    const r = await runDoctor({ target: tcp(tlsPort), bundle: c.bundle });
    assert.equal(r.ok, false, c.id);
    assert.deepEqual(ids(r), [c.id]);
    assert.match(finding(r, c.id), c.why);
    const d = await dockerWith(tcp(tlsPort), c.bundle);
    await assertCertificateRefused(d, { port: tlsPort, bundle: c.bundle });
    // Which of the two proofs runs depends on a TLS 1.3 race: run the TLS 1.2 one every time.
    await assertCertificateRefused(LOST_ALERT, { port: tlsPort, bundle: c.bundle });
  }
});

test('no client certificate: the server wants one', { skip }, async () => {
  const r = await runDoctor({ target: tcp(tlsPort), bundle: fx.bundles.noClient });
  assert.equal(r.ok, false);
  assert.deepEqual(ids(r), ['client-cert-required']);
  assert.match(finding(r, 'client-cert-required'), /wants a client certificate, and none was given .*no cert\.pem and key\.pem/);
  const node = await runDoctor({ target: tcp(crlServerPort), bundle: fx.bundles.noClient });
  assert.deepEqual(ids(node), ['client-cert-required']);
  assert.match(finding(node, 'client-cert-required'), /TLS alert "certificate required": it wants a client certificate/);
  const d = await dockerWith(tcp(tlsPort), fx.bundles.noClient);
  await assertCertificateRefused(d, { port: tlsPort, bundle: fx.bundles.noClient });
});

test('revoked: refused where a CRL is enforced, accepted by dockerd, which does not check', { skip }, async () => {
  const r = await runDoctor({ target: tcp(crlServerPort), bundle: fx.bundles.revoked });
  assert.equal(r.ok, false);
  // A Node TLS server that enforces a CRL drops the connection without an alert (dockward's
  // gateway answers with the reason instead: test/gateway/identity.test.ts).
  assert.deepEqual(ids(r), ['client-cert-refused']);
  assert.match(finding(r, 'client-cert-refused'), /without a TLS alert.*most likely revoked.*dockerd never checks revocation/);
  const refused = await dockerWith(tcp(crlServerPort), fx.bundles.revoked);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /connection reset by peer|EOF/);
  // The same bundle against dockerd itself: accepted, the reason dockward's gateway exists.
  assert.equal((await runDoctor({ target: tcp(tlsPort), bundle: fx.bundles.revoked })).ok, true);
  assert.equal((await dockerWith(tcp(tlsPort), fx.bundles.revoked)).code, 0);
  // A bundle that is not revoked passes the CRL server.
  assert.equal((await runDoctor({ target: tcp(crlServerPort), bundle: fx.bundles.ok })).ok, true);
});

test('a gateway whose CRL has expired refuses everyone: the diagnosis says so, not only "revoked"', { skip }, async () => {
  const layout = pkiLayout(fx.pkiA);
  const issuer = await loadIssuer(layout, { dir: fx.pkiA, onWarning: () => undefined });
  const lapsed = await buildCrlPem(issuer, await readInventory(layout.inventory), 1000, new Date(Date.now() - 40 * 86_400_000));
  const port = await listen(
    https.createServer({ ca: fx.caA, cert: await readFile(fx.server.cert), key: await readFile(fx.server.key), requestCert: true, rejectUnauthorized: true, crl: lapsed }, pingHandler),
  );
  const r = await runDoctor({ target: tcp(port), bundle: fx.bundles.ok });
  assert.deepEqual(ids(r), ['client-cert-refused']);
  assert.match(finding(r, 'client-cert-refused'), /CRL has expired.*dockward pki crl/);
});

test('a client pair the docker CLI cannot load (encrypted, garbage or mismatched key, garbage cert) is the diagnosis, not an OpenSSL error', { skip }, async () => {
  const alice = fx.bundles.ok;
  const [ca, cert, key] = await Promise.all(['ca.pem', 'cert.pem', 'key.pem'].map((f) => readFile(join(alice, f), 'utf8')));
  const encrypted = createPrivateKey(key!).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'a passphrase' }).toString();
  const otherKey = await readFile(join(fx.bundles.revoked, 'key.pem'), 'utf8');
  const cases: [string, string, string, string, RegExp][] = [
    ['encrypted-key', cert!, encrypted, 'client-key', /is encrypted: Docker cannot read encrypted keys/],
    ['garbage-key', cert!, 'not a key\n', 'client-key', /is not a readable private key/],
    ['other-key', cert!, otherKey, 'client-key', /private key does not match public key/],
    ['garbage-cert', 'not a certificate\n', key!, 'client-cert-unreadable', /cert\.pem is not a readable PEM certificate/],
  ];
  for (const [name, certPem, keyPem, id, message] of cases) {
    const bundle = await writeBundle(join(fx.root, 'bundles', name), { ca, cert: certPem, key: keyPem });
    const r = await runDoctor({ target: tcp(tlsPort), bundle });
    assert.equal(r.ok, false, name);
    assert.deepEqual(ids(r), [id], name);
    assert.match(finding(r, id), message);
    const d = await dockerWith(tcp(tlsPort), bundle);
    assert.notEqual(d.code, 0, name);
  }
});

test('plain HTTP on the TLS port', { skip }, async () => {
  const r = await runDoctor({ target: tcp(tlsPort) });
  assert.equal(r.ok, false);
  assert.equal(r.tls, false);
  assert.match(finding(r, 'plain-http-on-tls-port'), /Client sent an HTTP request to an HTTPS server.*DOCKER_TLS_VERIFY=1/);
  const d = await dockerWith(tcp(tlsPort));
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /Client sent an HTTP request to an HTTPS server/);
  // A Node TLS server (like dockward's gateway) says nothing in plain HTTP: the handshake tells.
  const node = await runDoctor({ target: tcp(crlServerPort) });
  assert.deepEqual(ids(node), ['plain-http-on-tls-port']);
  assert.match(finding(node, 'plain-http-on-tls-port'), /dropped the plain request and completes a TLS handshake/);
});

test('TLS on a plain port: the daemon is exposed without TLS', { skip }, async () => {
  const r = await runDoctor({ target: tcp(plainPort), bundle: fx.bundles.ok });
  assert.equal(r.ok, false);
  assert.deepEqual(ids(r), ['tls-on-plain-port', 'exposed-without-tls']);
  assert.match(finding(r, 'exposed-without-tls'), /exposed WITHOUT TLS — anyone who can reach this port is root/);
  const d = await dockerWith(tcp(plainPort), fx.bundles.ok);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /server gave HTTP response to HTTPS client/);
  assert.match(finding(r, 'tls-on-plain-port'), /server gave HTTP response to HTTPS client/);
  // Connecting without TLS works, and doctor still warns about it.
  const plain = await runDoctor({ target: tcp(plainPort) });
  assert.equal(plain.ok, true);
  assert.equal(plain.findings.find((f) => f.id === 'exposed-without-tls')?.severity, 'warning');
});

test('nothing listening', { skip }, async () => {
  const port = await freePort();
  const r = await runDoctor({ target: tcp(port), bundle: fx.bundles.ok });
  assert.deepEqual(ids(r), ['nothing-listening']);
  assert.match(finding(r, 'nothing-listening'), /nothing is listening on 127\.0\.0\.1:\d+ \(connection refused\)/);
  const d = await dockerWith(tcp(port), fx.bundles.ok);
  assert.notEqual(d.code, 0);
  assert.match(d.stderr, /Cannot connect to the Docker daemon at tcp:\/\/127\.0\.0\.1:\d+/);
});

test('a server that accepts TCP but never speaks: bounded by the timeout', { skip }, async () => {
  const sockets: import('node:net').Socket[] = [];
  const silent = createServer((sock) => sockets.push(sock));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const port = (silent.address() as AddressInfo).port;
    const started = Date.now();
    const r = await runDoctor({ target: tcp(port), bundle: fx.bundles.ok, timeoutMs: 500 });
    assert.ok(Date.now() - started < 5000);
    assert.deepEqual(ids(r), ['tls-failed']);
    assert.match(finding(r, 'tls-failed'), /no answer within 500 ms/);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test('the dockward doctor command: exit codes, text and JSON', { skip }, async () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'doctor', ...args], {
        env: { PATH: process.env.PATH ?? '', HOME: fx.root, ...env },
        cwd: join(import.meta.dirname, '..', '..'),
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (err += c.toString()));
      child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
    });
  const ok = await run([tcp(tlsPort), '--bundle', fx.bundles.ok]);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /connection OK\n$/);
  // Defaults from the environment, as the docker CLI reads them; JSON for machines.
  const bad = await run(['--json'], { DOCKER_HOST: tcp(tlsPort), DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: fx.bundles.otherCa });
  assert.equal(bad.code, 1, bad.err);
  const report = JSON.parse(bad.out) as DoctorReport;
  assert.equal(report.bundle, fx.bundles.otherCa);
  assert.ok(report.findings.some((f) => f.id === 'server-cert-chain'));
  const usage = await run(['unix:///var/run/docker.sock']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /^dockward: cannot diagnose "unix:\/\/\/var\/run\/docker.sock": only tcp:\/\/ addresses use TLS \(.*\)\n$/);
});
