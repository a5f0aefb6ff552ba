/**
 * `dockward up`: the one-command start. Makes what is missing of the PKI (never replaces what
 * exists), runs the gateway with the built-in policy in front of the local daemon, and only once
 * it is bound points the admin bundle (and later `pki client` bundles) at the address it got.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { initCa, issueClient, issueServer, pkiLayout } from '../pki/index.js';
import { pointDockerEnv, recordDockerHost } from '../pki/docker-host.js';
import { isValidDnsName } from '../pki/profiles.js';
import { defaultPolicy } from '../policy/index.js';
import { ensureDir } from '../util/atomic-write.js';
import { startGateway, upstreamVersion, type Gateway } from './server.js';
import { tlsFilesFromPki } from './tls-context.js';
import { parseListenAddress } from './config.js';
import { checkDockerContext, dockerContextDescription, writeDockerContext } from '../client/docker-context.js';
import { allInOrder } from '../util/in-order.js';

export interface UpOptions {
  pkiDir: string;
  listen: string;
  dockerSocket: string;
  /** A file, or '-' for stdout; default: defaultAuditLog(). */
  auditLog?: string;
  /** Asked only when something must be signed; `creatingCa` when the passphrase is a new one. */
  passphrase?: (creatingCa: boolean) => Promise<string | undefined>;
  log?: (line: string) => void;
  /** Also a docker CLI context NAME for the admin bundle, following the bound address on every start. */
  context?: { name: string; force?: boolean };
}

export interface UpResult {
  gateway: Gateway;
  /** What this start changed in the PKI, one line each (empty when it changed nothing). */
  changes: string[];
  /** Where the audit log goes. */
  auditLog: string;
  /** The lines a client pastes into its shell. */
  clientLines: string[];
}

export const ADMIN_CLIENT = 'admin';

/**
 * Where `up` appends its audit log unless told: a file, so that the client lines on stdout are
 * not buried under a line per request. $XDG_STATE_HOME when set, else /var/log for root and the
 * XDG state directory for anyone else.
 */
export function defaultAuditLog(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.()): string {
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'dockward', 'audit.log');
  return uid === 0 ? '/var/log/dockward/audit.log' : join(homedir(), '.local', 'state', 'dockward', 'audit.log');
}

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::';

/** The host a client dials: this host's name for a wildcard address, brackets for IPv6. */
function hostPart(host: string): string {
  if (isWildcard(host)) return hostname().toLowerCase();
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Creates what is missing of the CA and the server certificate; replaces nothing. The server
 * certificate names the listen address too: the client lines tell clients to dial it. Returns
 * what it created and the passphrase, asked once if anything (the admin bundle included) must
 * be signed.
 */
export async function ensurePki(
  dir: string,
  listen: { host: string },
  passphraseFor: (creatingCa: boolean) => Promise<string | undefined> = async () => undefined,
): Promise<{ created: string[]; passphrase?: string }> {
  const l = pkiLayout(dir);
  const serverCert = tlsFilesFromPki(dir).cert;
  const needCa = !existsSync(l.caCert);
  if (!needCa && existsSync(serverCert) && existsSync(`${l.clientDir(ADMIN_CLIENT)}/cert.pem`)) return { created: [] };
  const passphrase = await passphraseFor(needCa);
  const created: string[] = [];
  if (needCa) {
    await initCa({ dir, passphrase });
    created.push(`created CA ${l.caCert}`);
  }
  if (!existsSync(serverCert)) {
    // A host name that is not a valid DNS name (underscores, ...) cannot go into a SAN.
    const names = [hostname().toLowerCase(), 'localhost'];
    const ips = ['127.0.0.1', '::1'];
    if (!isWildcard(listen.host)) (isIP(listen.host) ? ips : names).push(listen.host.toLowerCase());
    const hosts = [...new Set(names)].filter(isValidDnsName);
    await issueServer({ dir, hosts, ips: [...new Set(ips)], passphrase });
    created.push(`created server certificate for ${[...hosts, ...new Set(ips)].join(', ')} in ${l.serverDir}`);
  }
  return { created, ...(passphrase === undefined ? {} : { passphrase }) };
}

/**
 * The admin bundle, pointed at the address the gateway is bound to: issued if missing, its
 * docker.env rewritten if it names another; the address recorded for later bundles.
 */
async function pointAdminAt(dir: string, dockerHost: string, passphrase: string | undefined): Promise<string[]> {
  const l = pkiLayout(dir);
  const bundle = l.clientDir(ADMIN_CLIENT);
  const changes: string[] = [];
  if (!existsSync(`${bundle}/cert.pem`)) {
    await issueClient({ dir, name: ADMIN_CLIENT, role: 'admin', passphrase, dockerHost });
    changes.push(`created client bundle "${ADMIN_CLIENT}" in ${bundle}`);
  } else if (existsSync(`${bundle}/docker.env`) && (await pointDockerEnv(`${bundle}/docker.env`, dockerHost))) {
    changes.push(`pointed ${bundle}/docker.env at ${dockerHost}`);
  }
  await recordDockerHost(l, dockerHost);
  return changes;
}

export async function up(o: UpOptions): Promise<UpResult> {
  const addr = parseListenAddress(o.listen);
  // The context is up's own when an earlier start wrote it for this PKI; anyone else's is replaced only on force.
  const contextMark = `dockward up: admin of ${o.pkiDir}`;
  if (o.context) {
    const ours = (await dockerContextDescription(o.context.name)) === contextMark;
    await checkDockerContext({ name: o.context.name, host: `tcp://${hostPart(addr.host)}:${addr.port}`, force: o.context.force || ours });
  }
  // Before touching the PKI: without a daemon there is nothing to put a door in front of.
  await upstreamVersion(o.dockerSocket);
  const auditLog = o.auditLog ?? defaultAuditLog();
  // Only the default's directory is ours to make; a path given by hand must exist as given.
  if (o.auditLog === undefined) await ensureDir(join(auditLog, '..'), 0o700);
  const { created, passphrase } = await ensurePki(o.pkiDir, addr, o.passphrase);
  const gateway = await startGateway({
    upstreamSocket: o.dockerSocket,
    listeners: [{ kind: 'tcp', ...addr, tls: tlsFilesFromPki(o.pkiDir) }],
    policy: defaultPolicy(),
    auditLog,
    ...(o.log ? { log: o.log } : {}),
  });
  const dockerHost = `tcp://${hostPart(addr.host)}:${gateway.listeners[0]!.port}`;
  let changes: string[];
  try {
    changes = [...created, ...(await pointAdminAt(o.pkiDir, dockerHost, passphrase))];
    if (o.context) {
      const bundle = pkiLayout(o.pkiDir).clientDir(ADMIN_CLIENT);
      const [caPem, certPem, keyPem] = await allInOrder(['ca.pem', 'cert.pem', 'key.pem'].map((f) => readFile(join(bundle, f), 'utf8')));
      await writeDockerContext({ name: o.context.name, host: dockerHost, caPem: caPem!, certPem: certPem!, keyPem: keyPem!, description: contextMark, force: true });
      changes.push(`wrote the docker context "${o.context.name}" (docker --context ${o.context.name} …)`);
    }
  } catch (e) {
    await gateway.close(0);
    throw e;
  }
  const clientLines = [`export DOCKER_HOST=${dockerHost}`, 'export DOCKER_TLS_VERIFY=1', `export DOCKER_CERT_PATH=${pkiLayout(o.pkiDir).clientDir(ADMIN_CLIENT)}`];
  return { gateway, changes, auditLog, clientLines };
}
