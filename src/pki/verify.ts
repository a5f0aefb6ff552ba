/**
 * Explains, in the words Docker (Go's crypto/tls) and dockward's gateway would use, whether a
 * certificate would be accepted for a purpose, and exactly why not. Used by `pki verify`,
 * `dockward doctor` and `dockward connect`.
 */
import { X509Certificate, KeyObject, createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isIP } from 'node:net';
import { x509 } from './x509.js';
import { keyTypeOf, publicKeyDer, KEY_TYPES } from './keys.js';
import { isEncryptedKeyPem } from './key-encryption.js';
import { OID_CLIENT_AUTH, OID_SERVER_AUTH } from './profiles.js';
import { DockwardError } from '../util/errors.js';

export interface VerifyCheck {
  id: 'chain' | 'ca-validity' | 'validity' | 'eku' | 'san' | 'key' | 'key-type' | 'revocation' | 'basic-constraints';
  ok: boolean;
  severity: 'error' | 'warning' | 'info';
  /** Plain words: what Docker (Go) or dockward's gateway would say, and why. */
  message: string;
  /** What to do about it, when something is wrong. */
  fix?: string;
}

export interface VerifyReport {
  file: string;
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  dns: string[];
  ips: string[];
  /** Extended key usages by name (serverAuth, clientAuth) or OID. */
  eku: string[];
  /** False when any check failed with severity `error`. */
  accepted: boolean;
  checks: VerifyCheck[];
}

export interface VerifyOptions {
  certPem: string;
  /** Where the certificate came from; names it in messages and locates a key beside it. */
  file: string;
  /** The trusted CA certificate(s): the client's ca.pem for a server cert, dockerd's --tlscacert for a client cert. */
  caPem: string;
  purpose: 'server' | 'client';
  host?: string;
  ip?: string;
  /** When absent, the key beside the certificate (key.pem for cert.pem, X-key.pem for X-cert.pem) is checked if it exists. */
  keyPem?: string;
  keyFile?: string;
  crlPem?: string;
  now?: Date;
}

const OID_ANY_EKU = '2.5.29.37.0';
const EKU_NAMES: Record<string, string> = {
  [OID_SERVER_AUTH]: 'serverAuth',
  [OID_CLIENT_AUTH]: 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  [OID_ANY_EKU]: 'anyExtendedKeyUsage',
};
const EXPIRY_WARNING_MS = 7 * 86_400_000;

/** The certificates of a PEM bundle (a CA file may hold several, e.g. during a rollover). */
export function pemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function parseCert(pem: string, what: string): { node: X509Certificate; px: x509.X509Certificate } {
  try {
    return { node: new X509Certificate(pem), px: new x509.X509Certificate(pem) };
  } catch (e) {
    throw new DockwardError(`${what} is not a readable PEM certificate (${(e as Error).message})`, 'give the PEM file with -----BEGIN CERTIFICATE-----');
  }
}

