import { Command, Option } from 'commander';
import { resolveGatewayOptions, type GatewayFlags } from '../gateway/config.js';
import { startGateway, type Gateway } from '../gateway/server.js';
import { collect, withPkiDir } from './options.js';
import { resolve } from 'node:path';
import { installGatewayUnit, UNIT_PATH } from '../adopt/systemd-unit.js';

/** Runs until SIGINT/SIGTERM; SIGHUP reloads certificates, CA, CRL and the policy file. */
export async function serveUntilSignal(gw: Gateway): Promise<void> {
  const onHup = () => void gw.reload();
  process.on('SIGHUP', onHup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.off('SIGHUP', onHup);
  process.stderr.write(`dockward gateway: ${signal}: stopping (open streams end, the audit log is flushed)\n`);
  await gw.close();
}

export function gatewayListenerLines(gw: Gateway): string[] {
  return gw.listeners.map((l) => `dockward gateway: listening on ${l.name.startsWith('tcp://') ? `tcp://${l.address}` : l.name} (Docker API ${gw.apiVersion})`);
}

export function registerGateway(program: Command): void {
  const gateway = withPkiDir(
    program
      .command('gateway')
      .description('run the mTLS gateway: authenticate, authorize and audit every Docker API request')
      .option('--config <file>', 'gateway configuration (YAML)')
      .option('--listen <addr>', 'TCP listener [tcp://]HOST:PORT with mutual TLS from --pki (repeatable)', collect)
      .option('--unix <path>', 'Unix-socket listener (mount it into a container instead of docker.sock)')
      .option('--identity <name>', 'the fixed identity of the --unix listener')
      .option('--unix-mode <mode>', 'file mode of the --unix socket', '0660')
      .option('--unix-owner <uid>', 'owner uid of the --unix socket')
      .option('--unix-group <gid>', 'group gid of the --unix socket')
      .option('--policy <file>', 'policy file (default: the built-in policy)')
      .option('--docker-socket <path>', "the daemon's socket (default: DOCKER_HOST if unix://, else /var/run/docker.sock)")
      .option('--audit-log <file>', 'append the audit log to FILE (- for stdout, the default)')
      .addOption(new Option('--accept-encoding <mode>', 'strip (default) or forward the client Accept-Encoding to dockerd').choices(['strip', 'forward'])),
  );
  gateway.action(async (flags: GatewayFlags) => {
    const gw = await startGateway(await resolveGatewayOptions(flags));
    for (const line of gatewayListenerLines(gw)) process.stderr.write(`${line}\n`);
    await serveUntilSignal(gw);
  });

  gateway
    .command('install-unit')
    .description(`write the systemd service that runs this dockward's gateway (${UNIT_PATH}): restart on failure, reload with SIGHUP, hardened`)
    .option('--config <file>', 'the gateway configuration the service runs with', '/etc/dockward/gateway.yaml')
    .option('--output <file>', `where to write the unit (default: ${UNIT_PATH})`)
    .option('--force', 'overwrite an existing unit')
    .action(async (o: { config: string; output?: string; force?: boolean }) => {
      const path = await installGatewayUnit({ config: resolve(o.config), output: o.output, force: o.force });
      process.stdout.write(`${path} written; start it with: systemctl daemon-reload && systemctl enable --now dockward-gateway\n`);
    });
}
