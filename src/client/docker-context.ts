/**
 * Docker CLI contexts, written exactly as `docker context create` (CLI 28) stores them, so the
 * real CLI lists, inspects and uses them: contexts/meta/<sha256(name)>/meta.json and the TLS
 * material in contexts/tls/<sha256(name)>/docker/{ca,cert,key}.pem.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureDir, writeFilesAtomic } from '../util/atomic-write.js';
import { DockwardError, UsageError } from '../util/errors.js';
import { tarArchive } from '../util/tar.js';

export interface DockerContextOptions {
  name: string;
  /** tcp://HOST:PORT */
  host: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  description?: string;
  /** Default: $DOCKER_CONFIG, else ~/.docker. */
  configDir?: string;
  force?: boolean;
}

export interface DockerContextResult {
  name: string;
  metaFile: string;
  tlsDir: string;
}

/** The docker CLI's own rule for context names; "default" is the built-in one. */
const CONTEXT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$/;

export function dockerConfigDir(explicit?: string): string {
  if (explicit) return resolve(explicit);
  return process.env.DOCKER_CONFIG ? resolve(process.env.DOCKER_CONFIG) : join(homedir(), '.docker');
}

export function contextDirs(name: string, configDir?: string): { meta: string; tls: string } {
  const id = createHash('sha256').update(name).digest('hex');
  const contexts = join(dockerConfigDir(configDir), 'contexts');
  return { meta: join(contexts, 'meta', id), tls: join(contexts, 'tls', id) };
}

/**
 * Refuses a context the docker CLI would reject, or one that exists (without force); callers that
 * create other files for the context (a client bundle) check first so a refusal leaves nothing behind.
 */
export async function checkDockerContext(o: Pick<DockerContextOptions, 'name' | 'host' | 'configDir' | 'force'>): Promise<void> {
  if (!CONTEXT_NAME.test(o.name) || o.name === 'default') {
    throw new UsageError(`invalid context name "${o.name}"`, 'use at least 2 letters, digits, dots, dashes, underscores or pluses, starting with a letter or digit ("default" is taken)');
  }
  if (!/^tcp:\/\/[^/]+:\d+$/.test(o.host)) throw new UsageError(`invalid Docker host "${o.host}"`, 'give it as tcp://HOST:PORT');
  if (!o.force && (await stat(join(contextDirs(o.name, o.configDir).meta, 'meta.json')).catch(() => undefined))) {
    throw new DockwardError(`a Docker context named "${o.name}" already exists`, 'pass --force to replace it, or choose another --context name');
  }
}

function contextMeta(o: Pick<DockerContextOptions, 'name' | 'host' | 'description'>) {
  return {
    Name: o.name,
    Metadata: o.description ? { Description: o.description } : {},
    Endpoints: { docker: { Host: o.host, SkipTLSVerify: false } },
  };
}

/**
 * The context as `docker context export` writes it (meta.json, tls/docker/*.pem in a plain tar),
 * so `docker context import NAME FILE` on another machine recreates it.
 */
export async function dockerContextArchive(o: Omit<DockerContextOptions, 'configDir' | 'force'>): Promise<Buffer> {
  await checkDockerContext({ ...o, force: true });
  return tarArchive([
    { name: 'meta.json', mode: 0o644, data: JSON.stringify(contextMeta(o)) },
    { name: 'tls', mode: 0o700, dir: true },
    { name: 'tls/docker', mode: 0o700, dir: true },
    { name: 'tls/docker/ca.pem', mode: 0o600, data: o.caPem },
    { name: 'tls/docker/cert.pem', mode: 0o600, data: o.certPem },
    { name: 'tls/docker/key.pem', mode: 0o600, data: o.keyPem },
  ]);
}

export async function writeDockerContext(o: DockerContextOptions): Promise<DockerContextResult> {
  await checkDockerContext(o);
  const dirs = contextDirs(o.name, o.configDir);
  const metaFile = join(dirs.meta, 'meta.json');
  const meta = contextMeta(o);
  const tlsDocker = join(dirs.tls, 'docker');
  // Same modes as the CLI: metadata readable, TLS material (the key above all) owner-only.
  await ensureDir(dirs.meta, 0o755);
  await ensureDir(tlsDocker, 0o700);
  await writeFilesAtomic(
    [
      { path: join(tlsDocker, 'ca.pem'), data: o.caPem, mode: 0o600 },
      { path: join(tlsDocker, 'cert.pem'), data: o.certPem, mode: 0o600 },
      { path: join(tlsDocker, 'key.pem'), data: o.keyPem, mode: 0o600 },
      // Last in the set: the context only appears to the CLI once its TLS files are in place.
      { path: metaFile, data: JSON.stringify(meta), mode: 0o644 },
    ],
    { force: true },
  );
  return { name: o.name, metaFile, tlsDir: tlsDocker };
}

export interface DockerContextEndpoint {
  name: string;
  host: string;
  /** Where the context's ca.pem, cert.pem and key.pem live (the CLI's TLS material dir). */
  tlsDir: string;
  skipTlsVerify: boolean;
}

/** The context the docker CLI would use by itself: $DOCKER_CONTEXT, else config.json's currentContext. */
export async function currentContextName(configDir?: string): Promise<string | undefined> {
  if (process.env.DOCKER_CONTEXT) return process.env.DOCKER_CONTEXT;
  const file = join(dockerConfigDir(configDir), 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const name = (JSON.parse(text) as { currentContext?: unknown }).currentContext;
    return typeof name === 'string' && name ? name : undefined;
  } catch {
    throw new DockwardError(`${file} is not valid JSON`, 'fix or remove it; the docker CLI cannot read it either');
  }
}

/** A context's description, or undefined when there is no such context (or it has none). */
export async function dockerContextDescription(name: string, configDir?: string): Promise<string | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(contextDirs(name, configDir).meta, 'meta.json'), 'utf8')) as { Metadata?: { Description?: unknown } };
    return typeof meta.Metadata?.Description === 'string' ? meta.Metadata.Description : undefined;
  } catch {
    return undefined;
  }
}

export async function readDockerContext(name: string, configDir?: string): Promise<DockerContextEndpoint> {
  const dirs = contextDirs(name, configDir);
  const file = join(dirs.meta, 'meta.json');
  let meta: { Endpoints?: { docker?: { Host?: unknown; SkipTLSVerify?: unknown } } };
  try {
    meta = JSON.parse(await readFile(file, 'utf8')) as typeof meta;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new DockwardError(`no Docker context named "${name}"`, 'see docker context ls');
    throw new DockwardError(`cannot read the Docker context "${name}" (${file}): ${(e as Error).message}`);
  }
  const host = meta.Endpoints?.docker?.Host;
  if (typeof host !== 'string') throw new DockwardError(`the Docker context "${name}" has no docker endpoint`, 'see docker context inspect ' + name);
  return { name, host, tlsDir: join(dirs.tls, 'docker'), skipTlsVerify: meta.Endpoints?.docker?.SkipTLSVerify === true };
}
