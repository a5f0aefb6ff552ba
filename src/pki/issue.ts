import { randomBytes, createHash } from 'node:crypto';
import { x509, type CryptoKey } from './x509.js';
import { generateKeyPair, keyAlgorithm, privateKeyPem, type KeyType } from './keys.js';
import { profileExtensions, BACKDATE_MS, type Profile, type SubjectNames } from './profiles.js';

export interface Issuer {
  cert: x509.X509Certificate;
  key: CryptoKey;
  keyType: KeyType;
}

export interface IssueRequest {
  profile: Profile;
  keyType: KeyType;
  /** Distinguished name as RDNs, e.g. `[{CN: ['ci']}, {OU: ['read-only']}]` (no string escaping pitfalls). */
  subject: x509.JsonName;
  days: number;
  names?: SubjectNames;
  ekuOverride?: string[];
  /** Omitted for the self-signed CA. */
  issuer?: Issuer;
  now?: Date;
}

export interface IssuedCertificate {
  cert: x509.X509Certificate;
  certPem: string;
  keyPem: string;
  signingKey: CryptoKey;
  serial: string;
}

/**
 * A positive 128-bit serial (RFC 5280 allows 20 octets; the top bit is cleared so the DER
 * INTEGER stays positive without a sign byte surprise in other tools).
 */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

export async function issueCertificate(req: IssueRequest): Promise<IssuedCertificate> {
  const keys = await generateKeyPair(req.keyType);
  const now = req.now ?? new Date();
  const serial = randomSerial();
  const issuerKeyType = req.issuer?.keyType ?? req.keyType;
  const extensions = await profileExtensions({
    profile: req.profile,
    keyType: req.keyType,
    publicKey: keys.publicKey,
    issuerPublicKey: req.issuer ? await req.issuer.cert.publicKey.export() : undefined,
    names: req.names,
    ekuOverride: req.ekuOverride,
  });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: req.subject,
    issuer: req.issuer ? req.issuer.cert.subject : req.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + req.days * 86_400_000),
    publicKey: keys.publicKey,
    signingKey: req.issuer?.key ?? keys.privateKey,
    signingAlgorithm: keyAlgorithm(issuerKeyType),
    extensions,
  });
  return {
    cert,
    certPem: cert.toString('pem') + '\n',
    keyPem: await privateKeyPem(keys.privateKey),
    signingKey: keys.privateKey,
    serial,
  };
}

/** SHA-256 fingerprint in the colon form `openssl x509 -fingerprint -sha256` prints. */
export function fingerprintSha256(cert: x509.X509Certificate): string {
  return createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex').toUpperCase().match(/../g)!.join(':');
}
