import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { dockward, snapshotTree } from '../harness/cli.js';

const openssl = (args: string[]) => execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const mode = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);

describe('pki: certificate profiles and files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-pki-'));
    for (const args of [['init'], ['server', '--host', 'docker.example.test', '--host', 'localhost', '--ip', '127.0.0.1', '--ip', '::1'], ['client', 'ci', '--role', 'read-only']]) {
      const r = await dockward(['pki', ...args, '--pki', dir]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the CA is CA:TRUE pathlen 0 with keyCertSign and cRLSign and an SKI', async () => {
    const text = openssl(['x509', '-in', join(dir, 'ca.pem'), '-noout', '-text']);
    assert.match(text, /CA:TRUE, pathlen:0/);
    assert.match(text, /Certificate Sign, CRL Sign/);
    assert.match(text, /Subject Key Identifier/);
    assert.match(text, /ecdsa-with-SHA256/);
  });

  test('the server certificate has serverAuth, every name and IP as SAN, an AKI, and is backdated', async () => {
    const pem = await readFile(join(dir, 'server', 'server-cert.pem'), 'utf8');
    const text = openssl(['x509', '-noout', '-text'].concat(['-in', join(dir, 'server', 'server-cert.pem')]));
    assert.match(text, /TLS Web Server Authentication/);
    assert.doesNotMatch(text, /TLS Web Client Authentication/);
    assert.match(text, /DNS:docker.example.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);
    assert.match(text, /Authority Key Identifier/);
    const cert = new X509Certificate(pem);
    const backdate = Date.now() - Date.parse(cert.validFrom);
    assert.ok(backdate > 60_000 && backdate < 15 * 60_000, `notBefore backdated by ${backdate} ms`);
    openssl(['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslserver', join(dir, 'server', 'server-cert.pem')]);
  });

  test('the client certificate has clientAuth, CN = identity, OU = role, and a short lifetime', async () => {
    const pem = await readFile(join(dir, 'clients', 'ci', 'cert.pem'), 'utf8');
    const cert = new X509Certificate(pem);
    assert.match(cert.subject, /CN=ci/);
    assert.match(cert.subject, /OU=read-only/);
    const text = openssl(['x509', '-in', join(dir, 'clients', 'ci', 'cert.pem'), '-noout', '-text']);
    assert.match(text, /TLS Web Client Authentication/);
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 1 && days <= 31, `client lifetime ${days} days`);
    openssl(['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslclient', join(dir, 'clients', 'ci', 'cert.pem')]);
  });

  test('serials are random 128-bit values', async () => {
    const list = JSON.parse((await dockward(['pki', 'list', '--json', '--pki', dir])).stdout) as { serial: string }[];
    assert.equal(list.length, 3);
    for (const c of list) assert.match(c.serial, /^[0-9a-f]{32}$/);
    assert.equal(new Set(list.map((c) => c.serial)).size, 3);
  });

  test('keys are unencrypted PKCS#8 with mode 0400, certs 0444, directories 0700', async () => {
    for (const k of ['private/ca-key.pem', 'server/server-key.pem', 'clients/ci/key.pem']) {
      assert.equal(await mode(join(dir, k)), '400', k);
      assert.match(await readFile(join(dir, k), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
    }
    for (const c of ['ca.pem', 'server/server-cert.pem', 'clients/ci/cert.pem', 'clients/ci/ca.pem', 'crl.pem']) assert.equal(await mode(join(dir, c)), '444', c);
    for (const d of ['', 'private', 'server', 'clients', 'clients/ci']) assert.equal(await mode(join(dir, d)), '700', d || 'pki dir');
  });

  test('the client env file points the docker CLI at the bundle', async () => {
    const env = await readFile(join(dir, 'clients', 'ci', 'docker.env'), 'utf8');
    assert.match(env, /export DOCKER_HOST='tcp:\/\/docker.example.test:2376'/);
    assert.match(env, /export DOCKER_TLS_VERIFY=1/);
    assert.match(env, new RegExp(`export DOCKER_CERT_PATH='${join(dir, 'clients', 'ci')}'`));
  });

  test('revocation: the CRL is standard and openssl verify -crl_check rejects the revoked client', async () => {
    assert.equal((await dockward(['pki', 'client', 'mallory', '--pki', dir])).code, 0);
    const before = openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-crlnumber']);
    const r = await dockward(['pki', 'revoke', 'mallory', '--reason', 'keyCompromise', '--pki', dir]);
    assert.equal(r.code, 0, r.stderr);
    const text = openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-text']);
    assert.match(text, /Key Compromise/);
    assert.notEqual(openssl(['crl', '-in', join(dir, 'crl.pem'), '-noout', '-crlnumber']), before);
    const verify = (cert: string) =>
      execFileSync('openssl', ['verify', '-crl_check', '-CAfile', join(dir, 'ca.pem'), '-CRLfile', join(dir, 'crl.pem'), cert], { stdio: 'pipe' });
    assert.throws(() => verify(join(dir, 'clients', 'mallory', 'cert.pem')), /certificate revoked/);
    verify(join(dir, 'clients', 'ci', 'cert.pem'));
    const list = JSON.parse((await dockward(['pki', 'list', '--json', '--pki', dir])).stdout) as { cn: string; status: string }[];
    assert.equal(list.find((c) => c.cn === 'mallory')?.status, 'revoked');
  });

  test('a verifier whose clock lags by minutes accepts the CRL as it accepts the backdated certificates', async () => {
    // Every issuance and revocation rewrites the CRL; a lagging gateway must not refuse everyone meanwhile.
    const lagging = String(Math.floor(Date.now() / 1000) - 180);
    execFileSync('openssl', ['verify', '-crl_check', '-attime', lagging, '-CAfile', join(dir, 'ca.pem'), '-CRLfile', join(dir, 'crl.pem'), join(dir, 'clients', 'ci', 'cert.pem')], {
      stdio: 'pipe',
    });
  });

  test('pki verify names the cause: revoked client, server dialed on an IP it does not list, serverAuth-only client', async () => {
    const revoked = await dockward(['pki', 'verify', join(dir, 'clients', 'mallory', 'cert.pem'), '--pki', dir]);
    assert.equal(revoked.code, 1);
    assert.match(revoked.stdout, /ERROR +revocation: revoked on .*keyCompromise/);
    const wrongIp = await dockward(['pki', 'verify', join(dir, 'server', 'server-cert.pem'), '--ip', '10.9.8.7', '--pki', dir]);
    assert.equal(wrongIp.code, 1);
    assert.match(wrongIp.stdout, /san: .*not 10\.9\.8\.7/);
    const rightIp = await dockward(['pki', 'verify', join(dir, 'server', 'server-cert.pem'), '--ip', '127.0.0.1', '--pki', dir, '--json']);
    assert.equal(rightIp.code, 0, rightIp.stdout);
    assert.equal((JSON.parse(rightIp.stdout) as { accepted: boolean }).accepted, true);
    const asServer = await dockward(['pki', 'verify', join(dir, 'clients', 'ci', 'cert.pem'), '--purpose', 'server', '--pki', dir]);
    assert.equal(asServer.code, 1);
    assert.match(asServer.stdout, /eku: /);
  });

  test('renew re-issues in place with a new key and marks the old certificate superseded', async () => {
    const oldCert = await readFile(join(dir, 'clients', 'ci', 'cert.pem'), 'utf8');
    const oldKey = await readFile(join(dir, 'clients', 'ci', 'key.pem'), 'utf8');
    const r = await dockward(['pki', 'renew', 'ci', '--pki', dir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(await readFile(join(dir, 'clients', 'ci', 'cert.pem'), 'utf8'), oldCert);
    assert.notEqual(await readFile(join(dir, 'clients', 'ci', 'key.pem'), 'utf8'), oldKey);
    assert.match(new X509Certificate(await readFile(join(dir, 'clients', 'ci', 'cert.pem'))).subject, /OU=read-only/);
    const list = JSON.parse((await dockward(['pki', 'list', '--json', '--pki', dir])).stdout) as { cn: string; status: string }[];
    assert.deepEqual(list.filter((c) => c.cn === 'ci').map((c) => c.status), ['superseded', 'valid']);
    const none = await dockward(['pki', 'renew', '--expiring-within', '1d', '--pki', dir]);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /nothing to renew/);
    const soon = await dockward(['pki', 'renew', '--expiring-within', '20d', '--pki', dir, '--json']);
    assert.deepEqual((JSON.parse(soon.stdout) as { cn: string }[]).map((c) => c.cn).sort(), ['ci']);
  });

  test('two pki client runs at the same moment both succeed with distinct serials', async () => {
    const runs = await Promise.all(['job-a', 'job-b', 'job-c', 'job-d'].map((n) => dockward(['pki', 'client', n, '--pki', dir, '--json'])));
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const serials = runs.map((r) => (JSON.parse(r.stdout) as { serial: string }).serial);
    assert.equal(new Set(serials).size, 4);
    const list = JSON.parse((await dockward(['pki', 'list', '--json', '--pki', dir])).stdout) as { serial: string }[];
    for (const s of serials) assert.ok(list.some((c) => c.serial === s), `serial ${s} missing from the inventory`);
  });

  test('IPv6 addresses with an IPv4 tail are certified as given; a zone is refused', async () => {
    const out = join(dir, 'server-v6');
    const r = await dockward(['pki', 'server', '--ip', '::ffff:10.1.2.3', '--ip', '2001:db8::10.1.2.3', '--out', out, '--pki', dir]);
    assert.equal(r.code, 0, r.stderr);
    const text = openssl(['x509', '-in', join(out, 'server-cert.pem'), '-noout', '-ext', 'subjectAltName']);
    assert.match(text, /IP Address:0:0:0:0:0:FFFF:A01:203, IP Address:2001:DB8:0:0:0:0:A01:203/);
    openssl(['verify', '-CAfile', join(dir, 'ca.pem'), '-verify_ip', '2001:db8::a01:203', join(out, 'server-cert.pem')]);
    const zone = await dockward(['pki', 'server', '--ip', 'fe80::1%eth0', '--out', join(dir, 'server-zone'), '--pki', dir]);
    assert.equal(zone.code, 2);
    assert.match(zone.stderr, /invalid IP address "fe80::1%eth0"/);
  });

  test('a client bundle never points DOCKER_HOST at a wildcard name', async () => {
    const pki = await mkdtemp(join(tmpdir(), 'dw-pki-'));
    try {
      for (const args of [['init'], ['server', '--host', '*.example.test', '--ip', '10.0.0.7'], ['client', 'w']]) {
        const r = await dockward(['pki', ...args, '--pki', pki]);
        assert.equal(r.code, 0, r.stderr);
      }
      assert.match(await readFile(join(pki, 'clients', 'w', 'docker.env'), 'utf8'), /export DOCKER_HOST='tcp:\/\/10\.0\.0\.7:2376'/);
    } finally {
      await rm(pki, { recursive: true, force: true });
    }
  });

  test('a host name given with a trailing dot is certified without it (Go matches no SAN ending in ".")', async () => {
    const out = join(dir, 'server-dot');
    const r = await dockward(['pki', 'server', '--host', 'Docker.Example.Test.', '--out', out, '--pki', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(openssl(['x509', '-in', join(out, 'server-cert.pem'), '-noout', '-ext', 'subjectAltName']), /DNS:docker\.example\.test\n/);
  });
});

describe('pki: every key type', () => {
  for (const key of ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519']) {
    test(`${key}: chains verify with openssl`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'dw-pki-'));
      try {
        for (const args of [['init', '--key', key], ['server', '--host', 'localhost', '--key', key], ['client', 'u', '--key', key]]) {
          const r = await dockward(['pki', ...args, '--pki', dir], { timeoutMs: 120_000 });
          assert.equal(r.code, 0, r.stderr);
        }
        openssl(['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 'server', 'server-cert.pem'), join(dir, 'clients', 'u', 'cert.pem')]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe('pki encrypt-key, and the warning about an unencrypted CA key', () => {
  let dir: string;
  const first = 'correct horse battery staple';
  const second = 'another passphrase, longer';
  const key = () => join(dir, 'private', 'ca-key.pem');
  const warning = /warning: the CA key .*ca-key\.pem is not encrypted .*: encrypt it with `dockward pki encrypt-key`/g;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-pki-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('an unencrypted CA key is warned about where it is made or used, once per command, and not by list or verify', async () => {
    const noPass = { DOCKWARD_CA_PASSPHRASE: undefined };
    const init = await dockward(['pki', 'init', '--pki', dir], { env: noPass });
    assert.equal(init.code, 0, init.stderr);
    assert.equal(init.stderr.match(warning)?.length, 1, init.stderr);
    for (const args of [['server', '--host', 'localhost'], ['client', 'a'], ['client', 'b']]) {
      const r = await dockward(['pki', ...args, '--pki', dir], { env: noPass });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.match(warning)?.length, 1, r.stderr);
    }
    // Three certificates renewed: the key is used three times, the warning said once.
    const renew = await dockward(['pki', 'renew', '--expiring-within', '10000d', '--pki', dir], { env: noPass });
    assert.equal(renew.code, 0, renew.stderr);
    assert.equal(renew.stderr.match(warning)?.length, 1, renew.stderr);
    for (const args of [['list'], ['verify', join(dir, 'clients', 'a', 'cert.pem')]]) {
      const r = await dockward(['pki', ...args, '--pki', dir], { env: noPass });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '', args.join(' '));
    }
  });

  test('encrypt-key: needs a passphrase that is not on the command line, and changes nothing without one', async () => {
    const before = await snapshotTree(dir);
    const none = await dockward(['pki', 'encrypt-key', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: undefined } });
    assert.equal(none.code, 1);
    assert.equal(none.stderr, 'dockward: no passphrase was given to encrypt the CA key with (set DOCKWARD_CA_PASSPHRASE, pass --passphrase-file FILE, or run on a terminal to be prompted)\n');
    const short = await dockward(['pki', 'encrypt-key', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: 'too short' } });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /shorter than 12 characters/);
    const argv = await dockward(['pki', 'encrypt-key', '--pki', dir, '--passphrase', first]);
    assert.equal(argv.code, 2);
    const notYet = await dockward(['pki', 'encrypt-key', '--change', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: first, DOCKWARD_CA_NEW_PASSPHRASE: second } });
    assert.equal(notYet.code, 2);
    assert.match(notYet.stderr, /is not encrypted, so it has no passphrase to change \(leave out --change/);
    assert.deepEqual(await snapshotTree(dir), before);
  });

  test('encrypt-key encrypts in place (0400, readable by openssl with the passphrase); signing then needs it, and the warning is gone', async () => {
    const plain = createPrivateKey(await readFile(key(), 'utf8'));
    const r = await dockward(['pki', 'encrypt-key', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: first } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^encrypted: .*ca-key\.pem\n/);
    assert.match(await readFile(key(), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    assert.equal(await mode(key()), '400');
    assert.match(openssl(['asn1parse', '-in', key()]), /scrypt/);
    const recovered = execFileSync('openssl', ['pkey', '-in', key(), '-passin', 'env:PW'], { env: { ...process.env, PW: first }, encoding: 'utf8' });
    assert.ok(createPrivateKey(recovered).equals(plain), 'the same key, encrypted');
    const without = await dockward(['pki', 'client', 'c', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: undefined } });
    assert.equal(without.code, 1);
    assert.match(without.stderr, /is encrypted and no passphrase was given/);
    const withIt = await dockward(['pki', 'client', 'c', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: first } });
    assert.equal(withIt.code, 0, withIt.stderr);
    assert.equal(withIt.stderr, '');
  });

  test('encrypt-key refuses an encrypted key unless --change; a wrong current passphrase is a clear error; --change takes the new one from its own source', async () => {
    const before = await snapshotTree(dir);
    const again = await dockward(['pki', 'encrypt-key', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: first } });
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `dockward: the CA key ${key()} is already encrypted (pass --change to give it a new passphrase)\n`);
    const wrong = await dockward(['pki', 'encrypt-key', '--change', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: 'not the passphrase', DOCKWARD_CA_NEW_PASSPHRASE: second } });
    assert.equal(wrong.code, 1);
    assert.equal(wrong.stderr, `dockward: wrong passphrase for the CA key ${key()} (check DOCKWARD_CA_PASSPHRASE or the passphrase file)\n`);
    const noNew = await dockward(['pki', 'encrypt-key', '--change', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: first, DOCKWARD_CA_NEW_PASSPHRASE: undefined } });
    assert.equal(noNew.code, 1);
    assert.match(noNew.stderr, /no new passphrase was given \(set DOCKWARD_CA_NEW_PASSPHRASE, pass --new-passphrase-file FILE/);
    assert.deepEqual(await snapshotTree(dir), before);

    const file = join(dir, '..', `new-pw-${Date.now()}`);
    await writeFile(file, `${second}\n`, { mode: 0o600 });
    try {
      const changed = await dockward(['pki', 'encrypt-key', '--change', '--new-passphrase-file', file, '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: first } });
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(changed.stdout, /^passphrase changed: /);
    } finally {
      await rm(file, { force: true });
    }
    assert.equal(await mode(key()), '400');
    const old = await dockward(['pki', 'crl', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: first } });
    assert.match(old.stderr, /wrong passphrase/);
    const current = await dockward(['pki', 'crl', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: second } });
    assert.equal(current.code, 0, current.stderr);
  });

  test('encrypt-key --help shows examples', async () => {
    const r = await dockward(['pki', 'encrypt-key', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:\n {2}dockward pki encrypt-key .*\n(.*\n)* {2}DOCKWARD_CA_PASSPHRASE=… DOCKWARD_CA_NEW_PASSPHRASE=… dockward pki encrypt-key --change\n/);
  });
});

