/**
 * `dockward up`: the one-command start. Makes what is missing of the PKI (never replaces what
 * exists), then runs the gateway with the built-in policy in front of the local daemon.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { initCa, issueClient, issueServer, pkiLayout } from '../pki/index.js';
import { defaultPolicy } from '../policy/index.js';
import { startGateway, upstreamVersion, type Gateway } from '../gateway/server.js';
import { tlsFilesFromPki } from '../gateway/tls-context.js';
import { isValidDnsName } from '../pki/profiles.js';
import { parseListenAddress } from '../gateway/config.js';

export interface UpOptions {
  pkiDir: string;
  listen: string;
  dockerSocket: string;
  auditLog: string;
  /** Asked only when something must be signed; `creatingCa` when the passphrase is a new one. */
  passphrase?: (creatingCa: boolean) => Promise<string | undefined>;
  log?: (line: string) => void;
}

export interface UpResult {
  gateway: Gateway;
  /** What was created in the PKI on this start (empty when everything existed). */
  created: string[];
  /** The lines a client pastes into its shell. */
  clientLines: string[];
}

export const ADMIN_CLIENT = 'admin';

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';

/** The host a client dials: this host's name for a wildcard address, brackets for IPv6. */
function hostPart(host: string): string {
  if (isWildcard(host)) return hostname().toLowerCase();
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Creates what is missing (CA, server certificate, admin bundle); replaces nothing. The server
 * certificate names the listen address too: the client lines tell clients to dial it.
 */
export async function ensurePki(
  dir: string,
  listen: { host: string; port: number },
  passphraseFor: (creatingCa: boolean) => Promise<string | undefined> = async () => undefined,
): Promise<string[]> {
  const dockerHost = `tcp://${hostPart(listen.host)}:${listen.port}`;
  const l = pkiLayout(dir);
  const serverCert = tlsFilesFromPki(dir).cert;
  const adminCert = `${l.clientDir(ADMIN_CLIENT)}/cert.pem`;
  const needCa = !existsSync(l.caCert);
  if (!needCa && existsSync(serverCert) && existsSync(adminCert)) return [];
  const passphrase = await passphraseFor(needCa);
  const created: string[] = [];
  if (needCa) {
    await initCa({ dir, passphrase });
    created.push(`CA ${l.caCert}`);
  }
  if (!existsSync(serverCert)) {
    // A host name that is not a valid DNS name (underscores, ...) cannot go into a SAN.
    const names = [hostname().toLowerCase(), 'localhost'];
    const ips = ['127.0.0.1', '::1'];
    if (!isWildcard(listen.host)) (isIP(listen.host) ? ips : names).push(listen.host.toLowerCase());
    const hosts = [...new Set(names)].filter(isValidDnsName);
    await issueServer({ dir, hosts, ips: [...new Set(ips)], passphrase });
    created.push(`server certificate for ${[...hosts, ...new Set(ips)].join(', ')} in ${l.serverDir}`);
  }
  if (!existsSync(adminCert)) {
    await issueClient({ dir, name: ADMIN_CLIENT, role: 'admin', passphrase, dockerHost });
    created.push(`client bundle "${ADMIN_CLIENT}" in ${l.clientDir(ADMIN_CLIENT)}`);
  }
  return created;
}

export async function up(o: UpOptions): Promise<UpResult> {
  const addr = parseListenAddress(o.listen);
  // Before touching the PKI: without a daemon there is nothing to put a door in front of.
  await upstreamVersion(o.dockerSocket);
  const created = await ensurePki(o.pkiDir, addr, o.passphrase);
  const gateway = await startGateway({
    upstreamSocket: o.dockerSocket,
    listeners: [{ kind: 'tcp', ...addr, tls: tlsFilesFromPki(o.pkiDir) }],
    policy: defaultPolicy(),
    auditLog: o.auditLog,
    ...(o.log ? { log: o.log } : {}),
  });
  const bound = gateway.listeners[0]!;
  const clientLines = [
    `export DOCKER_HOST=tcp://${hostPart(addr.host)}:${bound.port}`,
    'export DOCKER_TLS_VERIFY=1',
    `export DOCKER_CERT_PATH=${pkiLayout(o.pkiDir).clientDir(ADMIN_CLIENT)}`,
  ];
  return { gateway, created, clientLines };
}
