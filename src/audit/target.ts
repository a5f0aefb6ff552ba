import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { EngineEndpoint } from '../engine/engine-client.js';
import { readDockerContext, currentContextName } from '../client/docker-context.js';
import { UsageError, DockwardError } from '../util/errors.js';
import { allInOrder } from '../util/in-order.js';

/**
 * A daemon to audit and how to reach it. Only a daemon reached through a Unix socket on this
 * machine can have its host (files, flags, sockets) read; any TCP daemon is remote, even on
 * loopback: nothing proves the files here are the ones it runs with.
 */
export interface AuditTarget {
  /** As the user named it (`unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`, `context prod`). */
  label: string;
  endpoint: EngineEndpoint;
  transport: 'unix' | 'tcp' | 'tls';
}

export interface TargetOptions {
  hosts: string[];
  contexts: string[];
  /** A TLS bundle (ca.pem, cert.pem, key.pem) for every tcp:// host. */
  bundle?: string;
  env: NodeJS.ProcessEnv;
  /** The docker CLI's config directory (contexts). */
  configDir?: string;
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';

async function readBundle(dir: string, why: string): Promise<{ ca: Buffer; cert: Buffer; key: Buffer }> {
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name));
    } catch (e) {
      throw new DockwardError(`cannot read ${join(dir, name)} (${why}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'give a bundle with ca.pem, cert.pem and key.pem (`dockward pki bundle NAME`)');
    }
  };
  const [ca, cert, key] = await allInOrder([read('ca.pem'), read('cert.pem'), read('key.pem')]);
  return { ca, cert, key };
}

/** One `unix://` or `tcp://` address; a tcp one uses TLS when it has a bundle. */
export async function targetOf(label: string, url: string, bundle: string | undefined, why: string): Promise<AuditTarget> {
  if (url.startsWith('unix://')) {
    const socketPath = url.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new UsageError(`${url}: a unix:// address needs an absolute path`, `e.g. unix://${DEFAULT_SOCKET}`);
    return { label, endpoint: { socketPath }, transport: 'unix' };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${url} is not a Docker host address`, 'give unix:///PATH or tcp://HOST:PORT');
  }
  if (u.protocol !== 'tcp:' || !u.hostname || (u.pathname && u.pathname !== '/')) throw new UsageError(`${url} is not a Docker host address`, 'give unix:///PATH or tcp://HOST:PORT');
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(u.port || (bundle ? 2376 : 2375));
  if (!bundle) return { label, endpoint: { host, port }, transport: 'tcp' };
  const tls = await readBundle(bundle, why);
  return { label, endpoint: { host, port, tls }, transport: 'tls' };
}

/**
 * The daemons named by --host and --context; with neither, the one the docker CLI would use:
 * DOCKER_HOST (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), else the current context, else the local socket.
 */
export async function resolveTargets(o: TargetOptions): Promise<AuditTarget[]> {
  const bundle = o.bundle && resolve(o.bundle);
  const out: AuditTarget[] = [];
  for (const h of o.hosts) out.push(await targetOf(h, h, h.startsWith('tcp://') ? bundle : undefined, `--bundle for ${h}`));
  for (const name of o.contexts) out.push(await fromContext(name, o.configDir));
  if (out.length) return refuseRepeats(out);
  if (o.env.DOCKER_HOST) {
    const certs = o.env.DOCKER_TLS_VERIFY ? bundle ?? o.env.DOCKER_CERT_PATH ?? join(o.env.HOME ?? '', '.docker') : bundle;
    return [await targetOf(o.env.DOCKER_HOST, o.env.DOCKER_HOST, o.env.DOCKER_HOST.startsWith('tcp://') ? certs : undefined, 'DOCKER_CERT_PATH')];
  }
  const current = await currentContextName(o.configDir);
  if (current && current !== 'default') return [await fromContext(current, o.configDir)];
  return [await targetOf(`unix://${DEFAULT_SOCKET}`, `unix://${DEFAULT_SOCKET}`, undefined, '')];
}

async function fromContext(name: string, configDir?: string): Promise<AuditTarget> {
  const ctx = await readDockerContext(name, configDir);
  const hasTls = await readFile(join(ctx.tlsDir, 'cert.pem')).then(() => true, () => false);
  return targetOf(`context ${name}`, ctx.host, ctx.host.startsWith('tcp://') && hasTls ? ctx.tlsDir : undefined, `context ${name}`);
}

function refuseRepeats(targets: AuditTarget[]): AuditTarget[] {
  const seen = new Set<string>();
  const out: AuditTarget[] = [];
  for (const t of targets) {
    if (seen.has(t.label)) throw new UsageError(`${t.label} is given twice`, 'name each daemon once');
    seen.add(t.label);
    out.push(t);
  }
  return out;
}
