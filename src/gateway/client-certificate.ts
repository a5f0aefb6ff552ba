/**
 * Who a TLS client is, or why it is refused. The listener lets every handshake finish and
 * decides here, with OpenSSL's verdict on the chain (CA, validity, purpose, CRL) in hand: a client
 * refused inside the handshake saw only a hang-up or an alert (a revoked one: `EOF`), and left
 * the audit log without its address, its certificate or the reason. Decided here, a refused
 * client gets its reason as a Docker-style 403 to whatever it asks (as nginx answers a failed
 * `ssl_verify_client optional` with a 400 naming the problem), and the audit line says who it was.
 */
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Identity } from '../policy/index.js';
import { OID_CLIENT_AUTH } from '../pki/index.js';

/** What the listener knows of its CRL (TlsReloader). */
export interface CrlStatus {
  revocation(serial: string): { at: Date; reason?: string } | undefined;
  /** Why every client is refused while the CRL is out of date, if it is. */
  expiredCrl(): string | undefined;
}

export interface RefusedClient {
  /** For the audit line: short and exact. */
  reason: string;
  /** For the client: the reason and what to do. */
  message: string;
  cn: string | null;
  serial: string | null;
}

const ASK_FOR_ONE = 'ask the operator for a new client certificate of this gateway (dockward pki client NAME)';

/** OpenSSL's verify results (Node's authorizationError) a chain that is not ours ends with. */
const UNTRUSTED = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** RFC 5280 bounds a CN at 64 characters and a serial at 20 octets (40 hex digits). */
const MAX_NAME_CHARS = 128;

function bounded(text: string | null): string | null {
  return text !== null && text.length > MAX_NAME_CHARS ? `${text.slice(0, MAX_NAME_CHARS)}…` : text;
}

function firstOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * A certificate meant for clients says so: one made for a server (EKU serverAuth only; OpenSSL
 * says INVALID_PURPOSE) or without any EKU is refused, although Go (dockerd) accepts the latter.
 */
function ekuProblem(cert: PeerCertificate): string | undefined {
  const eku = (cert as PeerCertificate & { ext_key_usage?: string[] }).ext_key_usage;
  if (!Array.isArray(eku)) return 'the client certificate has no EKU (it must carry clientAuth)';
  return eku.includes(OID_CLIENT_AUTH) ? undefined : 'the client certificate lacks the EKU clientAuth (its EKU allows other uses only)';
}

function chainProblem(code: string, cert: PeerCertificate, crl: CrlStatus, serial: string): string {
  if (code === 'CERT_REVOKED') {
    const r = crl.revocation(serial);
    // OpenSSL found it in the CRL we loaded, so the entry is there; the fallback is for safety.
    return r ? `the client certificate was revoked on ${r.at.toISOString()} (${r.reason ?? 'unspecified'})` : 'the client certificate is revoked';
  }
  if (code === 'CRL_HAS_EXPIRED' || code === 'CRL_NOT_YET_VALID') return crl.expiredCrl() ?? `the gateway's CRL is not valid now (${code})`;
  if (code === 'CERT_HAS_EXPIRED') return `the client certificate expired on ${new Date(cert.valid_to).toISOString()}`;
  if (code === 'CERT_NOT_YET_VALID') return `the client certificate is not valid before ${new Date(cert.valid_from).toISOString()} (check the clocks)`;
  if (code === 'INVALID_PURPOSE') return ekuProblem(cert) ?? 'the client certificate may not be used by a client';
  if (UNTRUSTED.has(code)) return `the client certificate is not issued by a CA this gateway trusts (${code})`;
  if (code === 'UNABLE_TO_GET_CRL') return `the gateway has no CRL from the CA that issued the client certificate (${code})`;
  return `the client certificate failed verification (${code})`;
}

/** The identity of a verified client, or why it is refused (with the certificate it presented). */
export function judgeClient(socket: TLSSocket, listener: string, crl: CrlStatus): Identity | RefusedClient {
  const cert = socket.getPeerCertificate();
  if (!cert?.subject) {
    return { reason: 'no client certificate', message: 'dockward: no client certificate: this gateway requires one; ask the operator for one (dockward pki client NAME)', cn: null, serial: null };
  }
  const cn = firstOf(cert.subject.CN) ?? null;
  const serial = cert.serialNumber?.toLowerCase() ?? null;
  // Node's types call it an Error; it is OpenSSL's verify result as a string code.
  const code = socket.authorized ? undefined : ((socket.authorizationError as unknown as string | undefined) ?? 'UNKNOWN');
  const problem = code ? chainProblem(code, cert, crl, serial ?? '') : (ekuProblem(cert) ?? (cn ? undefined : 'the client certificate has no CN'));
  if (problem) {
    const named = `your client certificate (${cn === null ? 'without CN' : `CN "${cn}"`}, serial ${serial ?? 'unknown'})`;
    // A problem of the gateway's own (its CRL) is the operator's to fix, not the client's.
    const message = problem.startsWith('the client certificate') ? `${problem.replace('the client certificate', named)}; ${ASK_FOR_ONE}` : `refused: ${problem}`;
    // A certificate of an unknown CA says what its maker likes: bounded, so its refusal line is too.
    return { reason: problem, message: `dockward: ${message}`, cn: bounded(cn), serial: bounded(serial) };
  }
  const ou = cert.subject.OU === undefined ? [] : Array.isArray(cert.subject.OU) ? cert.subject.OU : [cert.subject.OU];
  return { name: cn!, cn: cn!, ou, sans: cert.subjectaltname ? cert.subjectaltname.split(', ') : [], serial: serial ?? undefined, listener };
}
