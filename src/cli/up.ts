import type { Command } from 'commander';
import { resolvePkiDir } from '../pki/index.js';
import { resolvePassphrase } from './passphrase.js';
import { defaultDockerSocket } from '../gateway/config.js';
import { up } from '../gateway/up.js';
import { gatewayListenerLines, serveUntilSignal } from './gateway.js';
import { withPkiDir } from './options.js';

export interface UpFlags {
  listen: string;
  dockerSocket?: string;
  pki?: string;
  auditLog?: string;
  passphraseFile?: string;
  context?: string;
  force?: boolean;
}

export function registerUp(program: Command): void {
  withPkiDir(
    program
      .command('up')
      .description('create the PKI if missing and run the gateway on 127.0.0.1:2376 in front of the local Docker daemon')
      .option('--listen <addr>', '[tcp://]HOST:PORT to listen on', '127.0.0.1:2376')
      .option('--docker-socket <path>', "the daemon's socket (default: DOCKER_HOST if unix://, else /var/run/docker.sock)")
      .option(
        '--audit-log <file>',
        'append the audit log to FILE, - for stdout (default: $XDG_STATE_HOME/dockward/audit.log, else /var/log/dockward/audit.log as root, ~/.local/state/dockward/audit.log otherwise)',
      )
      .option('--passphrase-file <file>', 'CA passphrase from FILE (else $DOCKWARD_CA_PASSPHRASE, else a prompt on a terminal)')
      .option('--context <name>', 'also write a docker CLI context NAME for the admin bundle (rewritten on every start to follow the address)')
      .option('--force', 'with --context: replace a context of that name that up did not write'),
  ).action(runUp);
}

/** `dockward up` until a signal stops it (also the container image's default command). */
export async function runUp(flags: UpFlags): Promise<void> {
  const pkiDir = resolvePkiDir(flags.pki);
  const res = await up({
    pkiDir,
    listen: flags.listen,
    dockerSocket: flags.dockerSocket ?? defaultDockerSocket(),
    auditLog: flags.auditLog,
    passphrase: (creatingCa) => resolvePassphrase({ file: flags.passphraseFile, confirm: creatingCa }),
    ...(flags.context ? { context: { name: flags.context, force: flags.force } } : {}),
  });
  for (const c of res.changes) process.stderr.write(`dockward up: ${c}\n`);
  for (const line of gatewayListenerLines(res.gateway)) process.stderr.write(`${line}\n`);
  process.stderr.write(`dockward up: audit log: ${res.auditLog === '-' ? 'stdout' : `${res.auditLog} (--audit-log - for stdout)`}\n`);
  process.stderr.write('dockward up: point the docker CLI at the gateway with:\n');
  process.stdout.write(`${res.clientLines.join('\n')}\n`);
  await serveUntilSignal(res.gateway);
}