describe('pki: the CA key passphrase', () => {
  let dir: string;
  const passphrase = 'correct horse battery staple';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-pki-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('with a passphrase the CA key is encrypted PKCS#8 (scrypt) and no warning is printed', async () => {
    const r = await dockward(['pki', 'init', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: passphrase } });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /not encrypted/);
    const key = await readFile(join(dir, 'private', 'ca-key.pem'), 'utf8');
    assert.match(key, /BEGIN ENCRYPTED PRIVATE KEY/);
    assert.match(openssl(['asn1parse', '-in', join(dir, 'private', 'ca-key.pem')]), /scrypt/);
    // Standard tools can still recover the key with the passphrase.
    execFileSync('openssl', ['pkey', '-in', join(dir, 'private', 'ca-key.pem'), '-passin', 'env:PW', '-noout'], {
      env: { ...process.env, PW: passphrase },
      stdio: 'pipe',
    });
  });

  test('issuing without the passphrase, or with a wrong one, fails with one line and changes nothing', async () => {
    const before = await snapshotTree(dir);
    const none = await dockward(['pki', 'client', 'x', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: undefined } });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /encrypted and no passphrase was given/);
    const wrong = await dockward(['pki', 'client', 'x', '--pki', dir], { env: { DOCKWARD_CA_PASSPHRASE: 'not the passphrase' } });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^dockward: wrong passphrase for the CA key/);
    assert.equal(wrong.stderr.trim().split('\n').length, 1);
    assert.deepEqual(await snapshotTree(dir), before);
  });

  test('the passphrase can come from a file, never from argv', async () => {
    const file = join(dir, '..', `pw-${Date.now()}`);
    await writeFile(file, passphrase + '\n', { mode: 0o600 });
    try {
      const r = await dockward(['pki', 'client', 'from-file', '--pki', dir, '--passphrase-file', file], { env: { DOCKWARD_CA_PASSPHRASE: undefined } });
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await rm(file, { force: true });
    }
    const argv = await dockward(['pki', 'client', 'y', '--pki', dir, '--passphrase', passphrase]);
    assert.equal(argv.code, 2);
  });
});

