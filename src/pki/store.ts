import { readFile, stat } from 'node:fs/promises';
import { createPrivateKey } from 'node:crypto';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { x509 } from './x509.js';
import { toSigningKey, DEFAULT_KEY_TYPE, type KeyType } from './keys.js';
import { encryptPrivateKey, readPrivateKey, isEncryptedKeyPem } from './key-encryption.js';
import { issueCertificate, fingerprintSha256, type Issuer, type IssuedCertificate } from './issue.js';
import { DEFAULT_DAYS, canonicalIp, isValidDnsName, isValidIdentityName, type Profile } from './profiles.js';
import { pkiLayout, type PkiLayout } from './layout.js';
import { buildCrlPem } from './crl.js';
import { defaultDockerHost, dockerEnv, recordedDockerHost } from './docker-host.js';
import {
  emptyInventory,
  findEntries,
  readInventory,
  statusOf,
  withInventoryLock,
  writeInventory,
  REVOCATION_REASONS,
  type Inventory,
  type InventoryEntry,
  type RevocationReason,
} from './inventory.js';
import { writeFilesAtomic, ensureDir, type PlannedFile } from '../util/atomic-write.js';
import { DockwardError, UsageError } from '../util/errors.js';
import { warnOnce } from '../util/warn.js';
import { PASSPHRASE_ENV } from './passphrase.js';

export interface CaOptions {
  dir: string;
  /** Unlocks an encrypted CA key; on `initCa`, encrypts the new one. */
  passphrase?: string;
  onWarning?: (message: string) => void;
}

export interface IssueOptions extends CaOptions {
  days?: number;
  out?: string;
  force?: boolean;
  keyType?: KeyType;
  /** Negative tests and demonstrations only: replaces the profile's EKU. */
  ekuOverride?: string[];
}

export interface IssueResult {
  serial: string;
  cn: string;
  notAfter: Date;
  fingerprint: string;
  files: Record<string, string>;
}

const MODE_KEY = 0o400;
const MODE_CERT = 0o444;

