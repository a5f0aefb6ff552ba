import { isIP } from 'node:net';
import { x509, type CryptoKey } from './x509.js';
import type { KeyType } from './keys.js';

export type Profile = 'ca' | 'server' | 'client';

export const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** Default lifetimes. Client certificates are short because dockerd cannot check revocation. */
export const DEFAULT_DAYS: Record<Profile, number> = { ca: 3650, server: 397, client: 14 };
/** Backdating absorbs clock skew between the CA host and the hosts that verify. */
export const BACKDATE_MS = 5 * 60 * 1000;

export interface SubjectNames {
  dns: string[];
  ips: string[];
}

/**
 * The extensions each profile needs for Go's TLS and for dockward's gateway. `ekuOverride`
 * exists for negative tests and `pki verify` demonstrations (e.g. a serverAuth-only client).
 */
export async function profileExtensions(opts: {
  profile: Profile;
  keyType: KeyType;
  publicKey: CryptoKey;
  issuerPublicKey?: CryptoKey;
  names?: SubjectNames;
  ekuOverride?: string[];
}): Promise<x509.Extension[]> {
  const exts: x509.Extension[] = [];
  const rsa = opts.keyType.startsWith('rsa');
  if (opts.profile === 'ca') {
    exts.push(new x509.BasicConstraintsExtension(true, 0, true));
    exts.push(new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true));
  } else {
    exts.push(new x509.BasicConstraintsExtension(false, undefined, true));
    // keyEncipherment only means something for RSA key transport; ECDSA/Ed25519 keys only sign.
    const usage = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0);
    exts.push(new x509.KeyUsagesExtension(usage, true));
    const eku = opts.ekuOverride ?? [opts.profile === 'server' ? OID_SERVER_AUTH : OID_CLIENT_AUTH];
    if (eku.length) exts.push(new x509.ExtendedKeyUsageExtension(eku, false));
  }
  if (opts.names && (opts.names.dns.length || opts.names.ips.length)) {
    exts.push(
      new x509.SubjectAlternativeNameExtension(
        [...opts.names.dns.map((value) => ({ type: 'dns' as const, value })), ...opts.names.ips.map((value) => ({ type: 'ip' as const, value }))],
        false,
      ),
    );
  }
  exts.push(await x509.SubjectKeyIdentifierExtension.create(opts.publicKey));
  if (opts.issuerPublicKey) exts.push(await x509.AuthorityKeyIdentifierExtension.create(opts.issuerPublicKey));
  return exts;
}

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/** A host name Go's TLS can match: LDH labels, an optional leading `*.` wildcard, no IPs. */
export function isValidDnsName(name: string): boolean {
  if (name.length > 253 || isIP(name)) return false;
  const labels = name.replace(/\.$/, '').split('.');
  return labels.every((l, i) => (i === 0 && l === '*' && labels.length > 2) || DNS_LABEL.test(l));
}

/**
 * The IP as a SAN can hold it, or undefined. IPv6 is rewritten in hex-only form: the SAN encoder
 * (@peculiar/asn1-x509) reads an IPv4 tail (`::ffff:10.1.2.3`) as one hex group and would
 * silently certify another address. A zone (`fe80::1%eth0`) has no place in a certificate.
 */
export function canonicalIp(ip: string): string | undefined {
  const version = isIP(ip);
  if (version === 4) return ip;
  if (version !== 6 || ip.includes('%')) return undefined;
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}

/** A safe identity name: it becomes a CN, a directory name and a Docker context name. */
export function isValidIdentityName(name: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name);
}