describe('pki: bad input is a clear one-line error and changes nothing', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-pki-'));
    assert.equal((await dockward(['pki', 'init', '--pki', dir])).code, 0);
    assert.equal((await dockward(['pki', 'client', 'taken', '--pki', dir])).code, 0);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const cases: [string, string[], RegExp][] = [
    ['missing CA', ['pki', 'client', 'a', '--pki', '/nonexistent/dw-pki'], /no CA in \/nonexistent\/dw-pki .*pki init/],
    ['unknown key type', ['pki', 'client', 'a', '--key', 'dsa-1024'], /dsa-1024.*(choices|ecdsa-p256)/i],
    ['invalid name', ['pki', 'client', '../etc'], /invalid client name "..\/etc"/],
    ['invalid IP', ['pki', 'server', '--ip', '300.1.2.3'], /invalid IP address "300.1.2.3"/],
    ['invalid host', ['pki', 'server', '--host', 'bad_host!'], /invalid host name "bad_host!"/],
    ['server without names', ['pki', 'server'], /at least one --host or --ip/],
    ['existing file without --force', ['pki', 'client', 'taken'], /already exist.*--force/],
    ['existing CA without --force', ['pki', 'init'], /a CA already exists.*--force/],
    ['bad --days', ['pki', 'client', 'a', '--days', 'ten'], /--days must be a whole number/],
    ['unknown reason', ['pki', 'revoke', 'taken', '--reason', 'because'], /because/],
    ['revoking nothing', ['pki', 'revoke', 'nobody'], /no certificate named or numbered "nobody"/],
  ];
  for (const [name, args, message] of cases) {
    test(name, async () => {
      const before = await snapshotTree(dir);
      const r = await dockward(args.includes('--pki') ? args : [...args, '--pki', dir]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.ok(r.stderr.trim().split('\n').filter((l) => !/^\(|^Usage|^\s|^$/.test(l)).length <= 2, r.stderr);
      assert.deepEqual(await snapshotTree(dir), before);
    });
  }

  test('a CA key or inventory left without ca.pem is not overwritten without --force', async () => {
    const other = await mkdtemp(join(tmpdir(), 'dw-pki-'));
    try {
      assert.equal((await dockward(['pki', 'init', '--pki', other])).code, 0);
      await rm(join(other, 'ca.pem'));
      const before = await snapshotTree(other);
      const r = await dockward(['pki', 'init', '--pki', other]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /ca-key\.pem.*already exist.*--force/);
      assert.deepEqual(await snapshotTree(other), before);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });

  test('--context that cannot be written is refused before any certificate is issued', async () => {
    const config = await mkdtemp(join(tmpdir(), 'dw-cfg-'));
    try {
      const env = { DOCKER_CONFIG: config };
      assert.equal((await dockward(['pki', 'client', 'ctx-owner', '--docker-host', 'tcp://127.0.0.1:2376', '--context', 'taken-ctx', '--pki', dir], { env })).code, 0);
      const before = { pki: await snapshotTree(dir), config: await snapshotTree(config) };
      const cases: [string[], RegExp][] = [
        [['--context', 'x', '--docker-host', 'tcp://127.0.0.1:2376'], /invalid context name "x"/],
        [['--context', 'taken-ctx', '--docker-host', 'tcp://127.0.0.1:2376'], /context named "taken-ctx" already exists.*--force/],
        [['--context', 'no-host'], /no DOCKER_HOST known/],
        [['--context', 'bad-host', '--docker-host', 'unix:///run/docker.sock'], /invalid Docker host/],
      ];
      for (const [extra, message] of cases) {
        const r = await dockward(['pki', 'client', 'ctx-user', ...extra, '--pki', dir], { env });
        assert.notEqual(r.code, 0, extra.join(' '));
        assert.match(r.stderr, message);
        assert.deepEqual({ pki: await snapshotTree(dir), config: await snapshotTree(config) }, before, extra.join(' '));
      }
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });

  test('a relative --out is recorded absolute, so docker.env and renew work from any directory', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'dw-cwd-'));
    try {
      assert.equal((await dockward(['pki', 'client', 'rel', '--out', 'bundle', '--pki', dir], { cwd })).code, 0);
      assert.match(await readFile(join(cwd, 'bundle', 'docker.env'), 'utf8'), new RegExp(`DOCKER_CERT_PATH='${join(cwd, 'bundle')}'`));
      const list = JSON.parse((await dockward(['pki', 'list', '--json', '--pki', dir])).stdout) as { cn: string; dir: string }[];
      assert.equal(list.find((c) => c.cn === 'rel')?.dir, join(cwd, 'bundle'));
    } finally {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  test('a flag the parser refuses is one line too, with the hint on it', async () => {
    for (const args of [['pki', 'client', 'a', '--days', 'ten'], ['pki', 'client', 'a', '--no-such-flag'], ['pki', 'client']]) {
      const r = await dockward([...args, '--pki', dir]);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^dockward: [^\n]+ \(add --help for usage\)\n$/, args.join(' '));
    }
  });

  test('--out into an existing directory writes the bundle there and leaves the directory\'s mode alone', async () => {
    const shared = await mkdtemp(join(tmpdir(), 'dw-out-'));
    try {
      await chmod(shared, 0o755);
      const r = await dockward(['pki', 'client', 'shared-out', '--out', shared, '--pki', dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await mode(shared), '755');
      assert.equal(await mode(join(shared, 'key.pem')), '400');
    } finally {
      await rm(shared, { recursive: true, force: true });
    }
  });

  test('renew without NAME or --expiring-within is a usage error (exit 2)', async () => {
    const r = await dockward(['pki', 'renew', '--pki', dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /give either a NAME\/SERIAL or --expiring-within/);
  });

  test('--force replaces an existing bundle', async () => {
    const r = await dockward(['pki', 'client', 'taken', '--force', '--pki', dir]);
    assert.equal(r.code, 0, r.stderr);
  });
});
