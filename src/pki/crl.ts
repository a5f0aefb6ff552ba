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

/**
 * Why a CRL must not be used with the CA certificates of `caPem` (one or several, as in a
 * rollover), or undefined. OpenSSL takes any well-formed CRL and only finds out per handshake,
 * where a CRL of another CA or one out of date refuses every client: so a CRL is proven against
 * its CA before it replaces the one in use. `current` also requires it valid at `now`
 * (thisUpdate..nextUpdate); a CRL that expires while in use is the expiry warnings' business.
 */
export async function crlProblem(crlPem: string, caPem: string, opts: { current: boolean; now?: Date }): Promise<string | undefined> {
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(crlPem);
  } catch (e) {
    return `it is not a readable CRL (${(e as Error).message})`;
  }
  const cas = x509.PemConverter.decode(caPem).map((der) => new x509.X509Certificate(der));
  const issuers = cas.filter((c) => c.subject === crl.issuer);
  if (!issuers.length) return `it is issued by "${crl.issuer}", not by the CA (${cas.map((c) => `"${c.subject}"`).join(', ')})`;
  const signed = await Promise.all(issuers.map((c) => crl.verify({ publicKey: c }).catch(() => false)));
  if (!signed.includes(true)) return `its signature does not verify with the key of the CA "${crl.issuer}" (a CRL of another CA of that name?)`;
  if (!opts.current) return undefined;
  const now = opts.now ?? new Date();
  if (crl.thisUpdate.getTime() > now.getTime()) return `it is not valid before ${crl.thisUpdate.toISOString()} (thisUpdate; check the clocks)`;
  if (crl.nextUpdate && crl.nextUpdate.getTime() <= now.getTime()) return `it expired on ${crl.nextUpdate.toISOString()} (nextUpdate)`;
  return undefined;
}