/** "3 days", "5 hours", "12 minutes": the scale a person reads an expiry at. */
function humanDuration(ms: number): string {
  const abs = Math.abs(ms);
  const units: [number, string][] = [
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
  ];
  for (const [size, name] of units) {
    if (abs >= size) {
      const n = Math.floor(abs / size);
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return 'less than a minute';
}

/** The key file that sits beside a certificate by Docker's and dockward's naming. */
export function keyFileBeside(certFile: string): string | undefined {
  const base = basename(certFile);
  if (base === 'cert.pem') return join(dirname(certFile), 'key.pem');
  if (base.endsWith('-cert.pem')) return join(dirname(certFile), base.replace(/-cert\.pem$/, '-key.pem'));
  return undefined;
}

export async function verifyCertificate(opts: VerifyOptions): Promise<VerifyReport> {
  const now = opts.now ?? new Date();
  const pems = pemCertificates(opts.certPem);
  if (!pems.length) throw new DockwardError(`${opts.file} holds no PEM certificate`, 'give the PEM file with -----BEGIN CERTIFICATE-----');
  const leaf = parseCert(pems[0]!, opts.file);
  const caPems = pemCertificates(opts.caPem);
  if (!caPems.length) throw new DockwardError('the CA file holds no PEM certificate', 'give the ca.pem of the CA that issued the certificate');
  const cas = caPems.map((p, i) => parseCert(p, `CA certificate #${i + 1}`));

  const san = leaf.px.getExtension(x509.SubjectAlternativeNameExtension);
  const dns = san?.names.items.filter((n) => n.type === 'dns').map((n) => n.value) ?? [];
  const ips = san?.names.items.filter((n) => n.type === 'ip').map((n) => n.value) ?? [];
  const ekuExt = leaf.px.getExtension(x509.ExtendedKeyUsageExtension);
  const ekuOids = ekuExt ? Array.from(ekuExt.usages, String) : undefined;
  const who = opts.purpose === 'server' ? 'the Docker client' : 'dockerd and dockward\'s gateway';

  const checks: VerifyCheck[] = [];
  const issuer = checkChain(opts, leaf, cas, who, now, checks);
  checks.push(checkValidity(leaf.node, now, opts.purpose));
  checks.push(checkEku(ekuOids, opts.purpose));
  if (opts.ip !== undefined || opts.host !== undefined) checks.push(checkSan(leaf, dns, ips, opts));
  const key = await checkKey(opts, leaf.node);
  if (key) checks.push(key);
  checks.push(checkKeyType(leaf.node.publicKey));
  if (opts.crlPem !== undefined) checks.push(await checkRevocation(opts.crlPem, leaf.px, issuer, now));
  checks.push(checkBasicConstraints(leaf.px));

  return {
    file: opts.file,
    subject: leaf.px.subject,
    issuer: leaf.px.issuer,
    serial: leaf.px.serialNumber.toLowerCase(),
    notBefore: leaf.px.notBefore.toISOString(),
    notAfter: leaf.px.notAfter.toISOString(),
    dns,
    ips,
    eku: (ekuOids ?? []).map((o) => EKU_NAMES[o] ?? o),
    accepted: !checks.some((c) => !c.ok && c.severity === 'error'),
    checks,
  };
}

type Parsed = { node: X509Certificate; px: x509.X509Certificate };

/** Finds the CA that signed the leaf; Go says "unknown authority" for anything else. */
function checkChain(opts: VerifyOptions, leaf: Parsed, cas: Parsed[], who: string, now: Date, checks: VerifyCheck[]): Parsed | undefined {
  const signer = cas.find((ca) => leaf.node.checkIssued(ca.node) && leaf.node.verify(ca.node.publicKey));
  const caNames = cas.map((c) => `"${c.px.subject}"`).join(', ');
  if (!signer) {
    const sameName = cas.some((ca) => ca.px.subject === leaf.px.issuer);
    checks.push({
      id: 'chain',
      ok: false,
      severity: 'error',
      message:
        `x509: certificate signed by unknown authority — ${opts.file} was issued by "${leaf.px.issuer}", but the CA file trusts only ${caNames}` +
        (sameName ? ' (same name, different key: the CA was re-created since this certificate was issued)' : '') +
        `; ${who} refuse${who.startsWith('the') ? 's' : ''} it`,
      fix:
        opts.purpose === 'server'
          ? 'use the ca.pem of the CA that issued the server certificate, or re-issue the server certificate from your CA (dockward pki server)'
          : 'use a client certificate issued by the CA the server trusts (dockward pki client NAME on the server\'s PKI)',
    });
    return undefined;
  }
  checks.push({ id: 'chain', ok: true, severity: 'info', message: `signed by the CA "${signer.px.subject}" in the CA file` });
  const caFrom = signer.px.notBefore;
  const caTo = signer.px.notAfter;
  if (now < caFrom || now > caTo) {
    checks.push({
      id: 'ca-validity',
      ok: false,
      severity: 'error',
      message: `x509: certificate has expired or is not yet valid — the CA "${signer.px.subject}" is valid only from ${caFrom.toISOString()} to ${caTo.toISOString()}, so nothing it signed is accepted`,
      fix: 'create a new CA (dockward pki init --force) and re-issue every certificate, or fix this machine\'s clock',
    });
  }
  return signer;
}

function checkValidity(cert: X509Certificate, now: Date, purpose: VerifyOptions['purpose']): VerifyCheck {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  const renew =
    purpose === 'server'
      ? 'renew it (dockward pki renew NAME) and restart dockerd, which does not reload TLS files'
      : 'issue a new client certificate (dockward pki client NAME, or pki renew NAME)';
  if (now < from) {
    return {
      id: 'validity',
      ok: false,
      severity: 'error',
      message: `x509: certificate has expired or is not yet valid — it is valid only from ${from.toISOString()}, ${humanDuration(from.getTime() - now.getTime())} from now (current time ${now.toISOString()})`,
      fix: 'check the clocks of this machine and of the CA host; or wait until it becomes valid',
    };
  }
  if (now > to) {
    return {
      id: 'validity',
      ok: false,
      severity: 'error',
      message: `x509: certificate has expired or is not yet valid — it expired on ${to.toISOString()}, ${humanDuration(now.getTime() - to.getTime())} ago (current time ${now.toISOString()})`,
      fix: renew,
    };
  }
  const left = to.getTime() - now.getTime();
  if (left < EXPIRY_WARNING_MS) {
    return { id: 'validity', ok: true, severity: 'warning', message: `valid, but expires on ${to.toISOString()}, in ${humanDuration(left)}`, fix: renew };
  }
  return { id: 'validity', ok: true, severity: 'info', message: `valid until ${to.toISOString()} (${humanDuration(left)} left)` };
}

function checkEku(ekus: string[] | undefined, purpose: VerifyOptions['purpose']): VerifyCheck {
  const wanted = purpose === 'server' ? OID_SERVER_AUTH : OID_CLIENT_AUTH;
  const wantedName = EKU_NAMES[wanted]!;
  const names = ekus?.map((o) => EKU_NAMES[o] ?? o).join(', ');
  // Go takes "no EKU" and anyExtendedKeyUsage for any purpose; the gateway (OpenSSL, and its own
  // check) wants clientAuth itself.
  if (!ekus || (ekus.includes(OID_ANY_EKU) && !ekus.includes(wanted))) {
    const what = ekus ? `extended key usage ${names}` : 'no extended key usage';
    return purpose === 'server'
      ? { id: 'eku', ok: true, severity: 'info', message: `${what}: Go accepts it for any purpose` }
      : {
          id: 'eku',
          ok: true,
          severity: 'warning',
          message: `${what}: dockerd (Go) accepts it as a client certificate, but dockward's gateway refuses it: the gateway requires clientAuth`,
          fix: 'issue a client certificate with dockward pki client NAME (EKU clientAuth)',
        };
  }
  if (ekus.includes(wanted)) {
    return { id: 'eku', ok: true, severity: 'info', message: `extended key usage ${names} allows ${wantedName}` };
  }
  return {
    id: 'eku',
    ok: false,
    severity: 'error',
    message:
      `x509: certificate specifies an incompatible key usage — it allows only ${names}, and a ${purpose} certificate needs ${wantedName}; ` +
      (purpose === 'client' ? 'dockerd refuses it during the handshake, and so does dockward\'s gateway' : 'the Docker client refuses this server'),
    fix: purpose === 'client' ? 'issue a client certificate with dockward pki client NAME' : 'issue the server certificate with dockward pki server --host NAME --ip IP',
  };
}

/** Go's name matching: SANs only (the CN has been ignored since Go 1.15), IPs only against IP SANs. */
function checkSan(leaf: Parsed, dns: string[], ips: string[], opts: VerifyOptions): VerifyCheck {
  const target = opts.ip ?? opts.host!;
  const asIp = opts.ip !== undefined || isIP(target) !== 0;
  const cn = leaf.node.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3);
  const all = [...dns, ...ips];
  const fix = `re-issue the server certificate with the name you dial (dockward pki server ${asIp ? `--ip ${target}` : `--host ${target}`} …), or dial one of the names it has`;
  if (asIp ? leaf.node.checkIP(target) : leaf.node.checkHost(target, { subject: 'never', wildcards: true, partialWildcards: false })) {
    return { id: 'san', ok: true, severity: 'info', message: `${target} matches the certificate's subjectAltName (${all.join(', ')})` };
  }
  let why = '';
  if (cn && cn.toLowerCase() === target.toLowerCase()) {
    why = `; ${target} is only in the CN, which Go ignores ("x509: certificate relies on legacy Common Name field, use SANs instead")`;
  } else if (asIp && dns.includes(target)) {
    why = `; ${target} is listed as a DNS name, and Go matches an IP only against IP SANs`;
  } else if (!asIp) {
    const wild = dns.filter((d) => d.startsWith('*.') && target.toLowerCase().endsWith(d.slice(1).toLowerCase()));
    const bare = dns.filter((d) => d.startsWith('*.') && target.toLowerCase() === d.slice(2).toLowerCase());
    if (wild.length) why = `; a wildcard covers exactly one label: ${wild[0]} matches a.${wild[0]!.slice(2)}, not ${target}`;
    else if (bare.length) why = `; ${bare[0]} does not cover the bare domain ${target} itself`;
  }
  const goSays = asIp && !ips.length ? `x509: cannot validate certificate for ${target} because it doesn't contain any IP SANs` : all.length ? `x509: certificate is valid for ${all.join(', ')}, not ${target}` : `x509: certificate is not valid for any names, but wanted to match ${target}`;
  return { id: 'san', ok: false, severity: 'error', message: `${goSays} — the Docker client refuses a server certificate that does not name ${target}${all.length ? '' : ' (it has no subjectAltName at all)'}${why}`, fix };
}

/** The key, or why the docker CLI cannot load it at all (it then fails before connecting). */
export function loadDockerKey(keyPem: string, what: string): KeyObject | VerifyCheck {
  if (isEncryptedKeyPem(keyPem)) {
    return {
      id: 'key',
      ok: false,
      severity: 'error',
      message: `${what} is encrypted: Docker cannot read encrypted keys ("support for encrypted private keys has been removed" / "failed to parse private key")`,
      fix: `store it unencrypted with mode 0400 (openssl pkey -in ${what} -out key.pem), or issue a new bundle with dockward pki client NAME`,
    };
  }
  try {
    return createPrivateKey(keyPem);
  } catch {
    return { id: 'key', ok: false, severity: 'error', message: `${what} is not a readable private key: Docker would fail with "tls: failed to find any PEM data in key input"`, fix: 'give the PEM private key that belongs to this certificate' };
  }
}

/** Why the docker CLI refuses this certificate and key as a pair, if it does. */
export function keyMismatch(cert: X509Certificate, key: KeyObject, what: string): VerifyCheck | undefined {
  if (publicKeyDer(key).equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) return undefined;
  return {
    id: 'key',
    ok: false,
    severity: 'error',
    message: `tls: private key does not match public key — ${what} belongs to another certificate; Docker refuses to load the pair`,
    fix: 'use the key that was issued with this certificate, or issue a new pair',
  };
}

async function checkKey(opts: VerifyOptions, cert: X509Certificate): Promise<VerifyCheck | undefined> {
  let keyPem = opts.keyPem;
  let keyFile = opts.keyFile;
  if (keyPem === undefined) {
    keyFile = keyFileBeside(opts.file);
    if (!keyFile) return undefined;
    try {
      keyPem = await readFile(keyFile, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      return { id: 'key', ok: false, severity: 'warning', message: `cannot read the key ${keyFile} (${code}); the key was not checked` };
    }
  }
  const what = keyFile ?? 'the key';
  const key = loadDockerKey(keyPem, what);
  if (!(key instanceof KeyObject)) return key;
  const mismatch = keyMismatch(cert, key, what);
  if (mismatch) return mismatch;
  if (keyFile) {
    const mode = (await stat(keyFile).catch(() => undefined))?.mode;
    if (mode !== undefined && (mode & 0o077) !== 0) {
      return {
        id: 'key',
        ok: true,
        severity: 'warning',
        message: `${keyFile} matches the certificate but is readable by other users (mode ${(mode & 0o777).toString(8)}): whoever reads it is this identity`,
        fix: `chmod 400 ${keyFile}`,
      };
    }
  }
  return { id: 'key', ok: true, severity: 'info', message: `${what} matches the certificate` };
}

function checkKeyType(publicKey: KeyObject): VerifyCheck {
  try {
    return { id: 'key-type', ok: true, severity: 'info', message: `key type ${keyTypeOf(publicKey)} is supported by Docker` };
  } catch (e) {
    return {
      id: 'key-type',
      ok: false,
      severity: 'error',
      message: `${(e as Error).message}: the docker CLI and dockerd accept only ${KEY_TYPES.join(', ')}`,
      fix: 'issue a new certificate with a supported key (dockward pki … --key ecdsa-p256)',
    };
  }
}

async function checkRevocation(crlPem: string, cert: x509.X509Certificate, issuer: Parsed | undefined, now: Date): Promise<VerifyCheck> {
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(crlPem);
  } catch (e) {
    return { id: 'revocation', ok: false, severity: 'warning', message: `the CRL is not readable (${(e as Error).message}); revocation was not checked`, fix: 'regenerate it with dockward pki crl' };
  }
  if (issuer && !(await crl.verify({ publicKey: issuer.px }).catch(() => false))) {
    return { id: 'revocation', ok: false, severity: 'warning', message: `the CRL was not signed by the CA "${issuer.px.subject}"; revocation was not checked`, fix: 'use the crl.pem of the CA that issued the certificate' };
  }
  const entry = crl.findRevoked(cert);
  if (entry) {
    const reason = entry.reason !== undefined ? ` (reason: ${x509.X509CrlReason[entry.reason]})` : '';
    return {
      id: 'revocation',
      ok: false,
      severity: 'error',
      message:
        `revoked on ${entry.revocationDate.toISOString()}${reason}: dockward's gateway refuses it ("certificate revoked"); ` +
        'dockerd itself does not check revocation and would still accept it until it expires',
      fix: 'issue a new certificate for this identity; reach dockerd only through dockward\'s gateway so revocation is enforced',
    };
  }
  if (crl.nextUpdate && crl.nextUpdate < now) {
    return {
      id: 'revocation',
      ok: false,
      severity: 'warning',
      message: `not listed, but the CRL expired on ${crl.nextUpdate.toISOString()}: dockward's gateway refuses every client certificate while its CRL is out of date`,
      fix: 'refresh it with dockward pki crl',
    };
  }
  return { id: 'revocation', ok: true, severity: 'info', message: 'not revoked (not listed in the CRL)' };
}

function checkBasicConstraints(cert: x509.X509Certificate): VerifyCheck {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (bc?.ca) {
    return {
      id: 'basic-constraints',
      ok: false,
      severity: 'warning',
      message: 'this is a CA certificate (CA:TRUE) used as a leaf: whoever holds its key can sign further certificates; a server or client certificate must say CA:FALSE',
      fix: 'issue a proper leaf certificate with dockward pki server / pki client',
    };
  }
  return { id: 'basic-constraints', ok: true, severity: 'info', message: 'a leaf certificate (CA:FALSE)' };
}

/** The human form of a report (`pki verify`): who the certificate is, then each check with its fix. */
export function formatVerifyReport(r: VerifyReport): string {
  const names = [...r.dns.map((d) => `DNS:${d}`), ...r.ips.map((i) => `IP:${i}`)];
  const lines = [
    `${r.file}: ${r.subject}, issued by ${r.issuer}, serial ${r.serial}`,
    `  valid ${r.notBefore} to ${r.notAfter}; names: ${names.join(', ') || 'none'}; EKU: ${r.eku.join(', ') || 'none'}`,
  ];
  for (const c of r.checks) {
    const mark = !c.ok && c.severity === 'error' ? 'ERROR  ' : c.severity === 'warning' || !c.ok ? 'WARNING' : 'OK     ';
    lines.push(`${mark} ${c.id}: ${c.message}`);
    if (c.fix && (!c.ok || c.severity === 'warning')) lines.push(`        fix: ${c.fix}`);
  }
  lines.push(r.accepted ? 'accepted' : 'REFUSED');
  return lines.join('\n') + '\n';
}
