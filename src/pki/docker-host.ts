/**
 * Where client bundles point: the DOCKER_HOST in their docker.env. `dockward up` records the
 * address it bound in the PKI directory, so bundles issued later (`pki client`) point where
 * clients actually reach the gateway; without that record, at the server certificate's name on
 * 2376 (dockerd's own TLS port, where `dockward daemon apply --tls` puts it).
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { statusOf, type Inventory } from './inventory.js';
import type { PkiLayout } from './layout.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { DockwardError } from '../util/errors.js';

const DOCKER_ENV_MODE = 0o644;
const DOCKER_HOST_LINE = /^(?:export DOCKER_HOST=.*|# DOCKER_HOST: .*)$/m;

const shellQuote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

/**
 * `certPath` is a directory, or `{ shell }`: an expression the shell expands when the file is
 * sourced (an archived bundle does not know where it will be unpacked).
 */
export function dockerEnv(
  certPath: string | { shell: string },
  name: string,
  notAfter: Date,
  dockerHost: string | undefined,
  usage = ['# use: source docker.env && docker version'],
): string {
  return [
    `# dockward client bundle for "${name}", valid until ${notAfter.toISOString()}`,
    ...usage,
    dockerHost ? `export DOCKER_HOST=${shellQuote(dockerHost)}` : '# DOCKER_HOST: no server certificate yet; set it to tcp://HOST:2376',
    'export DOCKER_TLS_VERIFY=1',
    `export DOCKER_CERT_PATH=${typeof certPath === 'string' ? shellQuote(certPath) : certPath.shell}`,
    '',
  ].join('\n');
}

/** The address a new bundle points at: the one `up` recorded, else the newest current server certificate's first dialable name on 2376. */
export function defaultDockerHost(inv: Inventory, recorded: string | undefined): string | undefined {
  if (recorded) return recorded;
  const server = inv.certs.filter((c) => c.kind === 'server' && statusOf(c) === 'valid').at(-1);
  // A wildcard name (`*.example.com`) is something to match, not an address to dial.
  const name = server?.dns.find((d) => !d.startsWith('*.')) ?? server?.ips[0];
  if (!name) return undefined;
  return `tcp://${isIP(name) === 6 ? `[${name}]` : name}:2376`;
}

export async function recordedDockerHost(layout: PkiLayout): Promise<string | undefined> {
  try {
    return (await readFile(layout.gatewayAddress, 'utf8')).trim() || undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DockwardError(`cannot read ${layout.gatewayAddress}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Records the address clients reach the gateway at (`up`, once it is bound). */
export async function recordDockerHost(layout: PkiLayout, dockerHost: string): Promise<void> {
  if ((await recordedDockerHost(layout)) === dockerHost) return;
  await writeFileAtomic(layout.gatewayAddress, `${dockerHost}\n`, DOCKER_ENV_MODE, { force: true });
}

/** Points an existing docker.env at `dockerHost`, atomically; false when it already did. */
export async function pointDockerEnv(path: string, dockerHost: string): Promise<boolean> {
  const text = await readFile(path, 'utf8');
  const line = `export DOCKER_HOST=${shellQuote(dockerHost)}`;
  if (text.match(DOCKER_HOST_LINE)?.[0] === line) return false;
  const next = DOCKER_HOST_LINE.test(text) ? text.replace(DOCKER_HOST_LINE, line) : `${line}\n${text}`;
  await writeFileAtomic(path, next, DOCKER_ENV_MODE, { force: true });
  return true;
}