function checkDays(days: number | undefined, profile: Profile): number {
  const d = days ?? DEFAULT_DAYS[profile];
  if (!Number.isInteger(d) || d < 1 || d > 36500) throw new UsageError(`invalid --days ${days}`, 'give a whole number of days between 1 and 36500');
  return d;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function initCa(o: CaOptions & { keyType?: KeyType; days?: number; cn?: string; force?: boolean }): Promise<IssueResult & { encrypted: boolean }> {
  const layout = pkiLayout(o.dir);
  if (!o.force && (await exists(layout.caCert))) {
    throw new DockwardError(`a CA already exists in ${layout.dir}`, 'pass --force to replace it: every certificate it issued stops being trusted');
  }
  const cn = o.cn ?? `dockward CA ${hostname()}`;
  if (!cn.trim() || cn.length > 64) throw new UsageError(`invalid CA name "${cn}"`, 'give --cn a name of 1 to 64 characters');
  const keyType = o.keyType ?? DEFAULT_KEY_TYPE;
  const issued = await issueCertificate({ profile: 'ca', keyType, subject: dn(cn), days: checkDays(o.days, 'ca') });
  const keyObject = createPrivateKey(issued.keyPem);
  const keyPem = o.passphrase ? await encryptPrivateKey(keyObject, o.passphrase) : issued.keyPem;
  if (!o.passphrase) (o.onWarning ?? warnOnce)(unencryptedWarning(layout));
  const issuer: Issuer = { cert: issued.cert, key: issued.signingKey, keyType };
  const inv = emptyInventory();
  inv.certs.push(entryFor(issued, 'ca', cn, undefined, keyType, layout.dir));
  inv.crlNumber = 1;
  await ensureDir(layout.dir);
  await ensureDir(join(layout.dir, 'private'));
  await writeFilesAtomic(
    [
      { path: layout.caCert, data: issued.certPem, mode: MODE_CERT },
      { path: layout.caKey, data: keyPem, mode: MODE_KEY },
      { path: layout.inventory, data: JSON.stringify(inv, null, 2) + '\n', mode: 0o600 },
      { path: layout.crl, data: await buildCrlPem(issuer, inv, inv.crlNumber), mode: MODE_CERT },
    ],
    // A CA key or inventory left behind without ca.pem is still someone's CA: replaced only on --force.
    { force: o.force },
  );
  return { ...resultOf(issued, cn, { cert: layout.caCert, key: layout.caKey, crl: layout.crl }), encrypted: !!o.passphrase };
}

export async function issueServer(o: IssueOptions & { hosts: string[]; ips: string[] }): Promise<IssueResult> {
  // Go's name check matches no SAN that ends in "." ("valid for localhost., not localhost").
  const hosts = [...new Set(o.hosts.map((h) => h.toLowerCase().replace(/\.$/, '')))];
  for (const h of hosts) if (!isValidDnsName(h)) throw new UsageError(`invalid host name "${h}"`, isIP(h) ? 'pass IP addresses with --ip' : 'use letters, digits, hyphens and dots');
  const ips = [
    ...new Set(
      o.ips.map((ip) => {
        const canonical = canonicalIp(ip);
        if (canonical === undefined) throw new UsageError(`invalid IP address "${ip}"`, 'give an IPv4 or IPv6 address, without port, brackets or %zone');
        return canonical;
      }),
    ),
  ];
  if (!hosts.length && !ips.length) {
    throw new UsageError('a server certificate needs at least one --host or --ip', 'Go ignores the CN: clients match only the names listed in the certificate');
  }
  const layout = pkiLayout(o.dir);
  // Absolute: the inventory (renew) and docker.env are used from other working directories.
  const out = resolve(o.out ?? layout.serverDir);
  const cn = hosts[0] ?? ips[0]!;
  return issueLeaf(o, layout, {
    profile: 'server',
    cn,
    names: { dns: hosts, ips },
    dir: out,
    files: (i) => [
      { path: join(out, 'server-cert.pem'), data: i.certPem, mode: MODE_CERT },
      { path: join(out, 'server-key.pem'), data: i.keyPem, mode: MODE_KEY },
      { path: join(out, 'ca.pem'), data: i.caPem, mode: MODE_CERT },
    ],
  });
}

export async function issueClient(o: IssueOptions & { name: string; role?: string; dockerHost?: string }): Promise<IssueResult> {
  if (!isValidIdentityName(o.name)) {
    throw new UsageError(`invalid client name "${o.name}"`, 'use 1 to 64 letters, digits, dots, hyphens or underscores, starting with a letter or digit');
  }
  if (o.role !== undefined && !isValidIdentityName(o.role)) throw new UsageError(`invalid role "${o.role}"`, 'use letters, digits, dots, hyphens or underscores');
  const layout = pkiLayout(o.dir);
  const out = resolve(o.out ?? layout.clientDir(o.name));
  const recorded = o.dockerHost ?? (await recordedDockerHost(layout));
  return issueLeaf(o, layout, {
    profile: 'client',
    cn: o.name,
    role: o.role,
    dir: out,
    files: (i, inv) => [
      { path: join(out, 'cert.pem'), data: i.certPem, mode: MODE_CERT },
      { path: join(out, 'key.pem'), data: i.keyPem, mode: MODE_KEY },
      { path: join(out, 'ca.pem'), data: i.caPem, mode: MODE_CERT },
      { path: join(out, 'docker.env'), data: dockerEnv(out, o.name, i.cert.notAfter, defaultDockerHost(inv, recorded)), mode: 0o644 },
    ],
  });
}

interface LeafSpec {
  profile: 'server' | 'client';
  cn: string;
  role?: string;
  names?: { dns: string[]; ips: string[] };
  dir: string;
  files: (issued: IssuedCertificate & { caPem: string }, inv: Inventory) => PlannedFile[];
  supersedes?: string;
}

async function issueLeaf(o: IssueOptions, layout: PkiLayout, spec: LeafSpec): Promise<IssueResult> {
  const issuer = await loadIssuer(layout, o);
  const keyType = o.keyType ?? DEFAULT_KEY_TYPE;
  const days = checkDays(o.days, spec.profile);
  const issued = await issueCertificate({
    profile: spec.profile,
    keyType,
    subject: dn(spec.cn, spec.role),
    days,
    names: spec.names,
    ekuOverride: o.ekuOverride,
    issuer,
  });
  const caPem = await readFile(layout.caCert, 'utf8');
  let files: PlannedFile[] = [];
  await withInventoryLock(layout.inventory, async (inv) => {
    // A renewal decided before the lock must not resurrect a certificate revoked (or renewed) since.
    const old = spec.supersedes === undefined ? undefined : inv.certs.find((c) => c.serial === spec.supersedes);
    if (spec.supersedes !== undefined && (!old || old.revoked || old.supersededBy)) {
      throw new DockwardError(
        `not renewing ${spec.cn} (serial ${spec.supersedes}): it was ${old?.revoked ? 'revoked' : 'renewed or removed'} meanwhile`,
        'see `dockward pki list`',
      );
    }
    files = spec.files({ ...issued, caPem }, inv);
    // Directories it creates are 0700; one that exists (a --out the user named: /etc, a shared
    // dir) keeps its mode, since the key itself is 0400.
    await writeFilesAtomic(files, { force: o.force });
    const entry = entryFor(issued, spec.profile, spec.cn, spec.role, keyType, spec.dir, spec.names);
    inv.certs.push(entry);
    if (old) old.supersededBy = entry.serial;
    await commitInventory(layout, issuer, inv);
  });
  return resultOf(issued, spec.cn, Object.fromEntries(files.map((f) => [fileRole(f.path), f.path])));
}

function fileRole(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return ({ 'server-cert.pem': 'cert', 'server-key.pem': 'key', 'cert.pem': 'cert', 'key.pem': 'key', 'ca.pem': 'ca', 'docker.env': 'env' } as Record<string, string>)[base] ?? base;
}

/** Bumps the CRL number and rewrites the CRL and the inventory together. */
async function commitInventory(layout: PkiLayout, issuer: Issuer, inv: Inventory): Promise<void> {
  inv.crlNumber += 1;
  const crl = await buildCrlPem(issuer, inv, inv.crlNumber);
  await writeFilesAtomic([{ path: layout.crl, data: crl, mode: MODE_CERT }], { force: true });
  await writeInventory(layout.inventory, inv);
}

export async function revoke(o: CaOptions & { target: string; reason?: string }): Promise<InventoryEntry[]> {
  const reason = (o.reason ?? 'unspecified') as RevocationReason;
  if (!REVOCATION_REASONS.includes(reason)) throw new UsageError(`unknown revocation reason "${o.reason}"`, `use one of ${REVOCATION_REASONS.join(', ')}`);
  const layout = pkiLayout(o.dir);
  const issuer = await loadIssuer(layout, o);
  return withInventoryLock(layout.inventory, async (inv) => {
    const matches = findEntries(inv, o.target);
    if (matches.some((m) => m.kind === 'ca')) throw new UsageError('the CA cannot revoke itself', 'create a new CA with `pki init --force` instead');
    const live = matches.filter((m) => !m.revoked);
    if (!live.length) {
      throw new DockwardError(
        matches.length ? `every certificate for "${o.target}" is already revoked` : `no certificate named or numbered "${o.target}"`,
        'see `dockward pki list`',
      );
    }
    const at = new Date().toISOString();
    for (const m of live) m.revoked = { at, reason };
    await commitInventory(layout, issuer, inv);
    return live;
  });
}

/** Rewrites the CRL with a fresh validity window (run it from cron well inside 30 days). */
export async function refreshCrl(o: CaOptions): Promise<{ path: string; crlNumber: number; revoked: number }> {
  const layout = pkiLayout(o.dir);
  const issuer = await loadIssuer(layout, o);
  return withInventoryLock(layout.inventory, async (inv) => {
    await commitInventory(layout, issuer, inv);
    return { path: layout.crl, crlNumber: inv.crlNumber, revoked: inv.certs.filter((c) => c.revoked).length };
  });
}

/**
 * Re-issues certificates with a new key and the same identity, names and lifetime, in place.
 * The old certificate is marked superseded, not revoked: clients still holding it keep
 * working until they pick up the new files.
 */
export async function renew(o: IssueOptions & { target?: string; expiringWithinMs?: number }): Promise<IssueResult[]> {
  const layout = pkiLayout(o.dir);
  const inv = await readInventory(layout.inventory);
  const now = Date.now();
  const current = inv.certs.filter((c) => c.kind !== 'ca' && !c.revoked && !c.supersededBy);
  const chosen =
    o.target !== undefined
      ? findEntries(inv, o.target).filter((c) => current.includes(c))
      : current.filter((c) => new Date(c.notAfter).getTime() - now <= (o.expiringWithinMs ?? 0));
  if (o.target !== undefined && !chosen.length) {
    throw new DockwardError(`no current certificate named or numbered "${o.target}"`, 'revoked and superseded certificates are not renewed; see `dockward pki list`');
  }
  const results: IssueResult[] = [];
  const recorded = await recordedDockerHost(layout);
  for (const c of chosen) {
    const lifetimeDays = Math.max(1, Math.round((Date.parse(c.notAfter) - Date.parse(c.notBefore)) / 86_400_000));
    const common = { ...o, days: o.days ?? lifetimeDays, keyType: o.keyType ?? c.keyType, out: c.dir, force: true };
    results.push(
      c.kind === 'server'
        ? await renewLeaf(layout, common, { profile: 'server', cn: c.cn, names: { dns: c.dns, ips: c.ips }, supersedes: c.serial })
        : await renewLeaf(layout, common, { profile: 'client', cn: c.cn, role: c.role, supersedes: c.serial }, recorded),
    );
  }
  return results;
}

function renewLeaf(
  layout: PkiLayout,
  o: IssueOptions & { out: string },
  spec: { profile: 'server' | 'client'; cn: string; role?: string; names?: { dns: string[]; ips: string[] }; supersedes: string },
  recordedHost?: string,
): Promise<IssueResult> {
  const out = o.out;
  const files: LeafSpec['files'] =
    spec.profile === 'server'
      ? (i) => [
          { path: join(out, 'server-cert.pem'), data: i.certPem, mode: MODE_CERT },
          { path: join(out, 'server-key.pem'), data: i.keyPem, mode: MODE_KEY },
          { path: join(out, 'ca.pem'), data: i.caPem, mode: MODE_CERT },
        ]
      : (i, inv) => [
          { path: join(out, 'cert.pem'), data: i.certPem, mode: MODE_CERT },
          { path: join(out, 'key.pem'), data: i.keyPem, mode: MODE_KEY },
          { path: join(out, 'ca.pem'), data: i.caPem, mode: MODE_CERT },
          { path: join(out, 'docker.env'), data: dockerEnv(out, spec.cn, i.cert.notAfter, defaultDockerHost(inv, recordedHost)), mode: 0o644 },
        ];
  return issueLeaf(o, layout, { ...spec, dir: out, files });
}

export async function listCertificates(dir: string): Promise<(InventoryEntry & { status: ReturnType<typeof statusOf> })[]> {
  const inv = await readInventory(pkiLayout(dir).inventory);
  return inv.certs.map((c) => ({ ...c, status: statusOf(c) }));
}

export async function loadIssuer(layout: PkiLayout, o: CaOptions): Promise<Issuer> {
  let certPem: string;
  let keyPem: string;
  try {
    certPem = await readFile(layout.caCert, 'utf8');
    keyPem = await readFile(layout.caKey, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DockwardError(`no CA in ${layout.dir}`, 'run `dockward pki init` first, or point --pki / DOCKWARD_PKI at the PKI directory');
    }
    if ((e as NodeJS.ErrnoException).code === 'EACCES') throw new DockwardError(`cannot read the CA in ${layout.dir}: permission denied`, 'run as the user that owns the PKI (root for /etc/dockward/pki)');
    throw e;
  }
  if (!isEncryptedKeyPem(keyPem)) (o.onWarning ?? warnOnce)(unencryptedWarning(layout));
  const keyObject = readPrivateKey(keyPem, o.passphrase, `the CA key ${layout.caKey}`);
  const { key, type } = await toSigningKey(keyObject);
  return { cert: new x509.X509Certificate(certPem), key, keyType: type };
}

function unencryptedWarning(layout: PkiLayout): string {
  return `the CA key ${layout.caKey} is not encrypted (mode 0400 protects it only from other users); set ${PASSPHRASE_ENV} or use --passphrase-file when creating the CA`;
}

function dn(cn: string, ou?: string): x509.JsonName {
  return ou ? [{ CN: [cn] }, { OU: [ou] }] : [{ CN: [cn] }];
}

function entryFor(
  issued: IssuedCertificate,
  kind: Profile,
  cn: string,
  role: string | undefined,
  keyType: KeyType,
  dir: string,
  names?: { dns: string[]; ips: string[] },
): InventoryEntry {
  return {
    serial: issued.serial,
    kind,
    cn,
    ...(role ? { role } : {}),
    dns: names?.dns ?? [],
    ips: names?.ips ?? [],
    keyType,
    notBefore: issued.cert.notBefore.toISOString(),
    notAfter: issued.cert.notAfter.toISOString(),
    fingerprint: fingerprintSha256(issued.cert),
    dir,
    issuedAt: new Date().toISOString(),
  };
}

function resultOf(issued: IssuedCertificate, cn: string, files: Record<string, string>): IssueResult {
  return { serial: issued.serial, cn, notAfter: issued.cert.notAfter, fingerprint: fingerprintSha256(issued.cert), files };
}

/** The DOCKER_HOST a new client bundle in this PKI gets unless one is given. */
export async function defaultClientDockerHost(dir: string): Promise<string | undefined> {
  const layout = pkiLayout(dir);
  return defaultDockerHost(await readInventory(layout.inventory), await recordedDockerHost(layout));
}

