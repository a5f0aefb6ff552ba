import { join, resolve } from 'node:path';
import { homedir } from 'node:os';

export interface PkiLayout {
  dir: string;
  caCert: string;
  caKey: string;
  crl: string;
  inventory: string;
  serverDir: string;
  clientDir(name: string): string;
  /** The DOCKER_HOST `dockward up` last bound (docker-host.ts). */
  gatewayAddress: string;
}

/** `--pki`, then `$DOCKWARD_PKI`, then /etc/dockward/pki for root or the XDG config dir. */
export function resolvePkiDir(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.DOCKWARD_PKI) return resolve(process.env.DOCKWARD_PKI);
  if (process.getuid?.() === 0) return '/etc/dockward/pki';
  const config = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(config, 'dockward', 'pki');
}

export function pkiLayout(dir: string): PkiLayout {
  const root = resolve(dir);
  return {
    dir: root,
    caCert: join(root, 'ca.pem'),
    caKey: join(root, 'private', 'ca-key.pem'),
    crl: join(root, 'crl.pem'),
    inventory: join(root, 'inventory.json'),
    serverDir: join(root, 'server'),
    clientDir: (name) => join(root, 'clients', name),
    gatewayAddress: join(root, 'gateway-address'),
  };
}
