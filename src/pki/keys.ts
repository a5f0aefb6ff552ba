import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { subtle, type CryptoKey, type CryptoKeyPair, type KeyAlgorithmParams } from './x509.js';
import { UsageError, DockwardError } from '../util/errors.js';

/** The key types the docker CLI and Go's TLS both accept (FIELD-NOTES). */
export const KEY_TYPES = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = 'ecdsa-p256';

export function parseKeyType(value: string): KeyType {
  if ((KEY_TYPES as readonly string[]).includes(value)) return value as KeyType;
  throw new UsageError(`unknown key type "${value}"`, `use one of ${KEY_TYPES.join(', ')}`);
}

/** The WebCrypto algorithm that generates, imports and signs with a key of this type. */
export function keyAlgorithm(type: KeyType): KeyAlgorithmParams {
  switch (type) {
    case 'ecdsa-p256':
      return { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    case 'ecdsa-p384':
      return { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' };
    case 'ed25519':
      return { name: 'Ed25519' };
    default: {
      const bits = Number(type.slice(4));
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
    }
  }
}

export async function generateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(keyAlgorithm(type), true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** Unencrypted PKCS#8 PEM: the one private-key form every Docker client reads. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Which of our key types a key object is, or why Docker could not use it. */
export function keyTypeOf(key: KeyObject): KeyType {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (d.namedCurve === 'prime256v1') return 'ecdsa-p256';
      if (d.namedCurve === 'secp384r1') return 'ecdsa-p384';
      break;
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
      if (d.modulusLength === 2048 || d.modulusLength === 3072 || d.modulusLength === 4096) return `rsa-${d.modulusLength}` as KeyType;
      break;
  }
  const what = key.asymmetricKeyType === 'ec' ? `EC ${d.namedCurve}` : `${key.asymmetricKeyType} ${d.modulusLength ?? ''}`.trim();
  throw new DockwardError(`unsupported key (${what})`, `Docker accepts ${KEY_TYPES.join(', ')}`);
}

/** Makes a Node key object usable for signing with @peculiar/x509. */
export async function toSigningKey(key: KeyObject): Promise<{ key: CryptoKey; type: KeyType }> {
  const type = keyTypeOf(key);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const cryptoKey = await subtle.importKey('pkcs8', der, keyAlgorithm(type), false, ['sign']);
  return { key: cryptoKey, type };
}

/** The SubjectPublicKeyInfo DER of a private key, to compare it with a certificate's. */
export function publicKeyDer(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}
