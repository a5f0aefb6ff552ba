/**
 * `dockward pki bundle NAME`: one client's bundle as a single .tar.gz to hand to a CI system or
 * a laptop — ca.pem, cert.pem, key.pem, a docker.env to source, and the same material as a
 * docker context archive (`docker context import`). The archive is 0600 and the key entry 0400:
 * it is a credential, never world-readable at either end.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { defaultClientDockerHost, listCertificates } from '../pki/index.js';
import { dockerEnv } from '../pki/docker-host.js';
import { dockerContextArchive } from '../client/docker-context.js';
import { tarGzArchive } from '../util/tar.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { DockwardError } from '../util/errors.js';
import { allInOrder } from '../util/in-order.js';

export interface ClientBundleOptions {
  pkiDir: string;
  name: string;
  /** Default: ./NAME.tar.gz */
  output?: string;
  /** Name of the docker context inside (default: NAME). */
  context?: string;
  dockerHost?: string;
  force?: boolean;
}

export interface ClientBundleResult {
  output: string;
  name: string;
  serial: string;
  notAfter: string;
  dockerHost: string;
  context: string;
  entries: string[];
}

export const CONTEXT_ARCHIVE = 'docker-context.tar';

export async function writeClientBundle(o: ClientBundleOptions): Promise<ClientBundleResult> {
  const certs = await listCertificates(o.pkiDir);
  const mine = certs.filter((c) => c.kind === 'client' && c.cn === o.name);
  const current = mine.filter((c) => c.status === 'valid').at(-1);
  if (!current) {
    const why = mine.length ? `its certificates are all ${[...new Set(mine.map((c) => c.status))].join(' or ')}` : 'no client certificate has that name';
    throw new DockwardError(`no valid client certificate for "${o.name}": ${why}`, `issue one with \`dockward pki client ${o.name}\`; see \`dockward pki list\``);
  }
  const dockerHost = o.dockerHost ?? (await defaultClientDockerHost(o.pkiDir));
  if (!dockerHost) throw new DockwardError('no DOCKER_HOST known for the bundle', 'pass --docker-host tcp://HOST:2376, or issue a server certificate or run `dockward up` first');
  const read = async (file: string) => {
    const path = join(current.dir, file);
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      throw new DockwardError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, `re-issue the bundle with \`dockward pki renew ${o.name}\``);
    }
  };
  const [caPem, certPem, keyPem] = await allInOrder(['ca.pem', 'cert.pem', 'key.pem'].map(read));
  const context = o.context ?? o.name;
  const contextTar = await dockerContextArchive({ name: context, host: dockerHost, caPem: caPem!, certPem: certPem!, keyPem: keyPem!, description: `dockward client ${o.name}` });
  const env = dockerEnv({ shell: '"$PWD"' }, o.name, new Date(current.notAfter), dockerHost, [
    `# use: cd into this directory, then: . ./docker.env && docker version`,
    `# or, anywhere: docker context import ${context} ${CONTEXT_ARCHIVE} && docker --context ${context} version`,
  ]);
  const dir = o.name;
  const archive = await tarGzArchive([
    { name: dir, mode: 0o700, dir: true },
    { name: `${dir}/ca.pem`, mode: 0o444, data: caPem! },
    { name: `${dir}/cert.pem`, mode: 0o444, data: certPem! },
    { name: `${dir}/key.pem`, mode: 0o400, data: keyPem! },
    { name: `${dir}/docker.env`, mode: 0o644, data: env },
    { name: `${dir}/${CONTEXT_ARCHIVE}`, mode: 0o600, data: contextTar },
  ]);
  const output = resolve(o.output ?? `${o.name}.tar.gz`);
  await writeFileAtomic(output, archive, 0o600, { force: o.force });
  return {
    output,
    name: o.name,
    serial: current.serial,
    notAfter: current.notAfter,
    dockerHost,
    context,
    entries: ['ca.pem', 'cert.pem', 'key.pem', 'docker.env', CONTEXT_ARCHIVE].map((f) => `${dir}/${f}`),
  };
}
