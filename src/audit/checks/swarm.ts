import { X509Certificate } from 'node:crypto';
import { readAtRoot } from '../host-facts.js';
import type { CheckContext, Findings } from '../context.js';
import { daysLeft } from './files.js';

/** Swarm and its networks: overlays from the API, the node certificate from the host. */
const DAY = 86_400_000;
/** Docker's default node certificate lifetime (90 days); longer is rotated "rarely". */
const DEFAULT_CERT_EXPIRY_NS = 90 * DAY * 1e6;

export async function swarmChecks(ctx: CheckContext, out: Findings): Promise<void> {
  for (const n of ctx.engine.networks) {
    if (n.Driver !== 'overlay' || n.Options?.encrypted !== undefined) continue;
    out.add('DW-NET-OVERLAY-001', { subject: `network ${n.Name}`, message: 'traffic between nodes on this overlay is not encrypted', evidence: [`network ${n.Name}: driver overlay, options ${JSON.stringify(n.Options ?? {})}`] });
  }
  const spec = ctx.engine.swarm?.Spec;
  if (spec) {
    if (!spec.EncryptionConfig?.AutoLockManagers) out.add('DW-SWARM-AUTOLOCK-001', { subject: 'swarm', message: "the managers' raft keys are on disk unencrypted: a stolen disk is the cluster", evidence: ['/swarm Spec.EncryptionConfig.AutoLockManagers: false'] });
    const expiry = spec.CAConfig?.NodeCertExpiry ?? DEFAULT_CERT_EXPIRY_NS;
    if (expiry > DEFAULT_CERT_EXPIRY_NS) out.add('DW-SWARM-CERT-001', { subject: 'swarm', message: `node certificates live ${Math.round(expiry / 1e6 / DAY)} days`, evidence: [`/swarm Spec.CAConfig.NodeCertExpiry: ${expiry} ns`] });
  }
  const h = ctx.host;
  if (!h || ctx.engine.info.Swarm?.LocalNodeState !== 'active' || !ctx.engine.info.DockerRootDir) return;
  const file = `${ctx.engine.info.DockerRootDir}/swarm/certificates/swarm-node.crt`;
  const pem = await readAtRoot(h, file).catch(() => undefined);
  if (!pem) return;
  const x = new X509Certificate(pem);
  const left = daysLeft(x, ctx.now);
  // Swarm renews node certificates itself, well before the end: one this close has stopped renewing.
  if (left < 7) out.add('DW-SWARM-NODECERT-001', { subject: file, file, severity: left < 0 ? 'critical' : 'high', message: left < 0 ? `the node certificate expired on ${x.validTo}` : `the node certificate expires in ${Math.floor(left)} days`, evidence: [`${file}: notAfter ${x.validTo}`] });
}
