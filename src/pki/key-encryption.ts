import { randomBytes, scrypt, createCipheriv, createPrivateKey, type KeyObject, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';
import { AsnConvert, AsnProp, AsnPropTypes } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { EncryptedPrivateKeyInfo, EncryptedData } from '@peculiar/asn1-pkcs8';
import { x509 } from './x509.js';
import { DockwardError } from '../util/errors.js';

/**
 * Encrypted PKCS#8 (PBES2 with scrypt and AES-256-CBC, RFC 8018 / RFC 7914) so the CA key
 * stays readable by standard tools (`openssl pkey`) while costing an attacker far more than
 * Node's own encrypted export (PBKDF2, 2048 iterations). OpenSSL refuses to decode scrypt
 * parameters that need more than 32 MiB, so the cost is raised through parallelisation
 * (p) rather than memory (N): each guess costs ~0.4 s of CPU here and 16 MiB per lane.
 */
const SCRYPT = { N: 16384, r: 8, p: 16 } as const;

const OID_PBES2 = '1.2.840.113549.1.5.13';
const OID_SCRYPT = '1.3.6.1.4.1.11591.4.11';
const OID_AES256_CBC = '2.16.840.1.101.3.4.1.42';

class ScryptParams {
  @AsnProp({ type: AsnPropTypes.OctetString }) salt = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Integer }) costParameter = 0;
  @AsnProp({ type: AsnPropTypes.Integer }) blockSize = 0;
  @AsnProp({ type: AsnPropTypes.Integer }) parallelizationParameter = 0;
  @AsnProp({ type: AsnPropTypes.Integer, optional: true }) keyLength?: number;
}

class Pbes2Params {
  @AsnProp({ type: AlgorithmIdentifier }) keyDerivationFunc = new AlgorithmIdentifier();
  @AsnProp({ type: AlgorithmIdentifier }) encryptionScheme = new AlgorithmIdentifier();
}

function ab(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

const scryptAsync = promisify<string, Buffer, number, ScryptOptions, Buffer>(scrypt);

export async function encryptPrivateKey(key: KeyObject, passphrase: string): Promise<string> {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const dk = await scryptAsync(passphrase, salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  const cipher = createCipheriv('aes-256-cbc', dk, iv);
  const plain = key.export({ type: 'pkcs8', format: 'der' });
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const kdf = new ScryptParams();
  Object.assign(kdf, { salt: ab(salt), costParameter: SCRYPT.N, blockSize: SCRYPT.r, parallelizationParameter: SCRYPT.p, keyLength: 32 });
  const params = new Pbes2Params();
  params.keyDerivationFunc = new AlgorithmIdentifier({ algorithm: OID_SCRYPT, parameters: AsnConvert.serialize(kdf) });
  params.encryptionScheme = new AlgorithmIdentifier({
    algorithm: OID_AES256_CBC,
    parameters: AsnConvert.serialize(new EncryptedData(ab(iv))),
  });
  const info = new EncryptedPrivateKeyInfo({
    encryptionAlgorithm: new AlgorithmIdentifier({ algorithm: OID_PBES2, parameters: AsnConvert.serialize(params) }),
    encryptedData: new EncryptedData(ab(encrypted)),
  });
  return x509.PemConverter.encode(AsnConvert.serialize(info), 'ENCRYPTED PRIVATE KEY') + '\n';
}

export function isEncryptedKeyPem(pem: string): boolean {
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem) || /Proc-Type: 4,ENCRYPTED/.test(pem);
}

/** Reads a key PEM, decrypting it with the passphrase when it is encrypted. */
export function readPrivateKey(pem: string, passphrase: string | undefined, what: string): KeyObject {
  const encrypted = isEncryptedKeyPem(pem);
  if (encrypted && passphrase === undefined) {
    throw new DockwardError(
      `${what} is encrypted and no passphrase was given`,
      'set DOCKWARD_CA_PASSPHRASE, pass --passphrase-file FILE, or run on a terminal to be prompted',
    );
  }
  try {
    return createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: passphrase! } : { key: pem, format: 'pem' });
  } catch {
    if (encrypted) throw new DockwardError(`wrong passphrase for ${what}`, 'check DOCKWARD_CA_PASSPHRASE or the passphrase file');
    throw new DockwardError(`${what} is not a readable private key`);
  }
}
