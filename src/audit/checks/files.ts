import { X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { atRoot } from '../../daemon/paths.js';
import { OID_SERVER_AUTH } from '../../pki/index.js';
import { pemCertificates } from '../../pki/verify.js';
import { readAtRoot, setting, type FileFacts, type HostFacts } from '../host-facts.js';
import type { CheckContext, Findings } from '../context.js';
import { count } from '../../report/finding.js';

/** The Docker host's files: modes compared bit by bit, never as decimal numbers. */

const octal = (mode: number) => mode.toString(8).padStart(4, '0');
const DAY = 86_400_000;
/** A certificate this close to its end is a finding: dockerd needs a restart to load a new one. */
export const EXPIRY_WARNING_DAYS = 30;

/** Days until a certificate's notAfter (negative once expired). */
export function daysLeft(x: X509Certificate, now: Date): number {
  return (new Date(x.validTo).getTime() - now.getTime()) / DAY;
}

function owner(h: HostFacts, f: FileFacts): string {
  return `mode ${octal(f.mode)}, uid ${f.uid}, group ${h.groups.get(f.gid) ?? f.gid}`;
}

function socketFile(h: HostFacts, out: Findings): void {
  const s = h.socket;
  if (!s) return;
  const group = h.groups.get(s.gid);
  const evidence = [`${s.path}: ${owner(h, s)}`];
  if (s.mode & 0o006) out.add('DW-FILE-SOCKET-001', { subject: s.path, file: s.path, message: 'every local user can use the Docker socket: every local user is root', evidence });
  else if (s.mode & 0o060 && group !== 'docker' && s.gid !== 0) out.add('DW-FILE-SOCKET-001', { subject: s.path, file: s.path, severity: 'high', message: `the group ${group ?? s.gid} can use the Docker socket: its members are root`, evidence });
  else if (s.uid !== 0) out.add('DW-FILE-SOCKET-001', { subject: s.path, file: s.path, severity: 'high', message: `the Docker socket belongs to uid ${s.uid}, not root`, evidence });
  const members = h.dockerGroup?.members ?? [];
  if (members.length && s.mode & 0o060 && s.gid === h.dockerGroup!.gid) {
    out.add('DW-FILE-GROUP-001', { subject: 'group docker', message: `${count(members.length, 'user')} in the docker group: ${members.join(', ')}`, evidence: [`/etc/group docker (gid ${h.dockerGroup!.gid}): ${members.join(', ')}`] });
  }
}

function configFiles(h: HostFacts, out: Findings): void {
  for (const f of h.configFiles) {
    if (f.mode & 0o022 || f.uid !== 0) {
      out.add('DW-FILE-CONFIG-001', { subject: f.path, file: f.path, message: f.mode & 0o002 ? 'writable by every local user' : f.mode & 0o020 ? `writable by the group ${h.groups.get(f.gid) ?? f.gid}` : `owned by uid ${f.uid}, not root`, evidence: [`${f.path}: ${owner(h, f)}`] });
    }
  }
}

async function tlsMaterial(ctx: CheckContext, out: Findings): Promise<void> {
  const h = ctx.host!;
  // TLS is on with --tls or any --tlsverify, as dockerd reads them.
  if (setting(h, 'tls')?.value !== true && setting(h, 'tlsverify') === undefined) return;
  // dockerd's defaults when only --tlsverify is given: ~/.docker of the user it runs as (root).
  const path = (k: string, name: string) => {
    const s = setting(h, k);
    return typeof s?.value === 'string' ? s.value : `/root/.docker/${name}`;
  };
  const keyPath = path('tlskey', 'key.pem');
  const key = await stat(atRoot(h.root, keyPath)).catch(() => undefined);
  if (key && key.mode & 0o077) {
    out.add('DW-FILE-KEY-001', { subject: keyPath, file: keyPath, message: `the daemon's private key is readable by ${key.mode & 0o004 ? 'every local user' : 'its group'}`, evidence: [`${keyPath}: mode ${octal(key.mode & 0o7777)}`] });
  }
  for (const [k, name, what] of [['tlscert', 'cert.pem', 'server certificate'], ['tlscacert', 'ca.pem', 'CA certificate']] as const) {
    const file = path(k, name);
    const pem = await readAtRoot(h, file).catch(() => undefined);
    if (!pem) continue;
    for (const one of what === 'server certificate' ? pemCertificates(pem.toString('utf8')).slice(0, 1) : pemCertificates(pem.toString('utf8'))) {
      certificate(ctx, out, new X509Certificate(one), file, what);
    }
  }
}

function certificate(ctx: CheckContext, out: Findings, x: X509Certificate, file: string, what: string): void {
  const subject = `${file} (${x.subject.replace(/\n/g, ', ')})`;
  const left = daysLeft(x, ctx.now);
  if (left < EXPIRY_WARNING_DAYS) {
    out.add('DW-TLS-EXPIRY-001', { subject, file, severity: left < 0 ? 'high' : 'medium', message: left < 0 ? `the ${what} expired on ${x.validTo}: every client refuses it` : `the ${what} expires in ${Math.floor(left)} days (${x.validTo})`, evidence: [`${file}: notAfter ${x.validTo}`] });
  }
  const d = x.publicKey.asymmetricKeyDetails;
  const type = x.publicKey.asymmetricKeyType;
  if ((type === 'rsa' && (d?.modulusLength ?? 0) < 2048) || (type === 'ec' && !['prime256v1', 'secp384r1', 'secp521r1'].includes(d?.namedCurve ?? ''))) {
    out.add('DW-TLS-KEY-001', { subject, file, message: `the ${what} has a weak ${type} key (${d?.modulusLength ?? d?.namedCurve})`, evidence: [`${file}: ${type} ${d?.modulusLength ?? d?.namedCurve}`] });
  }
  if (what !== 'server certificate') return;
  const eku = x.keyUsage;
  if (eku && !eku.includes(OID_SERVER_AUTH) && !eku.includes('2.5.29.37.0')) {
    out.add('DW-TLS-PROFILE-001', { subject, file, message: 'the server certificate is not for serverAuth: Docker clients refuse it', evidence: [`${file}: extended key usage ${eku.join(', ')}`] });
  }
  if (!x.subjectAltName) {
    out.add('DW-TLS-PROFILE-001', { subject, file, message: 'the server certificate has no subject alternative name: Docker clients (Go) refuse it for any host name', evidence: [`${file}: no subjectAltName`] });
  }
}

export async function fileChecks(ctx: CheckContext, out: Findings): Promise<void> {
  const h = ctx.host;
  if (!h) return;
  socketFile(h, out);
  configFiles(h, out);
  await tlsMaterial(ctx, out);
}
