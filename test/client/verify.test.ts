import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyCertificate, formatVerifyReport, type VerifyReport } from '../../src/pki/verify.js';
import { initCa, issueClient, issueServer, revoke } from '../../src/pki/index.js';
import { makeFixtures, issueAt, type Fixtures } from './fixtures.js';
import { issueCertificate } from '../../src/pki/issue.js';

const quiet = { onWarning: () => undefined };
const DAY = 86_400_000;
let fx: Fixtures;

before(async () => {
  fx = await makeFixtures();
});
after(async () => {
  await fx?.cleanup();
});

function check(r: VerifyReport, id: string) {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no ${id} check in ${JSON.stringify(r.checks)}`);
  return c;
}

/** OpenSSL's own verdict on the same files, so the explainer is checked against a real verifier. */
function opensslVerify(caFile: string, certFile: string, extra: string[]): { ok: boolean; out: string } {
  const r = spawnSync('openssl', ['verify', '-CAfile', caFile, ...extra, certFile], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

test('a good server certificate: accepted for its IP and name, key beside it found and matching', async () => {
  const file = fx.server.cert;
  const certPem = await readFile(file, 'utf8');
  for (const name of [{ ip: '127.0.0.1' }, { host: 'localhost' }, { host: '127.0.0.1' }]) {
    const r = await verifyCertificate({ certPem, file, caPem: fx.caA, purpose: 'server', ...name });
    assert.equal(r.accepted, true, JSON.stringify(r.checks, null, 1));
    assert.ok(r.checks.every((c) => c.ok && c.severity === 'info'), JSON.stringify(r.checks, null, 1));
    assert.match(check(r, 'key').message, /server-key\.pem matches/);
    assert.deepEqual(r.dns, ['localhost']);
    assert.deepEqual(r.ips, ['127.0.0.1']);
    assert.deepEqual(r.eku, ['serverAuth']);
    assert.equal(r.issuer, 'CN=CA A');
  }
  assert.equal(opensslVerify(join(fx.pkiA, 'ca.pem'), file, ['-purpose', 'sslserver', '-verify_ip', '127.0.0.1']).ok, true);
});

test('unknown authority names the issuer and the CA that was trusted instead', async () => {
  const certPem = await readFile(fx.server.cert, 'utf8');
  const r = await verifyCertificate({ certPem, file: 'server-cert.pem', caPem: fx.caB, purpose: 'server', ip: '127.0.0.1' });
  assert.equal(r.accepted, false);
  const c = check(r, 'chain');
  assert.equal(c.ok, false);
  assert.match(c.message, /x509: certificate signed by unknown authority/);
  assert.match(c.message, /issued by "CN=CA A".*trusts only "CN=CA B"/);
  assert.match(c.message, /the Docker client refuses it/);
  assert.equal(opensslVerify(join(fx.pkiB, 'ca.pem'), fx.server.cert, []).ok, false);
  // A CA re-created under the same name signs with another key: same name, still unknown.
  const again = join(fx.root, 'pki-a-again');
  await initCa({ dir: again, cn: 'CA A', ...quiet });
  const r2 = await verifyCertificate({ certPem, file: 'server-cert.pem', caPem: await readFile(join(again, 'ca.pem'), 'utf8'), purpose: 'server' });
  assert.match(check(r2, 'chain').message, /same name, different key/);
});

test('validity: expired, not yet valid, and expiring within 7 days', async () => {
  const expired = await readFile(join(fx.bundles.expiredClient, 'cert.pem'), 'utf8');
  const r = await verifyCertificate({ certPem: expired, file: 'cert.pem', caPem: fx.caA, purpose: 'client' });
  assert.equal(r.accepted, false);
  assert.match(check(r, 'validity').message, /expired or is not yet valid — it expired on .*, 8 days ago/);
  const expiredFile = join(fx.bundles.expiredClient, 'cert.pem');
  assert.match(opensslVerify(join(fx.pkiA, 'ca.pem'), expiredFile, []).out, /expired/);

  const future = await issueAt(fx.pkiA, { profile: 'client', cn: 'future', now: new Date(Date.now() + 3 * DAY), days: 5 });
  const f = await verifyCertificate({ certPem: future.certPem, file: 'future.pem', caPem: fx.caA, purpose: 'client', keyPem: future.keyPem });
  assert.equal(f.accepted, false);
  assert.match(check(f, 'validity').message, /valid only from .*, 2 days from now/);

  const soon = await issueAt(fx.pkiA, { profile: 'client', cn: 'soon', now: new Date(Date.now() - 12 * DAY), days: 14 });
  const s = await verifyCertificate({ certPem: soon.certPem, file: 'soon.pem', caPem: fx.caA, purpose: 'client', keyPem: soon.keyPem });
  assert.equal(s.accepted, true);
  const v = check(s, 'validity');
  assert.equal(v.severity, 'warning');
  assert.match(v.message, /expires on .*, in 1 day/);
  // An explicit clock: the same certificate judged ten days from now has expired.
  const later = await verifyCertificate({ certPem: soon.certPem, file: 'soon.pem', caPem: fx.caA, purpose: 'client', keyPem: soon.keyPem, now: new Date(Date.now() + 10 * DAY) });
  assert.equal(later.accepted, false);
});

test('EKU: a serverAuth-only client certificate is refused; none at all is a gateway-only problem', async () => {
  const file = join(fx.bundles.serverAuthOnly, 'cert.pem');
  const r = await verifyCertificate({ certPem: await readFile(file, 'utf8'), file, caPem: fx.caA, purpose: 'client' });
  assert.equal(r.accepted, false);
  const e = check(r, 'eku');
  assert.match(e.message, /x509: certificate specifies an incompatible key usage — it allows only serverAuth.*needs clientAuth; dockerd refuses it/);
  assert.equal(opensslVerify(join(fx.pkiA, 'ca.pem'), file, ['-purpose', 'sslclient']).ok, false);
  // The same certificate is fine as a server certificate.
  const asServer = await verifyCertificate({ certPem: await readFile(file, 'utf8'), file, caPem: fx.caA, purpose: 'server' });
  assert.equal(check(asServer, 'eku').ok, true);

  await issueClient({ dir: fx.pkiA, name: 'no-eku', ekuOverride: [], ...quiet });
  const nf = join(fx.pkiA, 'clients', 'no-eku', 'cert.pem');
  const n = await verifyCertificate({ certPem: await readFile(nf, 'utf8'), file: nf, caPem: fx.caA, purpose: 'client' });
  assert.equal(n.accepted, true);
  const ne = check(n, 'eku');
  assert.equal(ne.severity, 'warning');
  assert.match(ne.message, /dockerd \(Go\) accepts it.*dockward's gateway refuses it/);

  // anyExtendedKeyUsage: Go takes it for clientAuth, OpenSSL (the gateway's TLS) does not.
  await issueClient({ dir: fx.pkiA, name: 'any-eku', ekuOverride: ['2.5.29.37.0'], ...quiet });
  const af = join(fx.pkiA, 'clients', 'any-eku', 'cert.pem');
  assert.equal(opensslVerify(join(fx.pkiA, 'ca.pem'), af, ['-purpose', 'sslclient']).ok, false);
  const a = await verifyCertificate({ certPem: await readFile(af, 'utf8'), file: af, caPem: fx.caA, purpose: 'client' });
  const ae = check(a, 'eku');
  assert.equal(ae.severity, 'warning');
  assert.match(ae.message, /anyExtendedKeyUsage.*dockerd \(Go\) accepts it.*dockward's gateway refuses it/);
});

test('SAN: the dialed name must be a subjectAltName; CN-only and wildcard rules are explained', async () => {
  const certPem = await readFile(fx.server.cert, 'utf8');
  const wrongIp = await verifyCertificate({ certPem, file: 's.pem', caPem: fx.caA, purpose: 'server', ip: '127.0.0.2' });
  assert.equal(wrongIp.accepted, false);
  assert.match(check(wrongIp, 'san').message, /x509: certificate is valid for localhost, 127\.0\.0\.1, not 127\.0\.0\.2/);
  const wrongHost = await verifyCertificate({ certPem, file: 's.pem', caPem: fx.caA, purpose: 'server', host: 'docker.example.com' });
  assert.match(check(wrongHost, 'san').message, /not docker\.example\.com/);

  const cnOnly = await issueAt(fx.pkiA, { profile: 'server', cn: 'build.example.com', now: new Date(), days: 5 });
  const c = await verifyCertificate({ certPem: cnOnly.certPem, file: 'cn.pem', caPem: fx.caA, purpose: 'server', host: 'build.example.com' });
  assert.equal(c.accepted, false);
  assert.match(check(c, 'san').message, /not valid for any names.*only in the CN, which Go ignores/);

  const out = join(fx.root, 'wild');
  await issueServer({ dir: fx.pkiA, hosts: ['*.example.com'], ips: [], out, ...quiet });
  const wild = await readFile(join(out, 'server-cert.pem'), 'utf8');
  const ok = await verifyCertificate({ certPem: wild, file: 'w.pem', caPem: fx.caA, purpose: 'server', host: 'a.example.com' });
  assert.equal(check(ok, 'san').ok, true);
  const deep = await verifyCertificate({ certPem: wild, file: 'w.pem', caPem: fx.caA, purpose: 'server', host: 'a.b.example.com' });
  assert.match(check(deep, 'san').message, /a wildcard covers exactly one label/);
  const bare = await verifyCertificate({ certPem: wild, file: 'w.pem', caPem: fx.caA, purpose: 'server', host: 'example.com' });
  assert.match(check(bare, 'san').message, /does not cover the bare domain example\.com/);
});

test('key: mismatch, encrypted, and a world-readable key are reported', async () => {
  const certPem = await readFile(join(fx.bundles.ok, 'cert.pem'), 'utf8');
  const otherKey = await readFile(join(fx.bundles.serverAuthOnly, 'key.pem'), 'utf8');
  const m = await verifyCertificate({ certPem, file: 'cert.pem', caPem: fx.caA, purpose: 'client', keyPem: otherKey });
  assert.equal(m.accepted, false);
  assert.match(check(m, 'key').message, /private key does not match public key/);

  const own = await readFile(join(fx.bundles.ok, 'key.pem'), 'utf8');
  const encrypted = createPrivateKey(own).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString();
  const e = await verifyCertificate({ certPem, file: 'cert.pem', caPem: fx.caA, purpose: 'client', keyPem: encrypted });
  assert.equal(e.accepted, false);
  assert.match(check(e, 'key').message, /Docker cannot read encrypted keys/);

  await writeFile(join(fx.root, 'loose-cert.pem'), certPem);
  await writeFile(join(fx.root, 'loose-key.pem'), own, { mode: 0o644 });
  const w = await verifyCertificate({ certPem, file: join(fx.root, 'loose-cert.pem'), caPem: fx.caA, purpose: 'client' });
  assert.equal(w.accepted, true);
  assert.match(check(w, 'key').message, /readable by other users \(mode 644\)/);
});

test('revocation: the gateway refuses a revoked certificate, and the report says dockerd does not check', async () => {
  await issueClient({ dir: fx.pkiA, name: 'carol', ...quiet });
  await revoke({ dir: fx.pkiA, target: 'carol', reason: 'keyCompromise', ...quiet });
  const crlPem = await fx.crlA();
  const file = join(fx.pkiA, 'clients', 'carol', 'cert.pem');
  const r = await verifyCertificate({ certPem: await readFile(file, 'utf8'), file, caPem: fx.caA, purpose: 'client', crlPem });
  assert.equal(r.accepted, false);
  assert.match(check(r, 'revocation').message, /revoked on .*\(reason: keyCompromise\): dockward's gateway refuses it.*dockerd itself does not check revocation/);
  // OpenSSL agrees with the CRL's verdict.
  const crlFile = join(fx.root, 'crl.pem');
  await writeFile(crlFile, crlPem);
  assert.match(opensslVerify(join(fx.pkiA, 'ca.pem'), file, ['-crl_check', '-CRLfile', crlFile]).out, /revoked/);
  const alice = await verifyCertificate({ certPem: await readFile(join(fx.bundles.ok, 'cert.pem'), 'utf8'), file: 'a.pem', caPem: fx.caA, purpose: 'client', crlPem });
  assert.equal(check(alice, 'revocation').ok, true);
});

test('a CA certificate used as a leaf, and key types Docker cannot use', async () => {
  const ca = await verifyCertificate({ certPem: fx.caA, file: 'ca.pem', caPem: fx.caA, purpose: 'server' });
  const bc = check(ca, 'basic-constraints');
  assert.equal(bc.ok, false);
  assert.match(bc.message, /CA:TRUE/);

  const key = join(fx.root, 'p521-key.pem');
  const cert = join(fx.root, 'p521-cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=odd', '-days', '2', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const certPem = await readFile(cert, 'utf8');
  const r = await verifyCertificate({ certPem, file: cert, caPem: certPem, purpose: 'server', ip: '127.0.0.1', keyPem: await readFile(key, 'utf8') });
  const kt = check(r, 'key-type');
  assert.equal(kt.ok, false);
  assert.match(kt.message, /unsupported key \(EC secp521r1\).*accept only ecdsa-p256/);
});

test('bad input gives one clear error', async () => {
  await assert.rejects(verifyCertificate({ certPem: 'hello', file: 'x.pem', caPem: fx.caA, purpose: 'server' }), /x\.pem holds no PEM certificate/);
  await assert.rejects(verifyCertificate({ certPem: fx.caA, file: 'x.pem', caPem: '', purpose: 'server' }), /the CA file holds no PEM certificate/);
});

test('the text form names the certificate, each check, the fix and the verdict', async () => {
  const file = join(fx.bundles.serverAuthOnly, 'cert.pem');
  const r = await verifyCertificate({ certPem: await readFile(file, 'utf8'), file, caPem: fx.caA, purpose: 'client' });
  const text = formatVerifyReport(r);
  assert.match(text, /^.*svc\/cert\.pem: CN=svc, issued by CN=CA A, serial [0-9a-f]+\n {2}valid \S+ to \S+; names: none; EKU: serverAuth\n/);
  assert.match(text, /\nOK {6}chain: signed by the CA "CN=CA A"/);
  assert.match(text, /\nERROR {3}eku: x509: certificate specifies an incompatible key usage.*\n {8}fix: issue a client certificate with dockward pki client NAME\n/);
  assert.match(text, /\nREFUSED\n$/);
});

test('an expired CA makes everything it signed unacceptable', async () => {
  const past = new Date(Date.now() - 30 * DAY);
  const ca = await issueCertificate({ profile: 'ca', keyType: 'ecdsa-p256', subject: [{ CN: ['Old CA'] }], days: 10, now: past });
  const leaf = await issueCertificate({
    profile: 'server',
    keyType: 'ecdsa-p256',
    subject: [{ CN: ['localhost'] }],
    days: 60,
    names: { dns: ['localhost'], ips: [] },
    issuer: { cert: ca.cert, key: ca.signingKey, keyType: 'ecdsa-p256' },
    now: past,
  });
  const r = await verifyCertificate({ certPem: leaf.certPem, file: 's.pem', caPem: ca.certPem, purpose: 'server', host: 'localhost', keyPem: leaf.keyPem });
  assert.equal(r.accepted, false);
  assert.equal(check(r, 'chain').ok, true);
  assert.equal(check(r, 'validity').ok, true);
  assert.match(check(r, 'ca-validity').message, /the CA "CN=Old CA" is valid only from .* to .*, so nothing it signed is accepted/);
});
