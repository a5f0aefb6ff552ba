import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { OID_SERVER_AUTH } from '../pki/index.js';
import { pemCertificates } from '../pki/verify.js';
import { DockwardError } from '../util/errors.js';
import { allInOrder } from '../util/in-order.js';

/**
 * The server certificate, key and CA dockerd will load for `tlsverify`. Checked before
 * anything is written, because dockerd only reports a bad pair when it restarts, and then
 * the daemon is down.
 */
export interface ServerTlsSource {
  ca: string;
  cert: string;
  key: string;
}

export interface ServerTlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  subject: string;
  notAfter: string;
}

async function readMaterial(path: string, what: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw new DockwardError(`cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, `issue one with \`dockward pki server\` or pass ${flag}`);
  }
}

/** Reads and checks the material; `hosts` are the addresses clients will dial. */
export async function loadServerTls(src: ServerTlsSource, hosts: string[]): Promise<ServerTlsMaterial> {
  const [ca, cert, key] = await allInOrder([
    readMaterial(src.ca, 'CA certificate', '--tlscacert'),
    readMaterial(src.cert, 'server certificate', '--tlscert'),
    readMaterial(src.key, 'server key', '--tlskey'),
  ]);
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch {
    throw new DockwardError(`${src.cert} is not a PEM certificate`, 'pass the server certificate with --tlscert');
  }
  try {
    if (!x.checkPrivateKey(createPrivateKey(key))) throw new Error('mismatch');
  } catch (e) {
    const why = (e as Error).message === 'mismatch' ? 'does not belong to' : 'cannot be read as the key of';
    throw new DockwardError(`the key ${src.key} ${why} the certificate ${src.cert}`, 'pass the matching pair (dockerd cannot read encrypted keys)');
  }
  const cas = pemCertificates(ca.toString('utf8')).map((p) => new X509Certificate(p));
  if (!cas.length) throw new DockwardError(`${src.ca} holds no PEM certificate`, 'pass the CA certificate with --tlscacert');
  if (!cas.some((c) => x.verify(c.publicKey))) {
    throw new DockwardError(`${src.cert} is not signed by the CA in ${src.ca}`, 'issue the server certificate from this CA');
  }
  if (new Date(x.validTo).getTime() < Date.now()) {
    throw new DockwardError(`${src.cert} expired on ${x.validTo}`, 'issue a new one with `dockward pki server`');
  }
  if (x.keyUsage && !x.keyUsage.includes(OID_SERVER_AUTH)) {
    throw new DockwardError(`${src.cert} is not a server certificate (no serverAuth extended key usage)`, 'issue one with `dockward pki server`');
  }
  for (const h of hosts) {
    if (h === '0.0.0.0' || h === '::' || h === '') continue;
    const ok = isIP(h) ? x.checkIP(h) : x.checkHost(h);
    if (!ok) {
      throw new DockwardError(`${src.cert} does not name ${h} (clients dialing ${h} will refuse it)`, `reissue it with ${h} in its hosts/ips`);
    }
  }
  return { ca, cert, key, subject: x.subject.replace(/\n/g, ', '), notAfter: x.validTo };
}
