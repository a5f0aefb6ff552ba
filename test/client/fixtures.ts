/**
 * Real PKIs for the client tests: CA A (the server's), CA B (a stranger), and bundles that are
 * wrong in exactly one way each. Every certificate is made by src/pki; the few that the public
 * API refuses to make (expired, not yet valid) are signed with the CA's own issuer.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueServer, issueClient, loadIssuer, pkiLayout, OID_SERVER_AUTH } from '../../src/pki/index.js';
import { issueCertificate } from '../../src/pki/issue.js';

const quiet = { onWarning: () => undefined };

export interface Pem {
  certPem: string;
  keyPem: string;
}

/** A bundle directory the way the docker CLI reads one. */
export async function writeBundle(dir: string, files: { ca?: string; cert?: string; key?: string }): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (files.ca !== undefined) await writeFile(join(dir, 'ca.pem'), files.ca, { mode: 0o444 });
  if (files.cert !== undefined) await writeFile(join(dir, 'cert.pem'), files.cert, { mode: 0o444 });
  if (files.key !== undefined) await writeFile(join(dir, 'key.pem'), files.key, { mode: 0o400 });
  return dir;
}

/** A certificate signed by the CA in `pkiDir` at another time than now (expired or future). */
export async function issueAt(
  pkiDir: string,
  o: { profile: 'server' | 'client'; cn: string; now: Date; days: number; names?: { dns: string[]; ips: string[] } },
): Promise<Pem> {
  const issuer = await loadIssuer(pkiLayout(pkiDir), { dir: pkiDir, ...quiet });
  const issued = await issueCertificate({ profile: o.profile, keyType: 'ecdsa-p256', subject: [{ CN: [o.cn] }], days: o.days, names: o.names, issuer, now: o.now });
  return { certPem: issued.certPem, keyPem: issued.keyPem };
}

export interface Fixtures {
  root: string;
  pkiA: string;
  pkiB: string;
  caA: string;
  caB: string;
  crlA: () => Promise<string>;
  server: { cert: string; key: string };
  bundles: Record<'ok' | 'otherCa' | 'strangerClient' | 'serverAuthOnly' | 'expiredClient' | 'noClient' | 'revoked', string>;
  expiredServer: Pem;
  cleanup(): Promise<void>;
}

const DAY = 86_400_000;

export async function makeFixtures(): Promise<Fixtures> {
  const root = await mkdtemp(join(tmpdir(), 'dw-client-'));
  const pkiA = join(root, 'pki-a');
  const pkiB = join(root, 'pki-b');
  await initCa({ dir: pkiA, cn: 'CA A', ...quiet });
  await initCa({ dir: pkiB, cn: 'CA B', ...quiet });
  await issueServer({ dir: pkiA, hosts: ['localhost'], ips: ['127.0.0.1'], ...quiet });
  await issueClient({ dir: pkiA, name: 'alice', ...quiet });
  await issueClient({ dir: pkiA, name: 'svc', ekuOverride: [OID_SERVER_AUTH], ...quiet });
  await issueClient({ dir: pkiA, name: 'bob', ...quiet });
  const mallory = await issueClient({ dir: pkiB, name: 'mallory', ...quiet });
  const caA = await readFile(pkiLayout(pkiA).caCert, 'utf8');
  const caB = await readFile(pkiLayout(pkiB).caCert, 'utf8');
  const read = (p: string) => readFile(p, 'utf8');
  const expired = await issueAt(pkiA, { profile: 'client', cn: 'old', now: new Date(Date.now() - 10 * DAY), days: 2 });
  const expiredServer = await issueAt(pkiA, { profile: 'server', cn: '127.0.0.1', now: new Date(Date.now() - 10 * DAY), days: 2, names: { dns: ['localhost'], ips: ['127.0.0.1'] } });
  const b = join(root, 'bundles');
  const bundles = {
    ok: join(pkiA, 'clients', 'alice'),
    otherCa: await writeBundle(join(b, 'other-ca'), { ca: caB, cert: await read(mallory.files.cert!), key: await read(mallory.files.key!) }),
    strangerClient: await writeBundle(join(b, 'stranger'), { ca: caA, cert: await read(mallory.files.cert!), key: await read(mallory.files.key!) }),
    serverAuthOnly: join(pkiA, 'clients', 'svc'),
    expiredClient: await writeBundle(join(b, 'expired'), { ca: caA, cert: expired.certPem, key: expired.keyPem }),
    noClient: await writeBundle(join(b, 'no-client'), { ca: caA }),
    revoked: join(pkiA, 'clients', 'bob'),
  };
  return {
    root,
    pkiA,
    pkiB,
    caA,
    caB,
    crlA: () => readFile(pkiLayout(pkiA).crl, 'utf8'),
    server: { cert: join(pkiA, 'server', 'server-cert.pem'), key: join(pkiA, 'server', 'server-key.pem') },
    bundles,
    expiredServer,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export { freePort } from '../harness/engine.js';
