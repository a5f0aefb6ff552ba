import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { atRoot } from './paths.js';
import { engineJson } from '../engine/engine-client.js';

/**
 * dockerd refuses `live-restore` on a swarm manager ("--live-restore daemon configuration is
 * incompatible with swarm mode"). A manager is recognised from its swarm state on disk (a raft
 * log, or a node certificate whose OU is `swarm-manager`) and, on the live host, from the
 * Engine API's Swarm.ControlAvailable.
 */
export interface SwarmRole {
  manager: boolean;
  evidence?: string;
}

export async function detectSwarmManager(root: string, dataRoot: string, socketPath?: string): Promise<SwarmRole> {
  const swarmDir = atRoot(root, `${dataRoot.replace(/\/+$/, '')}/swarm`);
  try {
    if ((await stat(`${swarmDir}/raft`)).isDirectory()) return { manager: true, evidence: `${swarmDir}/raft exists (manager raft log)` };
  } catch {
    /* not a manager by this sign */
  }
  try {
    const cert = new X509Certificate(await readFile(`${swarmDir}/certificates/swarm-node.crt`));
    if (/OU=swarm-manager/.test(cert.subject)) return { manager: true, evidence: `${swarmDir}/certificates/swarm-node.crt has OU=swarm-manager` };
  } catch {
    /* no node certificate */
  }
  if (socketPath) {
    try {
      const info = await engineJson<{ Swarm?: { ControlAvailable?: boolean } }>({ socketPath }, 'GET', '/info');
      if (info.Swarm?.ControlAvailable) return { manager: true, evidence: `${socketPath}: /info Swarm.ControlAvailable is true` };
    } catch {
      /* the daemon is not answering; the files above are all there is */
    }
  }
  return { manager: false };
}
