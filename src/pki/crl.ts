import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import { x509 } from './x509.js';
import { keyAlgorithm } from './keys.js';
import { BACKDATE_MS } from './profiles.js';
import type { Issuer } from './issue.js';
import type { Inventory, RevocationReason } from './inventory.js';

/** How long a CRL stays valid. Every CA operation refreshes it; `pki crl` does on demand. */
export const CRL_VALIDITY_DAYS = 30;

/**
 * Builds the CRL for every revoked certificate in the inventory. Written as PEM labelled
 * `X509 CRL` (the library's own label, `CRL`, is unreadable to OpenSSL 3 and Node's TLS).
 * Reason `unspecified` is expressed by leaving the reason out, as RFC 5280 recommends.
 */
export async function buildCrlPem(issuer: Issuer, inv: Inventory, crlNumber: number, now = new Date()): Promise<string> {
  const entries = inv.certs
    .filter((c) => c.revoked)
    .map((c) => ({
      serialNumber: c.serial,
      revocationDate: new Date(c.revoked!.at),
      ...(c.revoked!.reason === 'unspecified' ? {} : { reason: x509.X509CrlReason[c.revoked!.reason as Exclude<RevocationReason, 'unspecified'>] }),
    }));
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuer.cert.subject,
    // Backdated like the certificates: a verifier whose clock lags would otherwise refuse every
    // client ("CRL is not yet valid") after each rewrite.
    thisUpdate: new Date(now.getTime() - BACKDATE_MS),
    nextUpdate: new Date(now.getTime() + CRL_VALIDITY_DAYS * 86_400_000),
    entries,
    signingKey: issuer.key,
    signingAlgorithm: keyAlgorithm(issuer.keyType),
    extensions: [
      new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(crlNumber))),
      await x509.AuthorityKeyIdentifierExtension.create(await issuer.cert.publicKey.export()),
    ],
  });
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n';
}
